/*
 * xsplice-sign: make a signing key, or sign a payload.
 *
 *   xsplice-sign --keygen PREFIX     writes PREFIX.key (0600) and PREFIX.pub
 *   xsplice-sign -k KEY FILE...      signs each payload FILE in place
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/sign/sign.h"

static const char usage[] =
    "usage: xsplice-sign --keygen PREFIX\n"
    "       xsplice-sign -k KEY FILE...\n"
    "\n"
    "Ed25519 signatures for xsplice payloads (see xsplice-sign(1)).\n"
    "\n"
    "      --keygen PREFIX  write a new key pair: PREFIX.key (secret, mode 0600)\n"
    "                       and PREFIX.pub (install it in the agent's key directory,\n"
    "                       /etc/xsplice/keys by default)\n"
    "  -k, --key KEY        sign each FILE in place with the secret key KEY (a\n"
    "                       signature already there is replaced)\n"
    "  -h, --help           this text\n"
    "      --version        print the version\n";

int main(int argc, char **argv)
{
	static const struct option longs[] = {
	    {"keygen", required_argument, NULL, 'g'},
	    {"key", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *keygen = NULL, *key = NULL;
	char err[4400], id[17];
	int ch;
	while ((ch = getopt_long(argc, argv, "k:h", longs, NULL)) != -1) {
		switch (ch) {
		case 'g':
			keygen = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("xsplice-sign %s\n", XSPLICE_VERSION);
			return 0;
		default:
			fputs(usage, stderr);
			return 1;
		}
	}
	if (keygen) {
		if (key || optind != argc) {
			fputs("xsplice-sign: --keygen takes a PREFIX and nothing else\n", stderr);
			return 1;
		}
		if (xs_sign_keygen(keygen, err, sizeof(err))) {
			fprintf(stderr, "xsplice-sign: %s\n", err);
			return 1;
		}
		printf("wrote %s.key and %s.pub\n", keygen, keygen);
		return 0;
	}
	if (!key || optind >= argc) {
		fputs("xsplice-sign: need --keygen PREFIX, or -k KEY and a payload (see --help)\n",
		      stderr);
		return 1;
	}
	int rc = 0;
	for (int i = optind; i < argc; i++) {
		if (xs_sign_file(key, argv[i], id, err, sizeof(err))) {
			fflush(stdout);
			fprintf(stderr, "xsplice-sign: %s\n", err);
			rc = 1;
			continue;
		}
		printf("signed %s with key %s\n", argv[i], id);
	}
	return rc;
}
