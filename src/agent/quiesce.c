/*
 * Thread rendezvous through a real-time signal (see quiesce.h).
 *
 * The control thread numbers each attempt (a generation) and publishes
 * `phase` = generation << 2 | state; the futex word every parked thread
 * sleeps on.  Each signal carries (generation, slot index) in si_value, so
 * a signal that arrives late, after its attempt was given up, finds another
 * phase and returns at once.
 *
 * Slot arrays are never freed: a late handler may still look at the array
 * it was signalled for.  Growth is geometric, so the waste is bounded.
 *
 * Signalling is shared: the control thread and every thread that enters
 * the handler take the next unsignalled slots from one cursor, until none
 * is left, before they park.  Each wake of a sleeping thread costs its
 * waker a context switch, and on a machine with more runnable threads than
 * CPUs the control thread loses its CPU to the threads it wakes, or (after
 * its reads of /proc, its time slice used up) right after its first
 * signal: the first signalled thread to get a CPU then signals the rest.
 * With each woken thread signalling only 4 more, 100 busy threads on two
 * CPUs waited up to 40 ms for the chain to reach them; now at most 1.6 ms.
 * Whoever takes a slot may also lose its CPU before it sends; so a slot is
 * sent by whoever first moves it from pending to sent, and the first
 * thread to find the cursor used up sends every slot still pending.  No
 * thread gets two signals for one attempt.
 *
 * Syscalls our signal interrupts are restarted (sysrestart.h).
 */
#include "agent/quiesce.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "agent/rawsys.h"
#include "agent/sysrestart.h"
#include "agent/threadinfo.h"

enum { PH_PARK = 1, PH_ACT = 2, PH_RELEASE = 3 };
enum { SIG_PENDING = 1, SIG_SENT = 2 };
/*
 * A thread whose PC is in code about to change declines to park: it returns
 * from the handler and is signalled again only once it has run on, on its
 * own CPU clock, for DECLINE_RUN_NS (a signal re-sent at once is delivered
 * before it executes a single instruction).  A thread that stops running
 * after a decline (it blocked in a syscall) is signalled again once
 * /proc/self/task/TID/syscall shows it blocked, after DECLINE_STALL_NS.
 * It declines as long as the attempt lasts: one still in the code at the
 * deadline fails the attempt (XS_QWHY_INRANGE).
 */
#define DECLINE_RUN_NS (20ull * 1000)
#define DECLINE_STALL_NS (1000ull * 1000)
/*
 * For this long after the first signal, the waiting control thread yields
 * its CPU instead of sleeping while the threads arrive: a CPU that goes
 * idle takes 50-100 us to wake on a virtual machine, and runs slowly for a
 * while after (a window whose control thread had slept spent another
 * 20-200 us before it opened), more than a small window's arrivals.  It
 * yields, so a thread on its way to park on that CPU runs first; after
 * this, it sleeps (a large or late window costs no spinning).
 */
#define ARRIVE_SPIN_NS (1000ull * 1000)
/* how often the control thread looks at threads that declined */
#define DECLINE_POLL_NS (50ull * 1000)
/* threads tracked while inside the handler (for diagnosis only) */
#define INH_MAX 4096
/* threads remembered as not answering (their signal may still be pending) */
#define NORESP_MAX 32
/* how long per-thread actions may take, all threads together */
#define PERTHREAD_MAX_NS (2000ull * 1000 * 1000)
#define PHASE(gen, st) (((gen) << 2) | (st))

struct slot {
	/* written by the control thread before the signal (seqlock) */
	_Atomic uint32_t seq;
	int32_t tid;
	struct xs_sysinfo sys;     /* the syscall it was blocked in */
	_Atomic uint32_t fill_gen; /* generation the fields above are for */
	/* an earlier signal is still pending: send none (set at fill) */
	int skip;
	/* generation << 2 | SIG_*: the one who moves it to SIG_SENT sends */
	_Atomic uint32_t sig;
	/* written by whoever signalled it: -errno of a failed send */
	_Atomic int send_err;
	/* control-thread bookkeeping */
	int gone;
	uint64_t decl_seen; /* CLOCK_MONOTONIC when the decline was seen */
	/* written by the handler */
	_Atomic uint32_t arrived;   /* generation it parked in */
	_Atomic uint32_t resignal;  /* it declined to park: signal it again */
	_Atomic uint64_t decl_cpu;  /* its CPU clock at the decline */
	_Atomic uint64_t decl_cpu0; /* ... at its first decline of the attempt */
	_Atomic uintptr_t decl_pc;  /* where it declined */
	struct xs_qthread t;
};

