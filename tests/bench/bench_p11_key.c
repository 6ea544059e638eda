/*
 * The HSM's raw signing rate for one existing key (e.g. a stack's TSA key):
 * p11_sign_digest in a loop, in-process, for a fixed time. The ceiling a
 * daemon signing with that key is compared with.
 *
 *	bench_p11_key MODULE TOKEN PINFILE KEYLABEL [seconds]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "hsm/p11.h"
#include "lib/log.h"
#include "lib/secret.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct p11_module *mod = NULL;
	struct p11_token *tok = NULL;
	unsigned char dg[32], *sig;
	char pin[256], err[512];
	double secs, t0, t;
	size_t siglen;
	long n = 0;
	int rc = 1;

	if (argc < 5 || argc > 7 || (argc == 7 && strcmp(argv[6], "session") != 0)) {
		fprintf(stderr, "usage: bench_p11_key MODULE TOKEN PINFILE KEYLABEL [seconds [session]]\n");
		return 2;
	}
	secs = argc >= 6 ? atof(argv[5]) : 3.0;
	log_init("bench", LOGL_WARN, stderr);
	memset(dg, 0x5a, sizeof(dg));
	if (secret_read(argv[3], NULL, pin, sizeof(pin), err, sizeof(err)) == -1 ||
	    (mod = p11_module_load(argv[1], err, sizeof(err))) == NULL ||
	    (tok = p11_token_open(mod, argv[2], pin, NULL, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_p11_key: %s\n", err);
		goto out;
	}
	/* "session": through a session copy, as the signers sign by default. */
	p11_token_session_keys(tok, argc == 7);
	t0 = now();
	do {
		if (p11_sign_digest(tok, argv[4], "SHA256", dg, sizeof(dg), &sig,
		    &siglen, err, sizeof(err)) == -1) {
			fprintf(stderr, "bench_p11_key: %s\n", err);
			goto out;
		}
		free(sig);
		n++;
	} while ((t = now() - t0) < secs);
	printf("%.0f\n", (double)n / t);
	rc = 0;
out:
	OPENSSL_cleanse(pin, sizeof(pin));
	p11_token_close(tok);
	p11_module_free(mod);
	return rc;
}
