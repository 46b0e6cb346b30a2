/* libxsplicectl internals shared by its files. */
#ifndef XS_CTL_INTERNAL_H
#define XS_CTL_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>
#include <xsplice/ctl.h>

/* Find pid's socket path (see locate.c); on failure a message in why. */
int xs_ctl_locate(pid_t pid, char *out, size_t n, char *why, size_t whylen);

#endif
