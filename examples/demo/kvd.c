/*
 * kvd — a tiny key-value server speaking a line protocol over TCP, used by
 * the xsplice demo.  One thread per connection.
 *
 *   VERSION            -> "kvd 1.0.0"
 *   SET key value      -> "OK"
 *   GET key            -> the value, or "NOT_FOUND"
 *   PING len text      -> echoes `len` bytes of text (a heartbeat)
 *   STATS              -> "requests N"
 *
 * The protocol lives in proto.c (where the bug is).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"

#define LINE_MAX 512

static void *serve_client(void *arg)
{
	int fd = (int)(long)arg;
	FILE *in = fdopen(fd, "r");
	char line[LINE_MAX], out[LINE_MAX + 2];
	while (in && fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\r\n")] = 0;
		int n = handle_line(line, out, LINE_MAX);
		if (n < 0)
			n = 0;
		if (n > LINE_MAX - 1)
			n = LINE_MAX - 1;
		out[n] = '\n';
		if (write(fd, out, (size_t)n + 1) < 0)
			break;
	}
	if (in)
		fclose(in);
	else
		close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 7070;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 64)) {
		perror("kvd: bind/listen");
		return 1;
	}
	fprintf(stderr, "kvd: listening on 127.0.0.1:%d (pid %d)\n", port, (int)getpid());
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		pthread_t t;
		if (pthread_create(&t, NULL, serve_client, (void *)(long)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
}
