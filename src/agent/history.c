/*
 * A bounded history of actions (the design's "what was applied, reverted,
 * when, result"), reported by `xsplice history`.  The oldest entries are
 * dropped once the ring is full.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/history.h"
#include "agent/payload.h"

#define HISTORY_MAX 128

struct entry {
	struct timespec when; /* CLOCK_REALTIME */
	char verb[8];
	char name[XSPLICE_NAME_MAX];
	int rc;
	char msg[256];
	uint64_t pause_ns;
};

static struct {
	struct entry v[HISTORY_MAX];
	unsigned next;  /* slot of the next entry */
	uint64_t total; /* entries ever added */
} hist;

void xs_history_add(const char *verb, const char *name, int rc, const char *msg, uint64_t pause_ns)
{
	struct entry *e = &hist.v[hist.next];
	clock_gettime(CLOCK_REALTIME, &e->when);
	snprintf(e->verb, sizeof(e->verb), "%s", verb);
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->rc = rc;
	snprintf(e->msg, sizeof(e->msg), "%s", rc ? msg : "");
	e->pause_ns = pause_ns;
	hist.next = (hist.next + 1) % HISTORY_MAX;
	hist.total++;
}

static const char *result(int rc)
{
	if (rc == 0)
		return "done";
	if (rc > 0)
		return "no action needed";
	return "failed";
}

static void stamp(const struct entry *e, char *out, size_t cap)
{
	struct tm tm;
	gmtime_r(&e->when.tv_sec, &tm);
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, cap - n, ".%03ldZ", e->when.tv_nsec / 1000000);
}

int xs_history_report(int json, struct xs_buf *b)
{
	uint64_t n = hist.total < HISTORY_MAX ? hist.total : HISTORY_MAX;
	unsigned first = (unsigned)((hist.next + HISTORY_MAX - n) % HISTORY_MAX);
	char ts[64];
	if (json)
		xs_buf_printf(b, "{\"version\":1,\"total\":%lu,\"entries\":[",
		              (unsigned long)hist.total);
	else if (!n)
		xs_buf_printf(b, "no actions yet\n");
	for (uint64_t k = 0; k < n; k++) {
		const struct entry *e = &hist.v[(first + k) % HISTORY_MAX];
		stamp(e, ts, sizeof(ts));
		if (json) {
			xs_buf_printf(b, "%s{\"time\":\"%s\",\"action\":", k ? "," : "", ts);
			xs_buf_json_str(b, e->verb, strlen(e->verb));
			xs_buf_printf(b, ",\"name\":");
			xs_buf_json_str(b, e->name, strlen(e->name));
			xs_buf_printf(
			    b, ",\"result\":\"%s\",\"pause_us\":%lu,\"pause_ns\":%lu,\"error\":",
			    result(e->rc), (unsigned long)(e->pause_ns / 1000),
			    (unsigned long)e->pause_ns);
			xs_json_errname(b, e->rc);
			xs_buf_printf(b, ",\"message\":");
			xs_buf_json_str(b, e->msg, strlen(e->msg));
			xs_buf_printf(b, "}");
			continue;
		}
		char esc[1024];
		xs_buf_printf(b, "%s  %-7s %-20s %s", ts, e->verb,
		              xs_esc(esc, sizeof(esc), e->name), result(e->rc));
		if (e->pause_ns)
			xs_buf_printf(b, " (paused %lu us)", (unsigned long)(e->pause_ns / 1000));
		if (e->rc < 0)
			xs_buf_printf(b, ": %s", xs_esc(esc, sizeof(esc), e->msg));
		xs_buf_printf(b, "\n");
	}
	if (json)
		xs_buf_printf(b, "]}\n");
	return 0;
}
