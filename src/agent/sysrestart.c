/* Restarting syscalls our signal interrupted (see sysrestart.h). */
#include "agent/sysrestart.h"

#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>

/*
 * Syscalls that may fail with EINTR although SA_RESTART is set, and that
 * had no effect when they did: issuing them again is what the program
 * would have seen without our signal.  (close and connect are not here:
 * their EINTR has side effects.)
 */
static int restartable(long nr)
{
	switch (nr) {
	case SYS_read:
	case SYS_write:
	case SYS_readv:
	case SYS_writev:
	case SYS_poll:
	case SYS_select:
	case SYS_pause:
	case SYS_nanosleep:
	case SYS_accept:
	case SYS_sendto:
	case SYS_recvfrom:
	case SYS_sendmsg:
	case SYS_recvmsg:
	case SYS_semop:
	case SYS_msgsnd:
	case SYS_msgrcv:
	case SYS_rt_sigtimedwait:
	case SYS_rt_sigsuspend:
	case SYS_futex:
	case SYS_io_getevents:
	case SYS_semtimedop:
	case SYS_clock_nanosleep:
	case SYS_epoll_wait:
	case SYS_mq_timedsend:
	case SYS_mq_timedreceive:
	case SYS_pselect6:
	case SYS_ppoll:
	case SYS_epoll_pwait:
	case SYS_accept4:
	case SYS_recvmmsg:
	case SYS_sendmmsg:
	case 441 /* epoll_pwait2 */:
	case 449 /* futex_waitv */:
		return 1;
	default:
		return 0;
	}
}

/* The syscall number of the `syscall` instruction ending at ip, when the
 * instruction before it loads eax with a constant. */
static long decode_nr(const uint8_t *ip)
{
	/* the bytes before the syscall instruction may be on another page */
	if (((uintptr_t)(ip - 7) ^ (uintptr_t)(ip - 2)) >> 12)
		return -1;
	if (ip[-4] == 0x31 && ip[-3] == 0xc0) /* xor %eax,%eax */
		return 0;
	if (ip[-7] == 0xb8) /* mov $imm32,%eax */
		return (long)((uint32_t)ip[-6] | (uint32_t)ip[-5] << 8 | (uint32_t)ip[-4] << 16 |
		              (uint32_t)ip[-3] << 24);
	return -1;
}

int xs_sys_restart(ucontext_t *uc, const struct xs_sysinfo *known)
{
	greg_t *g = uc->uc_mcontext.gregs;
	if (g[REG_RAX] != -EINTR)
		return 0;
	const uint8_t *ip = (const uint8_t *)g[REG_RIP];
	const greg_t regs[6] = {g[REG_RDI], g[REG_RSI], g[REG_RDX],
	                        g[REG_R10], g[REG_R8],  g[REG_R9]};
	int same = known && known->nr >= 0 && known->pc == (uintptr_t)ip;
	for (int i = 0; same && i < 6; i++)
		same = (uintptr_t)regs[i] == known->args[i];
	/* without that proof, look at the code: the bytes before ip are
	 * read only when on ip's own page (RAX may be -4 by chance, at the
	 * start of a mapping) */
	if (!same && (((uintptr_t)ip & 4095) < 2 || ip[-2] != 0x0f || ip[-1] != 0x05))
		return 0;
	long nr = same ? known->nr : decode_nr(ip);
	if (!restartable(nr))
		return 0;
	g[REG_RAX] = nr;
	g[REG_RIP] -= 2;
	return 1;
}
