/*
 * Near placement (xs_near_find): gaps below and above the module, the
 * closest one wins, none available, the exact reach boundaries, address
 * limits, page rounding and argument checks.
 */
#include <errno.h>
#include <string.h>

#include "ut.h"

#define PG 4096u
#define M_LO ((uintptr_t)0x400000000) /* 16 GiB */
#define M_HI ((uintptr_t)0x400100000) /* a 1 MiB module */
#define SPAN ((uintptr_t)XS_NEAR_SPAN)

static int find(const struct xs_range *m, size_t n, size_t size, uintptr_t *at)
{
	struct xs_err err = {0};
	int rc = xs_near_find(m, n, M_LO, M_HI, size, PG, at, &err);

	if (rc)
		assert_int_equal(err.code, rc);
	return rc;
}

static void gap_just_below(void **state)
{
	struct xs_range m[] = {{0x10000, M_LO - 0x100000}, {M_LO, M_HI}, {M_HI, M_HI + 0x1000}};
	uintptr_t at = 0;

	(void)state;
	assert_int_equal(find(m, 3, 3 * PG, &at), 0);
	assert_int_equal(at, M_LO - 3 * PG); /* top of the hole under the module */
}

static void gap_above_when_below_full(void **state)
{
	struct xs_range m[] = {{0x10000, M_LO}, {M_LO, M_HI}, {M_HI + 0x5000, M_HI + 0x9000}};
	uintptr_t at = 0;

	(void)state;
	assert_int_equal(find(m, 3, 2 * PG, &at), 0);
	assert_int_equal(at, M_HI); /* the hole right after the module */
	assert_int_equal(find(m, 3, 6 * PG, &at), 0);
	assert_int_equal(at, M_HI + 0x9000); /* too big for that hole: after the next map */
}

static void closest_gap_wins(void **state)
{
	/* free: 1 MiB below the module starting 64 KiB under it; 8 KiB right above */
	struct xs_range m[] = {{0x10000, M_LO - 0x110000},
	                       {M_LO - 0x10000, M_LO},
	                       {M_LO, M_HI},
	                       {M_HI + 0x2000, M_HI + 0x100000}};
	uintptr_t at = 0;

	(void)state;
	assert_int_equal(find(m, 4, PG, &at), 0);
	assert_int_equal(at, M_HI); /* distance 0 above beats 64 KiB below */
	assert_int_equal(find(m, 4, 4 * PG, &at), 0);
	assert_int_equal(at, M_LO - 0x10000 - 4 * PG); /* does not fit above any more */
}

static void tie_prefers_below(void **state)
{
	struct xs_range m[] = {{0x10000, M_LO - PG}, {M_HI + PG, M_HI + 0x10000}};
	uintptr_t at = 0;

	(void)state;
	assert_int_equal(find(m, 2, PG, &at), 0);
	assert_int_equal(at, M_LO - PG);
}

static void none_available(void **state)
{
	struct xs_range m[] = {{0x10000, M_LO}, {M_HI, 0x7ffffffff000}};
	struct xs_err err = {0};
	uintptr_t at = 0x1234;

	(void)state;
	assert_int_equal(xs_near_find(m, 2, M_LO, M_HI, PG, PG, &at, &err), -ENOMEM);
	assert_string_equal(err.msg, "no free gap of 4096 bytes within 2 GiB of module "
	                             "[0x400000000, 0x400100000)");
	assert_int_equal(at, 0x1234); /* untouched */
}

/* Everything occupied except the hole starting at `hole`; the gap is
 * accepted while max(g + size) - M_LO <= SPAN. */
static void exact_boundary_above(void **state)
{
	size_t size = 4 * PG;
	uintptr_t last_ok = M_LO + SPAN - size, at = 0;
	struct xs_range m[] = {{0x10000, M_HI}, {M_HI, last_ok}};

	(void)state;
	assert_int_equal(last_ok % PG, 0);
	assert_int_equal(find(m, 2, size, &at), 0);
	assert_int_equal(at, last_ok);
	m[1].hi = last_ok + PG; /* one page further: out of reach */
	assert_int_equal(find(m, 2, size, &at), -ENOMEM);
	m[1].hi = last_ok + 1; /* unaligned map end: rounds up, out of reach */
	assert_int_equal(find(m, 2, size, &at), -ENOMEM);
}

/* ... and below: accepted while M_HI - g <= SPAN. */
static void exact_boundary_below(void **state)
{
	size_t size = 4 * PG;
	uintptr_t first_ok = M_HI - SPAN, at = 0;
	struct xs_range m[] = {{first_ok + size, M_HI}, {M_HI, 0x7ffffffff000}};

	(void)state;
	assert_int_equal(find(m, 2, size, &at), 0);
	assert_int_equal(at, first_ok);
	m[0].lo -= PG; /* the hole ends one page lower: its top is out of reach */
	assert_int_equal(find(m, 2, size, &at), -ENOMEM);
}

