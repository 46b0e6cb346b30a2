struct ctx;
struct ctx *ctx_new(long a, long b);
long ctx_sum(const struct ctx *c);
