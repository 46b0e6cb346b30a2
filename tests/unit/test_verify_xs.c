/*
 * The verifier against malformed xsplice sections: the build-id notes,
 * duplicate / unknown special sections, .xsplice.funcs entries, hook
 * arrays, .xsplice.symrefs and .modinfo.  Each test breaks one rule of
 * docs/payload-format.md and asserts the specific refusal.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ut.h"

#define G_TEST(name, mutate, code, msg)                                                            \
	static void name(void **state)                                                             \
	{                                                                                          \
		struct ut_payload p;                                                               \
		struct xsplice_func *f;                                                            \
		(void)state;                                                                       \
		eg_minimal(&p.g, &p.m);                                                            \
		f = (struct xsplice_func *)p.g.sec[p.m.funcs].data;                                \
		(void)f;                                                                           \
		mutate;                                                                            \
		eg_build(&p.g, &p.o);                                                              \
		UT_REFUSED(p.o.buf, p.o.len, code, msg);                                           \
		ut_payload_free(&p);                                                               \
	}

static void set_note(struct ut_payload *p, unsigned sec, uint32_t namesz, const char *owner,
                     uint32_t type, uint32_t descsz, size_t size)
{
	uint8_t buf[128] = {0};
	Elf64_Nhdr n = {namesz, descsz, type};

	memcpy(buf, &n, sizeof(n));
	memcpy(buf + sizeof(n), owner, 4);
	memset(buf + sizeof(n) + 4, 0x11, descsz < 64 ? descsz : 64);
	eg_set_data(&p->g, sec, buf, size);
}

/* ---- notes ---------------------------------------------------------------------------- */

static void target_absent(void **state)
{
	struct ut_payload p;

	(void)state;
	eg_minimal(&p.g, &p.m);
	strcpy(p.g.sec[p.m.target].name, ".note.other");
	eg_build(&p.g, &p.o);
	UT_REFUSED(p.o.buf, p.o.len, -ENOEXEC,
	           "payload has no .xsplice.target note: pack it for its target with "
	           "xsplice-pack -t TARGET");
	ut_payload_free(&p);
}

G_TEST(target_bad_type, p.g.sec[p.m.target].type = SHT_DYNAMIC, -ENOEXEC,
       "section 6 (.xsplice.target): type 6 is neither SHT_NOTE nor SHT_PROGBITS")
G_TEST(target_too_short, set_note(&p, p.m.target, 4, "GNU", 3, 4, 12), -ENOEXEC,
       "section 6 (.xsplice.target): 12 bytes, too short for a GNU note (at least 16)")
G_TEST(target_owner, set_note(&p, p.m.target, 4, "XYZ", 3, 4, 20), -ENOEXEC,
       "section 6 (.xsplice.target): note owner is not \"GNU\" (name size 4)")
G_TEST(target_namesz, set_note(&p, p.m.target, 3, "GNU", 3, 4, 20), -ENOEXEC,
       "note owner is not \"GNU\" (name size 3)")
G_TEST(target_type, set_note(&p, p.m.target, 4, "GNU", 1, 4, 20), -ENOEXEC,
       "section 6 (.xsplice.target): note type 1 is not NT_GNU_BUILD_ID (3)")
G_TEST(target_empty_id, set_note(&p, p.m.target, 4, "GNU", 3, 0, 16), -ENOEXEC,
       "section 6 (.xsplice.target): build-id length 0 is not 1..64")
G_TEST(target_long_id, set_note(&p, p.m.target, 4, "GNU", 3, 65, 84), -ENOEXEC,
       "build-id length 65 is not 1..64")
G_TEST(target_size_mismatch, set_note(&p, p.m.target, 4, "GNU", 3, 20, 44), -ENOEXEC,
       "section 6 (.xsplice.target): section is 44 bytes but one note with a 20-byte "
       "build-id is 36")
G_TEST(target_descsz_huge, set_note(&p, p.m.target, 4, "GNU", 3, 0xffffffff, 40), -ENOEXEC,
       "build-id length 4294967295 is not 1..64")

