/*
 * Unit tests for the shadow-variable store (src/agent/shadow.c, linked in
 * directly): the public API and the agent's internal counters.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <xsplice/shadow.h>
#include "agent/shadow_internal.h"

/* Each test uses its own ids so leftovers of one never disturb another. */
enum {
	ID_BASIC = 100, ID_DUP, ID_IDEM, ID_CTOR, ID_FREE, ID_FREE_ALL, ID_FREE_ALL_OTHER,
	ID_MANY, ID_BIG, ID_THREADS, ID_CHURN, ID_WINDOW, ID_OWNER, ID_STATS_A, ID_STATS_B,
	ID_REENTER, ID_FORK,
};

static int all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static void alloc_then_get(void **state)
{
	(void)state;
	int obj = 0;
	char *d = xsplice_shadow_alloc(&obj, ID_BASIC, 100, NULL, NULL);

	assert_non_null(d);
	assert_true(all_zero(d, 100));
	assert_int_equal((uintptr_t)d % 16, 0);
	memset(d, 0xab, 100);
	assert_ptr_equal(xsplice_shadow_get(&obj, ID_BASIC), d);
	/* another id or another object is another variable */
	assert_null(xsplice_shadow_get(&obj, ID_BASIC + 1000));
	assert_null(xsplice_shadow_get((char *)&obj + 1, ID_BASIC));
	assert_int_equal(xs_shadow_count(ID_BASIC), 1);
	xsplice_shadow_free(&obj, ID_BASIC, NULL);
	assert_null(xsplice_shadow_get(&obj, ID_BASIC));
	assert_int_equal(xs_shadow_count(ID_BASIC), 0);
}

static void duplicate_alloc_refused(void **state)
{
	(void)state;
	int obj = 0;
	int *a = xsplice_shadow_alloc(&obj, ID_DUP, sizeof(int), NULL, NULL);

	assert_non_null(a);
	*a = 42;
	errno = 0;
	assert_null(xsplice_shadow_alloc(&obj, ID_DUP, sizeof(int), NULL, NULL));
	assert_int_equal(errno, EEXIST);
	/* the first one is untouched */
	assert_ptr_equal(xsplice_shadow_get(&obj, ID_DUP), a);
	assert_int_equal(*a, 42);
	assert_int_equal(xs_shadow_count(ID_DUP), 1);
	xsplice_shadow_free(&obj, ID_DUP, NULL);
}

static int ctor_calls;
static int count_ctor(void *obj, void *shadow, void *arg)
{
	(void)obj;
	ctor_calls++;
	*(int *)shadow = *(int *)arg;
	return 0;
}

static void get_or_alloc_idempotent(void **state)
{
	(void)state;
	int obj = 0, seven = 7, eight = 8;

	ctor_calls = 0;
	int *a = xsplice_shadow_get_or_alloc(&obj, ID_IDEM, sizeof(int), count_ctor, &seven);
	int *b = xsplice_shadow_get_or_alloc(&obj, ID_IDEM, sizeof(int), count_ctor, &eight);

	assert_non_null(a);
	assert_ptr_equal(a, b);
	assert_int_equal(*a, 7);
	assert_int_equal(ctor_calls, 1);
	assert_int_equal(xs_shadow_count(ID_IDEM), 1);
	xsplice_shadow_free(&obj, ID_IDEM, NULL);
}

static const void *ctor_seen_obj;
static int failing_ctor(void *obj, void *shadow, void *arg)
{
	ctor_seen_obj = obj;
	memset(shadow, 0x5a, 16);
	return *(int *)arg;
}

static void ctor_failure_leaves_nothing(void **state)
{
	(void)state;
	int obj = 0, rc = -ENOSPC;

	errno = 0;
	assert_null(xsplice_shadow_alloc(&obj, ID_CTOR, 16, failing_ctor, &rc));
	assert_int_equal(errno, ENOSPC);
	assert_ptr_equal(ctor_seen_obj, &obj);
	assert_null(xsplice_shadow_get(&obj, ID_CTOR));
	assert_int_equal(xs_shadow_count(ID_CTOR), 0);
	rc = 1; /* a positive failure becomes EINVAL */
	assert_null(xsplice_shadow_get_or_alloc(&obj, ID_CTOR, 16, failing_ctor, &rc));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(xs_shadow_count(ID_CTOR), 0);
	/* and a later allocation starts from zeroed memory again */
	char *d = xsplice_shadow_alloc(&obj, ID_CTOR, 16, NULL, NULL);

	assert_non_null(d);
	assert_true(all_zero(d, 16));
	xsplice_shadow_free(&obj, ID_CTOR, NULL);
}

