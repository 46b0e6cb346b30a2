/* Payload signatures at upload (sigcheck.c). */
#ifndef XS_AGENT_SIGCHECK_H
#define XS_AGENT_SIGCHECK_H

#include <stddef.h>

#include "common/sigfmt.h"
#include "core/core.h"

#define XS_KEYS_DEFAULT "/etc/xsplice/keys"
#define XS_REQUIRE_SIGNED_FILE "/etc/xsplice/require-signed"

struct xs_signer {
	int is_signed;                /* a signature trailer was present and verified */
	int trusted;                  /* ... by a key in the trusted key directory */
	char keyid[XS_SIG_KEYID_HEX]; /* "" when unsigned */
};

/*
 * Checks the signature trailer of an uploaded payload against the policy:
 * *elf_len gets the length of the payload without its trailer.  A signature
 * that does not verify is always refused; with signatures required (see
 * xs_sig_required), an unsigned payload or one signed by a key that is not
 * trusted is refused too.  0, or a negative errno with a message naming
 * which of these it is.
 */
int xs_sig_check(const char *name, const void *bytes, size_t len, size_t *elf_len,
                 struct xs_signer *who, struct xs_err *err);
/* 1 when XSPLICE_REQUIRE_SIGNED=1 or the system-wide file exists. */
int xs_sig_required(void);

#endif
