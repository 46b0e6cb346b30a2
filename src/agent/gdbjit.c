/*
 * Debuggers: GDB's JIT interface ("JIT Compilation Interface" in the GDB
 * manual).  For each payload the agent builds a small in-memory ELF file
 * (ET_EXEC, no program headers) with
 *   .text      a copy of the payload's code, at its run-time address,
 *   .eh_frame  a copy of its relocated unwind tables, at their address,
 *   .symtab    every function of the payload, local ones too,
 * links it into the descriptor's list and calls __jit_debug_register_code,
 * where a debugger attached now (or later: it reads the list when it
 * attaches) has its breakpoint.  At unload the entry is unlinked the same
 * way, before the payload's memory goes.
 *
 * The two symbols are the standard ones and the agent exports them (the
 * only exports besides the xsplice_* API), but its own code refers to them
 * through hidden aliases: when the program or one of its libraries is a JIT
 * with its own descriptor, the two lists stay separate (each guarded by its
 * owner: the agent changes its list only on the control thread), and GDB
 * reads every objfile's descriptor.
 */
#include "agent/gdbjit.h"

#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/payload.h"

struct jit_code_entry {
	struct jit_code_entry *next_entry;
	struct jit_code_entry *prev_entry;
	const char *symfile_addr;
	uint64_t symfile_size;
};

struct jit_descriptor {
	uint32_t version;
	uint32_t action_flag; /* 0 none, 1 register, 2 unregister */
	struct jit_code_entry *relevant_entry;
	struct jit_code_entry *first_entry;
};

#define XS_EXPORT __attribute__((visibility("default")))

XS_EXPORT void __jit_debug_register_code(void);
XS_EXPORT __attribute__((noinline, used)) void __jit_debug_register_code(void)
{
	__asm__ volatile("" ::: "memory");
}
XS_EXPORT struct jit_descriptor __jit_debug_descriptor = {1, 0, NULL, NULL};

/* the agent's own references: never interposed by another definition */
extern void xs_jit_register(void)
    __attribute__((alias("__jit_debug_register_code"), visibility("hidden")));
extern struct jit_descriptor xs_jit_desc
    __attribute__((alias("__jit_debug_descriptor"), visibility("hidden")));

enum { SH_NULL, SH_TEXT, SH_EH, SH_SYMTAB, SH_STRTAB, SH_SHSTRTAB, SH_COUNT };

