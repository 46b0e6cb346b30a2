/* status [--all | -p PID... | --exe PATH] [--json]: is this machine patched?
 * Per process: the executable, the applied payloads and the stored payloads
 * it should have and lacks (or has and should not). */
#include <xsplice/ctl.h>

#include "cli/cli.h"

int cmd_status(struct cli *c)
{
	return cli_fleet(c, xsctl_status);
}