struct slotset {
	struct slotset *prev; /* the smaller set it replaced, kept (see above) */
	unsigned cap;
	unsigned hsize;     /* power of two, > 2 * cap */
	int32_t *hash;      /* tid -> slot index + 1, per generation */
	uint32_t *hash_gen; /* generation each hash entry belongs to */
	struct slot slots[];
};

static struct {
	int signo;
	pid_t pid;
	pid_t self;
	struct slotset *_Atomic set;
	unsigned n; /* slots used this generation */
	_Atomic uint32_t phase;
	_Atomic uint32_t narrived, nacted, waiting;
	_Atomic uint32_t events; /* futex word: arrivals and declines */
	_Atomic uint32_t expect; /* arrivals the waiting control thread needs */
	/* shared signalling: slots [0, nsig) are signalled by whoever takes
	 * them from `cursor` (for generation cur_gen) */
	_Atomic uint32_t cursor, nsig, cur_gen;
	/* slots below this are all sent (a straggler pass went over them) */
	_Atomic uint32_t swept;
	uid_t uid;
	int (*avoid)(const void *ctx, uintptr_t pc);
	const void *avoid_ctx;
	uint32_t gen;
	const uintptr_t *act_fns;
	unsigned act_n;
	char dents[32768] __attribute__((aligned(8))); /* linux_dirent64 records */
	struct xs_held stat;                           /* /proc/self/stat, open from begin to end */
	uint64_t t_first, pause_ns;
	_Atomic uint64_t restarts;
	void (*installed)(int, siginfo_t *, void *);
	pid_t noresp[NORESP_MAX];
	unsigned noresp_next;
	/* tids of the threads running the handler now (0: free entry) */
	_Atomic int32_t inh[INH_MAX];
} q;

static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

/* CPU time of thread tid of this process (ns), 0 when it cannot be read. */
static uint64_t thread_cpu_ns(pid_t tid)
{
	struct timespec ts;
	/* the kernel's per-thread CPU clock id: ~tid << 3 | PERTHREAD | SCHED */
	clockid_t id = (clockid_t)((~(unsigned)tid << 3) | 4 | 2);
	if (xs_sys2(SYS_clock_gettime, id, &ts))
		return 0;
	return ts_ns(&ts);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the handler (async-signal-safe) ------------------------------------ */

/* The slot's syscall info, if consistent and for thread tid (seqlock). */
static int read_sysinfo(struct slot *s, pid_t tid, struct xs_sysinfo *out)
{
	uint32_t a = atomic_load_explicit(&s->seq, memory_order_acquire);
	if (a & 1)
		return 0;
	int32_t t = s->tid;
	*out = s->sys;
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&s->seq, memory_order_relaxed) != a)
		return 0;
	return t == tid;
}

static void maybe_restart(struct slot *s, pid_t tid, ucontext_t *uc)
{
	struct xs_sysinfo info;
	int known = s && read_sysinfo(s, tid, &info);
	if (xs_sys_restart(uc, known ? &info : NULL))
		atomic_fetch_add_explicit(&q.restarts, 1, memory_order_relaxed);
}

static void wait_while(const _Atomic uint32_t *word, uint32_t val)
{
	while (atomic_load(word) == val)
		xs_futex_wait((const uint32_t *)word, val, NULL);
}

static void run_actions(void)
{
	for (unsigned i = 0; i < q.act_n; i++)
		((void (*)(void))q.act_fns[i])();
}

static int send_park(pid_t tid, unsigned idx);
static int take_and_signal(struct slotset *set, uint32_t gen, unsigned max);

