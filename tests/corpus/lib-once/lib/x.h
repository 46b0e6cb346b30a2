int clamp_len(int n);
