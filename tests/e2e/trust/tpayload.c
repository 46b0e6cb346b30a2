/* victim(n) answers n * 100; victim(-1) parks the calling thread in the
 * payload's own static function payload_park_here, forever; victim(-2)
 * spins in payload_spin_here. */
#include <time.h>
#include <xsplice/patch.h>

extern volatile int parked;
int victim(int n);

__attribute__((noinline)) static void payload_park_here(void)
{
	__atomic_add_fetch(&parked, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
	}
}

__attribute__((noinline)) static void payload_spin_here(void)
{
	__atomic_add_fetch(&parked, 1, __ATOMIC_SEQ_CST);
	for (;;)
		__asm__ volatile("pause" ::: "memory");
}

__attribute__((noinline)) static int victim_patched(int n)
{
	if (n == -1)
		payload_park_here();
	if (n == -2)
		payload_spin_here();
	return n * 100;
}
XSPLICE_REPLACE(victim, victim_patched);