static void notes_accepted(void **state)
{
	struct ut_payload p;
	struct xs_elf *e;
	uint8_t note[128];
	uint8_t dep[20], own[64];

	(void)state;
	memset(dep, 0xde, sizeof(dep));
	memset(own, 0x0b, sizeof(own));
	eg_minimal(&p.g, &p.m);
	eg_add_sec(&p.g, XSPLICE_SEC_DEPENDS, SHT_NOTE, 0, 4, note, eg_note(note, dep, 20));
	eg_add_sec(&p.g, XSPLICE_SEC_BUILD_ID, SHT_NOTE, SHF_ALLOC, 4, note,
	           eg_note(note, own, 64));
	p.g.sec[p.m.target].type = SHT_PROGBITS; /* as objcopy --add-section makes it */
	eg_build(&p.g, &p.o);
	e = UT_VERIFY_OK(&p.o);
	assert_int_equal(xs_elf_depends_id(e).len, 20);
	assert_memory_equal(xs_elf_depends_id(e).id, dep, 20);
	assert_int_equal(xs_elf_build_id(e).len, 64);
	assert_memory_equal(xs_elf_build_id(e).id, own, 64);
	xs_elf_free(e);
	ut_payload_free(&p);
}

static void depends_malformed(void **state)
{
	struct ut_payload p;
	uint8_t note[64];

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_add_sec(&p.g, XSPLICE_SEC_DEPENDS, SHT_NOTE, 0, 4, note, eg_note(note, "ab", 2));
	((Elf64_Nhdr *)p.g.sec[p.g.nsec - 1].data)->n_type = 4;
	eg_build(&p.g, &p.o);
	UT_REFUSED(p.o.buf, p.o.len, -ENOEXEC,
	           "section 8 (.xsplice.depends): note type 4 is not NT_GNU_BUILD_ID (3)");
	ut_payload_free(&p);
}

static void build_id_malformed(void **state)
{
	struct ut_payload p;
	uint8_t note[64];

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_add_sec(&p.g, XSPLICE_SEC_BUILD_ID, SHT_NOTE, 0, 4, note, eg_note(note, "ab", 2) - 4);
	eg_build(&p.g, &p.o);
	UT_REFUSED(p.o.buf, p.o.len, -ENOEXEC,
	           "section 8 (.note.gnu.build-id): section is 16 bytes but one note with a "
	           "2-byte build-id is 20");
	ut_payload_free(&p);
}

/* ---- special sections -------------------------------------------------------------- */

static void duplicate_special(void **state)
{
	struct ut_payload p;
	uint8_t note[64];

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_add_sec(&p.g, XSPLICE_SEC_TARGET, SHT_NOTE, 0, 4, note, eg_note(note, "ab", 2));
	eg_build(&p.g, &p.o);
	UT_REFUSED(p.o.buf, p.o.len, -ENOEXEC,
	           "section 8 (.xsplice.target): duplicate section, already section 6");
	ut_payload_free(&p);
}

static void duplicate_funcs(void **state)
{
	struct ut_payload p;
	struct xsplice_func f = {0};

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_add_sec(&p.g, XSPLICE_SEC_FUNCS, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 8, &f, sizeof(f));
	eg_build(&p.g, &p.o);
	UT_REFUSED(p.o.buf, p.o.len, -ENOEXEC,
	           "section 8 (.xsplice.funcs): duplicate section, already section 5");
	ut_payload_free(&p);
}

static void unknown_xsplice_section(void **state)
{
	struct ut_payload p;

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_add_hook(&p.g, ".xsplice.hooks.laod", p.m.sym_new);
	eg_build(&p.g, &p.o);
	UT_REFUSED(p.o.buf, p.o.len, -ENOEXEC,
	           "section 8 (.xsplice.hooks.laod): unknown xsplice section name (typo?)");
	ut_payload_free(&p);
}