static int dtor_calls;
static const void *dtor_objs[64];
static void count_dtor(void *obj, void *shadow)
{
	assert_int_equal(*(int *)shadow, (int)((uintptr_t)obj & 0xffff));
	dtor_objs[dtor_calls++ % 64] = obj;
}

static void free_calls_dtor_once(void **state)
{
	(void)state;
	int obj = 0;
	int *d = xsplice_shadow_alloc(&obj, ID_FREE, sizeof(int), NULL, NULL);

	assert_non_null(d);
	*d = (int)((uintptr_t)&obj & 0xffff);
	dtor_calls = 0;
	xsplice_shadow_free(&obj, ID_FREE, count_dtor);
	assert_int_equal(dtor_calls, 1);
	assert_ptr_equal(dtor_objs[0], &obj);
	/* freeing what is not there does nothing */
	xsplice_shadow_free(&obj, ID_FREE, count_dtor);
	assert_int_equal(dtor_calls, 1);
}

static void free_all_by_id(void **state)
{
	(void)state;
	static char objs[20];

	for (int i = 0; i < 20; i++) {
		int *d = xsplice_shadow_alloc(&objs[i], ID_FREE_ALL, sizeof(int), NULL, NULL);

		assert_non_null(d);
		*d = (int)((uintptr_t)&objs[i] & 0xffff);
		assert_non_null(xsplice_shadow_alloc(&objs[i], ID_FREE_ALL_OTHER, 8, NULL, NULL));
	}
	dtor_calls = 0;
	xsplice_shadow_free_all(ID_FREE_ALL, count_dtor);
	assert_int_equal(dtor_calls, 20);
	/* each object's destructor ran exactly once */
	for (int i = 0; i < 20; i++) {
		int seen = 0;

		for (int j = 0; j < 20; j++)
			seen += dtor_objs[j] == &objs[i];
		assert_int_equal(seen, 1);
		assert_null(xsplice_shadow_get(&objs[i], ID_FREE_ALL));
		assert_non_null(xsplice_shadow_get(&objs[i], ID_FREE_ALL_OTHER));
	}
	assert_int_equal(xs_shadow_count(ID_FREE_ALL), 0);
	assert_int_equal(xs_shadow_count(ID_FREE_ALL_OTHER), 20);
	xsplice_shadow_free_all(ID_FREE_ALL_OTHER, NULL);
	assert_int_equal(xs_shadow_count(ID_FREE_ALL_OTHER), 0);
}

/* Enough objects to grow the table several times. */
static void many_objects(void **state)
{
	(void)state;
	enum { N = 50000 };
	char *objs = malloc(N);
	long before = xs_shadow_count_all();

	assert_non_null(objs);
	for (int i = 0; i < N; i++) {
		unsigned *d = xsplice_shadow_alloc(&objs[i], ID_MANY, sizeof(unsigned) * (1 + i % 40),
						   NULL, NULL);

		assert_non_null(d);
		assert_true(all_zero(d, sizeof(unsigned) * (1 + i % 40)));
		d[0] = (unsigned)i;
	}
	assert_int_equal(xs_shadow_count(ID_MANY), N);
	assert_int_equal(xs_shadow_count_all(), before + N);
	for (int i = 0; i < N; i++) {
		unsigned *d = xsplice_shadow_get(&objs[i], ID_MANY);

		assert_non_null(d);
		assert_int_equal(d[0], (unsigned)i);
	}
	for (int i = 0; i < N; i += 2)
		xsplice_shadow_free(&objs[i], ID_MANY, NULL);
	assert_int_equal(xs_shadow_count(ID_MANY), N / 2);
	for (int i = 0; i < N; i++)
		assert_true((xsplice_shadow_get(&objs[i], ID_MANY) != NULL) == (i % 2));
	xsplice_shadow_free_all(ID_MANY, NULL);
	assert_int_equal(xs_shadow_count_all(), before);
	free(objs);
}

