/* The real-time signal the agent pauses threads with when XSPLICE_SIGNAL
 * does not name one. */
#ifndef XS_AGENT_SIGPICK_H
#define XS_AGENT_SIGPICK_H

/*
 * `preferred` when the program leaves it alone, else the first real-time
 * signal from there up (then down) that the program leaves alone: no
 * handler, not ignored, blocked in none of its threads (but the calling
 * one: an agent attached late runs its constructor on a borrowed thread
 * whose mask is the injector's).  An agent loaded at start-up finds
 * `preferred` free.  Returns `preferred` when none is free (the quiesce
 * set-up then says why).
 */
int xs_signal_pick_free(int preferred);

#endif
