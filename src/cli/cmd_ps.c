/*
 * ps: the processes that carry an agent.  A process counts when
 * libxsplice.so is mapped in it (/proc/PID/maps, readable for our own
 * processes or as root), or when it has a live control socket in one of
 * our socket directories.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xsplice/ctl.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/sockdir.h"
#include "ctl/inject.h"

struct proc {
	pid_t pid;
	char exe[PATH_MAX];
	char build_id[2 * 64 + 1];
	char socket[4400];
	int attachable; /* --all: no agent, but `attach` may bring one */
};

/* Is a file called libxsplice.so (or libxsplice.so.N) mapped in pid? */
static int maps_agent(pid_t pid)
{
	char path[64], line[PATH_MAX + 128];
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	int found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *slash = strrchr(line, '/');
		if (slash && !strncmp(slash, "/libxsplice.so", 14) &&
		    (slash[14] == '\n' || slash[14] == '.' || slash[14] == ' '))
			found = 1;
	}
	fclose(f);
	return found;
}

static void describe(struct proc *p)
{
	char link[64];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)p->pid);
	ssize_t n = readlink(link, p->exe, sizeof(p->exe) - 1);
	p->exe[n > 0 ? n : 0] = '\0';
	if (cli_build_id(link, p->build_id, sizeof(p->build_id)))
		p->build_id[0] = '\0';
	if (xsctl_locate(p->pid, p->socket, sizeof(p->socket)))
		p->socket[0] = '\0';
}

static int is_pid_name(const char *s)
{
	for (const char *q = s; *q; q++)
		if (!isdigit((unsigned char)*q))
			return 0;
	return s[0] != '\0';
}

static int has_pid(const struct proc *v, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].pid == pid)
			return 1;
	return 0;
}

static int add(struct proc **v, size_t *n, pid_t pid)
{
	struct proc *nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return -1;
	*v = nv;
	memset(&nv[*n], 0, sizeof(nv[*n]));
	nv[*n].pid = pid;
	describe(&nv[(*n)++]);
	return 0;
}

/* A socket file can outlive its agent (exec, _exit): ask it. */
static int answers(const char *dir, const char *file)
{
	char path[4096 + 256 + 2];
	snprintf(path, sizeof(path), "%.4096s/%.255s", dir, file);
	xsctl *h = xsctl_new();
	int ok = h && xsctl_attach_path(h, path) >= 0;
	xsctl_free(h);
	return ok;
}

/* Remove the stale sockets (of processes gone) of one of our directories,
 * when it passes the checks a client makes. */
static void sweep(const char *dir)
{
	char norm[4096], why[1024];
	if (!dir[0] || xs_sockdir_normalize(dir, norm, sizeof(norm), why, sizeof(why)))
		return;
	int root = open("/", O_PATH | O_CLOEXEC);
	int fd = root < 0 ? -1 : xs_sockdir_open(root, norm, geteuid(), 0, 0, why, sizeof(why));
	if (root >= 0)
		close(root);
	if (fd >= 0) {
		xs_sockdir_sweep(fd);
		close(fd);
	}
}

/* Sockets <pid>.sock of live processes in our own socket directories. */
static void scan_sockdirs(struct proc **v, size_t *n)
{
	char dirs[2][4096] = {"", ""};
	const char *env = getenv(XS_SOCKDIR_ENV);
	snprintf(dirs[0], sizeof(dirs[0]), "%s", env ? env : "");
	xs_sockdir_default(dirs[1], sizeof(dirs[1]), geteuid(), getenv("XDG_RUNTIME_DIR"));
	for (int d = 0; d < 2; d++) {
		sweep(dirs[d]);
		DIR *dir = dirs[d][0] ? opendir(dirs[d]) : NULL;
		struct dirent *e;
		while (dir && (e = readdir(dir))) {
			char *end;
			long pid = strtol(e->d_name, &end, 10);
			char proc[64];
			if (strcmp(end, ".sock") || pid <= 0 || has_pid(*v, *n, (pid_t)pid))
				continue;
			snprintf(proc, sizeof(proc), "/proc/%ld", pid);
			if (!access(proc, F_OK) && pid != getpid() && answers(dirs[d], e->d_name))
				add(v, n, (pid_t)pid);
		}
		if (dir)
			closedir(dir);
	}
}

