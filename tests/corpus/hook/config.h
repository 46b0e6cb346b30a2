int max_clients(void);
