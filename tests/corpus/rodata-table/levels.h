const char *level_name(int level);
int level_count(void);
