const char *where(void);
int limit(int v);
