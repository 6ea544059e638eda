/*
 * Load generator for signd (tests/bench/bench_signd.sh): CONC threads, each
 * with its own libcurl easy handle (one kept-alive connection), run
 * REQUESTS signing jobs against the CSC API. A job picks a credential
 * uniformly at random in FIRST .. FIRST+COUNT-1, authorizes HASHES random
 * SHA-256 hashes with the subscriber's PIN (credentials/authorize) and
 * signs them (signatures/signHash, ECDSA).
 *
 *	bench_signd URL TOKENFILE PINFILE FIRST COUNT MODE HASHES REQUESTS CONC
 *
 * MODE excluded: jobs are authorized first (timed apart; BS_CHUNK at a
 * time, so that no SAD expires), then only the signHash requests are
 * timed. MODE included: each job is authorize
 * then signHash, and the pair is timed. Prints one line of key=value
 * fields: req_s (signHash requests, or pairs, per second), sig_s, p50_ms
 * and p99_ms (signHash latency, or the pair's), auth_s / auth_p50_ms /
 * auth_p99_ms (the authorizations), errors. Any error (a status other
 * than 200, a missing SAD, a wrong number of signatures) is counted and
 * makes the exit status 1. The access token and the PIN are read from
 * files, never from argv.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define BS_HASHES_MAX	100
#define BS_THREADS_MAX	64
#define BS_CHUNK	250	/* jobs authorized, then signed, at a time */
#define BS_OID_SHA256	"2.16.840.1.101.3.4.2.1"
#define BS_OID_ECDSA	"1.2.840.10045.2.1"

struct job {
	long long	 cred;
	char		 hashes[BS_HASHES_MAX][45];	/* base64 of 32 bytes */
	char		 sad[64];
	double		 auth_ms;
	double		 sign_ms;
	int		 failed;
};

struct bench {
	const char	*url;
	char		 auth[128];	/* "Authorization: Bearer ..." */
	char		 pin[16];
	int		 hashes;
	int		 included;
	int		 phase;		/* 0 authorize, 1 signHash (excluded) */
	struct job	*jobs;
	long		 njobs;
	long		 end;		/* this run's jobs: next .. end-1 */
	long		 next;		/* atomic */
	long		 errors;	/* atomic */
};

struct buf {
	char	*p;
	size_t	 len;
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	char *q;

	if ((q = realloc(b->p, b->len + size * n + 1)) == NULL)
		return 0;
	b->p = q;
	memcpy(b->p + b->len, p, size * n);
	b->len += size * n;
	b->p[b->len] = '\0';
	return size * n;
}

/* POSTs body to URL/method; the parsed 200 reply, or NULL (counted). */
static json_t *
post(struct bench *b, CURL *c, struct curl_slist *hdr, const char *method,
    const char *body)
{
	char url[512];
	struct buf r = { NULL, 0 };
	long status = 0;
	json_t *o = NULL;
	CURLcode cc;

	snprintf(url, sizeof(url), "%s/%s", b->url, method);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		fprintf(stderr, "bench_signd: %s: %s\n", method,
		    curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		if (__atomic_load_n(&b->errors, __ATOMIC_RELAXED) < 5)
			fprintf(stderr, "bench_signd: %s: HTTP %ld %s\n", method,
			    status, r.p != NULL ? r.p : "");
		goto out;
	}
	o = json_loadb(r.p, r.len, 0, NULL);
out:
	free(r.p);
	return o;
}

static char *
hashes_json(const struct job *j, int n)
{
	size_t cap = (size_t)n * 48 + 4, len = 0;
	char *s;
	int i;

	if ((s = malloc(cap)) == NULL)
		return NULL;
	s[len++] = '[';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s\"%s\"",
		    i > 0 ? "," : "", j->hashes[i]);
	s[len++] = ']';
	s[len] = '\0';
	return s;
}

