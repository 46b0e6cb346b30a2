int hit(void);
int hits(void);
