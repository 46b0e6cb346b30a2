/*
 * Payload signatures, the signing side: key generation and signing with
 * libsodium.  The format is in src/common/sigfmt.h and
 * docs/payload-format.md; the agent verifies with src/common/ed25519.c.
 */
#include "build/sign/sign.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sigfmt.h"

static int fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

static void tohex(char *out, const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static int write_new(const char *path, mode_t mode, const char *text, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return fail(err, errlen, "cannot create %s: %s", path, strerror(errno));
	size_t n = strlen(text);
	if (fchmod(fd, mode) || write(fd, text, n) != (ssize_t)n || fsync(fd)) {
		int e = errno;
		close(fd);
		unlink(path);
		return fail(err, errlen, "cannot write %s: %s", path, strerror(e));
	}
	close(fd);
	return 0;
}

int xs_sign_keygen(const char *prefix, char *err, size_t errlen)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char path[4096], text[256];
	if (sodium_init() < 0)
		return fail(err, errlen, "libsodium did not initialise");
	crypto_sign_keypair(pk, sk);
	snprintf(path, sizeof(path), "%s.key", prefix);
	int n = snprintf(text, sizeof(text), "%s ", XS_SIG_KEY_TAG);
	tohex(text + n, sk, sizeof(sk));
	strcat(text, "\n");
	int rc = write_new(path, 0600, text, err, errlen);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(text, sizeof(text));
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s.pub", prefix);
	n = snprintf(text, sizeof(text), "%s ", XS_SIG_PUB_TAG);
	tohex(text + n, pk, sizeof(pk));
	strcat(text, "\n");
	if (write_new(path, 0644, text, err, errlen)) {
		snprintf(path, sizeof(path), "%s.key", prefix);
		unlink(path);
		return -1;
	}
	return 0;
}

static int read_key(const char *key, unsigned char sk[64], char *err, size_t errlen)
{
	char text[512];
	struct stat st;
	FILE *f = fopen(key, "re");
	if (!f)
		return fail(err, errlen, "cannot open the key %s: %s", key, strerror(errno));
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
		fclose(f);
		return fail(err, errlen,
		            "the secret key %s is readable or writable by others (mode %04o); "
		            "chmod 600 it",
		            key, (unsigned)(st.st_mode & 07777));
	}
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	size_t tag = strlen(XS_SIG_KEY_TAG);
	const char *end = NULL;
	size_t got = 0;
	int ok = !strncmp(text, XS_SIG_KEY_TAG " ", tag + 1) &&
	         !sodium_hex2bin(sk, 64, text + tag + 1, n - tag - 1, NULL, &got, &end) &&
	         got == 64 && (*end == '\n' || *end == 0);
	sodium_memzero(text, sizeof(text));
	if (!ok)
		return fail(err, errlen,
		            "%s is not an xsplice secret key (xsplice-sign --keygen makes one)",
		            key);
	return 0;
}

static int read_file(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	if (!f)
		return fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		fclose(f);
		return fail(err, errlen, "%s is not a regular file", path);
	}
	*buf = malloc((size_t)st.st_size + XS_SIG_TRAILER);
	*len = *buf ? fread(*buf, 1, (size_t)st.st_size, f) : 0;
	int bad = !*buf || *len != (size_t)st.st_size || ferror(f);
	fclose(f);
	if (bad) {
		free(*buf);
		return fail(err, errlen, "cannot read %s", path);
	}
	return 0;
}

int xs_sign_file(const char *key, const char *file, char keyid[17], char *err, size_t errlen)
{
	unsigned char sk[64], *buf = NULL, *sig;
	size_t len = 0;
	char tmp[4200];
	if (sodium_init() < 0)
		return fail(err, errlen, "libsodium did not initialise");
	if (read_key(key, sk, err, errlen) || read_file(file, &buf, &len, err, errlen)) {
		sodium_memzero(sk, sizeof(sk));
		return -1;
	}
	/* an old signature is replaced */
	if (len >= XS_SIG_TRAILER &&
	    !memcmp(buf + len - XS_SIG_MAGIC_LEN, XS_SIG_MAGIC, XS_SIG_MAGIC_LEN))
		len -= XS_SIG_TRAILER;
	if (len < 4 || memcmp(buf, "\177ELF", 4)) {
		free(buf);
		sodium_memzero(sk, sizeof(sk));
		return fail(err, errlen, "%s is not a payload (not an ELF file)", file);
	}
	sig = buf + len;
	/* pure Ed25519 signs the whole message at once: context + payload */
	unsigned char *msg = malloc(len + XS_SIG_CONTEXT_LEN);
	if (!msg) {
		free(buf);
		sodium_memzero(sk, sizeof(sk));
		return fail(err, errlen, "out of memory");
	}
	memcpy(msg, XS_SIG_CONTEXT, XS_SIG_CONTEXT_LEN);
	memcpy(msg + XS_SIG_CONTEXT_LEN, buf, len);
	crypto_sign_detached(sig, NULL, msg, len + XS_SIG_CONTEXT_LEN, sk);
	free(msg);
	memcpy(sig + 64, sk + 32, 32);
	memcpy(sig + 96, XS_SIG_MAGIC, XS_SIG_MAGIC_LEN);
	tohex(keyid, sk + 32, 8);
	sodium_memzero(sk, sizeof(sk));
	/* write a temporary file beside it and rename over */
	struct stat fst;
	mode_t mode = stat(file, &fst) ? 0644 : (fst.st_mode & 07777);
	snprintf(tmp, sizeof(tmp), "%s.sign-XXXXXX", file);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		free(buf);
		return fail(err, errlen, "cannot create a file beside %s: %s", file,
		            strerror(errno));
	}
	size_t total = len + XS_SIG_TRAILER;
	int bad = fchmod(fd, mode) || write(fd, buf, total) != (ssize_t)total || fsync(fd);
	int e = errno;
	close(fd);
	free(buf);
	if (bad || rename(tmp, file)) {
		e = bad ? e : errno;
		unlink(tmp);
		return fail(err, errlen, "cannot write %s: %s", file, strerror(e));
	}
	return 0;
}
