/*
 * Wrapped subscriber keys (hsm/p11wrap.c) against a throw-away SoftHSM2
 * token made in DIR, single process (not a timed test: numbers for
 * hsm/README.md, compared with HSM-NOTES.md's table).
 *
 *	bench_p11wrap DIR [seconds [p256]]
 *
 * With "p256", only P-256, printed as one line of key=value fields
 * (gen_s, resident_s, cycle_s, verify_s) for tests/bench/bench_signd.sh,
 * which runs one and two of these at once beside signd.
 *
 * For P-256 and RSA-2048, each for a fixed duration:
 *   keys/s	p11wrap_generate: generate a session key pair, wrap, destroy
 *   resident	p11_sign_digest with a token key (the ceiling)
 *   wrapped	p11wrap_sign: unwrap -> sign -> destroy -> verify with the
 *		expected public key
 *   verify	the verification alone (OpenSSL, in-process), its share
 *   kept	p11wrap_sign with the unwrapped-key cache on and the key
 *		kept (the hot-key path: blob digest, lookup, sign; an EC
 *		signature of a key already proven is not verified again)
 *   KiB/key	resident memory per kept key: KEPT_KEYS keys unwrapped and
 *		kept, the growth of the process divided by their number
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hsm/p11.h"
#include "hsm/p11wrap.h"

#define TOKEN		"wrapbench"
#define SO_PIN		"bench-so-pin"
#define USER_PIN	"bench-user-pin"
#define WKEY		"wrap"
#define KEPT_KEYS	2000

static const char *const names[] = { "P-256", "RSA-2048" };
static const char *const labels[] = { "res-p256", "res-rsa2048" };
static const enum p11_keytype types[] = { P11_KEY_EC_P256, P11_KEY_RSA2048 };

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
writefile(const char *path, const char *data)
{
	FILE *f;

	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fputs(data, f);
	if (fclose(f) != 0)
		return -1;
	return chmod(path, 0600);
}

/* p11wrap_generate for secs; keys per second or -1. Keeps the last. */
static double
bench_gen(struct p11_token *t, enum p11_keytype type, double secs,
    unsigned char **blob, size_t *bloblen, EVP_PKEY **pub)
{
	char err[256];
	double t0 = now(), t1;
	long n = 0;

	do {
		free(*blob);
		EVP_PKEY_free(*pub);
		if (p11wrap_generate(t, WKEY, type, blob, bloblen, pub, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "generate: %s\n", err);
			return -1;
		}
		n++;
	} while ((t1 = now()) - t0 < secs);
	return (double)n / (t1 - t0);
}

static double
bench_resident(struct p11_token *t, const char *label, double secs)
{
	unsigned char dg[32], *sig;
	size_t siglen;
	char err[256];
	double t0 = now(), t1;
	long n = 0;

	memset(dg, 0x5a, sizeof(dg));
	do {
		if (p11_sign_digest(t, label, "SHA256", dg, sizeof(dg), &sig,
		    &siglen, err, sizeof(err)) == -1) {
			fprintf(stderr, "resident %s: %s\n", label, err);
			return -1;
		}
		free(sig);
		dg[0]++;
		n++;
	} while ((t1 = now()) - t0 < secs);
	return (double)n / (t1 - t0);
}

static double
bench_wrapped(struct p11_token *t, const unsigned char *blob, size_t bloblen,
    EVP_PKEY *pub, double secs)
{
	unsigned char dg[32], *sig;
	size_t siglen;
	char err[256];
	double t0 = now(), t1;
	long n = 0;

	memset(dg, 0x5a, sizeof(dg));
	do {
		if (p11wrap_sign(t, WKEY, blob, bloblen, pub, "SHA256",
		    P11WRAP_PAD_PKCS1, dg, sizeof(dg), &sig, &siglen, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "wrapped: %s\n", err);
			return -1;
		}
		free(sig);
		dg[0]++;
		n++;
	} while ((t1 = now()) - t0 < secs);
	return (double)n / (t1 - t0);
}

