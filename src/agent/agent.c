/*
 * The agent's entry point: a constructor that, when libxsplice.so is loaded
 * into a process (LD_PRELOAD or linked in), initialises the engine, creates
 * the control socket $XSPLICE_DIR/<pid>.sock and starts one control thread
 * ("xsplice-agent") that serves it.
 *
 * The agent lives in someone else's process, so this file is careful about
 * what it touches:
 *  - the control thread blocks every signal and sleeps in poll() with no
 *    timeout: no CPU while idle, no signal ever delivered to it;
 *  - every descriptor is close-on-exec; exec starts clean;
 *  - no stdio: diagnostics go to fd 2 with write(2), prefixed "xsplice: ";
 *  - the process's signal dispositions are untouched, except for the dump
 *    signal the user asks for with XSPLICE_DUMP_SIGNAL;
 *  - fork: the child keeps the engine state (and the applied patches) but
 *    not the control thread; the atfork child handler starts a new thread
 *    on a new socket, <childpid>.sock.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

#include "agent/engine.h"
#include "agent/persist.h"
#include "agent/server.h"
#include "agent/signame.h"
#include "common/sockdir.h"

/* Room for 500 clients connecting at once (capped by net.core.somaxconn). */
#define XS_AGENT_BACKLOG 1024

static struct {
	char dir[4096];  /* socket directory, fixed at start-up */
	char path[4200]; /* our socket, when owner != 0 */
	pid_t owner;     /* the pid that created `path` (never unlink another's) */
	int sweep_late;  /* a forked child: sweep stale sockets from the thread */
	int listen_fd;   /* -1 when there is no socket */
	int dump_fd;     /* eventfd poked by the dump signal, or -1 */
	pthread_t thread;
	int have_thread;
} ag = {.listen_fd = -1, .dump_fd = -1};

/* Held while the engine serves a request (server.c).  fork() in another
 * thread takes it in the prepare handler, so a child never inherits an
 * engine in the middle of an upload or an action. */
static pthread_mutex_t req_lock = PTHREAD_MUTEX_INITIALIZER;

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

void xs_agent_diag(const char *fmt, ...)
{
	char buf[768];
	const size_t room = sizeof(buf) - 1; /* keep one byte for the newline */
	int saved = errno;
	size_t n = (size_t)snprintf(buf, room, "xsplice: ");
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(buf + n, room - n, fmt, ap);
	va_end(ap);
	n = m < 0 ? n : n + (size_t)m < room ? n + (size_t)m : room - 1;
	buf[n++] = '\n';
	write_all(2, buf, n);
	errno = saved;
}

void xs_server_lock(void)
{
	pthread_mutex_lock(&req_lock);
}

void xs_server_unlock(void)
{
	pthread_mutex_unlock(&req_lock);
}

/* ---- the socket directory and the socket ------------------------------------ */

/* Set by a program that links the agent and runs setuid, setgid or with file
 * capabilities, to say it wants to be controlled anyway (XSPLICE_ALLOW_PRIVILEGED
 * in <xsplice/agent.h>): then only its effective uid and root may connect. */
extern const int xsplice_allow_privileged __attribute__((weak));

static int pick_dir(void)
{
	char why[512];
	const char *d = secure_getenv(XS_SOCKDIR_ENV);
	if (d && d[0]) {
		int rc = xs_sockdir_normalize(d, ag.dir, sizeof(ag.dir), why, sizeof(why));
		if (rc)
			xs_agent_diag("%s; no control socket", why);
		return rc;
	}
	int rc =
	    xs_sockdir_default(ag.dir, sizeof(ag.dir), geteuid(), secure_getenv("XDG_RUNTIME_DIR"));
	if (rc)
		xs_agent_diag("the socket directory name is too long; no control socket");
	return rc;
}

/* The directory must be ours alone: created 0700 if missing, then every
 * component checked (common/sockdir.c).  An O_PATH fd, or -errno. */