static void park(struct slot *s, uint32_t gen, ucontext_t *uc)
{
	greg_t *g = uc->uc_mcontext.gregs;
	stack_t ss;
	s->t.pc = (uintptr_t)g[REG_RIP];
	s->t.sp = (uintptr_t)g[REG_RSP];
	s->t.uc = uc;
	s->t.tp = (uintptr_t)__builtin_thread_pointer();
	s->t.alt_lo = s->t.alt_hi = 0;
	if (xs_sys2(SYS_sigaltstack, NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK)) {
		s->t.alt_lo = (uintptr_t)ss.ss_sp;
		s->t.alt_hi = (uintptr_t)ss.ss_sp + ss.ss_size;
	}
	/* decided once: the control thread clears `resignal` as soon as it
	 * re-sends the signal, which may be before we look again */
	int decline = q.avoid && q.avoid(q.avoid_ctx, s->t.pc);
	unsigned arrived = 0;
	if (decline) {
		/* in the middle of code about to change: let it run on and be
		 * signalled again once it has (see DECLINE_RUN_NS) */
		struct timespec ts;
		xs_sys2(SYS_clock_gettime, CLOCK_THREAD_CPUTIME_ID, &ts);
		atomic_store(&s->decl_cpu, ts_ns(&ts));
		if (!atomic_load(&s->decl_pc))
			atomic_store(&s->decl_cpu0, ts_ns(&ts));
		atomic_store(&s->decl_pc, s->t.pc);
		atomic_store(&s->resignal, 1);
	} else {
		atomic_store(&s->arrived, gen);
		arrived = atomic_fetch_add(&q.narrived, 1) + 1;
	}
	atomic_fetch_add(&q.events, 1);
	/* wake the control thread for a decline or the last arrival only: it
	 * would take a CPU from the threads still on their way to park */
	if (atomic_load(&q.waiting) && (decline || arrived >= atomic_load(&q.expect)))
		xs_futex_wake((const uint32_t *)&q.events, 1);
	if (decline)
		return;

	wait_while(&q.phase, PHASE(gen, PH_PARK));
	if (atomic_load(&q.phase) == PHASE(gen, PH_ACT)) {
		run_actions();
		atomic_fetch_add(&q.nacted, 1);
		xs_futex_wake((const uint32_t *)&q.nacted, 1);
		wait_while(&q.phase, PHASE(gen, PH_ACT));
	}
}

/*
 * The slot of thread `tid` in attempt `gen`: the one the signal names or,
 * for a signal an earlier attempt left pending (the thread had it blocked,
 * or was stopped), the one found by tid.
 */
static struct slot *find_slot(struct slotset *set, uint32_t idx, pid_t tid, uint32_t gen)
{
	if (idx < set->cap && atomic_load(&set->slots[idx].fill_gen) == gen &&
	    set->slots[idx].tid == tid)
		return &set->slots[idx];
	for (unsigned i = 0; i < set->cap; i++)
		if (atomic_load(&set->slots[i].fill_gen) == gen && set->slots[i].tid == tid)
			return &set->slots[i];
	return NULL;
}

/* Note tid as running the handler: an entry of q.inh, or -1 if full. */
static int inh_enter(pid_t tid)
{
	unsigned h = ((unsigned)tid * 2654435761u) % INH_MAX;
	for (unsigned k = 0; k < 64; k++, h = (h + 1) % INH_MAX) {
		int32_t z = 0;
		if (atomic_compare_exchange_strong(&q.inh[h], &z, tid))
			return (int)h;
	}
	return -1;
}

int xs_quiesce_in_handler(pid_t tid)
{
	for (unsigned i = 0; i < INH_MAX; i++)
		if (atomic_load(&q.inh[i]) == tid)
			return 1;
	return 0;
}

static void handler(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	int saved = errno, inh = -1;
	if (si->si_code != SI_QUEUE || si->si_pid != q.pid)
		goto out;
	uint32_t idx = (uint32_t)(uintptr_t)si->si_value.sival_ptr;
	struct slotset *set = atomic_load(&q.set);
	pid_t tid = xs_raw_gettid();
	if (!set)
		goto out;
	inh = inh_enter(tid);
	uint32_t ph = atomic_load(&q.phase), gen = ph >> 2;
	struct slot *s = (ph & 3) == PH_PARK ? find_slot(set, idx, tid, gen) : NULL;
	if (s)
		maybe_restart(s, tid, ucv);
	else if (idx < set->cap)
		maybe_restart(&set->slots[idx], tid, ucv); /* checks the tid itself */
	if (s) {
		/* pass the signal on before parking (see the top of the file) */
		take_and_signal(set, gen, UINT32_MAX);
		park(s, gen, ucv);
	}
out:
	if (inh >= 0)
		atomic_store(&q.inh[inh], 0);
	errno = saved;
}

/* ---- setup --------------------------------------------------------------- */

