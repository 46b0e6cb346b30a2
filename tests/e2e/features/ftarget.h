/* What the feature payloads see of the target (tests/e2e/features/ftarget.c). */
#ifndef FTARGET_H
#define FTARGET_H

extern const char *greet(void);
extern long calc(long n);
extern long twice(long n);
extern long nop_victim(long n);
extern long inline_victim(long n);
extern long expect_victim(long n);

extern int hello_loads, hello_unloads;
extern int feature_flag;
extern int prepost_veto_revert;
extern int veto_replace_revert, veto_replace_apply;
extern int param_count;
extern int shadow_dtors;
extern int window_ok, window_busy, window_err;

/* append a word / word=value to the target's hook trace (no malloc, no locks) */
extern void trace(const char *word);
extern void trace_int(const char *word, long v);

struct node {
	long key;
	long value;
	struct node *next;
};
extern struct node *nodes;
extern long node_touch(struct node *n);
extern void node_free(struct node *n);

extern long pt_value(void);
extern void pt_record(void);

#endif
