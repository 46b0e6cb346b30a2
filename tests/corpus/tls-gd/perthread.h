int bump(void);
/* A per-thread counter, defined in main.c. */
extern __thread int calls;