static int open_dir(void)
{
	char why[1024];
	int root = open("/", O_PATH | O_CLOEXEC);
	if (root < 0) {
		xs_agent_diag("cannot open /: %s; no control socket", strerror(errno));
		return -errno;
	}
	int fd = xs_sockdir_open(root, ag.dir, geteuid(), 1, 1, why, sizeof(why));
	close(root);
	if (fd < 0)
		xs_agent_diag("the socket directory %s is not safe: %s; no control socket", ag.dir,
		              why);
	return fd;
}

/* Is there a live agent behind dir/name?  (connect succeeds or its backlog
 * is full).  Refused or missing: no. */
static int live_socket(int dirfd, const char *name)
{
	int sfd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return 0;
	int c = xs_sock_connect_opath(sfd, 0);
	close(sfd);
	if (c >= 0)
		close(c);
	return c >= 0 || c == -ETIMEDOUT;
}

/* Create, bind and listen on <dir>/<name>.  A stale file of that name (a
 * previous process with our pid, killed) is replaced; a live one (another
 * pid namespace sharing the directory) never is. */
static int open_socket(int dirfd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char name[64], tmp[80];
	pid_t pid = getpid();
	xs_sock_name(name, sizeof(name), pid, xs_pidns_ino(0));
	snprintf(tmp, sizeof(tmp), "%s.new", name);
	if (snprintf(ag.path, sizeof(ag.path), "%s/%s", ag.dir, name) >= (int)sizeof(ag.path)) {
		xs_agent_diag("the socket path %s/%s is too long; no control socket", ag.dir, name);
		return -ENAMETOOLONG;
	}
	/* Bind and listen under a temporary name, then rename: a client never
	 * finds the socket before it accepts connections.  The name goes
	 * through the directory's descriptor: no sun_path limit, no lookup. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, tmp);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	unlinkat(dirfd, tmp, 0);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	/* the directory already keeps others out; 0600 says so twice */
	if (fchmodat(dirfd, tmp, 0600, 0) || listen(fd, XS_AGENT_BACKLOG)) {
		unlinkat(dirfd, tmp, 0);
		goto fail;
	}
	if (renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE)) {
		int e = errno;
		if (e == EEXIST && !live_socket(dirfd, name))
			e = unlinkat(dirfd, name, 0) ||
			            renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE)
			        ? errno
			        : 0;
		if (e) {
			unlinkat(dirfd, tmp, 0);
			close(fd);
			if (e == EEXIST)
				xs_agent_diag(
				    "%s belongs to a live agent of another process (another "
				    "pid namespace sharing the directory?); not replacing "
				    "it; no control socket",
				    ag.path);
			else
				xs_agent_diag("cannot create the control socket %s: %s", ag.path,
				              strerror(e));
			ag.path[0] = '\0';
			return -e;
		}
	}
	ag.owner = pid;
	ag.listen_fd = fd;
	return 0;
fail:
	int rc = -errno;
	xs_agent_diag("cannot create the control socket %s: %s", ag.path, strerror(errno));
	ag.path[0] = '\0';
	if (fd >= 0)
		close(fd);
	return rc;
}

static void close_socket(int unlink_it)
{
	if (unlink_it && ag.owner == getpid() && ag.path[0])
		unlink(ag.path);
	if (ag.listen_fd >= 0)
		close(ag.listen_fd);
	ag.listen_fd = -1;
	ag.owner = 0;
	ag.path[0] = '\0';
}

/* ---- dump on signal (the design's debug key) ----------------------------------- */

static void dump_handler(int sig)
{
	(void)sig;
	int saved = errno;
	uint64_t one = 1;
	if (write(ag.dump_fd, &one, sizeof(one)) < 0) {
		/* counter full: a dump is already pending */
	}
	errno = saved;
}

static void xs_agent_start(void);

/* Is sig already caught by code of this library (the engine's quiesce
 * handler)?  The dump signal must never take it over. */
