/*
 * Where an agent's control socket lives: $XSPLICE_DIR/<pid>.sock, by
 * default $XDG_RUNTIME_DIR/xsplice when XDG_RUNTIME_DIR is usable (an
 * absolute path to a directory owned by the uid), else /tmp/xsplice-<uid>.
 * Shared by the agent (which creates it) and libxsplicectl (which looks
 * for it, possibly on behalf of another uid).
 */
#ifndef XS_COMMON_SOCKDIR_H
#define XS_COMMON_SOCKDIR_H

#include <stddef.h>
#include <sys/types.h>

#define XS_SOCKDIR_ENV "XSPLICE_DIR"

/*
 * The default directory for `uid` given the value of XDG_RUNTIME_DIR in the
 * process concerned (NULL when unset).  0, or -ENAMETOOLONG.
 */
int xs_sockdir_default(char *out, size_t n, uid_t uid, const char *xdg_runtime_dir);

/* "<dir>/<pid>.sock", checked against sun_path's size: 0 or -ENAMETOOLONG. */
int xs_sock_path(char *out, size_t n, const char *dir, pid_t pid);

#endif