int xs_quiesce_init(int signo, struct xs_err *err)
{
	struct sigaction old, sa;
	if (signo < SIGRTMIN || signo > SIGRTMAX)
		return xs_err_set(err, -EINVAL,
		                  "XSPLICE_SIGNAL=%d is not a real-time signal (%d..%d)", signo,
		                  SIGRTMIN, SIGRTMAX);
	if (sigaction(signo, NULL, &old))
		return xs_err_set(err, -errno, "sigaction(%d): %s", signo, strerror(errno));
	if (old.sa_handler != SIG_DFL && old.sa_sigaction != handler)
		return xs_err_set(err, -EBUSY,
		                  "signal %d already has a handler in this program; set "
		                  "XSPLICE_SIGNAL to a real-time signal it does not use",
		                  signo);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	/* nothing of the program may run on a parked thread */
	sigfillset(&sa.sa_mask);
	if (sigaction(signo, &sa, NULL))
		return xs_err_set(err, -errno, "sigaction(%d): %s", signo, strerror(errno));
	q.signo = signo;
	q.pid = getpid();
	q.uid = getuid();
	q.installed = handler;
	return 0;
}

int xs_quiesce_signal(void)
{
	return q.signo;
}

int xs_quiesce_check_handler(struct xs_err *err)
{
	struct sigaction cur;
	if (!q.installed)
		return xs_err_set(err, -ENOSYS, "the agent's signal handler is not installed");
	if (sigaction(q.signo, NULL, &cur))
		return xs_err_set(err, -errno, "sigaction(%d): %s", q.signo, strerror(errno));
	if (!(cur.sa_flags & SA_SIGINFO) || cur.sa_sigaction != handler)
		return xs_err_set(err, -ENOTSUP,
		                  "the program replaced the handler of signal %d that xsplice "
		                  "uses to pause threads; restart it with XSPLICE_SIGNAL set to "
		                  "a real-time signal it leaves alone",
		                  q.signo);
	return 0;
}

/*
 * Call fn(tid, arg) for every thread in /proc/self/task, with raw
 * getdents64 into the preallocated buffer (no opendir: it allocates), until
 * fn returns non-zero.  Returns that value, 0, or -errno when the directory
 * cannot be opened.
 */
static int each_task(int (*fn)(pid_t tid, void *arg), void *arg)
{
	int rc = 0;
	long fd = xs_raw_open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return (int)fd;
	while (!rc) {
		long len = xs_sys3(SYS_getdents64, fd, q.dents, sizeof(q.dents));
		if (len <= 0)
			break;
		for (long off = 0; off < len && !rc;) {
			struct {
				uint64_t ino;
				int64_t off;
				uint16_t reclen;
				uint8_t type;
				char name[];
			} *d = (void *)(q.dents + off);
			off += d->reclen;
			uintptr_t tid;
			int neg;
			if (xs_parse_num(d->name, &tid, &neg))
				rc = fn((pid_t)tid, arg);
		}
	}
	xs_raw_close((int)fd);
	return rc;
}

static int count_one(pid_t tid, void *arg)
{
	(void)tid;
	++*(unsigned *)arg;
	return 0;
}

static unsigned count_threads(void)
{
	unsigned n = 0;
	return each_task(count_one, &n) < 0 ? 0 : n;
}

int xs_quiesce_prepare(struct xs_err *err)
{
	unsigned want = count_threads() * 2 + 16;
	struct slotset *cur = atomic_load(&q.set);
	if (cur && cur->cap >= want)
		return 0;
	unsigned hsize = 64;
	while (hsize < want * 2 + 1)
		hsize *= 2;
	struct slotset *set = calloc(1, sizeof(*set) + want * sizeof(struct slot));
	int32_t *hash = calloc(hsize, sizeof(*hash));
	uint32_t *hgen = calloc(hsize, sizeof(*hgen));
	if (!set || !hash || !hgen) {
		free(set), free(hash), free(hgen);
		return xs_err_set(err, -ENOMEM, "out of memory for %u thread slots", want);
	}
	set->prev = cur;
	set->cap = want;
	set->hsize = hsize;
	set->hash = hash;
	set->hash_gen = hgen;
	/* the old set stays allocated: a late handler may still read it */
	atomic_store(&q.set, set);
	return 0;
}

/* ---- the window (control thread) ---------------------------------------- */

static int noresp_has(pid_t tid);

