/*
 * kvload — traffic for the demo: N client connections sending requests to
 * kvd in a loop for a given time, checking every reply.  Prints how many
 * requests were served and how many failed (dropped, malformed, wrong).
 *
 *   kvload PORT CONNECTIONS SECONDS
 *
 * SIGINT or SIGTERM ends the run early (the summary is still printed).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;
static double seconds;
static atomic_ulong ok, failed;
static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_kvd(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

/* One request, one reply line; 0 when the reply is what kvd must answer. */
static int roundtrip(FILE *f, const char *req, const char *want_prefix)
{
	char line[1024];
	if (fprintf(f, "%s\n", req) < 0 || fflush(f) || !fgets(line, sizeof(line), f))
		return -1;
	return strncmp(line, want_prefix, strlen(want_prefix)) == 0 ? 0 : -1;
}

static void *client(void *arg)
{
	long id = (long)arg;
	int fd = connect_kvd();
	FILE *f = fd >= 0 ? fdopen(fd, "r+") : NULL;
	char req[128], want[64];
	double end = now() + seconds;
	for (unsigned long i = 0; f && !stop && now() < end; i++) {
		snprintf(req, sizeof(req), "SET k%ld v%lu", id, i);
		snprintf(want, sizeof(want), "v%lu", i);
		char get[64];
		snprintf(get, sizeof(get), "GET k%ld", id);
		int rc = roundtrip(f, req, "OK") | roundtrip(f, get, want) |
			 roundtrip(f, "PING 4 beat", "beat") | roundtrip(f, "VERSION", "kvd ");
		if (rc && stop)
			break; /* the stop signal interrupted the read: not a wrong answer */
		atomic_fetch_add(rc ? &failed : &ok, 4);
	}
	if (!f)
		atomic_fetch_add(&failed, 1);
	else
		fclose(f);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: kvload PORT CONNECTIONS SECONDS\n");
		return 2;
	}
	port = atoi(argv[1]);
	int n = atoi(argv[2]);
	seconds = atof(argv[3]);
	pthread_t t[64];
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (n < 1 || n > 64)
		n = 4;
	for (long i = 0; i < n; i++)
		pthread_create(&t[i], NULL, client, (void *)i);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	printf("kvload: %lu requests answered correctly, %lu failed\n", atomic_load(&ok),
	       atomic_load(&failed));
	return atomic_load(&failed) ? 1 : 0;
}
