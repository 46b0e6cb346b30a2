int tier_a(int n);
int tier_b(int n);
