int depth(int n);
