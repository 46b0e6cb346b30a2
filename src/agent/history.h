/* The bounded action history (history.c). */
#ifndef XS_AGENT_HISTORY_H
#define XS_AGENT_HISTORY_H

#include <stdint.h>

#include "common/buf.h"

void xs_history_add(const char *verb, const char *name, int rc, const char *msg, uint64_t pause_ns);
int xs_history_report(int json, struct xs_buf *b);
/* report.c: rc as JSON, null or the errno's name */
void xs_json_errname(struct xs_buf *b, int rc);

#endif
