/*
 * Shadow variables: a hash table keyed by (object address, id) whose
 * entries carry the data block inline.
 *
 * Memory comes from anonymous mappings the store manages itself (size
 * classes with free lists, large blocks mapped one by one), never from
 * malloc: a hook running inside the quiesce window may then use shadow
 * variables even though a parked thread may hold malloc's locks.  The only
 * lock involved is the store's own; see lock_store() for how the window
 * avoids waiting on it.  Freed blocks go back to their class's free list
 * and are reused; the store never shrinks below its high-water mark.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xsplice/shadow.h>
#include "agent/shadow_internal.h"

#define SH_MIN_SHIFT 5  /* 32-byte blocks */
#define SH_MAX_SHIFT 16 /* 64 KiB; anything larger gets its own mapping */
#define SH_NCLASS (SH_MAX_SHIFT - SH_MIN_SHIFT + 1)
#define SH_CHUNK ((size_t)64 << 10) /* bytes mapped per refill of a class */
#define SH_MIN_BUCKETS 256
/* In the window, how long to retry a lock held by a thread that is still
 * running (a per-thread action on another thread) before concluding that a
 * parked thread holds it.  A time, not a count of yields: on a loaded
 * machine each yield gives the CPU to another process for a whole time
 * slice, and 2000 of them kept a window open for seconds per call. */
#define SH_WINDOW_WAIT_NS (2ull * 1000 * 1000)

struct shadow {
	struct shadow *next; /* hash chain */
	const void *obj;
	unsigned long id;
	uintptr_t owner;    /* return address of the allocating call */
	size_t size;        /* data bytes asked for */
	size_t span;        /* bytes of the whole block */
	alignas(16) unsigned char data[];
};

struct sh_free {
	struct sh_free *next;
};

static struct {
	pthread_mutex_t lock; /* everything below */
	struct shadow **bucket;
	size_t nbucket; /* a power of two; 0 until the first allocation */
	size_t count;
	struct sh_free *free[SH_NCLASS];
	int window; /* atomic: set by the engine while threads are parked */
	int fork_locked;
} st = {.lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP};

/* ---- memory ---------------------------------------------------------------- */

static size_t page_size(void)
{
	static size_t pg;

	if (!pg)
		pg = (size_t)sysconf(_SC_PAGESIZE);
	return pg;
}