static void fill_slot(struct slot *s, pid_t tid)
{
	uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
	atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	s->tid = tid;
	xs_task_syscall(tid, &s->sys);
	atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
	s->gone = 0;
	/* a thread that did not answer before and still has our signal
	 * pending gets no second one: it parks when that one is delivered */
	s->skip = noresp_has(tid) && xs_task_sig_pending(tid, q.signo);
	atomic_store(&s->send_err, 0);
	atomic_store(&s->sig, q.gen << 2 | (s->skip ? SIG_SENT : SIG_PENDING));
	s->decl_seen = 0;
	atomic_store(&s->decl_pc, 0);
	atomic_store(&s->resignal, 0);
	atomic_store(&s->arrived, 0);
	atomic_store(&s->fill_gen, q.gen);
}

static int send_park(pid_t tid, unsigned idx)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	si.si_signo = q.signo;
	si.si_code = SI_QUEUE;
	si.si_pid = q.pid;
	si.si_uid = q.uid;
	si.si_value.sival_ptr = (void *)(uintptr_t)(((uint64_t)q.gen << 32) | idx);
	return (int)xs_sys4(SYS_rt_tgsigqueueinfo, q.pid, tid, q.signo, &si);
}

/* Threads that did not park in an earlier attempt (a small ring). */
static void noresp_add(pid_t tid)
{
	for (unsigned i = 0; i < NORESP_MAX; i++)
		if (q.noresp[i] == tid)
			return;
	q.noresp[q.noresp_next++ % NORESP_MAX] = tid;
}

static int noresp_has(pid_t tid)
{
	for (unsigned i = 0; i < NORESP_MAX; i++)
		if (q.noresp[i] == tid)
			return 1;
	return 0;
}

/* 1 when tid is new this generation (and records it). */
static int hash_add(struct slotset *set, pid_t tid)
{
	unsigned h = ((unsigned)tid * 2654435761u) & (set->hsize - 1);
	for (;; h = (h + 1) & (set->hsize - 1)) {
		if (set->hash_gen[h] != q.gen) {
			set->hash_gen[h] = q.gen;
			set->hash[h] = (int32_t)tid;
			return 1;
		}
		if (set->hash[h] == tid)
			return 0;
	}
}

/* Send slot i's signal unless another thread has (or is about to). */
static void send_once(struct slot *s, uint32_t gen, unsigned i)
{
	uint32_t want = gen << 2 | SIG_PENDING;
	if (!atomic_compare_exchange_strong(&s->sig, &want, gen << 2 | SIG_SENT))
		return;
	int r = send_park(s->tid, i);
	if (r < 0)
		atomic_store(&s->send_err, r);
}

/* The cursor is used up: send every slot a thread took but has not sent
 * yet (it lost its CPU in between).  After one whole pass none is left. */
static void send_stragglers(struct slotset *set, uint32_t gen)
{
	uint32_t n = atomic_load(&q.nsig);
	for (uint32_t i = atomic_load(&q.swept); i < n && i < set->cap; i++) {
		if (atomic_load(&q.cur_gen) != gen || atomic_load(&q.phase) != PHASE(gen, PH_PARK))
			return;
		struct slot *s = &set->slots[i];
		if (atomic_load(&s->fill_gen) == gen)
			send_once(s, gen, i);
	}
	uint32_t old = atomic_load(&q.swept);
	while (old < n && atomic_load(&q.cur_gen) == gen &&
	       !atomic_compare_exchange_weak(&q.swept, &old, n))
		;
}

/*
 * Take up to `max` slots from the shared cursor and signal them; called by
 * the control thread and, async-signal-safely, by the handler.  A failed
 * send is left in the slot for the control thread.  Returns the number of
 * slots taken (0 once the cursor is used up).
 */
static int take_and_signal(struct slotset *set, uint32_t gen, unsigned max)
{
	unsigned done = 0;
	while (done < max && atomic_load(&q.cur_gen) == gen &&
	       atomic_load(&q.phase) == PHASE(gen, PH_PARK)) {
		uint32_t i = atomic_fetch_add(&q.cursor, 1);
		if (i >= atomic_load(&q.nsig) || i >= set->cap) {
			send_stragglers(set, gen);
			break;
		}
		struct slot *s = &set->slots[i];
		done++;
		if (atomic_load(&s->fill_gen) == gen)
			send_once(s, gen, i);
	}
	return (int)done;
}

