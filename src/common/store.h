/*
 * The patch store: a directory of payloads the operator wants applied, one
 * file NAME.xsplice per payload.  Shared by the agent (which applies the
 * store's matching payloads when it starts in a new process) and
 * libxsplicectl (store add / list / remove, sync, status).
 *
 * Where: $XSPLICE_STORE, else /var/lib/xsplice/payloads for root, else
 * $XDG_DATA_HOME/xsplice/payloads (when absolute), else
 * $HOME/.local/share/xsplice/payloads.
 *
 * The store is trusted like code: the directory and every file in it must
 * be owned by root or by the uid reading it, and writable by nobody else
 * (no group or other write bit); a file must be a regular file, not a
 * symlink.  Anything else is refused with a reason.
 *
 * In a process, a payload that came from the store is uploaded under the
 * name "store:NAME" (XS_STORE_PREFIX): that is how sync knows which
 * payloads it owns (and may revert and unload when NAME leaves the store).
 */
#ifndef XS_COMMON_STORE_H
#define XS_COMMON_STORE_H

#include <stddef.h>
#include <sys/types.h>

#define XS_STORE_ENV "XSPLICE_STORE"
#define XS_STORE_ROOT_DEFAULT "/var/lib/xsplice/payloads"
#define XS_STORE_SUFFIX ".xsplice"
#define XS_STORE_PREFIX "store:"
#define XS_STORE_PREFIX_LEN 6
/* NAME: what a payload name allows, minus the prefix */
#define XS_STORE_NAME_MAX (127 - XS_STORE_PREFIX_LEN)

/* The store directory for this process (getenv through secure_getenv). */
int xs_store_dir(char *out, size_t n);

/* Is NAME a valid store name (1..XS_STORE_NAME_MAX printable bytes, no '/',
 * no leading '.')?  0, or -EINVAL with a static reason in *why. */
int xs_store_check_name(const char *name, const char **why);

/*
 * May this uid trust the directory (dir = 1) or file (dir = 0) at path?
 * 0; -ENOENT when it does not exist; -EPERM with the reason in why.
 */
int xs_store_check_trusted(const char *path, int dir, uid_t uid, char *why, size_t whylen);

/* "x.xsplice" -> copies "x" into name (n bytes) and returns 0; -1 when the
 * file is not a store entry (other suffix, hidden, invalid name). */
int xs_store_entry_name(const char *file, char *name, size_t n);

/* Read a whole trusted file (at most max bytes): 0 and a malloc'd buffer,
 * or a negative errno with the reason in why. */
int xs_store_read(const char *path, uid_t uid, size_t max, void **data, size_t *len, char *why,
                  size_t whylen);

#endif
