int ticket(void);
int visits(void);
