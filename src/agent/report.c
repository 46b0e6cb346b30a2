/*
 * Reports: LIST, INFO, DUMP and HISTORY, as text for people or JSON for
 * tools.  Built on the control thread with malloc'd buffers, never in the
 * window.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "agent/history.h"
#include "agent/modules.h"
#include "agent/payload.h"
#include "agent/quiesce.h"
#include "agent/shadow_internal.h"
#include "agent/signame.h"
#include "agent/textpoke.h"
#include "arch/arch.h"

#define HEX_MAX (2 * XSPLICE_BUILD_ID_MAX + 1)

static const char *hexid(const struct xs_id *id, char *out)
{
	return xs_hex_id(id->b, id->len, out, HEX_MAX);
}

/* rc as JSON: null for success, else the errno's name ("EINVAL") */
void xs_json_errname(struct xs_buf *b, int rc)
{
	const char *n = rc < 0 ? strerrorname_np(-rc) : NULL;
	if (rc >= 0)
		xs_buf_printf(b, "null");
	else if (n)
		xs_buf_printf(b, "\"%s\"", n);
	else
		xs_buf_printf(b, "\"E%d\"", -rc);
}

static void jstr(struct xs_buf *b, const char *s)
{
	xs_buf_json_str(b, s ? s : "", s ? strlen(s) : 0);
}

/* key=value\0... as a JSON object, or as "k=v, k=v" text */
static void kv_json(struct xs_buf *b, const char *kv, size_t len)
{
	int first = 1;
	xs_buf_printf(b, "{");
	for (const char *p = kv; p && p < kv + len; p += strlen(p) + 1) {
		const char *eq = strchr(p, '=');
		if (!eq)
			continue;
		xs_buf_printf(b, "%s", first ? "" : ",");
		xs_buf_json_str(b, p, (size_t)(eq - p));
		xs_buf_printf(b, ":");
		jstr(b, eq + 1);
		first = 0;
	}
	xs_buf_printf(b, "}");
}

static void kv_text(struct xs_buf *b, const char *label, const char *kv, size_t len)
{
	if (!kv || !len)
		return;
	char e[1024];
	xs_buf_printf(b, "  %-10s", label);
	for (const char *p = kv; p < kv + len; p += strlen(p) + 1)
		xs_buf_printf(b, "%s%s", p == kv ? "" : ", ", xs_esc(e, sizeof(e), p));
	xs_buf_printf(b, "\n");
}

static const char *state_str(const struct xsplice_payload *p)
{
	return p->state == XS_STATE_APPLIED ? "APPLIED" : "CHECKED";
}

static const char *act_str(enum xs_action a)
{
	static const char *const n[] = {"", "unload", "revert", "apply", "replace"};
	return (unsigned)a < 5 ? n[a] : "?";
}

static void payload_json(struct xs_buf *b, const struct xsplice_payload *p, int dump);

static void list_json(struct xs_buf *b, int dump)
{
	int first = 1;
	xs_buf_printf(b, "\"payloads\":[");
	for (const struct xsplice_payload *p = xs_eng.head; p; p = p->next) {
		xs_buf_printf(b, "%s", first ? "" : ",");
		payload_json(b, p, dump);
		first = 0;
	}
	xs_buf_printf(b, "]");
}

static void funcs_json(struct xs_buf *b, const struct xsplice_payload *p)
{
	xs_buf_printf(b, ",\"funcs\":[");
	for (unsigned i = 0; i < p->l.nfuncs; i++) {
		const struct xs_func *f = &p->l.funcs[i];
		const struct xs_fstate *s = &p->fs[i];
		xs_buf_printf(b, "%s{\"name\":", i ? "," : "");
		jstr(b, xs_payload_fname(p, i));
		xs_buf_printf(b,
		              ",\"old_addr\":\"0x%lx\",\"old_size\":%u,\"new_addr\":\"0x%lx\","
		              "\"new_size\":%u,\"site\":\"0x%lx\",\"len\":%u,\"kind\":\"%s\","
		              "\"applied\":%s,\"written\":%s,\"expect_len\":%u}",
		              (unsigned long)f->old_addr, f->old_size, (unsigned long)f->new_addr,
		              f->new_size, (unsigned long)s->site, s->len,
		              !f->new_addr                       ? "nop"
		              : (f->flags & XSPLICE_FUNC_INLINE) ? "inline"
		                                                 : "replace",
		              s->applied ? "true" : "false", s->written ? "true" : "false",
		              f->expect_len);
	}
	xs_buf_printf(b, "]");
}

