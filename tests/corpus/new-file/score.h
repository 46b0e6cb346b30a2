int score(int v);
