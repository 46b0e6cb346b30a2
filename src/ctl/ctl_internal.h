/* libxsplicectl internals shared by its files. */
#ifndef XS_CTL_INTERNAL_H
#define XS_CTL_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>
#include <xsplice/ctl.h>

/*
 * Where a process's agent socket is, and who must own it: enough for
 * xs_ctl_dial() to open it again, checked, for every request.
 */
struct xs_loc {
	pid_t pid;        /* target (client's pid namespace); 0: attached by path */
	uid_t uid;        /* the target's effective uid: owner of the path, or root */
	int proc_root;    /* dir is in the target's mount namespace (/proc/PID/root) */
	char dir[4096];   /* normalised absolute directory */
	char name[64];    /* "<pid>.sock" or "<pid>-<pidns>.sock" */
	char shown[4300]; /* for messages */
};

/* Find pid's socket (see locate.c); on failure a message in why. */
int xs_ctl_locate(pid_t pid, struct xs_loc *loc, char *why, size_t whylen);

/*
 * Set loc from a socket path the user gave: the owner of the socket is the
 * uid every component must belong to (or root).  0 or -errno with why.
 */
int xs_ctl_loc_path(const char *path, struct xs_loc *loc, char *why, size_t whylen);

/*
 * Open the socket of loc, authenticated before a byte is sent: every
 * directory and the socket owned by root or loc->uid and not writable by
 * others, no symlink, and the peer (SO_PEERCRED) is loc->pid itself (or,
 * attached by path, runs as loc->uid or root).  Connect waits until
 * deadline_ns.  The connected non-blocking fd, or -errno with why (-EPERM:
 * refused; -ECONNREFUSED: stale socket, removed).
 */
int xs_ctl_dial(const struct xs_loc *loc, long long deadline_ns, char *why, size_t whylen);

/* 'T' when pid is stopped (SIGSTOP, job control), its state letter, or 0. */
char xs_ctl_proc_state(pid_t pid);

/* Set the message of h (printf) and return rc. */
int xs_ctl_fail(xsctl *h, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Make body (malloc'd, NUL-terminated at len) the reply body of h. */
void xs_ctl_set_body(xsctl *h, char *body, size_t len);
/* Locate pid's socket for later requests, without a first exchange. */
int xs_ctl_target(xsctl *h, pid_t pid);

#endif
