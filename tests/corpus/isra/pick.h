long p1(long x);
long p2(long x);
