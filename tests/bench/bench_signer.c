/*
 * Signatures per second through the HSM path, against a throw-away SoftHSM2
 * token made in DIR (not a timed test: numbers for hsm/README.md).
 *
 *	bench_signer DIR [seconds]
 *
 * For P-256 and RSA-2048, each for a fixed duration:
 *   raw	p11_sign_digest in-process (no provider, no socket)
 *   direct	signer_sign() of a prepared TBSCertificate (no provider)
 *   1w+1s	X509_sign through the provider, one worker and its signer
 *   2w+2s	the same in two worker processes, each with its own signer
 * and signer_sign and 2w+2s again with each worker and its signer pinned
 * to one CPU (lib/cpu.h, as ocspd does with ocsp.pin_cpus); then
 * signer_sign from 2 and 4 threads of one process sharing one signer
 * (their requests pipelined: hsm/signer_client.c).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "hsm/p11.h"
#include "hsm/signer.h"
#include "lib/cpu.h"
#include "lib/log.h"

#define TOKEN		"bench"
#define USER_PIN	"bench-user-pin"

static const char *const labels[] = { "p256", "rsa2048" };

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

/* p11_sign_digest in a loop for secs; signatures per second or -1. */
static double
bench_raw(struct p11_token *t, const char *label, double secs)
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
			fprintf(stderr, "raw %s: %s\n", label, err);
			return -1;
		}
		free(sig);
		dg[0]++;
		n++;
	} while ((t1 = now()) - t0 < secs);
	return (double)n / (t1 - t0);
}

/* X509_sign through a signer for secs; the number of signatures or -1. */
static long
bench_worker(const struct signer_config *cfg, const char *label, int direct,
    double secs, double *elapsed)
{
	unsigned char *tbs = NULL, *sig;
	size_t siglen;
	int tbslen = 0;
	struct signer *s = NULL;
	EVP_PKEY *pkey = NULL, *pub = NULL;
	X509 *x = NULL;
	char err[256];
	double t0, t1;
	long n = 0, rc = -1;

	if ((s = signer_spawn(cfg, err, sizeof(err))) == NULL ||
	    (pkey = signer_pkey(s, SIGNER_KIND_CERT, label, err,
	    sizeof(err))) == NULL ||
	    signer_pubkey(s, label, &pub, err, sizeof(err)) == -1) {
		fprintf(stderr, "signer %s: %s\n", label, err);
		goto out;
	}
	if ((x = X509_new()) == NULL || X509_set_version(x, 2) != 1 ||
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)"bench", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    X509_set_pubkey(x, pub) != 1)
		goto out;
	/* Sign once so that the TBS carries its signature algorithm. */
	if (X509_sign(x, pkey, EVP_sha256()) <= 0 ||
	    (direct && (tbslen = i2d_re_X509_tbs(x, &tbs)) <= 0)) {
		fprintf(stderr, "X509_sign %s failed\n", label);
		goto out;
	}
	t0 = now();
	do {
		if (direct) {
			if (signer_sign(s, SIGNER_KIND_CERT, label, "SHA256",
			    tbs, (size_t)tbslen, &sig, &siglen, err,
			    sizeof(err)) == -1) {
				fprintf(stderr, "signer_sign: %s\n", err);
				goto out;
			}
			free(sig);
		} else if (ASN1_INTEGER_set(X509_get_serialNumber(x), n + 1) != 1 ||
		    X509_sign(x, pkey, EVP_sha256()) <= 0) {
			fprintf(stderr, "X509_sign %s failed\n", label);
			goto out;
		}
		n++;
	} while ((t1 = now()) - t0 < secs);
	*elapsed = t1 - t0;
	rc = n;
out:
	OPENSSL_free(tbs);
	X509_free(x);
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(pub);
	signer_close(s);
	return rc;
}

/* One of bench_threads' threads: signer_sign of tbs until *stop. */
struct bench_thread {
	struct signer		*s;
	const char		*label;
	const unsigned char	*tbs;
	size_t			 tbslen;
	volatile int		*stop;
	long			 n;
};

static void *
bench_thread_run(void *arg)
{
	struct bench_thread *b = arg;
	unsigned char *sig;
	size_t siglen;
	char err[256];

	while (!*b->stop) {
		if (signer_sign(b->s, SIGNER_KIND_CERT, b->label, "SHA256",
		    b->tbs, b->tbslen, &sig, &siglen, err, sizeof(err)) == -1) {
			fprintf(stderr, "signer_sign: %s\n", err);
			b->n = -1;
			return NULL;
		}
		free(sig);
		b->n++;
	}
	return NULL;
}

