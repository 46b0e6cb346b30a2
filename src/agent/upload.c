/*
 * Upload: untrusted bytes -> a linked, final, CHECKED payload.
 *
 *   signature (sigcheck.c) -> verify (core) -> target build-id loaded? -> own build-id new? ->
 *   layout -> near areas -> link (core, with our symbol resolver) ->
 *   new symbols unique? -> per-function switch bytes -> final areas ->
 *   .eh_frame registered
 *
 * Any failure frees everything made so far: the process is as before.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xsplice/patch.h>
#include <xsplice/shadow.h>

#include "agent/audit.h"
#include "agent/gdbjit.h"
#include "agent/maps.h"
#include "agent/modules.h"
#include "agent/payload.h"
#include "agent/perfmap.h"
#include "arch/arch.h"

/* The agent's own API, resolved without the dynamic loader (the agent may
 * be loaded RTLD_LOCAL, or linked into the program). */
#define API(f)                                                                                     \
	{                                                                                          \
#f, (uintptr_t)(f)                                                                 \
	}
static const struct {
	const char *name;
	uintptr_t addr;
} own_api[] = {
    API(xsplice_payload_name),        API(xsplice_payload_rc),
    API(xsplice_payload_nfuncs),      API(xsplice_func_name),
    API(xsplice_func_applied),        API(xsplice_func_set_applied),
    API(xsplice_func_apply),          API(xsplice_func_revert),
    API(xsplice_payload_param),       API(xsplice_param),
    API(xsplice_shadow_get),          API(xsplice_shadow_alloc),
    API(xsplice_shadow_get_or_alloc), API(xsplice_shadow_free),
    API(xsplice_shadow_free_all),
};

/* Is `addr` the replacement of one of p's functions (such symbols may be
 * defined by several payloads: they replace, they are not new)? */
static int is_replacement(const struct xsplice_payload *p, uintptr_t addr)
{
	for (unsigned i = 0; i < p->l.nfuncs; i++)
		if (p->l.funcs[i].new_addr == addr)
			return 1;
	return 0;
}

