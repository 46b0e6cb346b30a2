int discount(int total);
int shipping(int total);