static int handled_by_agent(int sig)
{
	struct sigaction cur;
	Dl_info h, self;
	if (sigaction(sig, NULL, &cur))
		return 0;
	void *fn = (cur.sa_flags & SA_SIGINFO) ? (void *)cur.sa_sigaction : (void *)cur.sa_handler;
	if (fn == (void *)SIG_DFL || fn == (void *)SIG_IGN)
		return 0;
	return dladdr(fn, &h) && dladdr((void *)xs_agent_start, &self) &&
	       h.dli_fbase == self.dli_fbase;
}

static void setup_dump_signal(void)
{
	const char *name = secure_getenv("XSPLICE_DUMP_SIGNAL");
	if (!name || !name[0])
		return;
	int sig = xs_signal_parse(name);
	if (sig && handled_by_agent(sig)) {
		xs_agent_diag("XSPLICE_DUMP_SIGNAL=%s is the agent's own quiesce signal "
		              "(XSPLICE_SIGNAL); no dump on signal",
		              name);
		return;
	}
	if (!sig || sig == SIGKILL || sig == SIGSTOP) {
		xs_agent_diag("XSPLICE_DUMP_SIGNAL=%s is not a signal the agent can catch; "
		              "no dump on signal",
		              name);
		return;
	}
	ag.dump_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ag.dump_fd < 0) {
		xs_agent_diag("no dump on signal: eventfd: %s", strerror(errno));
		return;
	}
	struct sigaction sa = {.sa_handler = dump_handler, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL)) {
		xs_agent_diag("no dump on signal %s: %s", name, strerror(errno));
		close(ag.dump_fd);
		ag.dump_fd = -1;
	}
}

static void dump_to_stderr(void)
{
	uint64_t count;
	if (read(ag.dump_fd, &count, sizeof(count)) < 0)
		return;
	struct xs_buf b;
	xs_buf_init(&b);
	xs_buf_printf(&b, "xsplice: state dump of process %d\n", (int)getpid());
	xs_server_lock();
	int rc = xs_engine_report(XS_REPORT_DUMP, 0, &b);
	xs_server_unlock();
	if (rc || b.oom)
		xs_agent_diag("state dump failed: %s", rc ? strerror(-rc) : "out of memory");
	else
		write_all(2, b.data, b.len);
	xs_buf_free(&b);
}

/* ---- the control thread ---------------------------------------------------------- */

static void accept_some(void)
{
	/* a few per round: the connections already open get their turn too */
	for (int i = 0; i < 16 && !xs_server_full(); i++) {
		int fd = accept4(ag.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0) {
			xs_server_add(fd);
			continue;
		}
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* the connection stays queued: back off instead of spinning */
			xs_agent_diag("cannot accept a control connection: %s", strerror(errno));
			poll(NULL, 0, 200);
		}
		return;
	}
}

/* Every agent removes the sockets of dead processes from its directory
 * once: the first agent of a program before it creates its own socket, a
 * forked child's from its control thread (never inside fork()).  So a
 * pre-fork server whose children _exit() - which runs no code of ours -
 * leaves at most the sockets of the children that died since the last
 * agent started, not one per fork.  A socket that accepts is never removed;
 * one that refuses has no listener left. */
static void sweep_stale_sockets(void)
{
	int dirfd = open_dir();
	if (dirfd < 0)
		return;
	xs_sockdir_sweep(dirfd);
	close(dirfd);
}

/* Idle: asleep in poll() with no timeout.  Connections open: woken by their
 * data or by the first of their deadlines. */