/* A failed send of slot i: -ESRCH marks it gone, else the error. */
static int send_result(struct slot *s)
{
	int r = atomic_load(&s->send_err);
	if (r == -ESRCH) {
		s->gone = 1;
		r = 0;
	}
	return r;
}

/* Signal slot i now, from the control thread. */
static int signal_slot(struct slotset *set, unsigned i)
{
	struct slot *s = &set->slots[i];
	send_once(s, q.gen, i);
	return send_result(s);
}

/*
 * Record every thread not seen yet in this attempt (with the syscall it is
 * blocked in) and, when `send`, signal it.  Returns the number of new
 * threads, or -EAGAIN (with fail) when the slots are full or a signal
 * cannot be sent.
 */
struct scan_ctx {
	struct slotset *set;
	int send, added;
	struct xs_qfail *fail;
};

static int scan_one(pid_t tid, void *arg)
{
	struct scan_ctx *c = arg;
	if (tid == q.self || !hash_add(c->set, tid))
		return 0;
	if (q.n == c->set->cap) {
		c->fail->why = XS_QWHY_GROW;
		return -EAGAIN;
	}
	fill_slot(&c->set->slots[q.n], tid);
	int r = c->send ? signal_slot(c->set, q.n) : 0;
	q.n++;
	c->added++;
	if (r < 0) {
		c->fail->why = XS_QWHY_SIGNAL, c->fail->tid = tid, c->fail->err = -r;
		return -EAGAIN;
	}
	return 0;
}

static int scan(struct slotset *set, int send, struct xs_qfail *fail)
{
	struct scan_ctx c = {set, send, 0, fail};
	int rc = each_task(scan_one, &c);
	if (rc < 0 && fail->why == XS_QWHY_NONE) { /* the directory did not open */
		fail->why = XS_QWHY_SIGNAL, fail->err = -rc;
		return -EAGAIN;
	}
	return rc ? rc : c.added;
}

/* A send that failed (a helper's is seen once it has made it): -EAGAIN
 * with fail filled. */
static int send_failed(struct slotset *set, struct xs_qfail *fail)
{
	for (unsigned i = 0; i < q.n; i++) {
		int r = send_result(&set->slots[i]);
		if (r < 0) {
			fail->why = XS_QWHY_SIGNAL, fail->tid = set->slots[i].tid, fail->err = -r;
			return -EAGAIN;
		}
	}
	return 0;
}

/* Signal every slot recorded so far, as fast as possible (a thread that is
 * not signalled yet keeps its CPU from the ones that are), sharing the
 * work with the threads that enter the handler. */
static int signal_all(struct slotset *set, struct xs_qfail *fail)
{
	atomic_store(&q.cursor, 0);
	atomic_store(&q.swept, 0);
	atomic_store(&q.nsig, q.n);
	atomic_store(&q.cur_gen, q.gen);
	while (take_and_signal(set, q.gen, 64) > 0)
		;
	return send_failed(set, fail);
}

/* Count threads that must still arrive; mark exited ones gone if `check`. */
static unsigned missing(struct slotset *set, int check, pid_t *first)
{
	unsigned m = 0;
	*first = 0;
	for (unsigned i = 0; i < q.n; i++) {
		struct slot *s = &set->slots[i];
		if (s->gone || atomic_load(&s->arrived) == q.gen)
			continue;
		if (check && xs_task_dead(q.pid, s->tid)) {
			s->gone = 1;
			continue;
		}
		if (!*first)
			*first = s->tid;
		m++;
	}
	return m;
}

/*
 * Signal again the threads that declined to park, once they have run on
 * (DECLINE_RUN_NS of their CPU time) or blocked in a syscall.  Returns the
 * number still waiting for that.
 */
