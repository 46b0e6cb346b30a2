const char *version(void);
const char *banner(void);