static void *map_zeroed(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static size_t round_pages(size_t n)
{
	size_t pg = page_size();

	return (n + pg - 1) & ~(pg - 1);
}

static unsigned size_class(size_t n)
{
	unsigned c = 0;

	while (((size_t)1 << (c + SH_MIN_SHIFT)) < n)
		c++;
	return c;
}

/* Carve a fresh mapping into blocks of class c. */
static int refill_locked(unsigned c)
{
	size_t bs = (size_t)1 << (c + SH_MIN_SHIFT);
	size_t len = bs > SH_CHUNK ? bs : SH_CHUNK;
	unsigned char *p = map_zeroed(len);

	if (!p)
		return -ENOMEM;
	for (size_t off = len; off >= bs; off -= bs) {
		struct sh_free *f = (struct sh_free *)(p + off - bs);

		f->next = st.free[c];
		st.free[c] = f;
	}
	return 0;
}

/* A zeroed block able to hold `size` data bytes. */
static struct shadow *block_get_locked(size_t size)
{
	size_t total = sizeof(struct shadow) + size;
	struct shadow *s;

	if (size > SIZE_MAX / 2)
		return NULL;
	if (total > ((size_t)1 << SH_MAX_SHIFT)) {
		size_t span = round_pages(total);

		s = map_zeroed(span);
		if (s)
			s->span = span;
		return s;
	}
	unsigned c = size_class(total);

	if (!st.free[c] && refill_locked(c) < 0)
		return NULL;
	s = (struct shadow *)st.free[c];
	st.free[c] = st.free[c]->next;
	memset(s, 0, total);
	s->span = (size_t)1 << (c + SH_MIN_SHIFT);
	return s;
}

static void block_put_locked(struct shadow *s)
{
	if (s->span > ((size_t)1 << SH_MAX_SHIFT)) {
		munmap(s, s->span);
		return;
	}
	struct sh_free *f = (struct sh_free *)s;
	unsigned c = size_class(s->span);

	f->next = st.free[c];
	st.free[c] = f;
}

/* ---- the table --------------------------------------------------------------- */

static size_t hash(const void *obj, unsigned long id)
{
	/* splitmix64's finaliser: object addresses differ mostly in middle
	 * bits, and the bucket index takes the low ones */
	uint64_t z = (uint64_t)(uintptr_t)obj ^ ((uint64_t)id * 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (size_t)(z ^ (z >> 31));
}

static struct shadow **slot_locked(const void *obj, unsigned long id)
{
	return &st.bucket[hash(obj, id) & (st.nbucket - 1)];
}

static struct shadow *find_locked(const void *obj, unsigned long id)
{
	if (!st.nbucket)
		return NULL;
	for (struct shadow *s = *slot_locked(obj, id); s; s = s->next)
		if (s->obj == obj && s->id == id)
			return s;
	return NULL;
}

/* Double the table once the chains average two entries.  A failed growth
 * only costs speed, except for the very first table. */
static int grow_locked(void)
{
	if (st.nbucket && st.count < st.nbucket * 2)
		return 0;
	size_t n = st.nbucket ? st.nbucket * 2 : SH_MIN_BUCKETS;
	struct shadow **nb = map_zeroed(round_pages(n * sizeof(*nb)));

	if (!nb)
		return st.nbucket ? 0 : -ENOMEM;
	for (size_t i = 0; i < st.nbucket; i++) {
		struct shadow *s = st.bucket[i], *next;

		for (; s; s = next) {
			size_t j = hash(s->obj, s->id) & (n - 1);

			next = s->next;
			s->next = nb[j];
			nb[j] = s;
		}
	}
	if (st.nbucket)
		munmap(st.bucket, round_pages(st.nbucket * sizeof(*nb)));
	st.bucket = nb;
	st.nbucket = n;
	return 0;
}

/* ---- locking ------------------------------------------------------------------ */

/*
 * Outside the window this is an ordinary (error-checking) mutex: a
 * constructor or destructor that calls back into the store gets EDEADLK.
 * Inside the window every other thread is parked, possibly in the middle of
 * a shadow call with the lock held, and would never release it: only try,
 * and give up after a bounded number of yields (a holder that is running —
 * a per-thread action on another thread — releases it long before).
 */
static int lock_store(void)
{
	if (!__atomic_load_n(&st.window, __ATOMIC_ACQUIRE))
		return pthread_mutex_lock(&st.lock) ? -EDEADLK : 0;
	uint64_t until = 0;
	for (;;) {
		int rc = pthread_mutex_trylock(&st.lock);
		struct timespec ts;

		if (rc == 0)
			return 0;
		if (rc != EBUSY || clock_gettime(CLOCK_MONOTONIC, &ts))
			break;
		uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		if (!until)
			until = now + SH_WINDOW_WAIT_NS;
		else if (now >= until)
			break;
		sched_yield();
	}
	return -EDEADLK;
}

static void unlock_store(void)
{
	pthread_mutex_unlock(&st.lock);
}

void xs_shadow_window_begin(void)
{
	__atomic_store_n(&st.window, 1, __ATOMIC_RELEASE);
}

void xs_shadow_window_end(void)
{
	__atomic_store_n(&st.window, 0, __ATOMIC_RELEASE);
}

/* fork: the child must not inherit a lock another thread held. */
static void fork_prepare(void)
{
	st.fork_locked = pthread_mutex_lock(&st.lock) == 0;
}

static void fork_parent(void)
{
	if (st.fork_locked)
		pthread_mutex_unlock(&st.lock);
}

static void fork_child(void)
{
	st.lock = (pthread_mutex_t)PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
	st.window = 0;
}

__attribute__((constructor)) static void shadow_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* ---- the public API ------------------------------------------------------------- */

static void *fail(int e)
{
	errno = e;
	return NULL;
}

XSPLICE_API void *xsplice_shadow_get(const void *obj, unsigned long id)
{
	if (lock_store() < 0)
		return fail(EDEADLK);
	struct shadow *s = find_locked(obj, id);

	unlock_store();
	return s ? s->data : NULL;
}

/* Allocate (obj, id) under the lock; `existing` says what to do when it is
 * already there: return it (get_or_alloc) or refuse (alloc). */
static void *alloc_locked(const void *obj, unsigned long id, size_t size,
			  xsplice_shadow_ctor_fn ctor, void *arg, uintptr_t owner, int existing)
{
	struct shadow *s = find_locked(obj, id);

	if (s)
		return existing ? s->data : fail(EEXIST);
	if (grow_locked() < 0 || !(s = block_get_locked(size)))
		return fail(ENOMEM);
	s->obj = obj;
	s->id = id;
	s->owner = owner;
	s->size = size;
	if (ctor) {
		int rc = ctor((void *)obj, s->data, arg);

		if (rc) {
			block_put_locked(s);
			return fail(rc < 0 ? -rc : EINVAL);
		}
	}
	struct shadow **slot = slot_locked(obj, id);

	s->next = *slot;
	*slot = s;
	st.count++;
	return s->data;
}

static void *shadow_alloc(const void *obj, unsigned long id, size_t size,
			  xsplice_shadow_ctor_fn ctor, void *arg, uintptr_t owner, int existing)
{
	if (lock_store() < 0)
		return fail(EDEADLK);
	void *p = alloc_locked(obj, id, size, ctor, arg, owner, existing);
	int e = errno;

	unlock_store();
	errno = e;
	return p;
}

XSPLICE_API void *xsplice_shadow_alloc(const void *obj, unsigned long id, size_t size,
				       xsplice_shadow_ctor_fn ctor, void *arg)
{
	uintptr_t owner = (uintptr_t)__builtin_return_address(0);

	return shadow_alloc(obj, id, size, ctor, arg, owner, 0);
}

XSPLICE_API void *xsplice_shadow_get_or_alloc(const void *obj, unsigned long id, size_t size,
					      xsplice_shadow_ctor_fn ctor, void *arg)
{
	uintptr_t owner = (uintptr_t)__builtin_return_address(0);

	return shadow_alloc(obj, id, size, ctor, arg, owner, 1);
}

/* ---- sweeps: free / count / disown by id or owner ------------------------------- */

struct match {
	int by_id, by_owner, by_obj;
	const void *obj;
	unsigned long id;
	uintptr_t start, end;
};

enum sweep { SWEEP_COUNT, SWEEP_FREE, SWEEP_DISOWN };

static int matches(const struct shadow *s, const struct match *m)
{
	if (m->by_obj && s->obj != m->obj)
		return 0;
	if (m->by_id && s->id != m->id)
		return 0;
	if (m->by_owner && (s->owner < m->start || s->owner >= m->end))
		return 0;
	return 1;
}

/* Visit the matching entries of one chain; returns how many matched. */
static long sweep_chain_locked(struct shadow **pp, const struct match *m, enum sweep what,
			       xsplice_shadow_dtor_fn dtor)
{
	long n = 0;

	while (*pp) {
		struct shadow *s = *pp;

		if (!matches(s, m)) {
			pp = &s->next;
			continue;
		}
		n++;
		if (what != SWEEP_FREE) {
			if (what == SWEEP_DISOWN)
				s->owner = 0;
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		st.count--;
		if (dtor)
			dtor((void *)s->obj, s->data);
		block_put_locked(s);
	}
	return n;
}

static long sweep(const struct match *m, enum sweep what, xsplice_shadow_dtor_fn dtor)
{
	long n = 0;

	if (lock_store() < 0)
		return -EDEADLK;
	if (m->by_obj) {
		if (st.nbucket)
			n = sweep_chain_locked(slot_locked(m->obj, m->id), m, what, dtor);
	} else {
		for (size_t i = 0; i < st.nbucket; i++)
			n += sweep_chain_locked(&st.bucket[i], m, what, dtor);
	}
	unlock_store();
	return n;
}

XSPLICE_API void xsplice_shadow_free(const void *obj, unsigned long id,
				     xsplice_shadow_dtor_fn dtor)
{
	struct match m = {.by_obj = 1, .by_id = 1, .obj = obj, .id = id};

	if (sweep(&m, SWEEP_FREE, dtor) < 0)
		errno = EDEADLK;
}

XSPLICE_API void xsplice_shadow_free_all(unsigned long id, xsplice_shadow_dtor_fn dtor)
{
	struct match m = {.by_id = 1, .id = id};

	if (sweep(&m, SWEEP_FREE, dtor) < 0)
		errno = EDEADLK;
}

/* ---- the agent's side -------------------------------------------------------------- */

long xs_shadow_free_owner(uintptr_t start, uintptr_t end)
{
	struct match m = {.by_owner = 1, .start = start, .end = end};

	return sweep(&m, SWEEP_FREE, NULL);
}

long xs_shadow_disown(uintptr_t start, uintptr_t end)
{
	struct match m = {.by_owner = 1, .start = start, .end = end};

	return sweep(&m, SWEEP_DISOWN, NULL);
}

long xs_shadow_count_owner(uintptr_t start, uintptr_t end)
{
	struct match m = {.by_owner = 1, .start = start, .end = end};

	return sweep(&m, SWEEP_COUNT, NULL);
}

long xs_shadow_count(unsigned long id)
{
	struct match m = {.by_id = 1, .id = id};

	return sweep(&m, SWEEP_COUNT, NULL);
}

long xs_shadow_count_all(void)
{
	if (lock_store() < 0)
		return -EDEADLK;
	long n = (long)st.count;

	unlock_store();
	return n;
}

/* Add one entry to the sorted rows, keeping the smallest ids. */
static void stat_add(struct xs_shadow_stat *out, size_t max, size_t *n, const struct shadow *s)
{
	size_t i = 0;

	while (i < *n && out[i].id < s->id)
		i++;
	if (i < *n && out[i].id == s->id) {
		out[i].count++;
		out[i].bytes += s->size;
		return;
	}
	if (i == max)
		return;
	if (*n == max)
		(*n)--; /* the largest id falls off */
	memmove(&out[i + 1], &out[i], (*n - i) * sizeof(*out));
	out[i] = (struct xs_shadow_stat){.id = s->id, .count = 1, .bytes = s->size};
	(*n)++;
}

long xs_shadow_stats(struct xs_shadow_stat *out, size_t max)
{
	size_t n = 0;

	if (lock_store() < 0)
		return -EDEADLK;
	for (size_t i = 0; i < st.nbucket; i++)
		for (const struct shadow *s = st.bucket[i]; s; s = s->next)
			stat_add(out, max, &n, s);
	unlock_store();
	return (long)n;
}
