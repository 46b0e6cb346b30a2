const char *shout(const char *s);
const char *whisper(const char *s);
const char *say(const char *s);