static int by_pid(const void *a, const void *b)
{
	const struct proc *x = a, *y = b;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

static void print_json(const struct proc *v, size_t n, int all)
{
	struct xs_buf b;
	xs_buf_init(&b);
	xs_buf_printf(&b, "{\"version\": 1, \"processes\": [");
	for (size_t i = 0; i < n; i++) {
		xs_buf_printf(&b, "%s\n  {\"pid\": %d, \"exe\": ", i ? "," : "", (int)v[i].pid);
		xs_buf_json_str(&b, v[i].exe, strlen(v[i].exe));
		xs_buf_printf(&b, ", \"build_id\": ");
		xs_buf_json_str(&b, v[i].build_id, strlen(v[i].build_id));
		xs_buf_printf(&b, ", \"socket\": ");
		if (v[i].socket[0])
			xs_buf_json_str(&b, v[i].socket, strlen(v[i].socket));
		else
			xs_buf_printf(&b, "null");
		if (all)
			xs_buf_printf(&b, ", \"agent\": %s", v[i].attachable ? "false" : "true");
		xs_buf_printf(&b, "}");
	}
	xs_buf_printf(&b, "%s]}\n", n ? "\n" : "");
	fwrite(b.data, 1, b.len, stdout);
	xs_buf_free(&b);
}

static void print_text(const struct proc *v, size_t n, int all)
{
	if (!n) {
		printf(all ? "No process with an xsplice agent or one may attach to found.\n"
		           : "No process with an xsplice agent found.\n");
		return;
	}
	if (all)
		printf("%-8s %-6s %-40s %s\n", "PID", "AGENT", "BUILD-ID", "EXECUTABLE");
	else
		printf("%-8s %-40s %s\n", "PID", "BUILD-ID", "EXECUTABLE");
	for (size_t i = 0; i < n; i++) {
		printf("%-8d ", (int)v[i].pid);
		if (all)
			printf("%-6s ", v[i].attachable ? "no" : "yes");
		printf("%-40s %s\n", v[i].build_id[0] ? v[i].build_id : "-",
		       v[i].exe[0] ? v[i].exe : "?");
	}
}

/* --all: the processes without an agent that `attach` would accept. */
static void scan_attachable(struct proc **v, size_t *n)
{
	char agent[PATH_MAX], why[512];
	if (cli_find_agent(agent, sizeof(agent)))
		return;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		pid_t pid = is_pid_name(e->d_name) ? (pid_t)strtol(e->d_name, NULL, 10) : 0;
		if (pid <= 0 || pid == getpid() || has_pid(*v, *n, pid) || xs_has_agent(pid) != 0 ||
		    xs_attach_check(pid, agent, why, sizeof(why)))
			continue;
		if (!add(v, n, pid))
			(*v)[*n - 1].attachable = 1;
	}
	if (d)
		closedir(d);
}

int cmd_ps(struct cli *c)
{
	struct proc *v = NULL;
	size_t n = 0;
	DIR *d = opendir("/proc");
	if (!d) {
		cli_err("cannot read /proc: %s", strerror(errno));
		return EXIT_ERROR;
	}
	struct dirent *e;
	pid_t self = getpid();
	while ((e = readdir(d))) {
		if (!is_pid_name(e->d_name))
			continue;
		pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
		if (pid != self && maps_agent(pid))
			add(&v, &n, pid);
	}
	closedir(d);
	scan_sockdirs(&v, &n);
	if (c->all)
		scan_attachable(&v, &n);
	qsort(v, n, sizeof(*v), by_pid);
	if (c->json)
		print_json(v, n, c->all);
	else
		print_text(v, n, c->all);
	free(v);
	return EXIT_DONE;
}
