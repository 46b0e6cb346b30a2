/* Signing payloads with libsodium (xsplice-sign, xsplice-pack --sign). */
#ifndef XS_BUILD_SIGN_H
#define XS_BUILD_SIGN_H

#include <stddef.h>

/* Writes PREFIX.key (0600) and PREFIX.pub; refuses to overwrite.
 * 0, or -1 with a message in err. */
int xs_sign_keygen(const char *prefix, char *err, size_t errlen);
/* Signs FILE in place with the secret key file KEY (an old signature is
 * replaced); keyid gets the signer's key id.  0, or -1 with err. */
int xs_sign_file(const char *key, const char *file, char keyid[17], char *err, size_t errlen);

#endif
