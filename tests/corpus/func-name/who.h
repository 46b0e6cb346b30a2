const char *whoami(int v);
const char *other(void);
