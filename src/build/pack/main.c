/*
 * xsplice-pack: pack payload objects for one exact target binary.
 *
 *   xsplice-pack -t TARGET -o OUT.xsplice [options] OBJ.o...
 *
 * See man/xsplice-pack.1 and pack.h for the steps.
 */
#include "build/pack/pack.h"
#include "build/sign/sign.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: xsplice-pack -t TARGET -o OUT.xsplice [options] OBJ.o...\n"
    "\n"
    "Link payload objects (ld -r), resolve their references to TARGET's symbols\n"
    "(static ones included), fill the function table, add the build-id notes and\n"
    "write a verified payload for exactly that TARGET build.\n"
    "\n"
    "  -t, --target FILE      the executable or shared library to patch (unstripped,\n"
    "                         or with a separate debug file); needs a GNU build-id\n"
    "  -o, --output FILE      the payload to write\n"
    "      --debug-file FILE  read TARGET's symbols from this separate debug file\n"
    "      --debug-dir DIR    where separate debug files live (default /usr/lib/debug)\n"
    "      --depends ID|FILE  the payload must be applied on top of this one (a hex\n"
    "                         build-id or a payload file)\n"
    "      --meta KEY=VALUE   add a .modinfo string (repeatable)\n"
    "      --sign KEY         sign the payload with this xsplice-sign secret key\n"
    "  -v, --verbose          say what each symbol resolved to, and why\n"
    "  -h, --help             this text\n"
    "      --version          print the version\n"
    "\n"
    "Environment: LD, the linker to run (default ld).\n";

void pk_verbose(const struct pk_ctx *c, const char *fmt, ...)
{
	if (!c->opt.verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("xsplice-pack: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("xsplice-pack: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

enum { OPT_DEBUG = 256, OPT_DEBUG_DIR, OPT_DEPENDS, OPT_META, OPT_VERSION, OPT_SIGN };

static int parse_args(int argc, char **argv, struct pk_opts *o)
{
	static const struct option longs[] = {
	    {"target", required_argument, NULL, 't'},
	    {"output", required_argument, NULL, 'o'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"debug-file", required_argument, NULL, OPT_DEBUG},
	    {"debug-dir", required_argument, NULL, OPT_DEBUG_DIR},
	    {"depends", required_argument, NULL, OPT_DEPENDS},
	    {"meta", required_argument, NULL, OPT_META},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {"sign", required_argument, NULL, OPT_SIGN},
	    {NULL, 0, NULL, 0},
	};
	o->meta = calloc((size_t)argc, sizeof(*o->meta));
	if (!o->meta)
		return die("out of memory");
	int ch;
	while ((ch = getopt_long(argc, argv, "t:o:vh", longs, NULL)) != -1) {
		switch (ch) {
		case 't':
			o->target = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case OPT_DEBUG:
			o->debug_file = optarg;
			break;
		case OPT_DEBUG_DIR:
			o->debug_dir = optarg;
			break;
		case OPT_DEPENDS:
			o->depends = optarg;
			break;
		case OPT_META: {
			const char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg)
				return die("--meta %s: want KEY=VALUE", optarg);
			o->meta[o->nmeta++] = optarg;
			break;
		}
		case OPT_SIGN:
			o->sign_key = optarg;
			break;
		case OPT_VERSION:
			printf("xsplice-pack %s\n", XSPLICE_VERSION);
			exit(0);
		default:
			fputs(usage, stderr);
			return 1;
		}
	}
	if (!o->target || !o->out || optind >= argc)
		return die("need -t TARGET, -o OUT and at least one object (see --help)");
	o->objs = argv + optind;
	o->nobjs = (size_t)(argc - optind);
	return 0;
}

/* The target must be the payload's architecture and carry a build-id. */
static int check_target(struct pk_ctx *c, struct xs_err *err)
{
	const struct xt_target *t = &c->tgt;
	if (t->machine != EM_X86_64 || t->elfclass != ELFCLASS64)
		return xs_err_set(err, -ENOEXEC, "%s is %s%s, payload objects are x86-64", t->path,
		                  xt_machine_name(t->machine),
		                  t->elfclass == ELFCLASS32 ? " (32-bit)" : "");
	if (!t->build_id_len)
		return xs_err_set(err, -ENOEXEC,
		                  "%s has no GNU build-id, so a payload cannot name it: relink it "
		                  "with -Wl,--build-id",
		                  t->path);
	if (t->syms_from == XT_SYMS_DYNSYM)
		fprintf(stderr,
		        "xsplice-pack: warning: %s has no .symtab and no separate debug "
		        "file was found: using .dynsym only, so its static functions and variables "
		        "cannot be resolved (pack against the unstripped binary or give "
		        "--debug-file)\n",
		        t->path);
	char hex[2 * XSPLICE_BUILD_ID_MAX + 1];
	pk_verbose(c, "target %s, build-id %s, symbols from %s\n", t->path,
	           xt_hex(t->build_id, t->build_id_len, hex), xt_syms_from_name(t));
	return 0;
}

/* ld -r into a temporary file, then load it. */
static int link_objects(struct pk_ctx *c, struct xs_err *err)
{
	const char *dir = getenv("TMPDIR");
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s/xsplice-pack.XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(tmp);
	if (fd < 0)
		return xs_err_set(err, -errno, "cannot create %s: %s", tmp, strerror(errno));
	close(fd);
	int rc = pk_ld(&c->opt, tmp, err);
	if (rc == 0)
		rc = pk_obj_load(&c->obj, tmp, err);
	unlink(tmp);
	return rc;
}

static int pack(struct pk_ctx *c, struct xs_err *err)
{
	struct xt_opts xo = {.debug_file = c->opt.debug_file,
	                     .debug_root = c->opt.debug_dir,
	                     .log = c->opt.verbose ? stderr : NULL};
	int rc = pk_check_inputs(&c->opt, err);
	if (rc == 0)
		rc = pk_parse_depends(c, err);
	if (rc == 0)
		rc = xt_open(&c->tgt, c->opt.target, &xo, err);
	if (rc)
		return rc;
	rc = check_target(c, err);
	if (rc == 0)
		rc = link_objects(c, err);
	if (rc == 0)
		rc = pk_resolve(c, err);
	if (rc == 0)
		rc = pk_funcs(c, err);
	if (rc == 0)
		rc = pk_emit(c, err);
	if (rc == 0 && c->opt.sign_key) {
		char id[17], msg[sizeof(err->msg)];
		if (xs_sign_file(c->opt.sign_key, c->opt.out, id, msg, sizeof(msg))) {
			unlink(c->opt.out);
			return xs_err_set(err, -EPERM, "%s (nothing written)", msg);
		}
		pk_verbose(c, "signed with key %s\n", id);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct pk_ctx c;
	memset(&c, 0, sizeof(c));
	if (parse_args(argc, argv, &c.opt))
		return 1;
	struct xs_err err = {0};
	int rc = pack(&c, &err);
	if (rc)
		die("%s", err.msg[0] ? err.msg : strerror(-rc));
	else
		pk_verbose(&c, "wrote %s\n", c.opt.out);
	pk_obj_free(&c.obj);
	xt_close(&c.tgt);
	free(c.resolved);
	free(c.opt.meta);
	return rc ? 1 : 0;
}
