/*
 * xsplice patch SDK — what a hand-written payload includes.
 *
 * A payload source file declares the target functions it replaces (as
 * ordinary extern prototypes), defines the replacements, and says which
 * replaces which:
 *
 *     #include <xsplice/patch.h>
 *     extern int parse_request(const char *line);        // in the target
 *     static int parse_request_fixed(const char *line) { ... }
 *     XSPLICE_REPLACE(parse_request, parse_request_fixed);
 *     XSPLICE_META(description, "bound the version query");
 *
 * Then `cc -c -fPIC -ffunction-sections -fdata-sections -O2 fix.c` and
 * `xsplice-pack -t ./server -o fix.xsplice fix.o`.  The payload may call
 * and reference any function or variable of the target, file-local ones
 * included; name a file-local symbol that is not unique with
 * XSPLICE_LOCAL().  See docs/payload-format.md and examples/.
 */
#ifndef XSPLICE_PATCH_H
#define XSPLICE_PATCH_H

#include <stddef.h>
#include <stdint.h>
#include <xsplice/payload.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XSPLICE_CAT_(a, b) a##b
#define XSPLICE_CAT(a, b) XSPLICE_CAT_(a, b)
#define XSPLICE_UNIQUE(prefix) XSPLICE_CAT(prefix, __COUNTER__)
#define XSPLICE_STR_(x) #x
#define XSPLICE_STR(x) XSPLICE_STR_(x)

/* Same layout as struct xsplice_func, with pointer members so that a static
 * initializer can take addresses.  Never use it directly. */
struct xsplice_func_init {
	const char *name;
	const void *new_addr;
	const void *old_addr;
	uint32_t new_size;
	uint32_t old_size;
	uint8_t version;
	uint8_t flags;
	uint8_t reserved0[2];
	struct xsplice_expect expect;
	uint8_t reserved1[10];
};
#ifndef __cplusplus
_Static_assert(sizeof(struct xsplice_func_init) == sizeof(struct xsplice_func), "SDK layout");
#endif

#define XSPLICE_USED_IN(sec) __attribute__((section(sec), used, aligned(8)))

#define XSPLICE_FUNC_ENTRY_(id, nm, oldp, newp, nsz, flg, exp_on, exp_bytes, exp_len)          \
	static struct xsplice_func_init id XSPLICE_USED_IN(XSPLICE_SEC_FUNCS) = {              \
		.name = nm,                                                                    \
		.new_addr = (const void *)(newp),                                              \
		.old_addr = (const void *)(oldp),                                              \
		.new_size = (nsz),                                                             \
		.old_size = 0,                                                                 \
		.version = XSPLICE_FUNC_VERSION,                                               \
		.flags = (flg),                                                                \
		.reserved0 = {0},                                                              \
		.expect = {.enabled = (exp_on), .len = (exp_len), .data = exp_bytes,          \
			   .reserved = 0},                                                     \
		.reserved1 = {0},                                                              \
	}

/*
 * Replace target function `old` by payload function `new`.  Both sizes are
 * filled in by xsplice-pack (old from the target's symbol table, new from the
 * payload's).  Calls to `old` from anywhere in the process land in `new`
 * once the payload is applied.
 */
