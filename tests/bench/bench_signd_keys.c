/*
 * Bench credentials for signd (tests/bench/bench_signd.sh): COUNT
 * subscribers, each with its own P-256 key generated in the stack's wrap
 * token and exported only wrapped (p11wrap_generate: the same call cad
 * issues with), a certificate for that key signed by a throw-away software
 * bench CA, an RA account holding the given PIN hash, an issuance order
 * and the credential row. Rows go to COPY text files, one per table, in
 * OUTDIR (suffix .FIRST), for psql \copy. Not a test; a data generator.
 *
 *	bench_signd_keys CONFIG CAKEY CACERT PINHASHFILE ISSUER_ID FIRST COUNT
 *	    OUTDIR
 *
 * CONFIG is the stack's pki.conf ([hsm] module, wrap_token,
 * wrap_pin_file, lock_dir; sign.wrap_label); SOFTHSM2_CONF must name the
 * stack's SoftHSM2 configuration. Row ids are FIRST .. FIRST+COUNT-1 in
 * every table (pick FIRST far above the stack's own sequences). ISSUER_ID
 * is the ca_certificate id written in certificate.issuer_id: the stack's
 * issuing CA, although the bench CA signed the certificate (the SAM checks
 * the certificate's validity dates and its key against every signature,
 * not its chain; hsm/signd/samproc.c). PINHASHFILE holds one Argon2id PHC
 * string (a real subscriber's, made by rad), used as every account's PIN
 * and password hash.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hsm/p11.h"
#include "hsm/p11wrap.h"
#include "hsm/signer.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/secret.h"

#define BK_WRAP_LABEL	"subscriber-wrap-1"	/* = samproc.c SAM_WRAP_LABEL */
#define BK_VALID_DAYS	30

enum { T_ACCOUNT, T_ORDER, T_CERT, T_KEY, T_CRED, T_N };
static const char *const tables[T_N] = {
	"ra_account", "issuance_order", "certificate", "subscriber_key",
	"sign_credential",
};

static void
hexout(FILE *f, const unsigned char *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		fputc(hx[p[i] >> 4], f);
		fputc(hx[p[i] & 15], f);
	}
}

/* A bytea in COPY text form: \\x then hex. */
static void
byteaout(FILE *f, const unsigned char *p, size_t n)
{
	fputs("\\\\x", f);
	hexout(f, p, n);
}

static int
sha256hex(const unsigned char *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	static const char hx[] = "0123456789abcdef";
	int i;

	if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
		return -1;
	for (i = 0; i < 32; i++) {
		out[2 * i] = hx[md[i] >> 4];
		out[2 * i + 1] = hx[md[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

static void
isotime(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%d %H:%M:%S+00", &tm);
}

/*
 * The subscriber certificate of pub, number i, signed by the bench CA.
 * *der malloc'd (OPENSSL_free), serial (BN_bn2hex, OPENSSL_free) and the
 * subject in RFC 2253 form (malloc'd). 0 or -1.
 */
static int
make_cert(long long i, EVP_PKEY *pub, EVP_PKEY *cakey, X509 *cacert,
    time_t nb, time_t na, unsigned char **der, int *derlen, char **serial,
    char **subject)
{
	X509 *x = NULL;
	X509_NAME *n = NULL;
	X509_EXTENSION *ext = NULL;
	X509V3_CTX v3;
	BIGNUM *bn = NULL;
	BIO *b = NULL;
	unsigned char rnd[16];
	char cn[64], sn[64], *p;
	long len;
	int rc = -1;

	*der = NULL;
	*serial = *subject = NULL;
	snprintf(cn, sizeof(cn), "Bench Subscriber %lld", i);
	snprintf(sn, sizeof(sn), "NIK:9%015lld", i);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto out;
	rnd[0] &= 0x7f;
	rnd[0] |= 0x40;		/* positive, 16 bytes, no leading zero */
	if ((x = X509_new()) == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
	    (bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    (*serial = BN_bn2hex(bn)) == NULL ||
	    (n = X509_NAME_new()) == NULL ||
	    X509_NAME_add_entry_by_txt(n, "C", MBSTRING_UTF8,
	    (const unsigned char *)"ID", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(n, "serialNumber", MBSTRING_UTF8,
	    (const unsigned char *)sn, -1, -1, 0) != 1 ||
	    X509_set_subject_name(x, n) != 1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(cacert)) != 1 ||
	    X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &nb) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &na) == NULL ||
	    X509_set_pubkey(x, pub) != 1)
		goto out;
	X509V3_set_ctx(&v3, cacert, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage,
	    "critical,digitalSignature,nonRepudiation")) == NULL ||
	    X509_add_ext(x, ext, -1) != 1)
		goto out;
	X509_EXTENSION_free(ext);
	if ((ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    "critical,CA:FALSE")) == NULL || X509_add_ext(x, ext, -1) != 1)
		goto out;
	if (X509_sign(x, cakey, EVP_sha256()) <= 0 ||
	    (*derlen = i2d_X509(x, der)) <= 0)
		goto out;
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) < 0 ||
	    (len = BIO_get_mem_data(b, &p)) <= 0 ||
	    (*subject = strndup(p, (size_t)len)) == NULL)
		goto out;
	rc = 0;
