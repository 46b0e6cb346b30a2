/*
 * Where an agent's control socket lives, and how both ends check it.
 * Shared by the agent (which creates the directory and the socket) and
 * libxsplicectl (which looks for it, possibly in another mount namespace
 * through /proc/PID/root, and authenticates it before sending a byte).
 *
 * Directory: $XSPLICE_DIR when set, else $XDG_RUNTIME_DIR/xsplice when
 * XDG_RUNTIME_DIR is an absolute directory owned by the uid and not writable
 * by others, else /run/xsplice for root, else /run/user/UID/xsplice when
 * /run/user/UID is such a directory, else the checked fallback
 * /tmp/xsplice-UID (which another user can squat: then the agent says so,
 * and a client refuses it, see docs/security.md).
 *
 * Socket: DIR/<pid>.sock for a process of the initial pid namespace,
 * DIR/<pid>-<pidns inode>.sock in any other (pid as the process sees it), so
 * that two pid namespaces sharing a directory never collide.
 *
 * Trust rule (docs/security.md): every component of the path, from "/", is
 * owned by root or the uid, is not a symlink and is not writable by group or
 * others, except a root-owned sticky directory such as /tmp above the socket
 * directory; the socket directory itself is owned by the uid (root: 0) ...
 * and not writable by others.
 */
#ifndef XS_COMMON_SOCKDIR_H
#define XS_COMMON_SOCKDIR_H

#include <stddef.h>
#include <sys/types.h>

#define XS_SOCKDIR_ENV "XSPLICE_DIR"
#define XS_SOCKDIR_ROOT "/run/xsplice"
/* The inode number of the initial pid namespace (PROC_PID_INIT_INO). */
#define XS_PIDNS_INIT_INO 0xEFFFFFFCul

/*
 * The default directory for `uid` given the value of XDG_RUNTIME_DIR in the
 * process concerned (NULL when unset).  0, or -ENAMETOOLONG.
 */
int xs_sockdir_default(char *out, size_t n, uid_t uid, const char *xdg_runtime_dir);

/*
 * XSPLICE_DIR as a clean absolute path: "//a//b/" -> "/a/b".  Refuses a
 * relative path and "." or ".." components: -EINVAL and why.
 */
int xs_sockdir_normalize(const char *in, char *out, size_t n, char *why, size_t wn);

/*
 * Open (O_PATH) the directory `dir` (normalised, absolute) below `rootfd`
 * (an O_PATH descriptor of "/" or of /proc/PID/root), checking every
 * component without following a symlink: owned by root or `uid`, not
 * writable by group or others (a root-owned sticky directory is allowed
 * above the last).  The last component must be owned by `uid` (or root when
 * !strict_owner) and, when mode0700, have mode 0700 exactly.  create: mkdir
 * the last component 0700 when missing.  Returns the fd, or -errno with a
 * message in why naming the component and what is wrong with it.
 */
int xs_sockdir_open(int rootfd, const char *dir, uid_t uid, int create, int mode0700, char *why,
                    size_t wn);

/* "<pid>.sock", or "<pid>-<nsino>.sock" outside the initial pid namespace. */
int xs_sock_name(char *out, size_t n, pid_t pid, unsigned long pidns_ino);

/* The pid namespace inode of /proc/<pid|self>/ns/pid; XS_PIDNS_INIT_INO when
 * it cannot be read. */
unsigned long xs_pidns_ino(pid_t pid);

/*
 * Connect a non-blocking stream socket to the socket file open as O_PATH in
 * sockfd (through /proc/self/fd, so the name is never looked up again and no
 * length limit applies).  Retries a full backlog until deadline_ns (< 0: no
 * limit).  The connected fd, or -errno.
 */
int xs_sock_connect_opath(int sockfd, long long deadline_ns);

/*
 * Remove the stale sockets of a directory (open as O_PATH in dirfd): files
 * named like sockets whose connection is refused (no process listens: its
 * agent exited or was killed, whatever process has its pid now).  Returns
 * how many were removed.
 */
int xs_sockdir_sweep(int dirfd);

/* "<dir>/<pid>.sock", checked against sun_path's size: 0 or -ENAMETOOLONG. */
int xs_sock_path(char *out, size_t n, const char *dir, pid_t pid);

#endif