static void dump_extra_json(struct xs_buf *b, const struct xsplice_payload *p)
{
	static const char *const hk[] = {"load",      "unload",    "preapply",
	                                 "postapply", "prerevert", "postrevert",
	                                 "apply",     "revert",    "perthread"};
	funcs_json(b, p);
	xs_buf_printf(b, ",\"hooks\":{");
	for (int h = 0; h < XS_HOOK_COUNT; h++)
		xs_buf_printf(b, "%s\"%s\":%u", h ? "," : "", hk[h], p->l.nhooks[h]);
	xs_buf_printf(b,
	              "},\"areas\":{\"rx\":[\"0x%lx\",%zu],\"r\":[\"0x%lx\",%zu],"
	              "\"rw\":[\"0x%lx\",%zu]},\"symbols\":%u,\"eh_frame_registered\":%s",
	              (unsigned long)p->areas.addr[XS_AREA_RX], p->areas.size[XS_AREA_RX],
	              (unsigned long)p->areas.addr[XS_AREA_R], p->areas.size[XS_AREA_R],
	              (unsigned long)p->areas.addr[XS_AREA_RW], p->areas.size[XS_AREA_RW],
	              p->l.nsymbols, p->eh_registered ? "true" : "false");
	long sh = xs_shadow_count_owner(p->areas.base, p->areas.base + p->areas.total);
	xs_buf_printf(b, ",\"shadow_variables\":%ld", sh);
}

static void payload_json(struct xs_buf *b, const struct xsplice_payload *p, int dump)
{
	char h[HEX_MAX];
	xs_buf_printf(b, "{\"name\":");
	jstr(b, p->name);
	xs_buf_printf(b, ",\"state\":\"%s\",\"last_action\":\"%s\",\"error\":", state_str(p),
	              act_str(p->last_act));
	xs_json_errname(b, p->rc);
	xs_buf_printf(b, ",\"message\":");
	jstr(b, p->msg);
	xs_buf_printf(b, ",\"build_id\":\"%s\"", hexid(&p->id, h));
	if (p->signer.is_signed)
		xs_buf_printf(b, ",\"signer\":\"%s\",\"signer_trusted\":%s", p->signer.keyid,
		              p->signer.trusted ? "true" : "false");
	else
		xs_buf_printf(b, ",\"signer\":null,\"signer_trusted\":false");
	xs_buf_printf(b, ",\"target\":\"%s\",\"target_module\":", hexid(&p->target, h));
	jstr(b, p->mod_path);
	xs_buf_printf(b, ",\"depends\":\"%s\"",
	              hexid(p->depends.len ? &p->depends : &p->target, h));
	xs_buf_printf(b, ",\"applied_order\":%lu,\"nfuncs\":%u,\"metadata\":",
	              (unsigned long)p->applied_seq, p->l.nfuncs);
	kv_json(b, p->modinfo, p->modinfo_len);
	xs_buf_printf(b, ",\"params\":");
	kv_json(b, p->params, p->params_len);
	if (dump)
		dump_extra_json(b, p);
	xs_buf_printf(b, "}");
}

static void payload_text(struct xs_buf *b, const struct xsplice_payload *p)
{
	char h[HEX_MAX], e[1024];
	xs_buf_printf(b, "%s: %s\n", xs_esc(e, sizeof(e), p->name), state_str(p));
	xs_buf_printf(b, "  %-10s%s\n", "build-id", hexid(&p->id, h));
	xs_buf_printf(b, "  %-10s%s%s\n", "signer",
	              p->signer.is_signed ? p->signer.keyid : "unsigned",
	              !p->signer.is_signed ? ""
	              : p->signer.trusted  ? " (trusted key)"
	                                   : " (key not trusted)");
	xs_buf_printf(b, "  %-10s%s (%s)\n", "target", hexid(&p->target, h),
	              xs_esc(e, sizeof(e), p->mod_path));
	xs_buf_printf(b, "  %-10s%s%s\n", "depends",
	              hexid(p->depends.len ? &p->depends : &p->target, h),
	              p->depends.len && !(p->depends.len == p->target.len &&
	                                  !memcmp(p->depends.b, p->target.b, p->target.len))
	                  ? ""
	                  : " (the target)");
	xs_buf_printf(b, "  %-10s%u\n", "functions", p->l.nfuncs);
	kv_text(b, "metadata", p->modinfo, p->modinfo_len);
	kv_text(b, "params", p->params, p->params_len);
	if (p->last_act)
		xs_buf_printf(b, "  %-10s%s: %s%s%s\n", "last", act_str(p->last_act),
		              p->rc ? "failed" : "done", p->rc ? ": " : "",
		              p->rc ? xs_esc(e, sizeof(e), p->msg) : "");
}

