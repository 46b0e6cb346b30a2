/*
 * The target of the control-channel tests (tests/e2e/test_channel.py), one
 * request line, one reply line on stdin/stdout:
 *   a        -> answer()            (1; payloads: 2 or more)
 *   fork N   -> N children that _exit(0) at once ("forked N")
 *   spawn    -> a child that lives until its parent exits ("spawned PID")
 *   id       -> "uid R E gid R E"
 * Built with -DLINKED_OPT_IN it links the agent and opts in to being served
 * while setuid/setgid (<xsplice/agent.h>).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef LINKED_OPT_IN
#include <xsplice/agent.h>
XSPLICE_ALLOW_PRIVILEGED;
#endif

__attribute__((noinline, noipa, used)) int answer(void)
{
	return 1;
}

int main(void)
{
	char line[256];
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "fork ", 5)) {
			int n = atoi(line + 5);
			for (int i = 0; i < n; i++) {
				pid_t p = fork();
				if (p == 0)
					_exit(0);
				if (p > 0)
					waitpid(p, NULL, 0);
			}
			printf("forked %d\n", n);
		} else if (!strncmp(line, "spawn", 5)) {
			pid_t p = fork();
			if (p == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				for (;;)
					pause();
			}
			printf("spawned %d\n", (int)p);
		} else if (!strncmp(line, "id", 2)) {
			printf("uid %d %d gid %d %d\n", (int)getuid(), (int)geteuid(),
			       (int)getgid(), (int)getegid());
		} else if (line[0] == 'a') {
			printf("%d\n", answer());
		} else if (line[0] == 'q') {
			break;
		}
	}
	return 0;
}