static void module_too_big(void **state)
{
	struct xs_err err = {0};
	uintptr_t at;

	(void)state;
	assert_int_equal(xs_near_find(NULL, 0, M_LO, M_LO + SPAN, PG, PG, &at, &err), -ENOMEM);
	assert_non_null(strstr(err.msg, "the module and payload together exceed the reach"));
	assert_int_equal(xs_near_find(NULL, 0, M_LO, M_LO + SPAN - PG, PG, PG, &at, &err), 0);
	assert_int_equal(at, M_LO - PG);
}

static void address_limits(void **state)
{
	struct xs_err err = {0};
	uintptr_t at = 0;

	(void)state;
	/* a module at the bottom of memory: never below XS_NEAR_MIN_ADDR */
	assert_int_equal(xs_near_find(NULL, 0, 0x11000, 0x20000, 0x2000, PG, &at, &err), 0);
	assert_int_equal(at, 0x20000);
	{
		struct xs_range m[] = {{0x20000, 0x30000}};

		assert_int_equal(xs_near_find(m, 1, 0x12000, 0x20000, 0x2000, PG, &at, &err), 0);
		assert_int_equal(at, 0x10000);
		assert_int_equal(xs_near_find(m, 1, 0x12000, 0x20000, 0x3000, PG, &at, &err), 0);
		assert_int_equal(at, 0x30000);
	}
	/* and at the top: never at or past XS_NEAR_MAX_ADDR */
	{
		struct xs_range m[] = {{0x7ffff0000000, 0x7ffffffe0000}};

		/* one free page above the module: enough for one page, not two */
		assert_int_equal(
		    xs_near_find(m, 1, 0x7ffffffe0000, 0x7fffffffe000, PG, PG, &at, &err), 0);
		assert_int_equal(at, 0x7fffffffe000);
		assert_int_equal(
		    xs_near_find(m, 1, 0x7ffffffe0000, 0x7fffffffe000, 2 * PG, PG, &at, &err), 0);
		assert_int_equal(at, 0x7ffff0000000 - 2 * PG);
	}
}

static void page_rounding_and_overlaps(void **state)
{
	/* overlapping and unaligned maps; size rounded up to a page */
	struct xs_range m[] = {
	    {0x10000, M_LO - 0x3001}, {M_LO - 0x5000, M_LO - 0x2fff}, {M_LO, M_HI}};
	uintptr_t at = 0;

	(void)state;
	assert_int_equal(find(m, 3, 100, &at), 0);
	assert_int_equal(at, M_LO - PG); /* the hole [M_LO - 0x2fff, M_LO) holds 2 pages */
	assert_int_equal(find(m, 3, 2 * PG, &at), 0);
	assert_int_equal(at, M_LO - 2 * PG);
	assert_int_equal(at % PG, 0);
	assert_int_equal(find(m, 3, 2 * PG + 1, &at), 0);
	assert_int_equal(at, M_HI); /* 3 pages do not fit below */
}

static void bad_arguments(void **state)
{
	struct xs_range unsorted[] = {{0x500000, 0x600000}, {0x100000, 0x200000}};
	struct xs_range inverted[] = {{0x500000, 0x400000}};
	struct xs_err err = {0};
	uintptr_t at;

	(void)state;
	assert_int_equal(xs_near_find(unsorted, 2, M_LO, M_HI, PG, PG, &at, &err), -EINVAL);
	assert_string_equal(err.msg, "mapping 1 (0x100000) is not sorted by address");
	assert_int_equal(xs_near_find(inverted, 1, M_LO, M_HI, PG, PG, &at, &err), -EINVAL);
	assert_string_equal(err.msg, "mapping 0 [0x500000, 0x400000) is inverted");
	assert_int_equal(xs_near_find(NULL, 0, M_LO, M_HI, PG, 3000, &at, &err), -EINVAL);
	assert_string_equal(err.msg, "page size 3000 is not a power of two");
	assert_int_equal(xs_near_find(NULL, 0, M_HI, M_LO, PG, PG, &at, &err), -EINVAL);
	assert_int_equal(xs_near_find(NULL, 0, M_LO, M_HI, 0, PG, &at, &err), -ENOMEM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(gap_just_below),       cmocka_unit_test(gap_above_when_below_full),
	    cmocka_unit_test(closest_gap_wins),     cmocka_unit_test(tie_prefers_below),
	    cmocka_unit_test(none_available),       cmocka_unit_test(exact_boundary_above),
	    cmocka_unit_test(exact_boundary_below), cmocka_unit_test(module_too_big),
	    cmocka_unit_test(address_limits),       cmocka_unit_test(page_rounding_and_overlaps),
	    cmocka_unit_test(bad_arguments),
	};

	return cmocka_run_group_tests_name("near placement", tests, NULL, NULL);
}
