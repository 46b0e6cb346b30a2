/* hold_fn() returns 2, and holds its caller the same way (so that a thread
 * can be inside the payload's code) */
#include <poll.h>
#include <stdatomic.h>
#include <xsplice/patch.h>

extern int hold_fn(void);
extern atomic_int hold_flag, hold_inside;

static int hold_fn_2(void)
{
	atomic_store(&hold_inside, 1);
	while (atomic_load(&hold_flag))
		poll(NULL, 0, 5);
	return 2;
}
XSPLICE_REPLACE(hold_fn, hold_fn_2);
