const char *price(int cents);
const char *refund(int cents);
const char *fee(int cents);