static unsigned resignal(struct slotset *set, uint64_t now)
{
	unsigned waiting = 0;
	for (unsigned i = 0; i < q.n; i++) {
		struct slot *s = &set->slots[i];
		if (s->gone || !atomic_load(&s->resignal))
			continue;
		if (!s->decl_seen)
			s->decl_seen = now;
		uint64_t cpu = thread_cpu_ns(s->tid);
		int go = cpu >= atomic_load(&s->decl_cpu) + DECLINE_RUN_NS;
		if (!go && now - s->decl_seen >= DECLINE_STALL_NS) {
			/* not running: blocked in a syscall since (its new
			 * syscall is what the handler restarts), or late */
			struct xs_sysinfo si;
			xs_task_syscall(s->tid, &si);
			if (si.nr >= 0) {
				uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
				atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
				atomic_thread_fence(memory_order_release);
				s->sys = si;
				atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
				go = 1;
			} else {
				s->decl_seen = now; /* look again later */
			}
		}
		if (!go) {
			waiting++;
			continue;
		}
		atomic_store(&s->resignal, 0);
		s->decl_seen = 0;
		if (send_park(s->tid, i) == -ESRCH)
			s->gone = 1;
	}
	return waiting;
}

/* Threads parked in this attempt. */
static unsigned parked(struct slotset *set)
{
	unsigned n = 0;
	for (unsigned i = 0; i < q.n; i++)
		n += !set->slots[i].gone && atomic_load(&set->slots[i].arrived) == q.gen;
	return n;
}

/* A thread not parked whose last answer was a decline. */
static struct slot *declined(struct slotset *set)
{
	for (unsigned i = 0; i < q.n; i++)
		if (!set->slots[i].gone && atomic_load(&set->slots[i].decl_pc) &&
		    atomic_load(&set->slots[i].arrived) != q.gen)
			return &set->slots[i];
	return NULL;
}

/* Wait until every signalled thread parked or died, or the deadline. */
static int wait_arrivals(struct slotset *set, uint64_t deadline, struct xs_qfail *fail)
{
	for (;;) {
		uint32_t ev = atomic_load(&q.events);
		pid_t first;
		unsigned waiting = resignal(set, now_ns());
		if (send_failed(set, fail))
			return -EAGAIN;
		if (!missing(set, 0, &first))
			return 0;
		uint64_t t = now_ns();
		if (t >= deadline) {
			if (!missing(set, 1, &fail->tid))
				return 0;
			struct slot *d = declined(set);
			/* one that declined and has not run since is late, not
			 * stuck in the code.  Counted from its first decline: one
			 * spinning in the code declines every DECLINE_RUN_NS of
			 * its time, and at the deadline it has often only just
			 * declined again */
			if (d && atomic_load(&d->resignal) &&
			    thread_cpu_ns(d->tid) < atomic_load(&d->decl_cpu0) + DECLINE_RUN_NS)
				d = NULL;
			if (d) { /* never left the code about to change */
				fail->why = XS_QWHY_INRANGE;
				fail->tid = d->tid;
				fail->pc = atomic_load(&d->decl_pc);
			} else {
				fail->why = XS_QWHY_TIMEOUT;
			}
			return -EBUSY;
		}
		uint64_t slice = waiting ? DECLINE_POLL_NS : 1000000;
		if (deadline - t < slice)
			slice = deadline - t;
		struct timespec ts = {0, (long)slice};
		unsigned gone = 0;
		for (unsigned i = 0; i < q.n; i++)
			gone += set->slots[i].gone;
		atomic_store(&q.expect, q.n - gone);
		if (!waiting && t < q.t_first + ARRIVE_SPIN_NS) {
			while (atomic_load(&q.narrived) < q.n - gone &&
			       now_ns() < q.t_first + ARRIVE_SPIN_NS)
				sched_yield();
			if (atomic_load(&q.narrived) >= q.n - gone)
				continue;
		}
		atomic_store(&q.waiting, 1);
		if (atomic_load(&q.events) == ev)
			xs_futex_wait((const uint32_t *)&q.events, ev, &ts);
		atomic_store(&q.waiting, 0);
		if (!waiting && atomic_load(&q.events) == ev)
			missing(set, 1, &first); /* a quiet slice: look for exited threads */
	}
}

static void release(uint32_t st)
{
	atomic_store(&q.phase, PHASE(q.gen, st));
	xs_futex_wake((const uint32_t *)&q.phase, 0x7fffffff);
}

/* The threads that did not park, remembered for the next attempts. */
static void remember_late(struct slotset *set)
{
	for (unsigned i = 0; i < q.n; i++)
		if (!set->slots[i].gone && atomic_load(&set->slots[i].arrived) != q.gen)
			noresp_add(set->slots[i].tid);
}

