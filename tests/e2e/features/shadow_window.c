/*
 * Shadow calls from load and unload hooks while a target thread hammers the
 * shadow store: the hooks run inside the quiesce window, possibly with that
 * thread parked holding the store's lock.  Each call must either work or
 * fail with EDEADLK — never hang the process, never fail otherwise.
 */
#include <errno.h>
#include <xsplice/patch.h>
#include <xsplice/shadow.h>
#include "ftarget.h"

#define SV_WINDOW 0x3d0ul

static char anchor; /* the object the hooks hang their shadow on */

static void count(void *p)
{
	if (p)
		window_ok++;
	else if (errno == EDEADLK)
		window_busy++;
	else
		window_err++;
}

static void on_load(void)
{
	errno = 0;
	count(xsplice_shadow_get_or_alloc(&anchor, SV_WINDOW, 32, NULL, NULL));
}

static void on_unload(void)
{
	errno = 0;
	void *p = xsplice_shadow_get(&anchor, SV_WINDOW);

	if (!p && errno != EDEADLK)
		p = &anchor; /* not there (its load was busy): fine too */
	count(p);
}

static long calc_window(long n)
{
	return n + 700;
}
XSPLICE_REPLACE(calc, calc_window);
XSPLICE_LOAD_HOOK(on_load);
XSPLICE_UNLOAD_HOOK(on_unload);