out:
	if (rc == -1) {
		OPENSSL_free(*der);
		OPENSSL_free(*serial);
		free(*subject);
		*der = NULL;
		*serial = *subject = NULL;
	}
	BIO_free(b);
	X509_EXTENSION_free(ext);
	X509_NAME_free(n);
	BN_free(bn);
	X509_free(x);
	return rc;
}

static EVP_PKEY *
load_key(const char *path)
{
	FILE *f;
	EVP_PKEY *k;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

static X509 *
load_cert(const char *path)
{
	FILE *f;
	X509 *x;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

int
main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct signer_config sc;
	struct p11_module *mod = NULL;
	struct p11_token *tok = NULL;
	EVP_PKEY *cakey = NULL, *pub = NULL;
	X509 *cacert = NULL;
	FILE *out[T_N] = { NULL };
	unsigned char *blob = NULL, *der = NULL, *spki = NULL;
	char pin[256], err[512], path[PATH_MAX];
	char pinhash[512], fp[65], spkifp[65], ts[40], nbs[40], nas[40];
	char *serial = NULL, *subject = NULL;
	const char *wrap_label;
	size_t bloblen = 0;
	long long first, count, i, issuer;
	time_t now = time(NULL), nb, na;
	int derlen = 0, spkilen, t, rc = 1;
	FILE *f;

	if (argc != 9) {
		fprintf(stderr, "usage: bench_signd_keys CONFIG CAKEY CACERT "
		    "PINHASHFILE ISSUER_ID FIRST COUNT OUTDIR\n");
		return 2;
	}
	log_init("bench", LOGL_WARN, stderr);
	memset(&sc, 0, sizeof(sc));
	memset(pin, 0, sizeof(pin));
	issuer = atoll(argv[5]);
	first = atoll(argv[6]);
	count = atoll(argv[7]);
	if (issuer <= 0 || first <= 0 || count <= 0) {
		fprintf(stderr, "bench_signd_keys: ISSUER_ID, FIRST and COUNT "
		    "must be positive\n");
		return 2;
	}
	if ((f = fopen(argv[4], "r")) == NULL ||
	    fgets(pinhash, sizeof(pinhash), f) == NULL) {
		fprintf(stderr, "bench_signd_keys: %s: cannot read\n", argv[4]);
		if (f != NULL)
			fclose(f);
		return 1;
	}
	fclose(f);
	pinhash[strcspn(pinhash, "\r\n")] = '\0';
	if (strncmp(pinhash, "$argon2id$", 10) != 0 ||
	    strpbrk(pinhash, "\t\\") != NULL) {
		fprintf(stderr, "bench_signd_keys: %s: not an Argon2id PHC "
		    "string\n", argv[4]);
		return 1;
	}
	if ((cfg = config_load(argv[1], err, sizeof(err))) == NULL) {
		fprintf(stderr, "bench_signd_keys: %s\n", err);
		return 1;
	}
	wrap_label = config_get(cfg, "sign.wrap_label", config_get(cfg,
	    "cad.wrap_label", BK_WRAP_LABEL));
	if ((cakey = load_key(argv[2])) == NULL ||
	    (cacert = load_cert(argv[3])) == NULL) {
		fprintf(stderr, "bench_signd_keys: cannot load the bench CA "
		    "(%s, %s)\n", argv[2], argv[3]);
		goto out;
	}
	if (signer_config_add_token(&sc, cfg, "wrap") == -1)
		goto out;
	if (secret_read(sc.tokens[0].pin_file, sc.tokens[0].pin_env, pin,
	    sizeof(pin), err, sizeof(err)) == -1) {
		fprintf(stderr, "bench_signd_keys: %s\n", err);
		goto out;
	}
	/*
	 * SoftHSM2 2.6.1 rewrites its token file at each login: a process
	 * loading the module at that moment reads a token it believes has no
	 * user PIN (CKR_USER_PIN_NOT_INITIALIZED) and keeps that view until
	 * the module is loaded again. Two of us start together: retry.
	 */
	for (t = 0; t < 10 && tok == NULL; t++) {
		if (t > 0) {
			fprintf(stderr, "bench_signd_keys: %s; again\n", err);
			p11_module_free(mod);
			mod = NULL;
			nanosleep(&(struct timespec){ 0, 200000000L }, NULL);
		}
		if ((mod = p11_module_load(sc.module, err, sizeof(err))) ==
		    NULL)
			break;
		tok = p11_token_open(mod, sc.tokens[0].label, pin,
		    sc.lock_dir, err, sizeof(err));
	}
	if (tok == NULL || p11wrap_check_wrapping_key(tok, wrap_label, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "bench_signd_keys: %s\n", err);
		goto out;
	}
	OPENSSL_cleanse(pin, sizeof(pin));
	for (t = 0; t < T_N; t++) {
		snprintf(path, sizeof(path), "%s/%s.%lld", argv[8], tables[t],
		    first);
		if ((out[t] = fopen(path, "w")) == NULL) {
			fprintf(stderr, "bench_signd_keys: %s: %s\n", path,
			    strerror(errno));
			goto out;
		}
	}
	isotime(now, ts, sizeof(ts));
	nb = now - 3600;
	na = now + BK_VALID_DAYS * 86400L;
	isotime(nb, nbs, sizeof(nbs));
	isotime(na, nas, sizeof(nas));
	for (i = first; i < first + count; i++) {
		if (p11wrap_generate(tok, wrap_label, P11_KEY_EC_P256, &blob,
		    &bloblen, &pub, err, sizeof(err)) == -1) {
			fprintf(stderr, "bench_signd_keys: key %lld: %s\n", i,
			    err);
			goto out;
		}
		spki = NULL;
		if ((spkilen = i2d_PUBKEY(pub, &spki)) <= 0 ||
		    make_cert(i, pub, cakey, cacert, nb, na, &der, &derlen,
		    &serial, &subject) == -1 ||
		    sha256hex(der, (size_t)derlen, fp) == -1 ||
		    sha256hex(spki, (size_t)spkilen, spkifp) == -1) {
			fprintf(stderr, "bench_signd_keys: certificate %lld "
			    "failed\n", i);
			goto out;
		}
		/* id email phone password_hash email_verified(_at)
		 * phone_verified(_at) pin_hash pin_set_at */
		fprintf(out[T_ACCOUNT], "%lld\tbench-%lld@bench.invalid\t"
		    "+6289%09lld\t%s\tt\t%s\tt\t%s\t%s\t%s\n", i, i, i, pinhash,
		    ts, ts, pinhash, ts);
		/* id kind profile subject key_type status certificate_id
		 * requested_by claimed_at claimed_by done_at */
		fprintf(out[T_ORDER], "%lld\tpersonal\tpersonal\t{\"C\": \"ID\", "
		    "\"CN\": \"Bench Subscriber %lld\"}\tec-p256\tdone\t%lld\t"
		    "bench\t%s\tbench\t%s\n", i, i, i, ts, ts);
		/* id issuer_id serial subject profile not_before not_after
		 * sha256 der */
		fprintf(out[T_CERT], "%lld\t%lld\t%s\t%s\tpersonal\t%s\t%s\t%s\t",
		    i, issuer, serial, subject, nbs, nas, fp);
		byteaout(out[T_CERT], der, (size_t)derlen);
		fputc('\n', out[T_CERT]);
		/* id order_id certificate_id key_type wrapped spki spki_sha256
		 * wrapping_key_label */
		fprintf(out[T_KEY], "%lld\t%lld\t%lld\tec-p256\t", i, i, i);
		byteaout(out[T_KEY], blob, bloblen);
		fputc('\t', out[T_KEY]);
		byteaout(out[T_KEY], spki, (size_t)spkilen);
		fprintf(out[T_KEY], "\t%s\t%s\n", spkifp, wrap_label);
		/* certificate_id account_id */
		fprintf(out[T_CRED], "%lld\t%lld\n", i, i);
		free(blob);
		blob = NULL;
		EVP_PKEY_free(pub);
		pub = NULL;
		OPENSSL_free(spki);
		spki = NULL;
		OPENSSL_free(der);
		der = NULL;
		OPENSSL_free(serial);
		serial = NULL;
		free(subject);
		subject = NULL;
	}
	rc = 0;
out:
	for (t = 0; t < T_N; t++)
		if (out[t] != NULL && fclose(out[t]) != 0) {
			fprintf(stderr, "bench_signd_keys: writing %s failed\n",
			    tables[t]);
			rc = 1;
		}
	OPENSSL_cleanse(pin, sizeof(pin));
	free(blob);
	EVP_PKEY_free(pub);
	OPENSSL_free(spki);
	OPENSSL_free(der);
	OPENSSL_free(serial);
	free(subject);
	EVP_PKEY_free(cakey);
	X509_free(cacert);
	p11_token_close(tok);
	p11_module_free(mod);
	config_free(cfg);
	return rc;
}
