/* libxsplicectl internals shared by its files. */
#ifndef XS_CTL_INTERNAL_H
#define XS_CTL_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>
#include <xsplice/ctl.h>

/* Find pid's socket path (see locate.c); on failure a message in why. */
int xs_ctl_locate(pid_t pid, char *out, size_t n, char *why, size_t whylen);

/* Set the message of h (printf) and return rc. */
int xs_ctl_fail(xsctl *h, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Make body (malloc'd, NUL-terminated at len) the reply body of h. */
void xs_ctl_set_body(xsctl *h, char *body, size_t len);
/* Locate pid's socket for later requests, without a first exchange. */
int xs_ctl_target(xsctl *h, pid_t pid);

#endif
