/*
 * Helpers shared by the core unit tests: build-and-verify, "refused with
 * this message" assertions, a fake symbol resolver, and placement of a
 * verified payload on plain memory at a chosen (fake) run-time address.
 */
#ifndef XS_TEST_UT_H
#define XS_TEST_UT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/core.h"
#include "elfgen.h"

/* Verify `len` bytes and assert the refusal: code and message substring. */
void ut_refused_at(const char *file, int line, const void *buf, size_t len, int code,
                   const char *substr);
#define UT_REFUSED(buf, len, code, substr) ut_refused_at(__FILE__, __LINE__, buf, len, code, substr)
/* Build g and assert it is refused. */
#define UT_REFUSED_G(g, code, substr)                                                              \
	do {                                                                                       \
		struct eg_out o_;                                                                  \
		eg_build(g, &o_);                                                                  \
		UT_REFUSED(o_.buf, o_.len, code, substr);                                          \
		eg_out_free(&o_);                                                                  \
	} while (0)

/* Verify and assert success; the caller frees *e and o->buf. */
struct xs_elf *ut_verify_ok_at(const char *file, int line, const struct eg_out *o);
#define UT_VERIFY_OK(o) ut_verify_ok_at(__FILE__, __LINE__, o)

/* A resolver over a small table. */
struct ut_host {
	struct xs_host h;
	struct {
		const char *name;
		uintptr_t addr;
	} sym[16];
	unsigned n;
	unsigned calls;
};
void ut_host_init(struct ut_host *u, uintptr_t target_bias);
void ut_host_add(struct ut_host *u, const char *name, uintptr_t addr);

/* Areas laid out back to back at run-time address `base` (0: where the
 * memory really is), staged in one page-aligned buffer with a guard page
 * of 0xa5 bytes before and after it. */
struct ut_placed {
	uint8_t *buf; /* guard | areas | guard */
	uint8_t *mem;
	struct xs_layout lay;
	struct xs_region rg[XS_AREA_COUNT];
	struct xs_linked l;
};
int ut_place(struct xs_elf *e, uintptr_t base, const struct ut_host *h, struct ut_placed *p,
             struct xs_err *err);
/* 1 when both guard pages are intact */
int ut_guards_ok(const struct ut_placed *p);
void ut_placed_free(struct ut_placed *p);
/* staging pointer of a run-time address inside the areas */
uint8_t *ut_stage_of(const struct ut_placed *p, uintptr_t addr);
/* run-time address of a global symbol of the linked payload (0 if absent) */
uintptr_t ut_sym_addr(const struct ut_placed *p, const char *name);

#define UT_PAGE 4096u

/* The minimal payload of elfgen, its description and its bytes. */
struct ut_payload {
	struct eg g;
	struct eg_min m;
	struct eg_out o;
};
void ut_min(struct ut_payload *p);     /* eg_minimal + eg_build */
void ut_rebuild(struct ut_payload *p); /* eg_build again after changing p->g */
void ut_payload_free(struct ut_payload *p);

#endif