/* Remember that p links against q (q may then not be unloaded first). */
static int add_use(struct xsplice_payload *p, struct xsplice_payload *q)
{
	for (unsigned i = 0; i < p->nuses; i++)
		if (p->uses[i] == q)
			return 0;
	struct xsplice_payload **v = realloc(p->uses, (p->nuses + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[p->nuses++] = q;
	p->uses = v;
	return 0;
}

static int resolve(void *ctx, const char *name, uintptr_t *addr)
{
	struct xsplice_payload *p = ctx;
	for (size_t i = 0; i < sizeof(own_api) / sizeof(own_api[0]); i++)
		if (!strcmp(own_api[i].name, name)) {
			*addr = own_api[i].addr;
			return 0;
		}
	/* earlier payloads' new symbols, the most recent first wins */
	const struct xs_symbol *found = NULL;
	struct xsplice_payload *owner = NULL;
	for (struct xsplice_payload *q = xs_eng.head; q; q = q->next)
		for (unsigned k = 0; k < q->l.nsymbols; k++)
			if (!strcmp(q->l.symbols[k].name, name)) {
				found = &q->l.symbols[k];
				owner = q;
			}
	if (found) {
		*addr = found->addr;
		return add_use(p, owner);
	}
	void *s = dlsym(RTLD_DEFAULT, name);
	if (!s)
		return -ENOENT;
	*addr = (uintptr_t)s;
	return 0;
}

static int check_name(const char *name, struct xs_err *err)
{
	size_t n = strnlen(name, XSPLICE_NAME_MAX);
	if (n == 0 || n >= XSPLICE_NAME_MAX)
		return xs_err_set(err, -EINVAL, "a payload name is 1 to %d bytes",
		                  XSPLICE_NAME_MAX - 1);
	for (const char *c = name; *c; c++)
		if (*c <= ' ' || *c == '/' || *c == 0x7f)
			return xs_err_set(err, -EINVAL,
			                  "payload name \"%s\" has a space, '/' or a control "
			                  "character",
			                  name);
	return 0;
}

static void copy_id(struct xs_id *dst, struct xs_note n)
{
	dst->len = n.len <= XSPLICE_BUILD_ID_MAX ? n.len : 0;
	memcpy(dst->b, n.id, dst->len);
}

/* The target module, or -ENOEXEC naming both build-ids. */
static int find_target(struct xsplice_payload *p, const struct xs_module **mod, struct xs_err *err)
{
	char want[2 * XSPLICE_BUILD_ID_MAX + 1], have[2 * XSPLICE_BUILD_ID_MAX + 1];
	int rc = xs_modules_refresh(err);
	if (rc)
		return rc;
	*mod = xs_module_by_id(p->target.b, p->target.len);
	if (*mod)
		return 0;
	const struct xs_module *m = xs_module_main();
	xs_hex_id(p->target.b, p->target.len, want, sizeof(want));
	xs_hex_id(m ? m->id : NULL, m ? m->idlen : 0, have, sizeof(have));
	return xs_err_set(err, -ENOEXEC,
	                  "payload %s was packed for build-id %s, which no module of this "
	                  "process has (the executable %s has build-id %s)",
	                  p->name, want, m ? m->path : "?", have);
}

static int check_unique_id(const struct xsplice_payload *p, struct xs_err *err)
{
	char hex[2 * XSPLICE_BUILD_ID_MAX + 1];
	if (!p->id.len)
		return xs_err_set(err, -ENOEXEC, "payload %s has no build-id", p->name);
	for (const struct xsplice_payload *q = xs_eng.head; q; q = q->next)
		if (q->id.len == p->id.len && !memcmp(q->id.b, p->id.b, p->id.len))
			return xs_err_set(err, -EEXIST,
			                  "a payload with build-id %s is already loaded as %s",
			                  xs_hex_id(p->id.b, p->id.len, hex, sizeof(hex)), q->name);
	return 0;
}

/* New global symbols must be unique across loaded payloads. */
static int check_unique_symbols(const struct xsplice_payload *p, struct xs_err *err)
{
	for (unsigned k = 0; k < p->l.nsymbols; k++) {
		const struct xs_symbol *s = &p->l.symbols[k];
		if (is_replacement(p, s->addr))
			continue;
		for (const struct xsplice_payload *q = xs_eng.head; q; q = q->next)
			for (unsigned j = 0; j < q->l.nsymbols; j++)
				if (!strcmp(q->l.symbols[j].name, s->name) &&
				    !is_replacement(q, q->l.symbols[j].addr))
					return xs_err_set(
					    err, -EEXIST,
					    "payload %s defines %s, which payload %s "
					    "already defines (new symbols must be unique)",
					    p->name, s->name, q->name);
	}
	return 0;
}

const char *xs_payload_fname(const struct xsplice_payload *p, unsigned i)
{
	const char *n = p->l.funcs[i].name;
	return n && n[0] ? n : "?";
}

/* Where and what to write for function i; refuses what cannot be patched. */
static int prepare_func(struct xsplice_payload *p, unsigned i, const struct xs_maps *maps,
                        struct xs_err *err)
{
	const struct xs_func *f = &p->l.funcs[i];
	struct xs_fstate *s = &p->fs[i];
	const char *nm = xs_payload_fname(p, i);
	if (f->old_addr < p->mod_lo || f->old_addr >= p->mod_hi)
		return xs_err_set(err, -EINVAL, "function %s: 0x%lx is outside the module %s", nm,
		                  (unsigned long)f->old_addr, p->mod_path);
	const struct xs_map *m = xs_maps_find(maps, f->old_addr);
	if (!m || !(m->flags & XS_MAP_X))
		return xs_err_set(err, -EINVAL, "function %s: 0x%lx is not in executable code", nm,
		                  (unsigned long)f->old_addr);
	/* every byte read here (endbr64 test, expectation) must be mapped */
	if (f->old_addr +
	        (f->expect_len > XS_ARCH_ENDBR_SIZE ? f->expect_len : XS_ARCH_ENDBR_SIZE) >
	    m->hi)
		return xs_err_set(err, -EINVAL,
		                  "function %s: 0x%lx is too close to the end of its "
		                  "mapping",
		                  nm, (unsigned long)f->old_addr);
	s->prot = PROT_READ | PROT_EXEC | ((m->flags & XS_MAP_W) ? PROT_WRITE : 0);
	if ((f->flags & XSPLICE_FUNC_INLINE) && !f->expect_len)
		return xs_err_set(err, -EINVAL,
		                  "function %s: a patch inside a function needs an expectation",
		                  nm);
	if (!f->new_addr) { /* NOP patch: exactly at old_addr */
		if (!f->new_size || f->new_size > XSPLICE_EXPECT_MAX || f->new_size > f->old_size)
			return xs_err_set(err, -EINVAL,
			                  "function %s: a NOP patch covers 1 to %d bytes within "
			                  "the function (%u asked, function %u)",
			                  nm, XSPLICE_EXPECT_MAX, f->new_size, f->old_size);
		s->site = f->old_addr;
		s->len = (uint8_t)f->new_size;
		xs_arch_fill_nops(s->insn, s->len);
	} else {
		size_t off = (f->flags & XSPLICE_FUNC_INLINE)
		                 ? 0
		                 : xs_arch_patch_offset((const uint8_t *)f->old_addr);
		size_t room = (f->flags & XSPLICE_FUNC_INLINE) ? f->expect_len : f->old_size;
		if (room < off + XS_ARCH_JUMP_SIZE)
			return xs_err_set(err, -EINVAL,
			                  "function %s: %zu bytes are too few for a %d-byte jump%s",
			                  nm, room, XS_ARCH_JUMP_SIZE, off ? " after endbr64" : "");
		s->site = f->old_addr + off;
		s->len = XS_ARCH_JUMP_SIZE;
		if (xs_arch_encode_jump(s->site, f->new_addr, s->insn))
			return xs_err_set(err, -ERANGE,
			                  "function %s: the replacement is out of "
			                  "jump range",
			                  nm);
	}
	if (s->site + s->len > m->hi)
		return xs_err_set(err, -EINVAL,
		                  "function %s: the patch crosses the end of its "
		                  "mapping",
		                  nm);
	return 0;
}

static int prepare_funcs(struct xsplice_payload *p, struct xs_err *err)
{
	struct xs_maps maps = {0};
	int rc = xs_maps_prepare(&maps, err);
	p->fs = calloc(p->l.nfuncs + 1, sizeof(*p->fs));
	if (!rc && !p->fs)
		rc = xs_err_set(err, -ENOMEM, "out of memory");
	for (unsigned i = 0; !rc && i < p->l.nfuncs; i++)
		rc = prepare_func(p, i, &maps, err);
	for (unsigned i = 0; !rc && i < p->l.nfuncs; i++)
		for (unsigned j = i + 1; !rc && j < p->l.nfuncs; j++)
			if (p->fs[i].site < p->fs[j].site + p->fs[j].len &&
			    p->fs[j].site < p->fs[i].site + p->fs[i].len)
				rc = xs_err_set(err, -EINVAL,
				                "functions %s and %s of payload %s patch the "
				                "same bytes",
				                xs_payload_fname(p, i), xs_payload_fname(p, j),
				                p->name);
	xs_maps_free(&maps);
	return rc;
}

static int copy_kv(char **dst, size_t *dlen, const char *src, size_t len, const char *what,
                   struct xs_err *err)
{
	if (!src || !len)
		return 0;
	if (src[len - 1] != 0)
		return xs_err_set(err, -EINVAL, "%s: the last key=value is not NUL-terminated",
		                  what);
	for (const char *kv = src; kv < src + len; kv += strlen(kv) + 1) {
		const char *eq = strchr(kv, '=');
		if (!eq || eq == kv)
			return xs_err_set(err, -EINVAL, "%s: \"%s\" is not key=value", what, kv);
	}
	*dst = malloc(len);
	if (!*dst)
		return xs_err_set(err, -ENOMEM, "out of memory");
	memcpy(*dst, src, len);
	*dlen = len;
	return 0;
}

/* ---- memory budget -------------------------------------------------------------- */

/* Defaults that fit real patches (a few KiB of code, some tables); raise
 * them with the environment of the target process. */
#define XS_PAYLOAD_MAX_MB_DEFAULT 64
#define XS_PROCESS_MAX_MB_DEFAULT 256

static size_t limit_mb(const char *var, size_t dflt)
{
	const char *v = secure_getenv(var);
	char *end;
	if (!v || !*v)
		return dflt;
	unsigned long long n = strtoull(v, &end, 10);
	return *end || n == 0 || n > (1ull << 30) ? dflt : (size_t)n;
}

/* Sections and .bss of one payload, and of all payloads of the process,
 * within their limits: 0 or -EFBIG / -ENOSPC with the numbers. */
static int check_budget(const struct xsplice_payload *p, const struct xs_layout *lay,
                        struct xs_err *err)
{
	size_t per = limit_mb("XSPLICE_PAYLOAD_MAX_MB", XS_PAYLOAD_MAX_MB_DEFAULT);
	size_t all = limit_mb("XSPLICE_MEM_MAX_MB", XS_PROCESS_MAX_MB_DEFAULT);
	size_t used = 0;
	for (const struct xsplice_payload *q = xs_eng.head; q; q = q->next)
		used += q->areas.total;
	if (lay->total > (per << 20))
		return xs_err_set(err, -EFBIG,
		                  "payload %s needs %zu KiB of memory (sections and .bss), more "
		                  "than the %zu MiB a payload may take (XSPLICE_PAYLOAD_MAX_MB in "
		                  "the process's environment)",
		                  p->name, lay->total >> 10, per);
	if (used + lay->total > (all << 20))
		return xs_err_set(err, -ENOSPC,
		                  "payload %s needs %zu KiB of memory (sections and .bss); the "
		                  "payloads of this process already hold %zu KiB of the %zu MiB "
		                  "they may take (XSPLICE_MEM_MAX_MB in the process's environment; "
		                  "unload a payload first)",
		                  p->name, lay->total >> 10, used >> 10, all);
	return 0;
}

/* Layout, check the budget, map near the module, link, finalize. */
static int link_payload(struct xsplice_payload *p, const struct xs_elf *elf,
                        const struct xs_module *mod, struct xs_err *err)
{
	struct xs_layout lay;
	struct xs_region rg[XS_AREA_COUNT];
	struct xs_maps maps = {0};
	struct xs_host host = {.ctx = p, .target_bias = mod->bias, .resolve = resolve};
	int rc = xs_link_layout(elf, (size_t)sysconf(_SC_PAGESIZE), &lay, err);
	if (!rc)
		rc = check_budget(p, &lay, err);
	if (!rc)
		rc = xs_near_map(mod, &lay, p->name, &maps, &p->areas, rg, err);
	xs_maps_free(&maps);
	if (!rc)
		rc = xs_link_place(elf, rg, &host, &p->l, err);
	if (!rc)
		rc = check_unique_symbols(p, err);
	if (!rc)
		rc = prepare_funcs(p, err);
	if (!rc)
		rc = xs_near_finalize(&p->areas, err);
	return rc;
}

int xs_payload_create(const char *name, const void *bytes, size_t len, const char *params,
                      size_t params_len, struct xsplice_payload **out, struct xs_err *err)
{
	struct xs_elf *elf = NULL;
	const struct xs_module *mod = NULL;
	size_t ilen = 0;
	int rc = check_name(name, err);
	if (rc)
		return rc;
	struct xsplice_payload *p = calloc(1, sizeof(*p));
	if (!p)
		return xs_err_set(err, -ENOMEM, "out of memory");
	p->areas.memfd = -1;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->state = XS_STATE_CHECKED;
	p->uploaded = (int64_t)time(NULL);
	rc = copy_kv(&p->params, &p->params_len, params, params_len, "parameters", err);
	size_t elf_len = len;
	if (!rc)
		rc = xs_sig_check(name, bytes, len, &elf_len, &p->signer, err);
	if (!rc)
		rc = xs_payload_verify(bytes, elf_len, &elf, err);
	if (!rc) {
		copy_id(&p->target, xs_elf_target_id(elf));
		copy_id(&p->depends, xs_elf_depends_id(elf));
		copy_id(&p->id, xs_elf_build_id(elf));
		const char *mi = xs_elf_modinfo(elf, &ilen);
		rc = copy_kv(&p->modinfo, &p->modinfo_len, mi, ilen, ".modinfo", err);
	}
	if (!rc)
		rc = find_target(p, &mod, err);
	if (!rc)
		rc = check_unique_id(p, err);
	if (!rc) {
		p->mod_path = strdup(mod->path);
		p->mod_lo = mod->lo;
		p->mod_hi = mod->hi;
		rc = p->mod_path ? link_payload(p, elf, mod, err)
		                 : xs_err_set(err, -ENOMEM, "out of memory");
	}
	if (!rc && p->l.eh_frame)
		p->eh_registered = !xs_eh_register(p->l.eh_frame, NULL);
	xs_elf_free(elf);
	xs_audit_note_upload(p);
	if (rc) {
		xs_payload_destroy(p);
		return rc;
	}
	xs_gdbjit_add(p);
	xs_perfmap_add(p);
	*out = p;
	return 0;
}

void xs_payload_destroy(struct xsplice_payload *p)
{
	if (!p)
		return;
	xs_perfmap_remove(p);
	xs_gdbjit_remove(p);
	if (p->eh_registered)
		xs_eh_deregister(p->l.eh_frame);
	xs_near_unmap(&p->areas);
	xs_linked_free(&p->l);
	free(p->fs);
	free(p->uses);
	free(p->mod_path);
	free(p->modinfo);
	free(p->params);
	free(p);
}
