int bump(void);
