/* Points the target's `callback` into this payload from its load hook, and
 * never points it back: after a revert a thread can still enter the
 * payload's code, which unload must notice. */
#include <poll.h>
#include <stdatomic.h>
#include <xsplice/patch.h>

extern long work(long x);
extern int (*volatile callback)(void);
extern atomic_int *cb_hold_flag;
extern atomic_int cb_entered;

static long work_cb(long x)
{
	return x + 1000;
}
XSPLICE_REPLACE(work, work_cb);

static int cb_in_payload(void)
{
	atomic_store(&cb_entered, 1);
	while (atomic_load(cb_hold_flag))
		poll(NULL, 0, 5);
	return 1;
}

static void on_load(void)
{
	callback = cb_in_payload;
}
XSPLICE_LOAD_HOOK(on_load);
