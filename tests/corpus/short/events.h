void on_event(void);
int events(void);
int poke(void);