G_TEST(funcs_not_alloc, p.g.sec[p.m.funcs].flags = SHF_WRITE, -ENOEXEC,
       "section 5 (.xsplice.funcs): must be an allocated SHT_PROGBITS section (type 1, "
       "flags 0x1)")
G_TEST(funcs_nobits, p.g.sec[p.m.funcs].type = SHT_NOBITS, -ENOEXEC,
       "section 5 (.xsplice.funcs): must be an allocated SHT_PROGBITS section (type 8")
G_TEST(funcs_size, eg_set_data(&p.g, p.m.funcs, f, 81), -ENOEXEC,
       "section 5 (.xsplice.funcs): size 81 is not a multiple of the 80-byte entry")

static void funcs_too_many(void **state)
{
	struct ut_payload p;
	size_t n = (size_t)XSPLICE_MAX_FUNCS + 1;

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_set_data(&p.g, p.m.funcs, NULL, n * sizeof(struct xsplice_func));
	eg_build(&p.g, &p.o);
	UT_REFUSED(p.o.buf, p.o.len, -E2BIG,
	           "section 5 (.xsplice.funcs): 65537 entries, more than the limit of 65536");
	ut_payload_free(&p);
}

/* ---- funcs entries --------------------------------------------------------------------- */

G_TEST(func_version, f->version = 2, -ENOEXEC,
       "funcs entry 0 (old_fn): version 2 is not supported (expected 1)")
G_TEST(func_version0, f->version = 0, -ENOEXEC, "version 0 is not supported")
G_TEST(func_flags, f->flags = 0x84, -ENOEXEC, "funcs entry 0 (old_fn): unknown flags 0x84")
G_TEST(func_reserved0, f->reserved0[1] = 1, -ENOEXEC,
       "funcs entry 0 (old_fn): reserved bytes (offsets 34-35, 69, 70-79) are not zero")
G_TEST(func_reserved1, f->reserved1[9] = 0xff, -ENOEXEC, "reserved bytes")
G_TEST(func_expect_reserved, f->expect.reserved = 1, -ENOEXEC, "reserved bytes")
G_TEST(func_expect_enabled, f->expect.enabled = 2, -ENOEXEC,
       "funcs entry 0 (old_fn): expect.enabled is 2, must be 0 or 1")
G_TEST(func_expect_len0, f->expect.enabled = 1, -ENOEXEC,
       "funcs entry 0 (old_fn): expectation length 0 is not 1..31")
G_TEST(func_expect_len32, (f->expect.enabled = 1, f->expect.len = 32), -ENOEXEC,
       "expectation length 32 is not 1..31")
G_TEST(func_expect_len_disabled, f->expect.len = 5, -ENOEXEC,
       "funcs entry 0 (old_fn): expectation length 5 but the expectation is not enabled")
G_TEST(func_inline_no_expect, f->flags = XSPLICE_FUNC_INLINE, -ENOEXEC,
       "funcs entry 0 (old_fn): an inline patch (XSPLICE_FUNC_INLINE) requires an expectation")
G_TEST(func_no_name_reloc, p.g.rel[0].off = 24 + 80 * 0, -ENOEXEC,
       "(.rela.xsplice.funcs): relocation 0 (R_X86_64_64 at offset 0x18) is not a R_X86_64_64 "
       "of a pointer field of section 5 (.xsplice.funcs)")
G_TEST(func_name_missing, p.g.rel[0].sec = p.m.data, -ENOEXEC,
       "funcs entry 0: no R_X86_64_64 relocation for the name (offset 0)")
G_TEST(func_old_missing, (p.g.rel[2].sec = p.m.data, p.g.rel[2].off = 8), -ENOEXEC,
       "funcs entry 0 (old_fn): no R_X86_64_64 relocation for old_addr (offset 16)")
G_TEST(func_reloc_type, p.g.rel[1].type = R_X86_64_PC64, -ENOEXEC,
       "relocation 1 (R_X86_64_PC64 at offset 0x8) is not a R_X86_64_64 of a pointer field")
