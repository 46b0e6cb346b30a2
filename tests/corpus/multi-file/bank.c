#include "bank.h"

static int funds = 100;

int deposit(int amount)
{
	funds += amount;
	audit("deposit", amount);
	return funds;
}

/* BUG: allows overdrafts */
int withdraw(int amount)
{
	funds -= amount;
	audit("withdraw", amount);
	return funds;
}

int balance(void)
{
	return funds;
}