static void funcs_text(struct xs_buf *b, const struct xsplice_payload *p)
{
	char e[512];
	for (unsigned i = 0; i < p->l.nfuncs; i++) {
		const struct xs_func *f = &p->l.funcs[i];
		const struct xs_fstate *s = &p->fs[i];
		const char *fname = xs_esc(e, sizeof(e), xs_payload_fname(p, i));
		if (f->new_addr)
			xs_buf_printf(b, "    %s: 0x%lx (%u) -> 0x%lx (%u)", fname,
			              (unsigned long)f->old_addr, f->old_size,
			              (unsigned long)f->new_addr, f->new_size);
		else
			xs_buf_printf(b, "    %s: 0x%lx (%u) NOP %u bytes", fname,
			              (unsigned long)f->old_addr, f->old_size, f->new_size);
		xs_buf_printf(b, "%s%s%s\n", (f->flags & XSPLICE_FUNC_INLINE) ? " inline" : "",
		              s->written ? " [switched]" : "",
		              s->applied && !s->written ? " [marked applied]" : "");
	}
}

static void dump_text(struct xs_buf *b, const struct xsplice_payload *p)
{
	static const char *const hk[] = {"load",         "unload",        "pre-apply",
	                                 "post-apply",   "pre-revert",    "post-revert",
	                                 "apply-action", "revert-action", "per-thread"};
	payload_text(b, p);
	xs_buf_printf(b, "  areas     RX 0x%lx+%zu  R 0x%lx+%zu  RW 0x%lx+%zu\n",
	              (unsigned long)p->areas.addr[XS_AREA_RX], p->areas.size[XS_AREA_RX],
	              (unsigned long)p->areas.addr[XS_AREA_R], p->areas.size[XS_AREA_R],
	              (unsigned long)p->areas.addr[XS_AREA_RW], p->areas.size[XS_AREA_RW]);
	xs_buf_printf(b, "  hooks    ");
	for (int h = 0; h < XS_HOOK_COUNT; h++)
		if (p->l.nhooks[h])
			xs_buf_printf(b, " %s:%u", hk[h], p->l.nhooks[h]);
	xs_buf_printf(b, "\n  symbols   %u new, .eh_frame %s, shadow variables %ld\n",
	              p->l.nsymbols,
	              p->l.eh_frame ? (p->eh_registered ? "registered" : "NOT registered") : "none",
	              xs_shadow_count_owner(p->areas.base, p->areas.base + p->areas.total));
	xs_buf_printf(b, "  funcs:\n");
	funcs_text(b, p);
}

static int report_list(int json, int dump, struct xs_buf *b)
{
	if (json) {
		xs_buf_printf(b, "{\"version\":1,");
		list_json(b, dump);
		xs_buf_printf(b, "}\n");
		return 0;
	}
	if (!xs_eng.head)
		xs_buf_printf(b, "no payloads loaded\n");
	for (const struct xsplice_payload *p = xs_eng.head; p; p = p->next)
		dump ? dump_text(b, p) : payload_text(b, p);
	return 0;
}

