/*
 * The verifier against malformed ELF structure: header, section table,
 * section bounds / flags / alignment / overlap, symbol table, relocations,
 * and every truncation of a valid payload.  Each test breaks one thing in
 * the minimal payload and asserts the specific refusal (code + message).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ut.h"

/* section indexes of the minimal payload as built (see elfgen.h) */
enum {
	S_TEXT = 1,
	S_RODATA,
	S_DATA,
	S_BSS,
	S_FUNCS,
	S_TARGET,
	S_SYMREFS,
	S_RELA_TEXT,
	S_RELA_FUNCS,
	S_SYMTAB,
	S_STRTAB,
	S_SHSTRTAB,
	S_COUNT
};

static void minimal_is_accepted(void **state)
{
	struct ut_payload p;
	struct xs_elf *e;
	struct xs_note n;
	size_t len;

	(void)state;
	ut_min(&p);
	assert_int_equal(p.o.nsec, S_COUNT);
	assert_int_equal(p.o.symtab, S_SYMTAB);
	e = UT_VERIFY_OK(&p.o);
	n = xs_elf_target_id(e);
	assert_int_equal(n.len, 4);
	assert_memory_equal(n.id, "\x01\x02\x03\x04", 4);
	assert_int_equal(xs_elf_depends_id(e).len, 0);
	assert_int_equal(xs_elf_build_id(e).len, 0);
	assert_null(xs_elf_modinfo(e, &len));
	assert_int_equal(len, 0);
	assert_int_equal(xs_elf_nfuncs(e), 1);
	xs_elf_free(e);
	ut_payload_free(&p);
}

/* ---- ELF header --------------------------------------------------------------- */

static void header_too_short(void **state)
{
	(void)state;
	UT_REFUSED("\x7f"
	           "ELF",
	           4, -ENOEXEC, "payload is 4 bytes, too short for an ELF header");
	UT_REFUSED("", 0, -ENOEXEC, "payload is 0 bytes");
}

static void file_too_big(void **state)
{
	struct ut_payload p;

	(void)state;
	ut_min(&p);
	/* refused on the length alone, before a byte is read */
	UT_REFUSED(p.o.buf, (size_t)XSPLICE_MAX_PAYLOAD_SIZE + 1, -E2BIG,
	           "more than the limit of 67108864");
	ut_payload_free(&p);
}

#define HDR_TEST(name, mutate, code, msg)                                                          \
	static void name(void **state)                                                             \
	{                                                                                          \
		struct ut_payload p;                                                               \
		Elf64_Ehdr *h;                                                                     \
		(void)state;                                                                       \
		ut_min(&p);                                                                        \
		h = eg_ehdr(&p.o);                                                                 \
		mutate;                                                                            \
		UT_REFUSED(p.o.buf, p.o.len, code, msg);                                           \
		ut_payload_free(&p);                                                               \
	}

HDR_TEST(header_bad_magic, h->e_ident[EI_MAG1] = 'X', -ENOEXEC, "not an ELF file (bad magic")
HDR_TEST(header_class32, h->e_ident[EI_CLASS] = ELFCLASS32, -ENOEXEC,
         "ELF class 1 is not ELFCLASS64")
HDR_TEST(header_big_endian, h->e_ident[EI_DATA] = ELFDATA2MSB, -ENOEXEC,
         "ELF data encoding 2 is not little endian")
HDR_TEST(header_version, h->e_version = 2, -ENOEXEC, "ELF version 2 is not EV_CURRENT")
HDR_TEST(header_ident_version, h->e_ident[EI_VERSION] = 0, -ENOEXEC,
         "ELF version 0 is not EV_CURRENT")
HDR_TEST(header_not_rel, h->e_type = ET_DYN, -ENOEXEC,
         "ELF type 3 is not ET_REL: a payload is a relocatable object")
HDR_TEST(header_wrong_machine, h->e_machine = EM_AARCH64, -ENOEXEC,
         "ELF machine 183 is not x86-64 (62): wrong architecture")