int xs_quiesce_begin(uint32_t timeout_ms, struct xs_qfail *fail)
{
	struct slotset *set = atomic_load(&q.set);
	memset(fail, 0, sizeof(*fail));
	if (!timeout_ms)
		timeout_ms = XS_QUIESCE_DEFAULT_TIMEOUT_MS;
	if (!set) {
		fail->why = XS_QWHY_GROW;
		return -EAGAIN;
	}
	q.self = xs_raw_gettid();
	q.gen = (q.gen + 1) & 0x3fffffff;
	if (!q.gen)
		q.gen = 1;
	q.n = 0;
	atomic_store(&q.narrived, 0);
	/* read in the window without a path lookup (see xs_held) */
	xs_held_open(&q.stat, "/proc/self/stat");
	/* first every thread's syscall (slow /proc reads), while all run;
	 * then the signals, back to back */
	int rc = scan(set, 0, fail);
	atomic_store(&q.phase, PHASE(q.gen, PH_PARK));
	q.t_first = now_ns();
	uint64_t deadline = q.t_first + (uint64_t)timeout_ms * 1000000u;
	if (rc >= 0)
		rc = signal_all(set, fail);
	while (rc >= 0) {
		/* threads created meanwhile are caught by the next scan */
		int added = scan(set, 1, fail);
		if (added < 0)
			break;
		if (added == 0 && !missing(set, 0, &fail->tid))
			return 0;
		if (wait_arrivals(set, deadline, fail)) {
			remember_late(set);
			break;
		}
		/* every thread we know of is parked, so none can start a new
		 * one: when the kernel counts no more than these and us, no
		 * thread was started since the last scan, and the window is
		 * open without another (for 1000 threads, millisecond) scan.
		 * The parked are counted from the slots: q.narrived may also
		 * count a late thread of the attempt before, which did not
		 * stay. */
		if (xs_proc_nthreads(&q.stat) == parked(set) + 1)
			return 0;
	}
	fail->nthreads = q.n;
	fail->nparked = parked(set);
	fail->waited_ns = now_ns() - q.t_first;
	fail->in_handler = fail->tid && xs_quiesce_in_handler(fail->tid);
	release(PH_RELEASE);
	xs_held_close(&q.stat);
	return fail->why == XS_QWHY_TIMEOUT || fail->why == XS_QWHY_INRANGE ? -EBUSY : -EAGAIN;
}

unsigned xs_quiesce_nthreads(void)
{
	return q.n;
}

const struct xs_qthread *xs_quiesce_thread(unsigned i)
{
	struct slotset *set = atomic_load(&q.set);
	struct slot *s = &set->slots[i];
	if (s->gone || atomic_load(&s->arrived) != q.gen)
		return NULL;
	s->t.tid = s->tid;
	return &s->t;
}

void xs_quiesce_perthread(const uintptr_t *fns, unsigned n)
{
	if (!n)
		return;
	q.act_fns = fns;
	q.act_n = n;
	atomic_store(&q.nacted, 0);
	unsigned nparked = parked(atomic_load(&q.set));
	release(PH_ACT);
	run_actions();
	/* an action that never returns (it waits for a lock a parked thread
	 * holds...) must not keep the whole process parked: after a while
	 * the others are released; that thread finishes when it can */
	uint64_t until = now_ns() + PERTHREAD_MAX_NS;
	unsigned done;
	while ((done = atomic_load(&q.nacted)) < nparked && now_ns() < until) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		xs_futex_wait((const uint32_t *)&q.nacted, done, &ts);
	}
}

void xs_quiesce_end(void)
{
	/* measured at the release itself: waking every thread lets them
	 * preempt this one, and they are running again from here on */
	q.pause_ns = now_ns() - q.t_first;
	release(PH_RELEASE);
	xs_held_close(&q.stat);
}

void xs_quiesce_set_avoid(int (*in_range)(const void *ctx, uintptr_t pc), const void *ctx)
{
	q.avoid_ctx = ctx;
	q.avoid = in_range;
}

uint64_t xs_quiesce_last_pause_ns(void)
{
	return q.pause_ns;
}

uint64_t xs_quiesce_restarts(void)
{
	return atomic_load(&q.restarts);
}

void xs_quiesce_atfork_child(void)
{
	q.stat.open = 0; /* the parent's, if any */
	q.pid = getpid();
	q.n = 0;
	atomic_store(&q.phase, 0);
	atomic_store(&q.narrived, 0);
	atomic_store(&q.waiting, 0);
	memset(q.noresp, 0, sizeof(q.noresp));
}
