int deposit(int amount);
int withdraw(int amount);
int balance(void);
int audit_count(void);
void audit(const char *op, int amount);