#define XSPLICE_REPLACE(old, new)                                                               \
	XSPLICE_FUNC_ENTRY_(XSPLICE_UNIQUE(xsplice_func_), #old, &(old), &(new), 0, 0, 0, {0}, 0)

/*
 * As XSPLICE_REPLACE, and refuse to apply unless the first `len` (≤ 31)
 * bytes at `old` are exactly `bytes` (a string literal such as
 * "\x55\x48\x89\xe5"): defence in depth against patching the wrong code.
 */
#define XSPLICE_REPLACE_EXPECT(old, new, bytes, len)                                            \
	XSPLICE_FUNC_ENTRY_(XSPLICE_UNIQUE(xsplice_func_), #old, &(old), &(new), 0, 0, 1, bytes, len)

/*
 * NOP patch: the `len` (≤ 31) bytes at `old` + `offset` become NOPs.  An
 * expectation of `len` bytes is required when offset is not 0.
 */
#define XSPLICE_NOP(old, offset, len, bytes)                                                    \
	XSPLICE_FUNC_ENTRY_(XSPLICE_UNIQUE(xsplice_func_), #old, (const char *)&(old) + (offset),  \
			    0, len, (offset) ? XSPLICE_FUNC_INLINE : 0, 1, bytes, len)

/*
 * Inline patch: a jump to `new` is written at `old` + `offset`, inside the
 * function.  The expected bytes (≥ 5) must match what is there.  `new` must
 * be written to continue correctly (typically hand-written assembly that
 * jumps back).
 */
#define XSPLICE_INLINE(old, offset, new, bytes, len)                                            \
	XSPLICE_FUNC_ENTRY_(XSPLICE_UNIQUE(xsplice_func_), #old "+" XSPLICE_STR(offset),           \
			    (const char *)&(old) + (offset), &(new), 0, XSPLICE_FUNC_INLINE, 1, bytes, len)

/*
 * Symbol hints for xsplice-pack, never loaded.
 *
 * XSPLICE_LOCAL(sym, "file.c"): the undefined symbol `sym` of this payload is
 * the file-local (static) `sym` defined in the target's source file
 * "file.c" (the STT_FILE name, or a path ending in it).
 *
 * XSPLICE_TARGET_SYMBOL(alias, "file.c#symbol"): the undefined symbol `alias`
 * is the target's `symbol` (optionally scoped to a file): use it to reach a
 * target symbol whose name the payload defines itself.
 */
#define XSPLICE_TARGET_SYMBOL(alias, spec)                                                      \
	static const char XSPLICE_UNIQUE(xsplice_hint_)[]                                      \
		__attribute__((section(XSPLICE_SEC_SYMHINTS), used, aligned(1))) = #alias "\0" spec
#define XSPLICE_LOCAL(sym, file) XSPLICE_TARGET_SYMBOL(sym, file "#" #sym)

/* Metadata: .modinfo "key=value" (name, version, description, cve, ...). */
#define XSPLICE_META(key, value)                                                                \
	static const char XSPLICE_UNIQUE(xsplice_modinfo_)[]                                   \
		__attribute__((section(XSPLICE_SEC_MODINFO), used, aligned(1))) = #key "=" value

/* ---- hooks and the payload context --------------------------------------- */

/*
 * Hooks are code the payload runs inside the target, with the target's
 * privileges and in its address space, exactly like the replacement
 * functions: nothing sandboxes them.  A hook that crashes (SIGSEGV, abort,
 * an endless loop inside the quiesce window) takes the process down with
 * it, as a crashing hook takes the hypervisor down in Xen.  The agent checks
 * what it can before running one (the payload is verified and linked, every
 * hook slot is a relocated pointer), not what it does.  Only
 * the process's user and root can upload a payload (docs/security.md).
 */

/* Opaque handle for the payload a hook runs for. */
struct xsplice_payload;

typedef void (*xsplice_hook_fn)(void);
typedef int (*xsplice_pre_hook_fn)(struct xsplice_payload *);
typedef void (*xsplice_post_hook_fn)(struct xsplice_payload *);
typedef int (*xsplice_action_hook_fn)(struct xsplice_payload *);

#define XSPLICE_HOOK_(sec, type, fn)                                                            \
	static type XSPLICE_UNIQUE(xsplice_hook_) XSPLICE_USED_IN(sec) = (fn)

/* load / unload: void fn(void), inside the quiesce window, when the payload
 * is applied / reverted (every other thread is parked: no locks, no malloc) */
#define XSPLICE_LOAD_HOOK(fn) XSPLICE_HOOK_(XSPLICE_SEC_HOOK_LOAD, xsplice_hook_fn, fn)
#define XSPLICE_UNLOAD_HOOK(fn) XSPLICE_HOOK_(XSPLICE_SEC_HOOK_UNLOAD, xsplice_hook_fn, fn)
/* pre-apply / pre-revert: int fn(struct xsplice_payload *), before the
 * window; non-zero vetoes the action (return a negative errno) */
#define XSPLICE_PREAPPLY_HOOK(fn) XSPLICE_HOOK_(XSPLICE_SEC_HOOK_PREAPPLY, xsplice_pre_hook_fn, fn)
#define XSPLICE_PREREVERT_HOOK(fn) XSPLICE_HOOK_(XSPLICE_SEC_HOOK_PREREVERT, xsplice_pre_hook_fn, fn)
/* post-apply / post-revert: void fn(struct xsplice_payload *), after release;
 * xsplice_payload_rc() tells the result */
#define XSPLICE_POSTAPPLY_HOOK(fn) XSPLICE_HOOK_(XSPLICE_SEC_HOOK_POSTAPPLY, xsplice_post_hook_fn, fn)
#define XSPLICE_POSTREVERT_HOOK(fn) XSPLICE_HOOK_(XSPLICE_SEC_HOOK_POSTREVERT, xsplice_post_hook_fn, fn)
/* apply / revert action: int fn(struct xsplice_payload *), replaces the
 * built-in routine inside the window; it marks each function applied or not
 * (xsplice_func_apply / xsplice_func_revert / xsplice_func_set_applied) */
#define XSPLICE_APPLY_HOOK(fn) XSPLICE_HOOK_(XSPLICE_SEC_HOOK_APPLY, xsplice_action_hook_fn, fn)
#define XSPLICE_REVERT_HOOK(fn) XSPLICE_HOOK_(XSPLICE_SEC_HOOK_REVERT, xsplice_action_hook_fn, fn)
/* per-thread action: void fn(void), run once on every thread of the process
 * inside the quiesce window after the functions are switched */
#define XSPLICE_PER_THREAD(fn) XSPLICE_HOOK_(XSPLICE_SEC_PERTHREAD, xsplice_hook_fn, fn)

/*
 * Runtime services, exported by the agent (libxsplice.so).  Payload code
 * calls them like any other function; the agent's linker resolves them.
 */
#ifndef XSPLICE_API
#ifdef XSPLICE_WEAK_API
/* xsplice-cc defines XSPLICE_WEAK_API under xsplice-build: the project's own
 * link of a patched source that calls the agent then succeeds (the binary is
 * never run); the payload resolves the calls against the agent at load. */
#define XSPLICE_API __attribute__((weak, visibility("default")))
#else
#define XSPLICE_API __attribute__((visibility("default")))
#endif
#endif

XSPLICE_API const char *xsplice_payload_name(const struct xsplice_payload *p);
/* result of the action in progress or just finished (0 or negative errno) */
XSPLICE_API int xsplice_payload_rc(const struct xsplice_payload *p);
XSPLICE_API unsigned xsplice_payload_nfuncs(const struct xsplice_payload *p);
XSPLICE_API const char *xsplice_func_name(const struct xsplice_payload *p, unsigned i);
XSPLICE_API int xsplice_func_applied(const struct xsplice_payload *p, unsigned i);
XSPLICE_API void xsplice_func_set_applied(struct xsplice_payload *p, unsigned i, int applied);
/* the built-in per-function switch, for the payload's own apply / revert
 * action hooks only (anywhere else: -EPERM): 0 or negative errno.  An action
 * hook returns 0 or a negative errno; a positive value counts as -ECANCELED. */
XSPLICE_API int xsplice_func_apply(struct xsplice_payload *p, unsigned i);
XSPLICE_API int xsplice_func_revert(struct xsplice_payload *p, unsigned i);
/* module parameters given at upload (`xsplice upload NAME FILE key=value`) */
XSPLICE_API const char *xsplice_payload_param(const struct xsplice_payload *p, const char *key);
/* the same, for the payload whose code calls it (NULL outside payload code) */
XSPLICE_API const char *xsplice_param(const char *key);

#ifdef __cplusplus
}
#endif
#endif /* XSPLICE_PATCH_H */