/* Blocks larger than the biggest size class get their own mapping. */
static void big_blocks(void **state)
{
	(void)state;
	int obj[4] = {0};
	size_t sizes[3] = {0, 65536, 3u << 20};

	for (int i = 0; i < 3; i++) {
		unsigned char *d = xsplice_shadow_alloc(&obj[i], ID_BIG, sizes[i], NULL, NULL);

		assert_non_null(d);
		assert_true(all_zero(d, sizes[i]));
		if (sizes[i])
			d[sizes[i] - 1] = 1;
	}
	struct xs_shadow_stat row[64];
	long n = xs_shadow_stats(row, 64);
	int found = 0;

	for (long i = 0; i < n; i++) {
		if (row[i].id != ID_BIG)
			continue;
		found = 1;
		assert_int_equal(row[i].count, 3);
		assert_int_equal(row[i].bytes, 65536 + (3u << 20));
	}
	assert_true(found);
	errno = 0;
	assert_null(xsplice_shadow_alloc(&obj[3], ID_BIG, SIZE_MAX - 8, NULL, NULL));
	assert_int_equal(errno, ENOMEM);
	xsplice_shadow_free_all(ID_BIG, NULL);
	assert_int_equal(xs_shadow_count(ID_BIG), 0);
}

static void stats_sorted_and_bounded(void **state)
{
	(void)state;
	int obj[5];

	for (int i = 0; i < 5; i++)
		assert_non_null(xsplice_shadow_alloc(&obj[i], i < 2 ? ID_STATS_B : ID_STATS_A, 10,
						     NULL, NULL));
	struct xs_shadow_stat row[64];
	long n = xs_shadow_stats(row, 64);
	int a = -1, b = -1;

	for (long i = 0; i < n; i++) {
		if (i)
			assert_true(row[i - 1].id < row[i].id);
		a = row[i].id == ID_STATS_A ? (int)i : a;
		b = row[i].id == ID_STATS_B ? (int)i : b;
	}
	assert_true(a >= 0 && b == a + 1);
	assert_int_equal(row[a].count, 3);
	assert_int_equal(row[a].bytes, 30);
	assert_int_equal(row[b].count, 2);
	/* with one row only the smallest id present is kept */
	long one = xs_shadow_stats(row, 1);

	assert_int_equal(one, 1);
	assert_true(row[0].id <= ID_STATS_A);
	xsplice_shadow_free_all(ID_STATS_A, NULL);
	xsplice_shadow_free_all(ID_STATS_B, NULL);
}

/* A constructor calling back into the store gets EDEADLK, not a hang. */
static int reentrant_ctor(void *obj, void *shadow, void *arg)
{
	(void)shadow;
	errno = 0;
	void *p = xsplice_shadow_get(obj, ID_REENTER);

	*(int *)arg = p == NULL && errno == EDEADLK;
	return 0;
}

static void reentry_detected(void **state)
{
	(void)state;
	int obj = 0, ok = 0;

	assert_non_null(xsplice_shadow_alloc(&obj, ID_REENTER, 4, reentrant_ctor, &ok));
	assert_true(ok);
	xsplice_shadow_free(&obj, ID_REENTER, NULL);
}

/* ---- owners --------------------------------------------------------------- */

/* The owner is the allocating call's return address: allocate from a
 * function in a section of its own (as a payload's text is) and sweep by
 * that section's range. */
extern const char __start_xs_owner_text[], __stop_xs_owner_text[];

__attribute__((noinline, section("xs_owner_text"))) static void *alloc_from_here(const void *obj)
{
	void *p = xsplice_shadow_alloc(obj, ID_OWNER, 8, NULL, NULL);

	__asm__ volatile("" ::: "memory"); /* no tail call */
	return p;
}