static void *control_main(void *arg)
{
	(void)arg;
	struct pollfd p[2 + XS_SERVER_MAX_CONNS];
	if (ag.sweep_late) {
		ag.sweep_late = 0;
		sweep_stale_sockets();
	}
	for (;;) {
		int full = xs_server_full();
		p[0] = (struct pollfd){.fd = full ? -1 : ag.listen_fd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = ag.dump_fd, .events = POLLIN};
		int n = xs_server_pollfds(p + 2, XS_SERVER_MAX_CONNS);
		if (ag.listen_fd < 0 && ag.dump_fd < 0 && !n)
			break;
		if (poll(p, (nfds_t)(2 + n), xs_server_timeout_ms()) < 0) {
			if (errno == EINTR)
				continue;
			xs_agent_diag("control thread stops: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents & POLLIN)
			dump_to_stderr();
		xs_server_events(p + 2, n);
		if (p[0].revents & POLLNVAL) {
			xs_agent_diag("the process closed the agent's control socket; "
			              "the agent stops listening");
			ag.listen_fd = -1;
		} else if (p[0].revents & POLLIN) {
			accept_some();
		}
	}
	return NULL;
}

/* The control thread starts with every signal blocked (inherited from the
 * mask set around pthread_create), so none of the process's signals - nor
 * the engine's quiesce signal - is ever delivered to it. */
static int start_thread(void)
{
	sigset_t all, old;
	pthread_attr_t attr;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&ag.thread, &attr, control_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		xs_agent_diag("cannot start the control thread: %s", strerror(rc));
		return -rc;
	}
	pthread_setname_np(ag.thread, "xsplice-agent");
	ag.have_thread = 1;
	return 0;
}

static void start_control(int forked)
{
	ag.have_thread = 0;
	ag.sweep_late = forked;
	int dirfd = open_dir();
	if (dirfd >= 0) {
		if (!forked)
			xs_sockdir_sweep(dirfd);
		open_socket(dirfd);
		close(dirfd);
	}
	if (ag.listen_fd < 0 && ag.dump_fd < 0)
		return;
	if (start_thread())
		close_socket(1);
}

/* ---- fork ----------------------------------------------------------------------- */

static int on_control_thread(void)
{
	return ag.have_thread && pthread_equal(pthread_self(), ag.thread);
}

static void atfork_prepare(void)
{
	if (!on_control_thread())
		pthread_mutex_lock(&req_lock);
	xs_server_atfork_prepare();
}

static void atfork_parent(void)
{
	xs_server_atfork_parent();
	if (!on_control_thread())
		pthread_mutex_unlock(&req_lock);
}

/* The child has one thread (the one that forked): our control thread, the
 * parent's socket and the parent's eventfd are not its own. */
static void atfork_child(void)
{
	pthread_mutex_init(&req_lock, NULL);
	xs_server_atfork_child();
	close_socket(0);
	if (ag.dump_fd >= 0) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		close(ag.dump_fd);
		ag.dump_fd = fd;
	}
	xs_engine_atfork_child();
	start_control(1);
}

/* ---- life cycle --------------------------------------------------------------- */

int xs_agent_privileged(void)
{
	return getauxval(AT_SECURE) != 0;
}

__attribute__((constructor)) static void xs_agent_start(void)
{
	const char *off = getenv("XSPLICE_DISABLE");
	if (off && !strcmp(off, "1"))
		return;
	/* setuid, setgid or file capabilities: a client of the invoking user
	 * must not gain the program's privilege through a payload */
	if (xs_agent_privileged() && !&xsplice_allow_privileged) {
		xs_agent_diag("this program runs with more privilege than the user who started "
		              "it (setuid, setgid or file capabilities); the agent does not serve "
		              "it unless the program opts in with XSPLICE_ALLOW_PRIVILEGED "
		              "(<xsplice/agent.h>); no control socket");
		return;
	}
	struct xs_err err = {0};
	int rc = xs_engine_init(&err);
	if (rc) {
		xs_agent_diag("agent disabled: %s", err.msg[0] ? err.msg : strerror(-rc));
		return;
	}
	if (pick_dir())
		return;
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	setup_dump_signal();
	xs_persist_apply_store(); /* before main, before anyone can connect */
	start_control(0);
}

__attribute__((destructor)) static void xs_agent_stop(void)
{
	if (ag.owner == getpid() && ag.path[0])
		unlink(ag.path);
}
