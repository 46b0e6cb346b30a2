/* struct xs_err: one human message per failure. */
#include <stdarg.h>
#include <stdio.h>

#include "core/core.h"

int xs_err_set(struct xs_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	/* Names quoted in messages come from untrusted payload bytes: keep the
	 * message one printable ASCII line whatever they hold (clients print
	 * it, and JSON and Python decode it). */
	for (char *p = err->msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return code;
}