G_TEST(func_reloc_twice, eg_add_rel(&p.g, p.m.funcs, 8, p.m.sym_new, R_X86_64_64, 0), -ENOEXEC,
       "(.rela.xsplice.funcs): relocation 3: offset 0x8 of section 5 (.xsplice.funcs) is "
       "relocated twice")
G_TEST(func_nop_size0, (p.g.rel[1].sec = p.m.data, f->new_size = 0), -ENOEXEC,
       "funcs entry 0 (old_fn): a NOP patch needs new_size 1..31 (bytes to NOP), got 0")
G_TEST(func_nop_size32, (p.g.rel[1].sec = p.m.data, f->new_size = 32), -ENOEXEC,
       "a NOP patch needs new_size 1..31 (bytes to NOP), got 32")
G_TEST(func_nop_raw_addr, (p.g.rel[1].sec = p.m.data, f->new_size = 5, f->new_addr = 0x1000),
       -ENOEXEC,
       "funcs entry 0 (old_fn): new_addr 0x1000 without a relocation (a NOP patch "
       "has new_addr 0)")

static void func_nop_accepted(void **state)
{
	struct ut_payload p;
	struct xsplice_func *f;

	(void)state;
	eg_minimal(&p.g, &p.m);
	f = (struct xsplice_func *)p.g.sec[p.m.funcs].data;
	f->new_size = 5;
	f->flags = XSPLICE_FUNC_INLINE;
	f->expect.enabled = 1;
	f->expect.len = 5;
	memcpy(f->expect.data, "\x0f\x1f\x44\x00\x00", 5);
	p.g.rel[1].sec = p.m.data; /* new_addr no longer relocated: a NOP patch */
	eg_build(&p.g, &p.o);
	xs_elf_free(UT_VERIFY_OK(&p.o));
	ut_payload_free(&p);
}

static void func_label_unknown_name(void **state)
{
	struct ut_payload p;

	(void)state;
	eg_minimal(&p.g, &p.m);
	((struct xsplice_func *)p.g.sec[p.m.funcs].data)->version = 9;
	p.g.rel[0].addend = 1000; /* name no longer inside .rodata.str: label "?" */
	eg_build(&p.g, &p.o);
	UT_REFUSED(p.o.buf, p.o.len, -ENOEXEC, "funcs entry 0 (?): version 9");
	ut_payload_free(&p);
}

/* ---- hooks ------------------------------------------------------------------------------ */

static void hook_slot_unrelocated(void **state)
{
	struct ut_payload p;
	uint8_t zero[24] = {0};
	unsigned s;

	(void)state;
	eg_minimal(&p.g, &p.m);
	s = eg_add_sec(&p.g, XSPLICE_SEC_HOOK_PREAPPLY, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 8,
	               zero, 24);
	eg_add_rel(&p.g, s, 0, p.m.sym_new, R_X86_64_64, 0);
	eg_add_rel(&p.g, s, 16, p.m.sym_new, R_X86_64_64, 0);
	eg_build(&p.g, &p.o);
	UT_REFUSED(p.o.buf, p.o.len, -ENOEXEC,
	           "section 8 (.xsplice.hooks.preapply): slot 1 (offset 0x8) has no R_X86_64_64 "
	           "relocation");
	ut_payload_free(&p);
}

static void hook_size(void **state)
{
	struct ut_payload p;
	uint8_t zero[12] = {0};

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_add_sec(&p.g, XSPLICE_SEC_HOOK_UNLOAD, SHT_PROGBITS, SHF_ALLOC, 4, zero, 12);
	eg_build(&p.g, &p.o);
	UT_REFUSED(p.o.buf, p.o.len, -ENOEXEC,
	           "section 8 (.xsplice.hooks.unload): size 12 is not a multiple of the 8-byte "
	           "entry");
	ut_payload_free(&p);
}