static int
do_authorize(struct bench *b, CURL *c, struct curl_slist *hdr, struct job *j)
{
	char *h = NULL, *body = NULL;
	json_t *o = NULL;
	const char *sad;
	double t0 = now_ms();
	int rc = -1;

	if ((h = hashes_json(j, b->hashes)) == NULL ||
	    asprintf(&body, "{\"credentialID\":\"%lld\",\"numSignatures\":%d,"
	    "\"hashes\":%s,\"hashAlgorithmOID\":\"" BS_OID_SHA256 "\","
	    "\"PIN\":\"%s\"}", j->cred, b->hashes, h, b->pin) == -1) {
		body = NULL;
		goto out;
	}
	if ((o = post(b, c, hdr, "credentials/authorize", body)) == NULL ||
	    (sad = json_string_value(json_object_get(o, "SAD"))) == NULL ||
	    strlen(sad) >= sizeof(j->sad))
		goto out;
	snprintf(j->sad, sizeof(j->sad), "%s", sad);
	rc = 0;
out:
	j->auth_ms = now_ms() - t0;
	if (body != NULL)
		OPENSSL_cleanse(body, strlen(body));
	free(body);
	free(h);
	json_decref(o);
	return rc;
}

static int
do_signhash(struct bench *b, CURL *c, struct curl_slist *hdr, struct job *j)
{
	char *h = NULL, *body = NULL;
	json_t *o = NULL;
	double t0 = now_ms();
	int rc = -1;

	if ((h = hashes_json(j, b->hashes)) == NULL ||
	    asprintf(&body, "{\"credentialID\":\"%lld\",\"SAD\":\"%s\","
	    "\"hashes\":%s,\"hashAlgorithmOID\":\"" BS_OID_SHA256 "\","
	    "\"signAlgo\":\"" BS_OID_ECDSA "\"}", j->cred, j->sad, h) == -1) {
		body = NULL;
		goto out;
	}
	if ((o = post(b, c, hdr, "signatures/signHash", body)) == NULL ||
	    json_array_size(json_object_get(o, "signatures")) !=
	    (size_t)b->hashes) {
		if (o != NULL)
			fprintf(stderr, "bench_signd: signHash: %zu "
			    "signatures for %d hashes\n", json_array_size(
			    json_object_get(o, "signatures")), b->hashes);
		goto out;
	}
	rc = 0;
out:
	j->sign_ms = now_ms() - t0;
	free(body);
	free(h);
	json_decref(o);
	return rc;
}

static void *
worker(void *arg)
{
	struct bench *b = arg;
	struct curl_slist *hdr = NULL;
	struct job *j;
	CURL *c;
	long k;

	if ((c = curl_easy_init()) == NULL)
		return NULL;
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, b->auth);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	while ((k = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED)) <
	    b->end) {
		j = &b->jobs[k];
		if (j->failed)
			continue;
		if ((b->included || b->phase == 0) &&
		    do_authorize(b, c, hdr, j) == -1)
			j->failed = 1;
		else if ((b->included || b->phase == 1) &&
		    do_signhash(b, c, hdr, j) == -1)
			j->failed = 1;
		if (j->failed)
			__atomic_fetch_add(&b->errors, 1, __ATOMIC_RELAXED);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return NULL;
}

