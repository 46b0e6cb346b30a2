/* Writing code in place (see textpoke.h). */
#include "agent/textpoke.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/rawsys.h"

static struct {
	int memfd;     /* /proc/self/mem during an action, else -1 */
	int forced;    /* XSPLICE_TEXT_WRITE=mprotect */
	int broken;    /* a write through /proc/self/mem failed: the kernel
	                * refuses them (proc_mem.force_override=never) */
	int sync_core; /* membarrier SYNC_CORE registered */
} tp = {.memfd = -1};

static void register_membarrier(void)
{
	long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	tp.sync_core = 0;
	if (cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) &&
	    !syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0))
		tp.sync_core = 1;
}

int xs_text_init(struct xs_err *err)
{
	const char *v = getenv("XSPLICE_TEXT_WRITE");
	(void)err;
	/* XSPLICE_TEXT_WRITE=mprotect: what happens on kernels that refuse
	 * /proc/self/mem writes */
	tp.forced = v && !strcmp(v, "mprotect");
	register_membarrier();
	return 0;
}

/*
 * The file is open only during an action: a program may close every fd it
 * did not open itself and reuse the number, and a write meant for our code
 * must never land in its file.  Opened anew each time, /proc/self also
 * always means this process (after fork, the child).
 */
void xs_text_begin(void)
{
	if (tp.memfd < 0 && !tp.forced && !tp.broken)
		tp.memfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
}

void xs_text_end(void)
{
	if (tp.memfd >= 0)
		close(tp.memfd);
	tp.memfd = -1;
}

/* The child's memory is its own: membarrier registration is per process. */
void xs_text_atfork_child(void)
{
	/* forked between two attempts of an action: the descriptor is the
	 * child's copy (of the parent's /proc/self/mem): close it */
	if (tp.memfd >= 0)
		close(tp.memfd);
	tp.memfd = -1;
	register_membarrier();
}

static int write_procmem(uintptr_t addr, const void *bytes, size_t len)
{
	size_t done = 0;
	while (done < len) {
		long r = xs_sys4(SYS_pwrite64, tp.memfd, (const char *)bytes + done, len - done,
		                 (long)(addr + done));
		if (r == -EINTR)
			continue;
		if (r <= 0)
			return r ? (int)r : -EIO;
		done += (size_t)r;
	}
	return 0;
}

static int write_mprotect(uintptr_t addr, const void *bytes, size_t len, int prot)
{
	uintptr_t pg = addr & ~(uintptr_t)4095;
	size_t span = ((addr + len + 4095) & ~(uintptr_t)4095) - pg;
	long r = xs_sys3(SYS_mprotect, pg, span, PROT_READ | PROT_WRITE | PROT_EXEC);
	if (r)
		return (int)r;
	volatile uint8_t *dst = (volatile uint8_t *)addr;
	for (size_t i = 0; i < len; i++)
		dst[i] = ((const uint8_t *)bytes)[i];
	r = xs_sys3(SYS_mprotect, pg, span, prot ? prot : PROT_READ | PROT_EXEC);
	return (int)r;
}

void xs_text_own(uintptr_t addr, size_t len)
{
	uint8_t now[64];
	if (tp.memfd < 0 || tp.broken || !addr || len > sizeof(now))
		return;
	memcpy(now, (const void *)addr, len);
	write_procmem(addr, now, len); /* a failure is the window write's to report */
}

int xs_text_write(uintptr_t addr, const void *bytes, size_t len, int prot)
{
	if (tp.memfd >= 0 && !tp.broken) {
		int r = write_procmem(addr, bytes, len);
		if (!r && !memcmp((const void *)addr, bytes, len))
			return 0;
		tp.broken = 1;
	}
	return write_mprotect(addr, bytes, len, prot);
}

void xs_text_sync(void)
{
	if (tp.sync_core)
		xs_sys3(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, 0, 0);
}

int xs_text_uses_procmem(void)
{
	return !tp.forced && !tp.broken;
}
