/* Apply the patch store's matching payloads at agent start (persist.c). */
#ifndef XS_AGENT_PERSIST_H
#define XS_AGENT_PERSIST_H

/* Called once by the constructor, before the control socket exists. */
void xs_persist_apply_store(void);

#endif
