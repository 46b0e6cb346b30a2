/* Small shared pieces of the engine (engine-internal). */
#ifndef XS_AGENT_ENGINE_INT_H
#define XS_AGENT_ENGINE_INT_H

#include "agent/engine.h"

/* XSPLICE_SIGNAL default: SIGRTMIN + this (glibc: 34 + 8 = 42) */
#define XS_DEFAULT_SIGNAL_OFFSET 8

const char *xs_action_name(enum xs_action a);

#endif
