/*
 * xsplice-diff: the object differ behind xsplice-build.
 *
 *   xsplice-diff [--aligned ALIGNED.o] [--report FILE] ORIG.o PATCHED.o -o OUT.o
 *   xsplice-diff --check-target TARGET OBJ...
 *
 * Exit status: 0 an object was written (something changed), 3 nothing to
 * patch, 2 the change cannot be live-patched (the report says why), 1 error.
 */
#include "build/diff/diff.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: xsplice-diff [options] ORIG.o PATCHED.o -o OUT.o\n"
	        "       xsplice-diff --check-target TARGET OBJ...\n"
	        "\n"
	        "Compare an object built from the original source with the same object built\n"
	        "from the patched source, and write OUT.o: the changed and new functions and\n"
	        "data, an .xsplice.funcs entry per replaced function, and references to\n"
	        "everything else as symbols of the target, for xsplice-pack.\n"
	        "ORIG.o may be /dev/null for a source file the patch adds.\n"
	        "\n"
	        "  -o, --output OUT.o      where to write the result\n"
	        "  -a, --aligned OBJ       PATCHED built with the original line numbers (see\n"
	        "                          xsplice-build): functions equal there are\n"
	        "                          __LINE__-only changes and are not patched\n"
	        "  -r, --report FILE       append the report as tab-separated lines\n"
	        "  -l, --label NAME        name of the object in the report (default PATCHED.o)\n"
	        "  -c, --check-target TGT  check that TGT contains the code of OBJ...; prints\n"
	        "                          \"member\\tOBJ\" or \"absent\\tOBJ\" per object\n"
	        "  -g, --debug-file FILE   TGT's separate debug file (for a stripped TGT)\n"
	        "  -q, --quiet             no report on stdout\n"
	        "  -v, --verbose           say more\n"
	        "  -h, --help\n"
	        "\n"
	        "Exit status: 0 changed (OUT.o written), 3 no change, 2 refused, 1 error.\n");
}

static int empty_obj(struct df_obj *o, struct xs_err *err)
{
	memset(o, 0, sizeof(*o));
	o->path = "/dev/null";
	o->is_orig = 1;
	o->file = "";
	o->nsecs = o->nsyms = 1;
	o->secs = calloc(1, sizeof(*o->secs));
	o->syms = calloc(1, sizeof(*o->syms));
	o->syms[0].name = "";
	return o->secs && o->syms ? 0 : xs_err_set(err, -ENOMEM, "out of memory");
}

static int load(struct df_obj *o, const char *path, int is_orig, struct xs_err *err)
{
	int rc = is_orig && strcmp(path, "/dev/null") == 0 ? empty_obj(o, err)
	                                                   : df_load(o, path, is_orig, err);
	return rc ? rc : df_classify(o, err);
}

static int diff(struct df_ctx *c, const char *orig, const char *patched, const char *aligned,
                struct xs_err *err)
{
	int rc = load(&c->orig, orig, 1, err);
	if (!rc)
		rc = load(&c->patched, patched, 0, err);
	if (!rc && aligned) {
		c->have_aligned = 1;
		rc = load(&c->aligned, aligned, 0, err);
		/* the aligned build first: correlation pointers are per pair */
		if (!rc)
			rc = df_correlate(&c->orig, &c->aligned, err);
		if (!rc)
			rc = df_compare(&c->orig, &c->aligned, err);
	}
	if (!rc)
		rc = df_correlate(&c->orig, &c->patched, err);
	if (!rc)
		rc = df_compare(&c->orig, &c->patched, err);
	if (!rc)
		rc = df_plan(c, err);
	return rc;
}

static int included_anything(const struct df_ctx *c)
{
	for (size_t i = 1; i < c->patched.nsecs; i++)
		if (c->patched.secs[i].include &&
		    (c->patched.secs[i].kind == DK_TEXT || c->patched.secs[i].kind == DK_DATA ||
		     c->patched.secs[i].kind == DK_XSPLICE))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"output", required_argument, 0, 'o'},
	    {"aligned", required_argument, 0, 'a'},
	    {"report", required_argument, 0, 'r'},
	    {"label", required_argument, 0, 'l'},
	    {"check-target", required_argument, 0, 'c'},
	    {"debug-file", required_argument, 0, 'g'},
	    {"quiet", no_argument, 0, 'q'},
	    {"verbose", no_argument, 0, 'v'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	const char *out = NULL, *aligned = NULL, *report = NULL, *label = NULL, *target = NULL;
	const char *debug_file = NULL;
	int quiet = 0, verbose = 0, opt;
	while ((opt = getopt_long(argc, argv, "o:a:r:l:c:g:qvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case 'a':
			aligned = optarg;
			break;
		case 'r':
			report = optarg;
			break;
		case 'l':
			label = optarg;
			break;
		case 'c':
			target = optarg;
			break;
		case 'g':
			debug_file = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return DF_EXIT_ERROR;
		}
	}
	struct xs_err err = {0};
	if (target) {
		if (optind >= argc) {
			fprintf(stderr,
			        "xsplice-diff: --check-target needs the objects to check\n");
			return DF_EXIT_ERROR;
		}
		int rc = df_check_target(target, debug_file, argv + optind, (size_t)(argc - optind),
		                         verbose, stdout, &err);
		if (rc)
			fprintf(stderr, "xsplice-diff: %s\n", err.msg);
		return rc == -EBADMSG ? DF_EXIT_REFUSED : rc ? DF_EXIT_ERROR : 0;
	}
	if (argc - optind != 2 || !out) {
		usage(stderr);
		return DF_EXIT_ERROR;
	}
	const char *orig = argv[optind], *patched = argv[optind + 1];
	if (!label)
		label = patched;
	struct df_ctx c = {.verbose = verbose};
	int status = DF_EXIT_CHANGED;
	int rc = diff(&c, orig, patched, aligned, &err);
	if (rc) {
		fprintf(stderr, "xsplice-diff: %s\n", err.msg);
		status = DF_EXIT_ERROR;
	} else if (df_count(&c.rep, DN_REFUSED)) {
		status = DF_EXIT_REFUSED;
	} else if (!included_anything(&c)) {
		status = DF_EXIT_NOCHANGE;
	} else if ((rc = df_emit(&c, out, &err))) {
		fprintf(stderr, "xsplice-diff: %s\n", err.msg);
		status = DF_EXIT_ERROR;
	}
	if (!quiet)
		df_report_print(&c.rep, label, status == DF_EXIT_REFUSED ? stderr : stdout);
	if (status == DF_EXIT_NOCHANGE && !quiet)
		printf("%s: no change to patch\n", label);
	if (report && status != DF_EXIT_ERROR &&
	    (rc = df_report_write(&c.rep, label, report, &err))) {
		fprintf(stderr, "xsplice-diff: %s\n", err.msg);
		status = DF_EXIT_ERROR;
	}
	df_report_free(&c.rep);
	for (size_t i = 0; i < c.next_vars; i++)
		free(c.ext_vars[i]);
	free(c.ext_vars);
	df_free(&c.orig);
	df_free(&c.patched);
	if (c.have_aligned)
		df_free(&c.aligned);
	return status;
}
