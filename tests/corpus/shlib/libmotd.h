const char *motd(void);
int lucky(int n);
