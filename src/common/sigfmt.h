/*
 * The payload signature trailer (docs/payload-format.md, "Signature"):
 *
 *   [ payload ELF, n bytes ][ sig 64 ][ public key 32 ][ magic 16 ]
 *
 * sig is the Ed25519 signature (RFC 8032, pure) of XS_SIG_CONTEXT (16
 * bytes) followed by the n payload bytes.  A key's id is the hex of the
 * first 8 bytes of its public key.
 */
#ifndef XS_COMMON_SIGFMT_H
#define XS_COMMON_SIGFMT_H

#define XS_SIG_MAGIC "XSPLICE-SIG-V1\n" /* 15 chars + NUL = 16 bytes */
#define XS_SIG_MAGIC_LEN 16
#define XS_SIG_CONTEXT "xsplice payload" /* 16 bytes with its NUL */
#define XS_SIG_CONTEXT_LEN 16
#define XS_SIG_TRAILER (64 + 32 + XS_SIG_MAGIC_LEN)
#define XS_SIG_KEYID_HEX 17 /* 16 hex digits + NUL */

/* Key files: PREFIX.pub "xsplice-ed25519 <64 hex>\n",
 *            PREFIX.key "xsplice-ed25519-secret <128 hex: seed, public key>\n" */
#define XS_SIG_PUB_TAG "xsplice-ed25519"
#define XS_SIG_KEY_TAG "xsplice-ed25519-secret"

#endif
