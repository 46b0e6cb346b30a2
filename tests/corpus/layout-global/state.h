int hit(void);
int limit(void);