static void owner_free_and_disown(void **state)
{
	(void)state;
	int objs[6] = {0};
	uintptr_t lo = (uintptr_t)__start_xs_owner_text, hi = (uintptr_t)__stop_xs_owner_text;

	for (int i = 0; i < 3; i++)
		assert_non_null(alloc_from_here(&objs[i]));
	for (int i = 3; i < 6; i++)
		assert_non_null(xsplice_shadow_alloc(&objs[i], ID_OWNER, 8, NULL, NULL));
	assert_int_equal(xs_shadow_count_owner(lo, hi), 3);
	assert_int_equal(xs_shadow_free_owner(lo, hi), 3);
	assert_int_equal(xs_shadow_count(ID_OWNER), 3);
	for (int i = 0; i < 6; i++)
		assert_true((xsplice_shadow_get(&objs[i], ID_OWNER) != NULL) == (i >= 3));

	assert_non_null(alloc_from_here(&objs[0]));
	assert_int_equal(xs_shadow_disown(lo, hi), 1);
	assert_int_equal(xs_shadow_count_owner(lo, hi), 0);
	assert_int_equal(xs_shadow_free_owner(lo, hi), 0);
	assert_int_equal(xs_shadow_count(ID_OWNER), 4);
	xsplice_shadow_free_all(ID_OWNER, NULL);
}

/* ---- threads ----------------------------------------------------------------- */

enum { NTHREADS = 8, NSHARED = 2000 };
static char shared_objs[NSHARED];
static void *seen[NTHREADS][NSHARED];
static int shared_ctor_calls; /* the constructor runs under the store's lock */
static pthread_barrier_t start_line;

static int shared_ctor(void *obj, void *shadow, void *arg)
{
	(void)arg;
	shared_ctor_calls++;
	*(uintptr_t *)shadow = (uintptr_t)obj;
	return 0;
}

struct worker {
	int idx;
	int errors;
};

static void *worker_main(void *p)
{
	struct worker *w = p;
	char mine[500];

	pthread_barrier_wait(&start_line);
	for (int i = 0; i < NSHARED; i++) {
		/* each thread walks the shared objects in a different order */
		int k = (i * 7 + w->idx * 251) % NSHARED;
		uintptr_t *d = xsplice_shadow_get_or_alloc(&shared_objs[k], ID_THREADS, 16,
							   shared_ctor, NULL);

		seen[w->idx][k] = d;
		if (!d || *d != (uintptr_t)&shared_objs[k])
			w->errors++;
	}
	/* private churn: alloc, check, free, many times over */
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 500; i++) {
			int *d = xsplice_shadow_alloc(&mine[i], ID_CHURN, sizeof(int), NULL, NULL);

			if (!d || *d != 0)
				w->errors++;
			else
				*d = w->idx * 1000 + i;
		}
		for (int i = 0; i < 500; i++) {
			int *d = xsplice_shadow_get(&mine[i], ID_CHURN);

			if (!d || *d != w->idx * 1000 + i)
				w->errors++;
			xsplice_shadow_free(&mine[i], ID_CHURN, NULL);
		}
	}
	return NULL;
}

static void concurrent_threads(void **state)
{
	(void)state;
	pthread_t th[NTHREADS];
	struct worker w[NTHREADS];

	shared_ctor_calls = 0;
	pthread_barrier_init(&start_line, NULL, NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){.idx = i};
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].errors, 0);
	}
	pthread_barrier_destroy(&start_line);
	/* one constructor call per shared object, and every thread got the
	 * same block for it */
	assert_int_equal(shared_ctor_calls, NSHARED);
	for (int k = 0; k < NSHARED; k++)
		for (int i = 1; i < NTHREADS; i++)
			assert_ptr_equal(seen[i][k], seen[0][k]);
	assert_int_equal(xs_shadow_count(ID_THREADS), NSHARED);
	assert_int_equal(xs_shadow_count(ID_CHURN), 0);
	xsplice_shadow_free_all(ID_THREADS, NULL);
}

/* ---- the quiesce window ----------------------------------------------------------- */

/* A thread stuck inside a constructor holds the store's lock, as a thread
 * parked by the agent in the middle of a shadow call would. */
static sem_t in_ctor, release_ctor;

static int blocking_ctor(void *obj, void *shadow, void *arg)
{
	(void)obj, (void)shadow, (void)arg;
	sem_post(&in_ctor);
	while (sem_wait(&release_ctor) != 0)
		;
	return 0;
}

static void *stuck_thread(void *obj)
{
	return xsplice_shadow_alloc(obj, ID_WINDOW, 8, blocking_ctor, NULL);
}

