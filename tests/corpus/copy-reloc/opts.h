int set_opt(int v);
int get_opt(int v);