static int report_info(int json, struct xs_buf *b)
{
	char h[HEX_MAX], sg[32];
	struct xs_err err;
	int rc = xs_modules_refresh(&err);
	if (rc)
		return rc;
	const struct xs_module *main = xs_module_main();
	if (json) {
		xs_buf_printf(b, "{\"version\":1,\"agent_version\":\"%s\",\"pid\":%d,\"exe\":",
		              XSPLICE_VERSION, (int)getpid());
		jstr(b, main ? main->path : "");
		xs_buf_printf(b,
		              ",\"build_id\":\"%s\",\"signal\":\"%s\",\"signal_number\":%d,"
		              "\"text_write\":\"%s\",\"modules\":[",
		              main ? xs_hex_id(main->id, main->idlen, h, sizeof(h)) : "",
		              xs_signal_name(xs_quiesce_signal(), sg, sizeof(sg)),
		              xs_quiesce_signal(),
		              xs_text_uses_procmem() ? "/proc/self/mem" : "mprotect");
		for (unsigned i = 0; i < xs_modules_count(); i++) {
			const struct xs_module *m = xs_module_at(i);
			xs_buf_printf(b, "%s{\"path\":", i ? "," : "");
			jstr(b, m->path);
			xs_buf_printf(b,
			              ",\"build_id\":\"%s\",\"base\":\"0x%lx\",\"end\":\"0x%lx\"}",
			              m->idlen ? xs_hex_id(m->id, m->idlen, h, sizeof(h)) : "",
			              (unsigned long)m->lo, (unsigned long)m->hi);
		}
		xs_buf_printf(b, "]}\n");
		return 0;
	}
	char e[1024];
	xs_buf_printf(b, "xsplice agent %s in pid %d\n", XSPLICE_VERSION, (int)getpid());
	xs_buf_printf(b, "executable: %s\nbuild-id:   %s\nsignal:     %s (%d)\n",
	              main ? xs_esc(e, sizeof(e), main->path) : "?",
	              main ? xs_hex_id(main->id, main->idlen, h, sizeof(h)) : "?",
	              xs_signal_name(xs_quiesce_signal(), sg, sizeof(sg)), xs_quiesce_signal());
	xs_buf_printf(b, "modules:\n");
	for (unsigned i = 0; i < xs_modules_count(); i++) {
		const struct xs_module *m = xs_module_at(i);
		xs_buf_printf(b, "  %-40s %s\n", xs_hex_id(m->id, m->idlen, h, sizeof(h)),
		              m->path[0] ? xs_esc(e, sizeof(e), m->path) : "?");
	}
	return 0;
}

static void dump_engine(int json, struct xs_buf *b)
{
	char sg[32];
	struct xs_shadow_stat st[32];
	long n = xs_shadow_stats(st, 32);
	if (json) {
		xs_buf_printf(b,
		              ",\"engine\":{\"signal\":\"%s\",\"signal_number\":%d,"
		              "\"syscalls_restarted\":%lu,"
		              "\"last_pause_ns\":%lu,\"text_write\":\"%s\"},\"shadow\":[",
		              xs_signal_name(xs_quiesce_signal(), sg, sizeof(sg)),
		              xs_quiesce_signal(), (unsigned long)xs_quiesce_restarts(),
		              (unsigned long)xs_quiesce_last_pause_ns(),
		              xs_text_uses_procmem() ? "/proc/self/mem" : "mprotect");
		for (long i = 0; i < n; i++)
			xs_buf_printf(b, "%s{\"id\":%lu,\"count\":%zu,\"bytes\":%zu}", i ? "," : "",
			              st[i].id, st[i].count, st[i].bytes);
		xs_buf_printf(b, "]");
		return;
	}
	xs_buf_printf(b,
	              "engine: signal %s, %lu syscalls restarted, last pause %lu us, code "
	              "written through %s\n",
	              xs_signal_name(xs_quiesce_signal(), sg, sizeof(sg)),
	              (unsigned long)xs_quiesce_restarts(),
	              (unsigned long)(xs_quiesce_last_pause_ns() / 1000),
	              xs_text_uses_procmem() ? "/proc/self/mem" : "mprotect");
	if (n < 0)
		xs_buf_printf(b, "shadow variables: busy\n");
	for (long i = 0; i < n; i++)
		xs_buf_printf(b, "shadow id %lu: %zu variables, %zu bytes\n", st[i].id, st[i].count,
		              st[i].bytes);
}

static int report_dump(int json, struct xs_buf *b)
{
	if (!json) {
		dump_engine(0, b);
		return report_list(0, 1, b);
	}
	xs_buf_printf(b, "{\"version\":1,");
	list_json(b, 1);
	dump_engine(1, b);
	xs_buf_printf(b, "}\n");
	return 0;
}

int xs_engine_report(enum xs_report what, int json, struct xs_buf *out)
{
	switch (what) {
	case XS_REPORT_LIST:
		return report_list(json, 0, out);
	case XS_REPORT_INFO:
		return report_info(json, out);
	case XS_REPORT_DUMP:
		return report_dump(json, out);
	case XS_REPORT_HISTORY:
		return xs_history_report(json, out);
	}
	return -EINVAL;
}