/*
 * nthreads threads of one process sharing one signer (pipelined requests,
 * hsm/signer_client.c), signer_sign of a ready TBS; signatures/s or -1.
 * In a child process, so that the signer is forked before any thread.
 */
static double
bench_threads(const struct signer_config *cfg, const char *label,
    int nthreads, double secs)
{
	struct bench_thread b[8];
	pthread_t th[8];
	volatile int stop = 0;
	struct signer *s;
	EVP_PKEY *pub = NULL, *pkey = NULL;
	X509 *x = NULL;
	unsigned char *tbs = NULL;
	char err[256];
	double t0, rate = -1;
	int fd[2], i, len, status;
	long n = 0;
	pid_t pid;

	if (pipe(fd) == -1)
		return -1;
	fflush(NULL);
	if ((pid = fork()) == 0) {
		close(fd[0]);
		if ((s = signer_spawn(cfg, err, sizeof(err))) == NULL ||
		    (pkey = signer_pkey(s, SIGNER_KIND_CERT, label, err,
		    sizeof(err))) == NULL ||
		    signer_pubkey(s, label, &pub, err, sizeof(err)) == -1 ||
		    (x = X509_new()) == NULL || X509_set_version(x, 2) != 1 ||
		    X509_set_pubkey(x, pub) != 1 ||
		    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
		    MBSTRING_ASC, (const unsigned char *)"bench", -1, -1, 0) != 1 ||
		    X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
		    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
		    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
		    /* Signed once: the TBS carries its signature algorithm. */
		    X509_sign(x, pkey, EVP_sha256()) <= 0 ||
		    (len = i2d_re_X509_tbs(x, &tbs)) <= 0)
			_exit(1);
		t0 = now();
		for (i = 0; i < nthreads; i++) {
			b[i] = (struct bench_thread){ s, label, tbs, (size_t)len,
			    &stop, 0 };
			if (pthread_create(&th[i], NULL, bench_thread_run,
			    &b[i]) != 0)
				_exit(1);
		}
		while (now() - t0 < secs)
			usleep(10000);
		stop = 1;
		for (i = 0; i < nthreads; i++) {
			pthread_join(th[i], NULL);
			n = n < 0 || b[i].n < 0 ? -1 : n + b[i].n;
		}
		rate = n < 0 ? -1 : (double)n / (now() - t0);
		signer_close(s);
		if (write(fd[1], &rate, sizeof(rate)) != (ssize_t)sizeof(rate))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &rate, sizeof(rate)) != (ssize_t)sizeof(rate))
		rate = -1;
	close(fd[0]);
	waitpid(pid, &status, 0);
	return rate;
}

/*
 * nworkers processes, each with its own signer (pin: both on worker i's
 * CPU, cpu_for_worker(i)); summed signatures/s.
 */
static double
bench_procs(const struct signer_config *cfg, const char *label, int nworkers,
    int direct, int pin, double secs)
{
	struct signer_config pinned = *cfg;
	int fds[8][2], i, status;
	pid_t pids[8];
	double total = 0, elapsed = 0;
	long n;
	struct {
		long	n;
		double	elapsed;
	} res;

	for (i = 0; i < nworkers; i++) {
		if (pipe(fds[i]) == -1)
			return -1;
		fflush(NULL);
		if ((pids[i] = fork()) == 0) {
			close(fds[i][0]);
			pinned.cpu = cpu_for_worker(i);
			pinned.pin = pin && pinned.cpu != -1;
			if (pinned.pin && cpu_pin_thread(pinned.cpu) == -1)
				_exit(1);
			res.n = bench_worker(&pinned, label, direct, secs,
			    &elapsed);
			res.elapsed = elapsed;
			if (write(fds[i][1], &res, sizeof(res)) !=
			    (ssize_t)sizeof(res))
				_exit(1);
			_exit(0);
		}
		close(fds[i][1]);
	}
	for (i = 0; i < nworkers; i++) {
		if (read(fds[i][0], &res, sizeof(res)) != (ssize_t)sizeof(res) ||
		    res.n < 0)
			total = -1;
		else if (total >= 0)
			total += (double)res.n / res.elapsed;
		close(fds[i][0]);
		waitpid(pids[i], &status, 0);
	}
	n = (long)total;
	return n < 0 ? -1 : total;
}

