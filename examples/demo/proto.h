/* kvd's protocol handler (proto.c). */
#ifndef KVD_PROTO_H
#define KVD_PROTO_H

#include <stddef.h>

/* Answer one request line into out (at most outsz bytes); returns the
 * reply length. */
int handle_line(const char *line, char *out, size_t outsz);

#endif
