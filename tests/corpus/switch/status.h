const char *status_text(int code);