HDR_TEST(header_ehsize, h->e_ehsize = 52, -ENOEXEC, "ELF header size 52 is not 64")
HDR_TEST(header_phdrs, h->e_phnum = 1, -ENOEXEC, "payload has program headers (e_phnum 1")
HDR_TEST(header_phoff, h->e_phoff = 64, -ENOEXEC, "e_phoff 0x40); a relocatable object has none")
HDR_TEST(header_no_sections, h->e_shoff = 0, -ENOEXEC, "payload has no section header table")
HDR_TEST(header_shnum_zero, h->e_shnum = 0, -ENOEXEC, "e_shnum 0)")
HDR_TEST(header_shentsize, h->e_shentsize = 40, -ENOEXEC, "section header size 40 is not 64")
HDR_TEST(header_too_many_sections, h->e_shnum = XSPLICE_MAX_SECTIONS + 1, -E2BIG,
         "payload has 16385 sections, more than the limit of 16384")
HDR_TEST(header_shdrs_past_end, h->e_shoff = p.o.len - 64, -ENOEXEC,
         "entries of 64 bytes) exceeds file size")
HDR_TEST(header_shoff_huge, h->e_shoff = ~0ull - 8, -ENOEXEC,
         "section header table at offset 0xfffffffffffffff7")
HDR_TEST(header_shstrndx_range, h->e_shstrndx = S_COUNT, -ENOEXEC,
         "section name table index 13 is not a section (payload has 13)")
HDR_TEST(header_shstrndx_undef, h->e_shstrndx = 0, -ENOEXEC, "section name table index 0")
HDR_TEST(header_shstrndx_not_strtab, h->e_shstrndx = S_TEXT, -ENOEXEC,
         "section name table (section 1) has type 1, not SHT_STRTAB")

/* ---- section table ----------------------------------------------------------------- */

#define SEC_TEST(name, mutate, code, msg)                                                          \
	static void name(void **state)                                                             \
	{                                                                                          \
		struct ut_payload p;                                                               \
		(void)state;                                                                       \
		ut_min(&p);                                                                        \
		mutate;                                                                            \
		UT_REFUSED(p.o.buf, p.o.len, code, msg);                                           \
		ut_payload_free(&p);                                                               \
	}
#define SH(i) eg_shdr(&p.o, i)

SEC_TEST(section0_not_null, SH(0)->sh_type = SHT_PROGBITS, -ENOEXEC,
         "section 0 has type 1, not SHT_NULL")
SEC_TEST(shstrtab_past_end, SH(S_SHSTRTAB)->sh_size = p.o.len, -ENOEXEC,
         "section name table (section 12): offset 0x")
SEC_TEST(section_name_out_of_range, SH(S_DATA)->sh_name = 0x10000, -ENOEXEC,
         "section 3: name offset 0x10000 is outside the section name table")
SEC_TEST(section_name_unterminated, SH(S_SHSTRTAB)->sh_size -= 1, -ENOEXEC,
         "section 12: name at offset")
SEC_TEST(section_past_end, SH(S_DATA)->sh_offset = p.o.len - 8, -ENOEXEC,
         "section 3 (.data): offset 0x")
SEC_TEST(section_size_huge, SH(S_DATA)->sh_size = ~0ull, -ENOEXEC, "section 3 (.data): offset 0x")
SEC_TEST(section_offset_huge, SH(S_RODATA)->sh_offset = ~0ull - 2, -ENOEXEC,
         "section 2 (.rodata.str): offset 0xfffffffffffffffd + size 0x7 exceeds file size")
SEC_TEST(section_align_not_pow2, SH(S_DATA)->sh_addralign = 24, -ENOEXEC,
         "section 3 (.data): alignment 0x18 is not a power of two")
SEC_TEST(section_align_too_big, SH(S_DATA)->sh_addralign = 8192, -ENOTSUP,
         "section 3 (.data): alignment 0x2000 is larger than the maximum 0x1000")
SEC_TEST(section_overlap, SH(S_DATA)->sh_offset = SH(S_TEXT)->sh_offset + 4, -ENOEXEC,
         "overlaps section 1 .text")
SEC_TEST(section_overlaps_header, SH(S_DATA)->sh_offset = 8, -ENOEXEC,
         "section 3 .data (bytes 0x8..0x18) overlaps the ELF header (bytes 0x0..0x40)")
SEC_TEST(section_overlaps_shdrs, SH(S_RODATA)->sh_offset = p.o.shoff + 3, -ENOEXEC,
         "overlaps the section header table")
SEC_TEST(section_wx, SH(S_TEXT)->sh_flags |= SHF_WRITE, -EPERM,
         "section 1 (.text): section is both writable and executable (W^X)")
