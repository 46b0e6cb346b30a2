int table_put(const char *key);
int table_has(const char *key);
int table_count(void);
