/* A target with a per-thread counter, driven one request per line:
 *   bump    bump() in the main thread
 *   wbump   bump() in a worker thread started at launch
 *   fresh   bump() in a thread created for this request */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>

__thread int counter;

__attribute__((noinline)) int bump(void)
{
	counter += 1;
	return counter;
}

static sem_t req, done;
static int wresult;

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		while (sem_wait(&req) != 0)
			;
		wresult = bump();
		sem_post(&done);
	}
	return NULL;
}

static void *once(void *arg)
{
	*(int *)arg = bump();
	return NULL;
}

int main(void)
{
	char line[64];
	pthread_t w;
	if (sem_init(&req, 0, 0) || sem_init(&done, 0, 0) ||
	    pthread_create(&w, NULL, worker, NULL))
		return 1;
	while (fgets(line, sizeof(line), stdin)) {
		int v = -1;
		if (strncmp(line, "bump", 4) == 0) {
			v = bump();
		} else if (strncmp(line, "wbump", 5) == 0) {
			sem_post(&req);
			while (sem_wait(&done) != 0)
				;
			v = wresult;
		} else if (strncmp(line, "fresh", 5) == 0) {
			pthread_t t;
			if (pthread_create(&t, NULL, once, &v) || pthread_join(t, NULL))
				v = -1;
		}
		printf("%d\n", v);
		fflush(stdout);
	}
	return 0;
}