SEC_TEST(section_tls, SH(S_DATA)->sh_flags |= SHF_TLS, -ENOTSUP,
         "section 3 (.data): a payload cannot define thread-local storage")
SEC_TEST(section_compressed_alloc, SH(S_DATA)->sh_flags |= SHF_COMPRESSED, -ENOTSUP,
         "section 3 (.data): compressed allocated sections are not supported")
SEC_TEST(section_rel_refused, SH(S_RELA_TEXT)->sh_type = SHT_REL, -ENOTSUP,
         "section 8 (.rela.text): SHT_REL relocations are not supported")
SEC_TEST(section_init_array, SH(S_DATA)->sh_type = SHT_INIT_ARRAY, -ENOTSUP,
         "section 3 (.data): constructors and destructors are not run")
SEC_TEST(section_alloc_bad_type, SH(S_DATA)->sh_type = SHT_DYNAMIC, -ENOTSUP,
         "section 3 (.data): section type 0x6 is not supported in an allocated section")
SEC_TEST(section_nobits_exec, SH(S_BSS)->sh_flags = SHF_ALLOC | SHF_EXECINSTR, -ENOTSUP,
         "section 4 (.bss): executable SHT_NOBITS section")
SEC_TEST(section_nobits_huge, SH(S_BSS)->sh_size = 1ull << 40, -E2BIG,
         "section 4 (.bss): size 0x10000000000 exceeds the allocation limit of 0x10000000")

static void alloc_total_over_limit(void **state)
{
	struct ut_payload p;

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_add_sec(&p.g, ".bss.a", SHT_NOBITS, SHF_ALLOC | SHF_WRITE, 8, NULL, 200u << 20);
	eg_add_sec(&p.g, ".bss.b", SHT_NOBITS, SHF_ALLOC | SHF_WRITE, 8, NULL, 100u << 20);
	eg_build(&p.g, &p.o);
	UT_REFUSED(p.o.buf, p.o.len, -E2BIG, "), more than the limit of 0x10000000");
	UT_REFUSED(p.o.buf, p.o.len, -E2BIG, "(at section 9 (.bss.b))");
	ut_payload_free(&p);
}

static void nonalloc_unknown_type_ignored(void **state)
{
	struct ut_payload p;

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_add_sec(&p.g, ".llvm_addrsig", 0x6fff4c03, 0, 1, "\x01", 1);
	eg_add_sec(&p.g, ".comment", SHT_PROGBITS, SHF_MERGE | SHF_STRINGS, 1, "GCC\0", 4);
	eg_build(&p.g, &p.o);
	xs_elf_free(UT_VERIFY_OK(&p.o));
	ut_payload_free(&p);
}

/* ---- symbol table ------------------------------------------------------------------ */

SEC_TEST(symtab_missing, SH(S_SYMTAB)->sh_type = SHT_PROGBITS, -ENOEXEC,
         "payload has no symbol table (SHT_SYMTAB)")
SEC_TEST(symtab_entsize, SH(S_SYMTAB)->sh_entsize = 16, -ENOEXEC,
         "section 10 (.symtab): entry size 16")
SEC_TEST(symtab_size_not_multiple, SH(S_SYMTAB)->sh_size -= 1, -ENOEXEC,
         "do not match 24-byte symbols")
SEC_TEST(symtab_empty, SH(S_SYMTAB)->sh_size = 0, -ENOEXEC,
         "section 10 (.symtab): empty symbol table")
SEC_TEST(symtab_link_range, SH(S_SYMTAB)->sh_link = 200, -ENOEXEC,
         "section 10 (.symtab): string table index (sh_link) 200 is not a section")
SEC_TEST(symtab_link_self, SH(S_SYMTAB)->sh_link = S_SYMTAB, -ENOEXEC,
         "string table index (sh_link) 10 is not a section")
SEC_TEST(symtab_link_not_strtab, SH(S_SYMTAB)->sh_link = S_DATA, -ENOEXEC,
         "string table (sh_link) is section 3 (.data), of type 1, not SHT_STRTAB")
SEC_TEST(symtab_info_range, SH(S_SYMTAB)->sh_info = 1000, -ENOEXEC,
         "first global symbol (sh_info) 1000 is past the")
SEC_TEST(sym_name_range, eg_sym(&p.o, 3)->st_name = 0x7fff, -ENOEXEC,
         "symbol 3: name offset 0x7fff is outside the string table")
