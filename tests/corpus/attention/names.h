int name_add(const char *text);
int name_forget(void);
const char *name_last(void);
