/* Line-driven test program: one request per line, one reply per line.
 *
 *   bump     bump() in the main thread
 *   wbump    bump() in a worker thread started at launch (it waits between
 *            requests, so it exists while the patch is applied)
 *   fresh    bump() in a thread created for this request
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perthread.h"

__thread int calls;

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
	char line[256], cmd[32], arg[200];
	pthread_t w;
	if (sem_init(&req, 0, 0) || sem_init(&done, 0, 0) || pthread_create(&w, NULL, worker, NULL))
		return 1;
	while (fgets(line, sizeof(line), stdin)) {
		arg[0] = '\0';
		if (sscanf(line, "%31s %199[^\n]", cmd, arg) < 1) {
			puts("?");
		} else if (strcmp(cmd, "bump") == 0) {
			printf("%d\n", bump());
		} else if (strcmp(cmd, "wbump") == 0) {
			sem_post(&req);
			while (sem_wait(&done) != 0)
				;
			printf("%d\n", wresult);
		} else if (strcmp(cmd, "fresh") == 0) {
			pthread_t t;
			int v = -1;
			if (pthread_create(&t, NULL, once, &v) || pthread_join(t, NULL))
				v = -1;
			printf("%d\n", v);
		} else {
			puts("?");
		}
		fflush(stdout);
	}
	return 0;
}
