/*
 * Payload signatures, the agent's side: the trailer (src/common/sigfmt.h)
 * is checked with the agent's own Ed25519 verifier (src/common/ed25519.c),
 * so that a library loaded into every process needs nothing beyond libc.
 *
 * Trusted keys are the *.pub files in $XSPLICE_KEYS (default
 * /etc/xsplice/keys).  The directory and each key file must be owned by
 * root or by the process's effective uid and be writable by nobody else
 * (as the socket directory is checked): a key that another user could
 * have planted is not trusted.  Keys are read at each upload, outside the
 * window.
 */
#include "agent/sigcheck.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ed25519.h"

static const char *keys_dir(void)
{
	const char *d = secure_getenv("XSPLICE_KEYS");
	return d && d[0] ? d : XS_KEYS_DEFAULT;
}

static int owner_ok(const struct stat *st)
{
	return (st->st_uid == 0 || st->st_uid == geteuid()) && !(st->st_mode & 022);
}

int xs_sig_required(void)
{
	const char *v = secure_getenv("XSPLICE_REQUIRE_SIGNED");
	struct stat st;
	if (v && !strcmp(v, "1"))
		return 1;
	return stat(XS_REQUIRE_SIGNED_FILE, &st) == 0 && st.st_uid == 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One "xsplice-ed25519 <64 hex>" file: 1 when it holds pk. */
static int key_file_is(int dfd, const char *fname, const uint8_t pk[32])
{
	char text[256];
	struct stat st;
	int fd = openat(dfd, fname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return 0;
	ssize_t n = fstat(fd, &st) || !S_ISREG(st.st_mode) || !owner_ok(&st)
	                ? -1
	                : read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = 0;
	size_t tag = strlen(XS_SIG_PUB_TAG);
	if (strncmp(text, XS_SIG_PUB_TAG " ", tag + 1))
		return 0;
	const char *h = text + tag + 1;
	for (int i = 0; i < 32; i++) {
		int a = hexval(h[2 * i]), b = a < 0 ? -1 : hexval(h[2 * i + 1]);
		if (b < 0 || (uint8_t)(a << 4 | b) != pk[i])
			return 0;
	}
	return h[64] == '\n' || h[64] == 0 || h[64] == ' ';
}

/* 1 when pk is a trusted key; 0 if not; negative with err when the
 * directory itself cannot be trusted. */
static int key_trusted(const uint8_t pk[32], struct xs_err *err)
{
	const char *dir = keys_dir();
	struct stat st;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return xs_err_set(err, -ENOKEY, "cannot open the trusted key directory %s: %s", dir,
		                  strerror(errno));
	if (fstat(dfd, &st) || !owner_ok(&st)) {
		close(dfd);
		return xs_err_set(err, -EPERM,
		                  "the trusted key directory %s is not safe (owner uid %u, mode "
		                  "%04o; want owner root or uid %u, writable by no one else)",
		                  dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
		                  (unsigned)geteuid());
	}
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return xs_err_set(err, -errno, "cannot read %s: %s", dir, strerror(errno));
	}
	int found = 0;
	for (struct dirent *e; !found && (e = readdir(d));) {
		size_t n = strlen(e->d_name);
		if (n > 4 && !strcmp(e->d_name + n - 4, ".pub"))
			found = key_file_is(dirfd(d), e->d_name, pk);
	}
	closedir(d);
	return found;
}

int xs_sig_check(const char *name, const void *bytes, size_t len, size_t *elf_len,
                 struct xs_signer *who, struct xs_err *err)
{
	const uint8_t *b = bytes;
	int required = xs_sig_required();
	memset(who, 0, sizeof(*who));
	*elf_len = len;
	if (len < XS_SIG_TRAILER ||
	    memcmp(b + len - XS_SIG_MAGIC_LEN, XS_SIG_MAGIC, XS_SIG_MAGIC_LEN)) {
		if (required)
			return xs_err_set(err, -EPERM,
			                  "payload %s is not signed, and this process accepts only "
			                  "signed payloads (sign it with xsplice-sign)",
			                  name);
		return 0;
	}
	size_t n = len - XS_SIG_TRAILER;
	const uint8_t *sig = b + n, *pk = sig + 64;
	for (int i = 0; i < 8; i++)
		snprintf(who->keyid + 2 * i, 3, "%02x", pk[i]);
	const void *parts[2] = {XS_SIG_CONTEXT, b};
	size_t lens[2] = {XS_SIG_CONTEXT_LEN, n};
	if (xs_ed25519_verify_parts(sig, pk, parts, lens, 2))
		return xs_err_set(err, -EKEYREJECTED,
		                  "payload %s was changed after it was signed, or its signature "
		                  "is damaged: the signature by key %s does not verify",
		                  name, who->keyid);
	who->is_signed = 1;
	struct xs_err kerr = {0};
	int t = key_trusted(pk, &kerr);
	who->trusted = t > 0;
	*elf_len = n;
	if (required && t < 0)
		return xs_err_set(err, t, "payload %s is signed by key %s, but %s", name,
		                  who->keyid, kerr.msg);
	if (required && !t)
		return xs_err_set(err, -ENOKEY,
		                  "payload %s is signed by key %s, which is not a trusted key "
		                  "(no matching .pub file in %s)",
		                  name, who->keyid, keys_dir());
	return 0;
}