SEC_TEST(sym_name_unterminated, SH(S_STRTAB)->sh_size -= 1, -ENOEXEC,
         "is not NUL-terminated inside the string table")
SEC_TEST(sym_binding, eg_sym(&p.o, 3)->st_info = ELF64_ST_INFO(STB_GNU_UNIQUE, STT_OBJECT),
         -ENOTSUP, "symbol 3 ('new_fn'): binding 10 is not supported")
SEC_TEST(sym_tls, eg_sym(&p.o, 3)->st_info = ELF64_ST_INFO(STB_GLOBAL, STT_TLS), -ENOTSUP,
         "symbol 3 ('new_fn'): a payload cannot define thread-local variables")
SEC_TEST(sym_ifunc, eg_sym(&p.o, 3)->st_info = ELF64_ST_INFO(STB_GLOBAL, STT_GNU_IFUNC), -ENOTSUP,
         "indirect functions (STT_GNU_IFUNC) are not supported")
SEC_TEST(sym_type_unknown, eg_sym(&p.o, 3)->st_info = ELF64_ST_INFO(STB_GLOBAL, 7), -ENOTSUP,
         "symbol 3 ('new_fn'): type 7 is not supported")
SEC_TEST(sym_common, eg_sym(&p.o, 6)->st_shndx = SHN_COMMON, -ENOTSUP,
         "symbol 6 ('counter') is a common symbol (SHN_COMMON): compile the payload with "
         "-fno-common")
SEC_TEST(sym_xindex, eg_sym(&p.o, 3)->st_shndx = SHN_XINDEX, -ENOTSUP,
         "symbol 3 ('new_fn'): special section index 0xffff is not supported")
SEC_TEST(sym_shndx_range, eg_sym(&p.o, 3)->st_shndx = 99, -ENOEXEC,
         "symbol 3 ('new_fn'): section index 99 is out of range (13 sections)")
SEC_TEST(sym_value_outside, eg_sym(&p.o, 3)->st_value = 0x100, -ENOEXEC,
         "symbol 3 ('new_fn'): value 0x100 + size 0x15 is outside section 1 (.text) (size 0x15)")
SEC_TEST(sym_size_overflow, eg_sym(&p.o, 3)->st_size = ~0ull, -ENOEXEC,
         "symbol 3 ('new_fn'): value 0x0 + size 0xffffffffffffffff is outside")
SEC_TEST(sym_local_undefined, eg_sym(&p.o, 1)->st_shndx = SHN_UNDEF, -ENOEXEC,
         "symbol 1 ('#1'): local or section symbol is undefined")

static void two_symtabs(void **state)
{
	struct ut_payload p;
	uint8_t sym[48] = {0};

	(void)state;
	eg_minimal(&p.g, &p.m);
	eg_add_sec(&p.g, ".symtab2", SHT_SYMTAB, 0, 8, sym, sizeof(sym));
	eg_build(&p.g, &p.o);
	UT_REFUSED(p.o.buf, p.o.len, -ENOEXEC,
	           "payload has more than one symbol table (sections 8 and 11)");
	ut_payload_free(&p);
}

/* ---- relocations ---------------------------------------------------------------------- */

#define RELA(sec, k) eg_rela(&p.o, sec, k)

SEC_TEST(rela_entsize, SH(S_RELA_TEXT)->sh_entsize = 16, -ENOEXEC,
         "section 8 (.rela.text): entry size 16 / size 48 do not match 24-byte relocations")
SEC_TEST(rela_link, SH(S_RELA_TEXT)->sh_link = S_STRTAB, -ENOEXEC,
         "section 8 (.rela.text): symbol table index (sh_link) 11 is not the symbol table "
         "(section 10)")
SEC_TEST(rela_info_range, SH(S_RELA_TEXT)->sh_info = 77, -ENOEXEC,
         "section 8 (.rela.text): relocated section index (sh_info) 77 is not a section")
SEC_TEST(rela_info_zero, SH(S_RELA_TEXT)->sh_info = 0, -ENOEXEC,
         "relocated section index (sh_info) 0 is not a section")
SEC_TEST(rela_info_self, SH(S_RELA_TEXT)->sh_info = S_RELA_TEXT, -ENOEXEC,
         "relocated section index (sh_info) 8 is not a section")
SEC_TEST(rela_target_nobits, SH(S_RELA_TEXT)->sh_info = S_BSS, -ENOEXEC,
         "section 8 (.rela.text): relocates section 4 (.bss), which has no bytes (SHT_NOBITS)")