/* Runs one phase over jobs start..end-1 with conc threads; wall time in ms. */
static double
run(struct bench *b, int conc, long start, long end)
{
	pthread_t th[BS_THREADS_MAX];
	double t0 = now_ms();
	int i, n = 0;

	b->next = start;
	b->end = end;
	for (i = 0; i < conc; i++)
		if (pthread_create(&th[n], NULL, worker, b) == 0)
			n++;
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	return now_ms() - t0;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank) of the successful jobs' field. */
static double
pct(const struct bench *b, int sign, double p)
{
	double *v, r;
	long i, n = 0, k;

	if ((v = calloc((size_t)b->njobs, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < b->njobs; i++)
		if (!b->jobs[i].failed)
			v[n++] = sign == 2 ? b->jobs[i].auth_ms +
			    b->jobs[i].sign_ms : sign ? b->jobs[i].sign_ms :
			    b->jobs[i].auth_ms;
	if (n == 0) {
		free(v);
		return -1;
	}
	qsort(v, (size_t)n, sizeof(*v), cmp);
	k = (long)(p / 100.0 * (double)n + 0.999999) - 1;
	r = v[k < 0 ? 0 : k >= n ? n - 1 : k];
	free(v);
	return r;
}

static int
readline(const char *path, char *out, size_t outlen)
{
	FILE *f;
	int rc = -1;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(out, (int)outlen, f) != NULL) {
		out[strcspn(out, "\r\n")] = '\0';
		rc = out[0] != '\0' ? 0 : -1;
	}
	fclose(f);
	return rc;
}

int
main(int argc, char **argv)
{
	struct bench b;
	unsigned char raw[32], r8[8];
	char tok[96];
	long long first, count;
	double tauth = 0, tsign, ok;
	long i;
	int conc, k, rc = 1;

	if (argc != 10) {
		fprintf(stderr, "usage: bench_signd URL TOKENFILE PINFILE FIRST "
		    "COUNT excluded|included HASHES REQUESTS CONC\n");
		return 2;
	}
	memset(&b, 0, sizeof(b));
	b.url = argv[1];
	first = atoll(argv[4]);
	count = atoll(argv[5]);
	b.included = strcmp(argv[6], "included") == 0;
	b.hashes = atoi(argv[7]);
	b.njobs = atol(argv[8]);
	conc = atoi(argv[9]);
	if ((!b.included && strcmp(argv[6], "excluded") != 0) || first <= 0 ||
	    count <= 0 || b.hashes < 1 || b.hashes > BS_HASHES_MAX ||
	    b.njobs < 1 || conc < 1 || conc > BS_THREADS_MAX) {
		fprintf(stderr, "bench_signd: bad arguments\n");
		return 2;
	}
	if (readline(argv[2], tok, sizeof(tok)) == -1 ||
	    readline(argv[3], b.pin, sizeof(b.pin)) == -1) {
		fprintf(stderr, "bench_signd: cannot read the token or PIN "
		    "file\n");
		return 1;
	}
	snprintf(b.auth, sizeof(b.auth), "Authorization: Bearer %s", tok);
	OPENSSL_cleanse(tok, sizeof(tok));
	if ((b.jobs = calloc((size_t)b.njobs, sizeof(*b.jobs))) == NULL)
		return 1;
	for (i = 0; i < b.njobs; i++) {
		if (RAND_bytes(r8, sizeof(r8)) != 1)
			goto out;
		b.jobs[i].cred = first + (long long)(((unsigned long long)r8[0] |
		    (unsigned long long)r8[1] << 8 |
		    (unsigned long long)r8[2] << 16 |
		    (unsigned long long)r8[3] << 24 |
		    (unsigned long long)r8[4] << 32) % (unsigned long long)count);
		for (k = 0; k < b.hashes; k++) {
			if (RAND_bytes(raw, sizeof(raw)) != 1)
				goto out;
			EVP_EncodeBlock((unsigned char *)b.jobs[i].hashes[k], raw,
			    sizeof(raw));
		}
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (b.included)
		tsign = run(&b, conc, 0, b.njobs);
	else {
		/*
		 * In chunks, so that no SAD waits long enough to expire
		 * (sign.sad_ttl_seconds, 300) behind slow PIN checks; only
		 * the signHash runs are summed.
		 */
		tsign = 0;
		for (i = 0; i < b.njobs; i += BS_CHUNK) {
			b.phase = 0;
			tauth += run(&b, conc, i, i + BS_CHUNK < b.njobs ?
			    i + BS_CHUNK : b.njobs);
			b.phase = 1;
			tsign += run(&b, conc, i, i + BS_CHUNK < b.njobs ?
			    i + BS_CHUNK : b.njobs);
		}
	}
	ok = (double)(b.njobs - b.errors);
	printf("mode=%s hashes=%d requests=%ld conc=%d credentials=%lld "
	    "req_s=%.1f sig_s=%.1f p50_ms=%.2f p99_ms=%.2f auth_s=%.1f "
	    "auth_p50_ms=%.2f auth_p99_ms=%.2f sign_p50_ms=%.2f errors=%ld\n",
	    argv[6], b.hashes, b.njobs, conc, count, ok * 1e3 / tsign,
	    ok * b.hashes * 1e3 / tsign, pct(&b, b.included ? 2 : 1, 50),
	    pct(&b, b.included ? 2 : 1, 99), b.included ? ok * 1e3 / tsign :
	    ok * 1e3 / tauth, pct(&b, 0, 50), pct(&b, 0, 99), pct(&b, 1, 50),
	    b.errors);
	rc = b.errors == 0 ? 0 : 1;
	curl_global_cleanup();
out:
	OPENSSL_cleanse(&b.pin, sizeof(b.pin));
	OPENSSL_cleanse(b.auth, sizeof(b.auth));
	free(b.jobs);
	return rc;
}
