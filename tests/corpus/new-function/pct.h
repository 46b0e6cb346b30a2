int percent(int part);