SEC_TEST(reloc_stn_undef, RELA(S_TEXT, 0)->r_info = ELF64_R_INFO(0, R_X86_64_PLT32), -ENOEXEC,
         "section 8 (.rela.text): relocation 0 (offset 0x2) uses symbol 0 (STN_UNDEF)")
SEC_TEST(reloc_sym_range, RELA(S_TEXT, 1)->r_info = ELF64_R_INFO(500, R_X86_64_PLT32), -ENOEXEC,
         "section 8 (.rela.text): relocation 1 (offset 0xb): symbol index 500 is out of "
         "range (7 symbols)")
SEC_TEST(reloc_type_unsupported, RELA(S_TEXT, 0)->r_info = ELF64_R_INFO(5, R_X86_64_DTPOFF64),
         -ENOTSUP,
         "section 8 (.rela.text): relocation 0 (offset 0x2, symbol 'ext_fn') has "
         "unsupported type R_X86_64_DTPOFF64 (17)")
SEC_TEST(reloc_type_unknown, RELA(S_TEXT, 0)->r_info = ELF64_R_INFO(5, 200), -ENOTSUP,
         "has unsupported type unknown (200)")
SEC_TEST(reloc_type_copy, RELA(S_TEXT, 0)->r_info = ELF64_R_INFO(5, R_X86_64_COPY), -ENOTSUP,
         "unsupported type R_X86_64_COPY (5)")
SEC_TEST(reloc_offset_outside, RELA(S_TEXT, 1)->r_offset = 18, -ENOEXEC,
         "section 8 (.rela.text): relocation 1 (R_X86_64_REX_GOTPCRELX) at offset 0x12 + 4 "
         "bytes is outside section 1 (.text) (size 0x15)")
SEC_TEST(reloc_offset_huge, RELA(S_TEXT, 1)->r_offset = ~0ull - 1, -ENOEXEC,
         "at offset 0xfffffffffffffffe + 4 bytes is outside section 1 (.text)")

static void reloc_to_nonalloc_symbol(void **state)
{
	struct ut_payload p;
	unsigned dbg, sym;

	(void)state;
	eg_minimal(&p.g, &p.m);
	dbg = eg_add_sec(&p.g, ".debug_str", SHT_PROGBITS, 0, 1, "x\0", 2);
	sym = eg_add_sym(&p.g, "dbg", STB_LOCAL, STT_OBJECT, dbg, 0, 0);
	eg_add_rel(&p.g, p.m.data, 0, sym, R_X86_64_64, 0);
	eg_build(&p.g, &p.o);
	UT_REFUSED(p.o.buf, p.o.len, -ENOEXEC,
	           "(.rela.data): relocation 0 (offset 0x0) refers to 'dbg' in non-allocated "
	           "section 8 (.debug_str)");
	ut_payload_free(&p);
}

/* relocations of debug sections are never applied, so never checked */
static void debug_relocs_ignored(void **state)
{
	struct ut_payload p;
	unsigned dbg;

	(void)state;
	eg_minimal(&p.g, &p.m);
	dbg = eg_add_sec(&p.g, ".debug_info", SHT_PROGBITS, 0, 1, "abcd", 4);
	eg_add_rel(&p.g, dbg, 0, p.m.sym_ext, R_X86_64_TPOFF32, 0);
	eg_build(&p.g, &p.o);
	RELA(dbg, 0)->r_offset = 1000; /* out of range too */
	xs_elf_free(UT_VERIFY_OK(&p.o));
	ut_payload_free(&p);
}

/* ---- truncation ------------------------------------------------------------------------- */

