"""Generate sources for the upload+link bench: a target with N small
functions and a payload replacing the first K of them."""


def target_source(n):
    funcs = "\n".join(
        f"__attribute__((noinline, used)) int f{i}(int x) {{ return x * {i + 3} + {i}; }}"
        for i in range(n))
    return f"""#include <stdio.h>
{funcs}
int main(void)
{{
	char line[64];
	while (fgets(line, sizeof line, stdin)) {{
		int x = 0;
		printf("%d\\n", f0(x) + f{n - 1}(x));
		fflush(stdout);
	}}
	return 0;
}}
"""


def payload_source(k):
    lines = ["#include <xsplice/patch.h>"]
    for i in range(k):
        lines.append(f"extern int f{i}(int x);")
        lines.append(f"__attribute__((noinline)) int f{i}_new(int x) {{ return x * {i + 3} + {i} + 1; }}")
        lines.append(f"XSPLICE_REPLACE(f{i}, f{i}_new);")
    return "\n".join(lines) + "\n"


def shared_source(k):
    """The same K replacement functions as a plain shared object (the dlopen baseline)."""
    return "\n".join(
        f"__attribute__((noinline)) int f{i}_new(int x) {{ return x * {i + 3} + {i} + 1; }}"
        for i in range(k)) + "\n"
