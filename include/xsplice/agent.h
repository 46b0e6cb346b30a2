/*
 * For programs that link the agent (libxsplice.so) instead of loading it with
 * LD_PRELOAD.
 *
 * A program that runs with more privilege than the user who starts it
 * (setuid, setgid, or file capabilities: the kernel's AT_SECURE) is not
 * served by the agent: a payload runs with the program's privilege, and the
 * invoking user must not be able to upload one.  A program that wants live
 * patching anyway says so once, in one of its source files:
 *
 *     #include <xsplice/agent.h>
 *     XSPLICE_ALLOW_PRIVILEGED;
 *
 * (link with -Wl,--no-as-needed -lxsplice so that the agent is loaded),
 * and is then controlled only by its effective uid and root, never by the
 * invoking (real) uid.  See docs/security.md.
 */
#ifndef XSPLICE_AGENT_H
#define XSPLICE_AGENT_H

#define XSPLICE_ALLOW_PRIVILEGED                                                                   \
	__attribute__((used, visibility("default"))) const int xsplice_allow_privileged = 1

#endif