static void every_truncation_refused(void **state)
{
	struct ut_payload p;

	(void)state;
	ut_min(&p);
	for (size_t len = 0; len < p.o.len; len++) {
		/* a fresh copy of exactly `len` bytes, so ASan sees any overread */
		uint8_t *cut = malloc(len ? len : 1);
		struct xs_elf *e = NULL;
		struct xs_err err = {0};
		int rc;

		memcpy(cut, p.o.buf, len);
		rc = xs_payload_verify(cut, len, &e, &err);
		assert_true(rc < 0);
		assert_null(e);
		assert_int_equal(err.code, rc);
		assert_true(strlen(err.msg) > 10);
		free(cut);
	}
	ut_payload_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(minimal_is_accepted),
	    cmocka_unit_test(header_too_short),
	    cmocka_unit_test(file_too_big),
	    cmocka_unit_test(header_bad_magic),
	    cmocka_unit_test(header_class32),
	    cmocka_unit_test(header_big_endian),
	    cmocka_unit_test(header_version),
	    cmocka_unit_test(header_ident_version),
	    cmocka_unit_test(header_not_rel),
	    cmocka_unit_test(header_wrong_machine),
	    cmocka_unit_test(header_ehsize),
	    cmocka_unit_test(header_phdrs),
	    cmocka_unit_test(header_phoff),
	    cmocka_unit_test(header_no_sections),
	    cmocka_unit_test(header_shnum_zero),
	    cmocka_unit_test(header_shentsize),
	    cmocka_unit_test(header_too_many_sections),
	    cmocka_unit_test(header_shdrs_past_end),
	    cmocka_unit_test(header_shoff_huge),
	    cmocka_unit_test(header_shstrndx_range),
	    cmocka_unit_test(header_shstrndx_undef),
	    cmocka_unit_test(header_shstrndx_not_strtab),
	    cmocka_unit_test(section0_not_null),
	    cmocka_unit_test(shstrtab_past_end),
	    cmocka_unit_test(section_name_out_of_range),
	    cmocka_unit_test(section_name_unterminated),
	    cmocka_unit_test(section_past_end),
	    cmocka_unit_test(section_size_huge),
	    cmocka_unit_test(section_offset_huge),
	    cmocka_unit_test(section_align_not_pow2),
	    cmocka_unit_test(section_align_too_big),
	    cmocka_unit_test(section_overlap),
	    cmocka_unit_test(section_overlaps_header),
	    cmocka_unit_test(section_overlaps_shdrs),
	    cmocka_unit_test(section_wx),
	    cmocka_unit_test(section_tls),
	    cmocka_unit_test(section_compressed_alloc),
	    cmocka_unit_test(section_rel_refused),
	    cmocka_unit_test(section_init_array),
	    cmocka_unit_test(section_alloc_bad_type),
	    cmocka_unit_test(section_nobits_exec),
	    cmocka_unit_test(section_nobits_huge),
	    cmocka_unit_test(alloc_total_over_limit),
	    cmocka_unit_test(nonalloc_unknown_type_ignored),
	    cmocka_unit_test(symtab_missing),
	    cmocka_unit_test(symtab_entsize),
	    cmocka_unit_test(symtab_size_not_multiple),
	    cmocka_unit_test(symtab_empty),
	    cmocka_unit_test(symtab_link_range),
	    cmocka_unit_test(symtab_link_self),
	    cmocka_unit_test(symtab_link_not_strtab),
	    cmocka_unit_test(symtab_info_range),
	    cmocka_unit_test(sym_name_range),
	    cmocka_unit_test(sym_name_unterminated),
	    cmocka_unit_test(sym_binding),
	    cmocka_unit_test(sym_tls),
	    cmocka_unit_test(sym_ifunc),
	    cmocka_unit_test(sym_type_unknown),
	    cmocka_unit_test(sym_common),
	    cmocka_unit_test(sym_xindex),
	    cmocka_unit_test(sym_shndx_range),
	    cmocka_unit_test(sym_value_outside),
	    cmocka_unit_test(sym_size_overflow),
	    cmocka_unit_test(sym_local_undefined),
	    cmocka_unit_test(two_symtabs),
	    cmocka_unit_test(rela_entsize),
	    cmocka_unit_test(rela_link),
	    cmocka_unit_test(rela_info_range),
	    cmocka_unit_test(rela_info_zero),
	    cmocka_unit_test(rela_info_self),
	    cmocka_unit_test(rela_target_nobits),
	    cmocka_unit_test(reloc_stn_undef),
	    cmocka_unit_test(reloc_sym_range),
	    cmocka_unit_test(reloc_type_unsupported),
	    cmocka_unit_test(reloc_type_unknown),
	    cmocka_unit_test(reloc_type_copy),
	    cmocka_unit_test(reloc_offset_outside),
	    cmocka_unit_test(reloc_offset_huge),
	    cmocka_unit_test(reloc_to_nonalloc_symbol),
	    cmocka_unit_test(debug_relocs_ignored),
	    cmocka_unit_test(every_truncation_refused),
	};

	return cmocka_run_group_tests_name("verify: ELF structure", tests, NULL, NULL);
}
