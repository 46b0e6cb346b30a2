/*
 * Patches that survive restarts: when the agent starts in a new process
 * (a restarted service, an exec'd program, a new worker), it applies the
 * patch store's payloads whose target is a module of this process before
 * main() runs (src/common/store.h says where the store is and what makes
 * it trusted).
 *
 * Each stored payload NAME is uploaded as "store:NAME"; one whose target
 * build-id no module here has is skipped silently (the store serves every
 * program on the machine).  The uploaded ones are applied in rounds, so that
 * a payload stacked on another (its build-id chain) is applied once the one
 * below it is; what still cannot be applied is unloaded again and named on
 * stderr.  A forked child keeps what its parent had; a library dlopen'ed
 * later gets its stored payloads at the next `xsplice sync`.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/engine.h"
#include "agent/persist.h"
#include "agent/server.h"
#include "common/proto.h"
#include "common/store.h"

#define MAX_STORED 512

struct pending {
	char name[XS_PROTO_NAME_MAX + 1];
	int applied;
	struct xs_err err;
};

static int upload_one(const char *dir, const char *file, const char *name, struct pending *p)
{
	char path[4096 + 256 + 2], why[512];
	void *data;
	size_t len;
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	int rc =
	    xs_store_read(path, geteuid(), XS_PROTO_PAYLOAD_MAX, &data, &len, why, sizeof(why));
	if (rc) {
		xs_agent_diag("stored payload %s not applied: %s", name, why);
		return rc;
	}
	struct xs_err err = {0};
	snprintf(p->name, sizeof(p->name), "%s%s", XS_STORE_PREFIX, name);
	rc = xs_engine_upload(p->name, data, len, NULL, 0, &err);
	free(data);
	/* another program's payload, or this one is here already (fork+exec
	 * keeps nothing, so only a duplicate in the store): not an error */
	if (rc && rc != -ENOEXEC && rc != -EEXIST)
		xs_agent_diag("stored payload %s not applied: %s", name, err.msg);
	return rc;
}

static void apply_rounds(struct pending *v, unsigned n)
{
	unsigned left = n;
	int progress = 1;
	while (left && progress) {
		progress = 0;
		for (unsigned i = 0; i < n; i++) {
			if (v[i].applied)
				continue;
			memset(&v[i].err, 0, sizeof(v[i].err));
			int rc = xs_engine_action(v[i].name, XS_ACT_APPLY, NULL, &v[i].err);
			if (rc >= 0) {
				v[i].applied = 1;
				left--;
				progress = 1;
			}
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (v[i].applied)
			continue;
		struct xs_err e = {0};
		xs_agent_diag("stored payload %s not applied: %s", v[i].name + XS_STORE_PREFIX_LEN,
		              v[i].err.msg);
		xs_engine_action(v[i].name, XS_ACT_UNLOAD, NULL, &e);
	}
}

void xs_persist_apply_store(void)
{
	char dir[4096], why[512], name[XS_STORE_NAME_MAX + 1];
	if (xs_store_dir(dir, sizeof(dir)))
		return;
	int rc = xs_store_check_trusted(dir, 1, geteuid(), why, sizeof(why));
	if (rc) {
		if (rc != -ENOENT)
			xs_agent_diag("the patch store is not trusted, nothing applied from it: %s",
			              why);
		return;
	}
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct pending *v = calloc(MAX_STORED, sizeof(*v));
	unsigned n = 0;
	struct dirent *e;
	xs_server_lock();
	while (v && n < MAX_STORED && (e = readdir(d)))
		if (!xs_store_entry_name(e->d_name, name, sizeof(name)) &&
		    !upload_one(dir, e->d_name, name, &v[n]))
			n++;
	closedir(d);
	if (v)
		apply_rounds(v, n);
	xs_server_unlock();
	free(v);
}