int
main(int argc, char *argv[])
{
	struct p11_module *m = NULL;
	struct p11_token *t = NULL;
	struct signer_config cfg;
	EVP_PKEY *pub;
	char conf[1024], path[512], pinfile[512], tokdir[512], err[256];
	const char *module = getenv("PKI_TEST_HSM_MODULE");
	double secs = 3, r[8][2];
	int i;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: bench_signer DIR [seconds]\n");
		return 2;
	}
	if (argc == 3 && (secs = atof(argv[2])) <= 0)
		secs = 3;
	if (module == NULL)
		module = "/usr/lib/softhsm/libsofthsm2.so";
	log_init("bench_signer", LOGL_ERR, NULL);
	snprintf(tokdir, sizeof(tokdir), "%s/tokens", argv[1]);
	snprintf(path, sizeof(path), "%s/softhsm2.conf", argv[1]);
	snprintf(pinfile, sizeof(pinfile), "%s/user.pin", argv[1]);
	snprintf(conf, sizeof(conf), "directories.tokendir = %s\n"
	    "objectstore.backend = file\nlog.level = ERROR\n", tokdir);
	if ((mkdir(tokdir, 0700) == -1) || writefile(path, conf) == -1 ||
	    writefile(pinfile, USER_PIN "\n") == -1 ||
	    setenv("SOFTHSM2_CONF", path, 1) == -1) {
		perror(argv[1]);
		return 1;
	}
	if ((m = p11_module_load(module, err, sizeof(err))) == NULL ||
	    p11_token_init(m, TOKEN, "bench-so-pin", USER_PIN, err,
	    sizeof(err)) == -1 ||
	    (t = p11_token_open(m, TOKEN, USER_PIN, NULL, err,
	    sizeof(err))) == NULL ||
	    p11_key_generate(t, labels[0], P11_KEY_EC_P256, &pub, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "setup: %s\n", err);
		return 1;
	}
	EVP_PKEY_free(pub);
	if (p11_key_generate(t, labels[1], P11_KEY_RSA2048, &pub, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "setup: %s\n", err);
		return 1;
	}
	EVP_PKEY_free(pub);

	memset(&cfg, 0, sizeof(cfg));
	cfg.module = module;
	cfg.lock_dir = argv[1];
	cfg.tokens[0].label = TOKEN;
	cfg.tokens[0].pin_file = pinfile;
	cfg.ntokens = 1;
	for (i = 0; i < 2; i++) {
		cfg.grants[i].kind = SIGNER_KIND_CERT;
		cfg.grants[i].key_label = labels[i];
	}
	cfg.ngrants = 2;

	for (i = 0; i < 2; i++) {
		r[0][i] = bench_raw(t, labels[i], secs);
		r[1][i] = bench_procs(&cfg, labels[i], 1, 1, 0, secs);
		r[2][i] = bench_procs(&cfg, labels[i], 1, 0, 0, secs);
		r[3][i] = bench_procs(&cfg, labels[i], 2, 0, 0, secs);
		r[4][i] = bench_procs(&cfg, labels[i], 1, 1, 1, secs);
		r[5][i] = bench_procs(&cfg, labels[i], 2, 0, 1, secs);
		r[6][i] = bench_threads(&cfg, labels[i], 2, secs);
		r[7][i] = bench_threads(&cfg, labels[i], 4, secs);
	}
	p11_token_close(t);
	p11_module_free(m);

	printf("SoftHSM2 signatures/s, %.0f s per cell (2 vCPUs: %ld online)\n",
	    secs, sysconf(_SC_NPROCESSORS_ONLN));
	printf("| path                                            | P-256   "
	    "| RSA-2048 |\n");
	printf("|-------------------------------------------------|--------:"
	    "|---------:|\n");
	printf("| raw p11_sign_digest, in-process, 1 thread       | %7.0f "
	    "| %8.0f |\n", r[0][0], r[0][1]);
	printf("| signer_sign (TBS ready), 1 worker + 1 signer    | %7.0f "
	    "| %8.0f |\n", r[1][0], r[1][1]);
	printf("| X509_sign, provider -> 1 signer, 1 worker       | %7.0f "
	    "| %8.0f |\n", r[2][0], r[2][1]);
	printf("| X509_sign, 2 workers, each with its own signer  | %7.0f "
	    "| %8.0f |\n", r[3][0], r[3][1]);
	printf("| signer_sign, 1 worker + 1 signer on one CPU     | %7.0f "
	    "| %8.0f |\n", r[4][0], r[4][1]);
	printf("| X509_sign, 2 workers + signers, a CPU per pair  | %7.0f "
	    "| %8.0f |\n", r[5][0], r[5][1]);
	printf("| signer_sign, 2 threads sharing 1 signer         | %7.0f "
	    "| %8.0f |\n", r[6][0], r[6][1]);
	printf("| signer_sign, 4 threads sharing 1 signer         | %7.0f "
	    "| %8.0f |\n", r[7][0], r[7][1]);
	for (i = 0; i < 8; i++)
		if (r[i][0] < 0 || r[i][1] < 0)
			return 1;
	return 0;
}
