const char *check(int v);