static void hook_too_many(void **state)
{
	struct ut_payload p;

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_add_sec(&p.g, XSPLICE_SEC_PERTHREAD, SHT_PROGBITS, SHF_ALLOC, 8, NULL,
	           8 * (XSPLICE_MAX_HOOKS + 1));
	eg_build(&p.g, &p.o);
	UT_REFUSED(p.o.buf, p.o.len, -E2BIG,
	           "section 8 (.xsplice.perthread): 65 entries, more than the limit of 64");
	ut_payload_free(&p);
}

static void hook_reloc_misplaced(void **state)
{
	struct ut_payload p;
	unsigned s;

	(void)state;
	eg_minimal(&p.g, &p.m);
	s = eg_add_hook(&p.g, XSPLICE_SEC_HOOK_APPLY, p.m.sym_new);
	p.g.rel[p.g.nrel - 1].type = R_X86_64_PC32;
	eg_build(&p.g, &p.o);
	UT_REFUSED(p.o.buf, p.o.len, -ENOEXEC,
	           "relocation 0 (R_X86_64_PC32 at offset 0x0) is not a R_X86_64_64 of a pointer "
	           "field of section 8 (.xsplice.hooks.apply)");
	(void)s;
	ut_payload_free(&p);
}

static void hooks_only_accepted(void **state)
{
	struct ut_payload p;

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_set_data(&p.g, p.m.funcs, NULL, 0);
	p.g.nrel = 0; /* drop funcs and text relocations */
	eg_add_hook(&p.g, XSPLICE_SEC_HOOK_LOAD, p.m.sym_new);
	eg_build(&p.g, &p.o);
	xs_elf_free(UT_VERIFY_OK(&p.o));
	ut_payload_free(&p);
}

G_TEST(nothing_to_do, (eg_set_data(&p.g, p.m.funcs, NULL, 0), p.g.nrel = 0), -ENOEXEC,
       "payload has no .xsplice.funcs entry and no hook: nothing to do")

/* ---- symrefs ----------------------------------------------------------------------------- */

static void set_symref(struct ut_payload *p, uint32_t symidx, uint32_t flags, size_t size)
{
	struct xsplice_symref r[2] = {{symidx, flags, 0x10}, {symidx, flags, 0x20}};

	eg_set_data(&p->g, p->m.symrefs, r, size);
}

G_TEST(symref_size, set_symref(&p, 4, 0, 15), -ENOEXEC,
       "section 7 (.xsplice.symrefs): must be SHT_PROGBITS with a size multiple of 16 (type 1, "
       "size 15)")
G_TEST(symref_zero, set_symref(&p, 0, 0, 16), -ENOEXEC,
       "section 7 (.xsplice.symrefs): entry 0: symbol index 0 is out of range (1..6)")
G_TEST(symref_range, set_symref(&p, 7, 0, 16), -ENOEXEC, "symbol index 7 is out of range")
G_TEST(symref_flags, set_symref(&p, 4, 2, 16), -ENOEXEC,
       "section 7 (.xsplice.symrefs): entry 0 ('old_fn'): unknown flags 0x2")
G_TEST(symref_defined, set_symref(&p, 3, 0, 16), -ENOEXEC,
       "section 7 (.xsplice.symrefs): entry 0 names symbol 3 ('new_fn'), which is defined in "
       "the payload, not undefined")
G_TEST(symref_twice, set_symref(&p, 4, 0, 32), -ENOEXEC,
       "section 7 (.xsplice.symrefs): entry 1: symbol 4 ('old_fn') has two entries")

/* ---- modinfo ------------------------------------------------------------------------------ */

static void modinfo_accepted(void **state)
{
	struct ut_payload p;
	struct xs_elf *e;
	static const char info[] = "name=fix\0description=bound the query\0";
	const char *m;
	size_t len;

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_add_sec(&p.g, XSPLICE_SEC_MODINFO, SHT_PROGBITS, SHF_ALLOC, 1, info, sizeof(info) - 1);
	eg_build(&p.g, &p.o);
	e = UT_VERIFY_OK(&p.o);
	m = xs_elf_modinfo(e, &len);
	assert_int_equal(len, sizeof(info) - 1);
	assert_memory_equal(m, info, len);
	xs_elf_free(e);
	ut_payload_free(&p);
}

