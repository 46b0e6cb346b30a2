/*
 * Raw system calls for the quiesce window and the signal handler.
 *
 * Inside the window (and in the handler) the agent may not call anything
 * that could take a lock a parked thread holds, and the handler must leave
 * errno alone.  These wrappers are a bare `syscall` instruction: no errno,
 * no cancellation point, no libc state; they return the kernel's result
 * (negative errno on failure).
 */
#ifndef XS_AGENT_RAWSYS_H
#define XS_AGENT_RAWSYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <linux/futex.h>

static inline long xs_sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
	                 : "rcx", "r11", "memory");
	return ret;
}

#define xs_sys0(nr) xs_sys6(nr, 0, 0, 0, 0, 0, 0)
#define xs_sys1(nr, a) xs_sys6(nr, (long)(a), 0, 0, 0, 0, 0)
#define xs_sys2(nr, a, b) xs_sys6(nr, (long)(a), (long)(b), 0, 0, 0, 0)
#define xs_sys3(nr, a, b, c) xs_sys6(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define xs_sys4(nr, a, b, c, d) xs_sys6(nr, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

static inline pid_t xs_raw_gettid(void)
{
	return (pid_t)xs_sys0(SYS_gettid);
}

static inline pid_t xs_raw_getpid(void)
{
	return (pid_t)xs_sys0(SYS_getpid);
}

static inline long xs_raw_open(const char *path, int flags)
{
	return xs_sys4(SYS_openat, -100 /* AT_FDCWD */, path, flags, 0);
}

static inline long xs_raw_read(int fd, void *buf, size_t n)
{
	return xs_sys3(SYS_read, fd, buf, n);
}

static inline long xs_raw_close(int fd)
{
	return xs_sys1(SYS_close, fd);
}

/* Wait while *word == val, at most `ts` (NULL: forever). */
static inline long xs_futex_wait(const uint32_t *word, uint32_t val, const void *ts)
{
	return xs_sys4(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, ts);
}

static inline long xs_futex_wake(const uint32_t *word, int n)
{
	return xs_sys3(SYS_futex, word, FUTEX_WAKE_PRIVATE, n);
}

/* Read a whole small file (e.g. /proc/self/task/TID/stat) into buf,
 * NUL-terminated; returns the length or a negative errno. */
long xs_raw_read_file(const char *path, char *buf, size_t cap);

/*
 * A /proc/self file opened before the window and read inside it from
 * offset 0 (pread), so that the window pays no path lookup: the first
 * lookup of a /proc/self file in a process took 50-100 us here, later ones
 * 3-8 us, a pread 3 us.  Before each read the descriptor is checked to be
 * still that file (device and inode): a thread may close the number and
 * open a file of its own under it while we are not looking.
 */
struct xs_held {
	int open, fd; /* zeroed: not open */
	uint64_t dev, ino;
};
/* Open path (outside the window); on failure the reads open it by path. */
void xs_held_open(struct xs_held *h, const char *path);
void xs_held_close(struct xs_held *h);
/* Up to cap bytes of the file, or of path when h is not open or no longer
 * that file (no NUL added); the length, or a negative errno.  A length of
 * cap means the file may hold more. */
long xs_held_read(const struct xs_held *h, const char *path, char *buf, size_t cap);
/* Is h open and still the file it was opened on? */
int xs_held_valid(const struct xs_held *h);

/* Async-signal-safe formatting helpers (no stdio). */
char *xs_fmt_u64(char *p, uint64_t v);

#endif
