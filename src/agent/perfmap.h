/* Profilers: /tmp/perf-PID.map lines for payload functions (perfmap.c). */
#ifndef XS_AGENT_PERFMAP_H
#define XS_AGENT_PERFMAP_H

struct xsplice_payload;

/* Add p's functions (after a successful upload); remove them (unload).
 * Both do nothing when XSPLICE_PERF_MAP=0. */
void xs_perfmap_add(struct xsplice_payload *p);
void xs_perfmap_remove(struct xsplice_payload *p);

#endif
