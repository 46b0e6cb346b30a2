/*
 * kvd's protocol: one request line in, one reply line out.  See kvd.c.
 *
 * PING has a real bug, Heartbleed-style: it trusts `len` and copies that
 * many bytes from its buffer, so a client can read memory past the text,
 * here the server's admin token.  examples/demo/patches/ fix it live.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

#define MAX_KEYS 256

struct entry {
	char key[64];
	char value[192];
};

static struct entry table[MAX_KEYS];
static int nkeys;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_ulong requests;

/* The heartbeat scratch area sits right before the admin token. */
static struct {
	char echo[64];
	char admin_token[64];
} heartbeat = {.admin_token = "admin-token=hunter2-7f3a9c"};
static pthread_mutex_t heartbeat_lock = PTHREAD_MUTEX_INITIALIZER; /* one PING at a time */

/* The handlers stay functions of their own: under load some thread is inside
 * handle_line at every moment, so a fix must replace a handler, not the
 * dispatcher gcc would inline it into (the agent refuses code in use). */
static const char *version_string(void) __attribute__((noinline));
static int handle_ping(const char *args, char *out, size_t outsz) __attribute__((noinline));

static const char *version_string(void)
{
	return "kvd 1.0.0";
}

static int handle_ping(const char *args, char *out, size_t outsz)
{
	unsigned len = 0;
	int off = 0;
	if (sscanf(args, "%u %n", &len, &off) < 1)
		return snprintf(out, outsz, "ERR usage: PING len text");
	pthread_mutex_lock(&heartbeat_lock);
	memset(heartbeat.echo, 0, sizeof(heartbeat.echo));
	strncpy(heartbeat.echo, args + off, sizeof(heartbeat.echo) - 1);
	if (len > sizeof(heartbeat) - 1)
		len = sizeof(heartbeat) - 1;
	/* BUG: trusts len instead of the length of the text */
	memcpy(out, heartbeat.echo, len);
	out[len] = 0;
	for (unsigned i = 0; i < len; i++)
		if (out[i] == 0)
			out[i] = '.';
	pthread_mutex_unlock(&heartbeat_lock);
	return (int)len;
}

static int handle_get(const char *key, char *out, size_t outsz)
{
	pthread_mutex_lock(&table_lock);
	int n = snprintf(out, outsz, "NOT_FOUND");
	for (int i = 0; i < nkeys; i++)
		if (strcmp(table[i].key, key) == 0) {
			n = snprintf(out, outsz, "%s", table[i].value);
			break;
		}
	pthread_mutex_unlock(&table_lock);
	return n;
}

static int handle_set(const char *args, char *out, size_t outsz)
{
	char key[64], value[192];
	if (sscanf(args, "%63s %191[^\n]", key, value) != 2)
		return snprintf(out, outsz, "ERR usage: SET key value");
	pthread_mutex_lock(&table_lock);
	int i;
	for (i = 0; i < nkeys && strcmp(table[i].key, key) != 0; i++)
		;
	if (i == MAX_KEYS) {
		pthread_mutex_unlock(&table_lock);
		return snprintf(out, outsz, "ERR full");
	}
	if (i == nkeys)
		nkeys++;
	snprintf(table[i].key, sizeof(table[i].key), "%s", key);
	snprintf(table[i].value, sizeof(table[i].value), "%s", value);
	pthread_mutex_unlock(&table_lock);
	return snprintf(out, outsz, "OK");
}

int handle_line(const char *line, char *out, size_t outsz)
{
	atomic_fetch_add(&requests, 1);
	if (strcmp(line, "VERSION") == 0)
		return snprintf(out, outsz, "%s", version_string());
	if (strncmp(line, "PING ", 5) == 0)
		return handle_ping(line + 5, out, outsz);
	if (strncmp(line, "GET ", 4) == 0)
		return handle_get(line + 4, out, outsz);
	if (strncmp(line, "SET ", 4) == 0)
		return handle_set(line + 4, out, outsz);
	if (strcmp(line, "STATS") == 0)
		return snprintf(out, outsz, "requests %lu", atomic_load(&requests));
	return snprintf(out, outsz, "ERR unknown command");
}