static void window_never_waits_on_a_parked_holder(void **state)
{
	(void)state;
	static int stuck_obj, obj;
	pthread_t th;
	void *res;

	/* in the window with a free lock, everything works (no malloc) */
	xs_shadow_window_begin();
	void *d = xsplice_shadow_alloc(&obj, ID_WINDOW, 8, NULL, NULL);

	assert_non_null(d);
	assert_ptr_equal(xsplice_shadow_get(&obj, ID_WINDOW), d);
	xs_shadow_window_end();

	sem_init(&in_ctor, 0, 0);
	sem_init(&release_ctor, 0, 0);
	assert_int_equal(pthread_create(&th, NULL, stuck_thread, &stuck_obj), 0);
	while (sem_wait(&in_ctor) != 0)
		;
	xs_shadow_window_begin();
	errno = 0;
	assert_null(xsplice_shadow_get(&obj, ID_WINDOW));
	assert_int_equal(errno, EDEADLK);
	errno = 0;
	assert_null(xsplice_shadow_get_or_alloc(&obj, ID_WINDOW, 8, NULL, NULL));
	assert_int_equal(errno, EDEADLK);
	assert_int_equal(xs_shadow_count_all(), -EDEADLK);
	xs_shadow_window_end();
	sem_post(&release_ctor);
	pthread_join(th, &res);
	assert_non_null(res);
	assert_ptr_equal(xsplice_shadow_get(&obj, ID_WINDOW), d);
	assert_ptr_equal(xsplice_shadow_get(&stuck_obj, ID_WINDOW), res);
	xsplice_shadow_free_all(ID_WINDOW, NULL);
	sem_destroy(&in_ctor);
	sem_destroy(&release_ctor);
}

static void *post_later(void *sem)
{
	for (int i = 0; i < 100; i++)
		sched_yield(); /* let fork() start waiting in its prepare handler */
	sem_post(sem);
	return NULL;
}

/* fork while another thread holds the lock: the child can still use it. */
static void fork_child_has_a_usable_store(void **state)
{
	(void)state;
	static int stuck_obj, obj;
	pthread_t th;

	sem_init(&in_ctor, 0, 0);
	sem_init(&release_ctor, 0, 0);
	assert_non_null(xsplice_shadow_alloc(&obj, ID_FORK, 4, NULL, NULL));
	assert_int_equal(pthread_create(&th, NULL, stuck_thread, &stuck_obj), 0);
	while (sem_wait(&in_ctor) != 0)
		;
	/* fork waits for the lock (atfork), so release the holder from a
	 * helper thread only after fork has started waiting */
	pthread_t rel;

	assert_int_equal(pthread_create(&rel, NULL, post_later, &release_ctor), 0);
	pid_t pid = fork();

	if (pid == 0) {
		alarm(20); /* a deadlocked child dies instead of hanging the test */
		int ok = xsplice_shadow_get(&obj, ID_FORK) != NULL &&
			 xsplice_shadow_alloc(&obj, ID_FORK + 1, 4, NULL, NULL) != NULL;
		_exit(ok ? 0 : 1);
	}
	assert_true(pid > 0);
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	pthread_join(rel, NULL);
	pthread_join(th, NULL);
	assert_null(xsplice_shadow_get(&obj, ID_FORK + 1)); /* the child's only */
	xsplice_shadow_free_all(ID_FORK, NULL);
	xsplice_shadow_free_all(ID_WINDOW, NULL);
	sem_destroy(&in_ctor);
	sem_destroy(&release_ctor);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(alloc_then_get),
		cmocka_unit_test(duplicate_alloc_refused),
		cmocka_unit_test(get_or_alloc_idempotent),
		cmocka_unit_test(ctor_failure_leaves_nothing),
		cmocka_unit_test(free_calls_dtor_once),
		cmocka_unit_test(free_all_by_id),
		cmocka_unit_test(many_objects),
		cmocka_unit_test(big_blocks),
		cmocka_unit_test(stats_sorted_and_bounded),
		cmocka_unit_test(reentry_detected),
		cmocka_unit_test(owner_free_and_disown),
		cmocka_unit_test(concurrent_threads),
		cmocka_unit_test(window_never_waits_on_a_parked_holder),
		cmocka_unit_test(fork_child_has_a_usable_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
