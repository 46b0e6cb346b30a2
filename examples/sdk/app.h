/* The shop's order logic (app.c). */
#ifndef SDK_APP_H
#define SDK_APP_H

/* quantity from user input */
int parse_qty(const char *s);
/* the largest quantity parse_qty() accepts once fixed */
void set_max_qty(int v);
long order_total(const char *qty, int unit_cents);

#endif