static const char shstr[] = "\0.text\0.eh_frame\0.symtab\0.strtab\0.shstrtab";
enum { N_TEXT = 1, N_EH = 7, N_SYMTAB = 17, N_STRTAB = 25, N_SHSTRTAB = 33 };

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* The symbol file for p, malloc'd; NULL when out of memory. */
static char *build_elf(const struct xsplice_payload *p, size_t *size)
{
	const struct xs_linked *l = &p->l;
	size_t text = l->text_end - l->text_start, eh = l->eh_frame_size;
	size_t nsym = l->ncode_syms + 1, strsz = 1;
	for (unsigned i = 0; i < l->ncode_syms; i++)
		strsz += strlen(l->code_syms[i].name) + 1;
	size_t o_text = sizeof(Elf64_Ehdr);
	size_t o_eh = align8(o_text + text);
	size_t o_sym = align8(o_eh + eh);
	size_t o_str = o_sym + nsym * sizeof(Elf64_Sym);
	size_t o_shstr = o_str + strsz;
	size_t o_sh = align8(o_shstr + sizeof(shstr));
	size_t total = o_sh + SH_COUNT * sizeof(Elf64_Shdr);
	char *img = calloc(1, total);
	if (!img)
		return NULL;

	Elf64_Ehdr *eh_ = (Elf64_Ehdr *)img;
	memcpy(eh_->e_ident, ELFMAG, SELFMAG);
	eh_->e_ident[EI_CLASS] = ELFCLASS64;
	eh_->e_ident[EI_DATA] = ELFDATA2LSB;
	eh_->e_ident[EI_VERSION] = EV_CURRENT;
	eh_->e_ident[EI_OSABI] = ELFOSABI_SYSV;
	eh_->e_type = ET_EXEC;
	eh_->e_machine = EM_X86_64;
	eh_->e_version = EV_CURRENT;
	eh_->e_ehsize = sizeof(Elf64_Ehdr);
	eh_->e_shoff = o_sh;
	eh_->e_shentsize = sizeof(Elf64_Shdr);
	eh_->e_shnum = SH_COUNT;
	eh_->e_shstrndx = SH_SHSTRTAB;

	memcpy(img + o_text, (const void *)l->text_start, text);
	if (eh)
		memcpy(img + o_eh, (const void *)l->eh_frame, eh);
	Elf64_Sym *sym = (Elf64_Sym *)(img + o_sym);
	char *str = img + o_str;
	size_t sp = 1;
	for (unsigned i = 0; i < l->ncode_syms; i++) {
		const struct xs_symbol *s = &l->code_syms[i];
		Elf64_Sym *y = &sym[i + 1];
		y->st_name = (uint32_t)sp;
		y->st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC);
		y->st_shndx = SH_TEXT;
		y->st_value = s->addr;
		y->st_size = s->size;
		strcpy(str + sp, s->name);
		sp += strlen(s->name) + 1;
	}
	memcpy(img + o_shstr, shstr, sizeof(shstr));

	Elf64_Shdr *sh = (Elf64_Shdr *)(img + o_sh);
	sh[SH_TEXT] = (Elf64_Shdr){.sh_name = N_TEXT,
	                           .sh_type = SHT_PROGBITS,
	                           .sh_flags = SHF_ALLOC | SHF_EXECINSTR,
	                           .sh_addr = l->text_start,
	                           .sh_offset = o_text,
	                           .sh_size = text,
	                           .sh_addralign = 16};
	sh[SH_EH] = (Elf64_Shdr){.sh_name = N_EH,
	                         .sh_type = SHT_PROGBITS,
	                         .sh_flags = SHF_ALLOC,
	                         .sh_addr = l->eh_frame,
	                         .sh_offset = o_eh,
	                         .sh_size = eh,
	                         .sh_addralign = 8};
	sh[SH_SYMTAB] = (Elf64_Shdr){.sh_name = N_SYMTAB,
	                             .sh_type = SHT_SYMTAB,
	                             .sh_offset = o_sym,
	                             .sh_size = nsym * sizeof(Elf64_Sym),
	                             .sh_link = SH_STRTAB,
	                             .sh_info = 1, /* first global */
	                             .sh_addralign = 8,
	                             .sh_entsize = sizeof(Elf64_Sym)};
	sh[SH_STRTAB] = (Elf64_Shdr){.sh_name = N_STRTAB,
	                             .sh_type = SHT_STRTAB,
	                             .sh_offset = o_str,
	                             .sh_size = strsz,
	                             .sh_addralign = 1};
	sh[SH_SHSTRTAB] = (Elf64_Shdr){.sh_name = N_SHSTRTAB,
	                               .sh_type = SHT_STRTAB,
	                               .sh_offset = o_shstr,
	                               .sh_size = sizeof(shstr),
	                               .sh_addralign = 1};
	*size = total;
	return img;
}

void xs_gdbjit_add(struct xsplice_payload *p)
{
	size_t size = 0;
	if (p->jit_entry || p->l.text_end <= p->l.text_start)
		return;
	struct jit_code_entry *e = calloc(1, sizeof(*e));
	char *img = e ? build_elf(p, &size) : NULL;
	if (!img) {
		free(e);
		return;
	}
	e->symfile_addr = img;
	e->symfile_size = size;
	e->next_entry = xs_jit_desc.first_entry;
	if (e->next_entry)
		e->next_entry->prev_entry = e;
	xs_jit_desc.first_entry = e;
	xs_jit_desc.relevant_entry = e;
	xs_jit_desc.action_flag = 1; /* JIT_REGISTER_FN */
	xs_jit_register();
	xs_jit_desc.action_flag = 0;
	p->jit_entry = e;
}

void xs_gdbjit_remove(struct xsplice_payload *p)
{
	struct jit_code_entry *e = p->jit_entry;
	if (!e)
		return;
	if (e->prev_entry)
		e->prev_entry->next_entry = e->next_entry;
	else
		xs_jit_desc.first_entry = e->next_entry;
	if (e->next_entry)
		e->next_entry->prev_entry = e->prev_entry;
	xs_jit_desc.relevant_entry = e;
	xs_jit_desc.action_flag = 2; /* JIT_UNREGISTER_FN */
	xs_jit_register();
	xs_jit_desc.action_flag = 0;
	xs_jit_desc.relevant_entry = NULL;
	free((void *)e->symfile_addr);
	free(e);
	p->jit_entry = NULL;
}
