/* For the C++ target: checked() and waiter() replaced by C code that the
 * unwinder must step through (an exception from thrower(), the forced
 * unwind of pthread_cancel from read()). */
#include <stdatomic.h>
#include <unistd.h>
#include <xsplice/patch.h>

extern int thrower(int n);
extern int checked(int n);
extern int waiter(void);
extern atomic_int in_new;
extern int waiter_pipe[2];

static int checked_new(int n)
{
	int r = thrower(n); /* a call, not a tail call: this frame stays */
	return r * 3;
}
XSPLICE_REPLACE(checked, checked_new);

static int waiter_new(void)
{
	char c;
	atomic_store(&in_new, 1);
	int r = (int)read(waiter_pipe[0], &c, 1);
	return r + 1;
}
XSPLICE_REPLACE(waiter, waiter_new);
