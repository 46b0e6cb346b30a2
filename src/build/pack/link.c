/*
 * The payload objects: check each one, then `ld -r` them into one.
 */
#include "build/pack/pack.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int check_object(const char *path, struct xs_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return xs_err_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
	elf_version(EV_CURRENT);
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	GElf_Ehdr eh;
	int rc = 0;
	if (!e || elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh))
		rc = xs_err_set(err, -ENOEXEC, "%s is not an ELF object file", path);
	else if (eh.e_type != ET_REL)
		rc = xs_err_set(err, -ENOEXEC,
		                "%s is not a relocatable object (ELF type %u): give the .o files "
		                "compiled with -c",
		                path, eh.e_type);
	else if (eh.e_machine != EM_X86_64 || gelf_getclass(e) != ELFCLASS64)
		rc = xs_err_set(err, -ENOEXEC, "%s is %s%s; xsplice payloads are x86-64", path,
		                xt_machine_name(eh.e_machine),
		                gelf_getclass(e) == ELFCLASS32 ? " (32-bit)" : "");
	if (e)
		elf_end(e);
	close(fd);
	return rc;
}

int pk_check_inputs(const struct pk_opts *opt, struct xs_err *err)
{
	for (size_t i = 0; i < opt->nobjs; i++) {
		int rc = check_object(opt->objs[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

/* argv for $LD (which may carry options, split on blanks) + our arguments. */
static char **ld_argv(const struct pk_opts *opt, const char *out, char **ldcopy)
{
	const char *ld = getenv("LD");
	*ldcopy = strdup(ld && *ld ? ld : "ld");
	char **argv = calloc(opt->nobjs + 64, sizeof(*argv));
	if (!*ldcopy || !argv) {
		free(*ldcopy);
		free(argv);
		return NULL;
	}
	size_t n = 0;
	for (char *save, *w = strtok_r(*ldcopy, " \t", &save); w && n < 48;
	     w = strtok_r(NULL, " \t", &save))
		argv[n++] = w;
	/* -d: give common symbols space here, as a final link would */
	const char *fixed[] = {"-r", "-d", "-o", out};
	for (size_t i = 0; i < 4; i++)
		argv[n++] = (char *)fixed[i];
	for (size_t i = 0; i < opt->nobjs; i++)
		argv[n++] = opt->objs[i];
	argv[n] = NULL;
	return argv;
}

/* Read the child's stderr into buf (truncated, NUL-terminated). */
static void drain(int fd, char *buf, size_t len)
{
	size_t used = 0;
	char sink[512];
	for (;;) {
		char *dst = used + 1 < len ? buf + used : sink;
		size_t room = used + 1 < len ? len - used - 1 : sizeof(sink);
		ssize_t r = read(fd, dst, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (dst == buf + used)
			used += (size_t)r;
	}
	while (used && (buf[used - 1] == '\n' || buf[used - 1] == ' '))
		used--;
	buf[used] = '\0';
}

static int run_ld(char **argv, struct xs_err *err)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return xs_err_set(err, -errno, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return xs_err_set(err, -errno, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		dup2(pfd[1], 2);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	char msg[400];
	drain(pfd[0], msg, sizeof(msg));
	close(pfd[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return xs_err_set(err, -errno, "waitpid: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		return xs_err_set(err, -ECHILD, "%s -r killed by signal %d: %s", argv[0],
		                  WTERMSIG(status), msg);
	return xs_err_set(err, -ECHILD, "%s -r failed (exit %d): %s", argv[0], WEXITSTATUS(status),
	                  msg);
}

int pk_ld(const struct pk_opts *opt, const char *out, struct xs_err *err)
{
	char *ldcopy;
	char **argv = ld_argv(opt, out, &ldcopy);
	if (!argv)
		return xs_err_set(err, -ENOMEM, "out of memory");
	int rc = run_ld(argv, err);
	free(argv);
	free(ldcopy);
	return rc;
}