G_TEST(modinfo_unterminated, eg_add_sec(&p.g, XSPLICE_SEC_MODINFO, SHT_PROGBITS, 0, 1, "name=x", 6),
       -ENOEXEC, "section 8 (.modinfo): the last key=value string is not NUL-terminated")
G_TEST(modinfo_nobits, eg_add_sec(&p.g, XSPLICE_SEC_MODINFO, SHT_NOBITS, SHF_ALLOC, 1, NULL, 6),
       -ENOEXEC, "section 8 (.modinfo): type 8 is not SHT_PROGBITS")
G_TEST(modinfo_too_big,
       eg_add_sec(&p.g, XSPLICE_SEC_MODINFO, SHT_PROGBITS, 0, 1, NULL, XSPLICE_MAX_MODINFO + 1),
       -E2BIG, "section 8 (.modinfo): 65537 bytes, more than the limit of 65536")

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(target_absent),
	    cmocka_unit_test(target_bad_type),
	    cmocka_unit_test(target_too_short),
	    cmocka_unit_test(target_owner),
	    cmocka_unit_test(target_namesz),
	    cmocka_unit_test(target_type),
	    cmocka_unit_test(target_empty_id),
	    cmocka_unit_test(target_long_id),
	    cmocka_unit_test(target_size_mismatch),
	    cmocka_unit_test(target_descsz_huge),
	    cmocka_unit_test(notes_accepted),
	    cmocka_unit_test(depends_malformed),
	    cmocka_unit_test(build_id_malformed),
	    cmocka_unit_test(duplicate_special),
	    cmocka_unit_test(duplicate_funcs),
	    cmocka_unit_test(unknown_xsplice_section),
	    cmocka_unit_test(funcs_not_alloc),
	    cmocka_unit_test(funcs_nobits),
	    cmocka_unit_test(funcs_size),
	    cmocka_unit_test(funcs_too_many),
	    cmocka_unit_test(func_version),
	    cmocka_unit_test(func_version0),
	    cmocka_unit_test(func_flags),
	    cmocka_unit_test(func_reserved0),
	    cmocka_unit_test(func_reserved1),
	    cmocka_unit_test(func_expect_reserved),
	    cmocka_unit_test(func_expect_enabled),
	    cmocka_unit_test(func_expect_len0),
	    cmocka_unit_test(func_expect_len32),
	    cmocka_unit_test(func_expect_len_disabled),
	    cmocka_unit_test(func_inline_no_expect),
	    cmocka_unit_test(func_no_name_reloc),
	    cmocka_unit_test(func_name_missing),
	    cmocka_unit_test(func_old_missing),
	    cmocka_unit_test(func_reloc_type),
	    cmocka_unit_test(func_reloc_twice),
	    cmocka_unit_test(func_nop_size0),
	    cmocka_unit_test(func_nop_size32),
	    cmocka_unit_test(func_nop_raw_addr),
	    cmocka_unit_test(func_nop_accepted),
	    cmocka_unit_test(func_label_unknown_name),
	    cmocka_unit_test(hook_slot_unrelocated),
	    cmocka_unit_test(hook_size),
	    cmocka_unit_test(hook_too_many),
	    cmocka_unit_test(hook_reloc_misplaced),
	    cmocka_unit_test(hooks_only_accepted),
	    cmocka_unit_test(nothing_to_do),
	    cmocka_unit_test(symref_size),
	    cmocka_unit_test(symref_zero),
	    cmocka_unit_test(symref_range),
	    cmocka_unit_test(symref_flags),
	    cmocka_unit_test(symref_defined),
	    cmocka_unit_test(symref_twice),
	    cmocka_unit_test(modinfo_accepted),
	    cmocka_unit_test(modinfo_unterminated),
	    cmocka_unit_test(modinfo_nobits),
	    cmocka_unit_test(modinfo_too_big),
	};

	return cmocka_run_group_tests_name("verify: xsplice sections", tests, NULL, NULL);
}