/* Resident memory of this process in KiB (/proc/self/statm), or -1. */
static long
rss_kib(void)
{
	FILE *f;
	long size, res = -1;

	if ((f = fopen("/proc/self/statm", "r")) == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	fclose(f);
	return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

/*
 * The hot-key path: the cache on, the key kept after the first signature.
 * Signatures per second, or -1.
 */
static double
bench_kept(struct p11_token *t, const unsigned char *blob, size_t bloblen,
    EVP_PKEY *pub, double secs)
{
	char err[256];
	double r;

	if (p11wrap_cache_limit(t, 1, err, sizeof(err)) == -1) {
		fprintf(stderr, "kept: %s\n", err);
		return -1;
	}
	r = bench_wrapped(t, blob, bloblen, pub, secs);
	if (p11wrap_cache_limit(t, 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "kept: %s\n", err);
		return -1;
	}
	return r;
}

/*
 * KiB of resident memory per kept key: KEPT_KEYS distinct keys generated,
 * then each signed once with a cache that keeps them all. -1 on error.
 */
static double
bench_kept_memory(struct p11_token *t, enum p11_keytype type)
{
	unsigned char *blobs[KEPT_KEYS], dg[32], *sig;
	size_t lens[KEPT_KEYS], siglen;
	EVP_PKEY *pubs[KEPT_KEYS];
	char err[256];
	long before, after;
	double r = -1;
	int i, made = 0;

	memset(dg, 0x5a, sizeof(dg));
	for (; made < KEPT_KEYS; made++)
		if (p11wrap_generate(t, WKEY, type, &blobs[made], &lens[made],
		    &pubs[made], err, sizeof(err)) == -1) {
			fprintf(stderr, "kept memory: %s\n", err);
			goto out;
		}
	if (p11wrap_cache_limit(t, KEPT_KEYS, err, sizeof(err)) == -1) {
		fprintf(stderr, "kept memory: %s\n", err);
		goto out;
	}
	/* One round unkept first, so allocator pools are warm. */
	before = rss_kib();
	for (i = 0; i < KEPT_KEYS; i++) {
		if (p11wrap_sign(t, WKEY, blobs[i], lens[i], pubs[i], "SHA256",
		    P11WRAP_PAD_PKCS1, dg, sizeof(dg), &sig, &siglen, err,
		    sizeof(err)) != 0) {
			fprintf(stderr, "kept memory: %s\n", err);
			goto out;
		}
		free(sig);
	}
	after = rss_kib();
	if (before >= 0 && after >= 0)
		r = (double)(after - before) / KEPT_KEYS;
out:
	(void)p11wrap_cache_limit(t, 0, err, sizeof(err));
	for (i = 0; i < made; i++) {
		free(blobs[i]);
		EVP_PKEY_free(pubs[i]);
	}
	return r;
}

/* OpenSSL verifications per second of one signature (p11wrap's check). */
static double
bench_verify(struct p11_token *t, const unsigned char *blob, size_t bloblen,
    EVP_PKEY *pub, double secs)
{
	unsigned char dg[32], *sig = NULL;
	size_t siglen;
	EVP_PKEY_CTX *ctx;
	char err[256];
	double t0, t1;
	long n = 0;

	memset(dg, 0x5a, sizeof(dg));
	if (p11wrap_sign(t, WKEY, blob, bloblen, pub, "SHA256",
	    P11WRAP_PAD_PKCS1, dg, sizeof(dg), &sig, &siglen, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "verify: %s\n", err);
		return -1;
	}
	t0 = now();
	do {
		if ((ctx = EVP_PKEY_CTX_new(pub, NULL)) == NULL ||
		    EVP_PKEY_verify_init(ctx) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0 ||
		    EVP_PKEY_verify(ctx, sig, siglen, dg, sizeof(dg)) != 1) {
			fprintf(stderr, "verify failed\n");
			EVP_PKEY_CTX_free(ctx);
			free(sig);
			return -1;
		}
		EVP_PKEY_CTX_free(ctx);
		n++;
	} while ((t1 = now()) - t0 < secs);
	free(sig);
	return (double)n / (t1 - t0);
}

int
main(int argc, char **argv)
{
	struct p11_module *m = NULL;
	struct p11_token *t = NULL;
	unsigned char *blob[2] = { NULL, NULL };
	size_t bloblen[2] = { 0, 0 };
	EVP_PKEY *pub[2] = { NULL, NULL }, *rpub = NULL;
	char conf[1024], path[512], tokdir[512], err[256];
	const char *module = getenv("PKI_TEST_HSM_MODULE");
	double secs = 3, r[6][2];
	int i, ntypes = 2, rc = 1;

	if (argc < 2 || argc > 4 || (argc == 4 && strcmp(argv[3], "p256") != 0)) {
		fprintf(stderr, "usage: bench_p11wrap DIR [seconds [p256]]\n");
		return 2;
	}
	if (argc >= 3 && (secs = atof(argv[2])) <= 0)
		secs = 3;
	if (argc == 4)
		ntypes = 1;
	if (module == NULL)
		module = "/usr/lib/softhsm/libsofthsm2.so";
	snprintf(tokdir, sizeof(tokdir), "%s/wraptokens", argv[1]);
	snprintf(path, sizeof(path), "%s/softhsm2-wrap.conf", argv[1]);
	snprintf(conf, sizeof(conf), "directories.tokendir = %s\n"
	    "objectstore.backend = file\nlog.level = ERROR\n", tokdir);
	if (mkdir(tokdir, 0700) == -1 || writefile(path, conf) == -1 ||
	    setenv("SOFTHSM2_CONF", path, 1) == -1) {
		perror(argv[1]);
		return 1;
	}
	/* The ceremony first: the SO cannot log in once the user is. */
	if ((m = p11_module_load(module, err, sizeof(err))) == NULL ||
	    p11_token_init(m, TOKEN, SO_PIN, USER_PIN, err,
	    sizeof(err)) == -1 ||
	    p11wrap_create_wrapping_key(m, TOKEN, SO_PIN, USER_PIN, WKEY, err,
	    sizeof(err)) == -1 ||
	    (t = p11_token_open(m, TOKEN, USER_PIN, NULL, err,
	    sizeof(err))) == NULL ||
	    p11wrap_check_wrapping_key(t, WKEY, err, sizeof(err)) == -1) {
		fprintf(stderr, "setup: %s\n", err);
		goto out;
	}
	for (i = 0; i < ntypes; i++) {
		if (p11_key_generate(t, labels[i], types[i], &rpub, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "setup: %s\n", err);
			goto out;
		}
		EVP_PKEY_free(rpub);
		rpub = NULL;
	}
	for (i = 0; i < ntypes; i++) {
		if ((r[0][i] = bench_gen(t, types[i], secs, &blob[i],
		    &bloblen[i], &pub[i])) < 0 ||
		    (r[1][i] = bench_resident(t, labels[i], secs)) < 0 ||
		    (r[2][i] = bench_wrapped(t, blob[i], bloblen[i], pub[i],
		    secs)) < 0 ||
		    (r[3][i] = bench_verify(t, blob[i], bloblen[i], pub[i],
		    secs)) < 0 ||
		    (r[4][i] = bench_kept(t, blob[i], bloblen[i], pub[i],
		    secs)) < 0)
			goto out;
		/* RSA-2048 keys take ~0.2 s each to make: P-256 only. */
		r[5][i] = i == 0 ? bench_kept_memory(t, types[i]) : -1;
	}
	if (ntypes == 1) {
		printf("gen_s=%.0f resident_s=%.0f cycle_s=%.0f verify_s=%.0f "
		    "kept_s=%.0f kept_kib=%.1f\n", r[0][0], r[1][0], r[2][0],
		    r[3][0], r[4][0], r[5][0]);
		rc = 0;
		goto out;
	}
	printf("SoftHSM2 wrapped subscriber keys, single process, %.0f s per "
	    "cell (%ld CPUs online)\n", secs, sysconf(_SC_NPROCESSORS_ONLN));
	printf("| path | %s | %s |\n|---|---:|---:|\n", names[0], names[1]);
	printf("| keys/s, generate + wrap (p11wrap_generate) | %.1f | %.1f |\n",
	    r[0][0], r[0][1]);
	printf("| sign/s, resident key (p11_sign_digest) | %.0f | %.0f |\n",
	    r[1][0], r[1][1]);
	printf("| sign/s, unwrap -> sign -> destroy -> verify (p11wrap_sign) "
	    "| %.0f | %.0f |\n", r[2][0], r[2][1]);
	printf("| verify/s alone (OpenSSL, the check inside p11wrap_sign) | "
	    "%.0f | %.0f |\n", r[3][0], r[3][1]);
	printf("| sign/s, key kept unwrapped (p11wrap_sign, cache on) | %.0f | "
	    "%.0f |\n", r[4][0], r[4][1]);
	printf("| resident memory per kept key (KiB, %d keys) | %.1f | — |\n",
	    KEPT_KEYS, r[5][0]);
	printf("| blob size (bytes) | %zu | %zu |\n", bloblen[0], bloblen[1]);
	rc = 0;
out:
	for (i = 0; i < 2; i++) {
		free(blob[i]);
		EVP_PKEY_free(pub[i]);
	}
	p11_token_close(t);
	p11_module_free(m);
	return rc;
}
