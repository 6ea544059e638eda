/*
 * The signer's WRAPGEN request (cad's subscriber keys) against a throw-away
 * SoftHSM2 token with a wrapping key: EC P-256 and RSA-2048 keys come back
 * as p11wrap v1 blobs whose key signs and verifies with the public key
 * returned beside them; the refusals (another wrapping key, an unknown key
 * type, a signer without the grant) leave the signer serving; a signer
 * granted a wrapping key that is not there does not start.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hsm/p11.h"
#include "hsm/p11wrap.h"
#include "hsm/signer.h"
#include "lib/log.h"
#include "tests/unit/hsm/hsmtest.h"

#define TOKEN	"wrap-test"
#define WKEY	"subscriber-wrap-test"
#define CAKEY	"issuing-test"

struct fixture {
	struct hsmtest		 h;
	struct signer_config	 cfg;
	struct signer		*s;
};

static int
setup(void **state)
{
	struct fixture *f;
	struct p11_module *m = NULL;
	struct p11_token *t = NULL;
	EVP_PKEY *capub = NULL;
	char err[256] = "";
	int rc = -1;

	log_init("test_signer_wrap", LOGL_ERR, NULL);
	if ((f = calloc(1, sizeof(*f))) == NULL || hsmtest_setup(&f->h) == -1)
		return -1;
	if ((m = p11_module_load(f->h.module, err, sizeof(err))) == NULL ||
	    p11_token_init(m, TOKEN, HSMTEST_SO_PIN, HSMTEST_USER_PIN, err,
	    sizeof(err)) == -1 ||
	    p11wrap_create_wrapping_key(m, TOKEN, HSMTEST_SO_PIN,
	    HSMTEST_USER_PIN, WKEY, err, sizeof(err)) == -1 ||
	    (t = p11_token_open(m, TOKEN, HSMTEST_USER_PIN, NULL, err,
	    sizeof(err))) == NULL ||
	    p11_key_generate(t, CAKEY, P11_KEY_EC_P256, &capub, err,
	    sizeof(err)) == -1)
		goto out;
	f->cfg.grants[0].kind = SIGNER_KIND_CERT;
	f->cfg.grants[0].key_label = CAKEY;
	f->cfg.ngrants = 1;
	f->cfg.module = f->h.module;
	f->cfg.lock_dir = f->h.lockdir;
	f->cfg.tokens[0].label = TOKEN;
	f->cfg.tokens[0].pin_file = f->h.pinfile;
	f->cfg.ntokens = 1;
	f->cfg.wrap_label = WKEY;
	if ((f->s = signer_spawn(&f->cfg, err, sizeof(err))) == NULL)
		goto out;
	*state = f;
	rc = 0;
out:
	if (rc == -1)
		fprintf(stderr, "setup: %s\n", err);
	EVP_PKEY_free(capub);
	p11_token_close(t);
	p11_module_free(m);
	return rc;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	signer_close(f->s);
	hsmtest_teardown(&f->h);
	free(f);
	return 0;
}

/* The blob's key signs a digest that the returned public key verifies. */
static void
check_blob(struct fixture *f, const unsigned char *blob, size_t bloblen,
    EVP_PKEY *pub)
{
	struct p11_module *m;
	struct p11_token *t;
	unsigned char dg[32], *sig = NULL;
	size_t siglen = 0;
	EVP_PKEY_CTX *ctx;
	char err[256];

	memset(dg, 0x5a, sizeof(dg));
	assert_non_null(m = p11_module_load(f->h.module, err, sizeof(err)));
	assert_non_null(t = p11_token_open(m, TOKEN, HSMTEST_USER_PIN, NULL,
	    err, sizeof(err)));
	if (p11wrap_sign(t, WKEY, blob, bloblen, pub, "SHA256",
	    P11WRAP_PAD_PKCS1, dg, sizeof(dg), &sig, &siglen, err,
	    sizeof(err)) != 0)
		fail_msg("p11wrap_sign: %s", err);
	assert_non_null(ctx = EVP_PKEY_CTX_new(pub, NULL));
	assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_verify(ctx, sig, siglen, dg, sizeof(dg)), 1);
	EVP_PKEY_CTX_free(ctx);
	free(sig);
	p11_token_close(t);
	p11_module_free(m);
}

static void
test_wrapgen(void **state)
{
	static const struct { const char *type; int blobtype; const char *alg; }
	    kt[] = {
		{ "ec-p256", P11WRAP_BLOB_EC_P256, "EC" },
		{ "rsa2048", P11WRAP_BLOB_RSA2048, "RSA" },
	};
	struct fixture *f = *state;
	unsigned char *blob = NULL;
	size_t bloblen = 0, i;
	EVP_PKEY *pub = NULL;
	char err[256];

	for (i = 0; i < sizeof(kt) / sizeof(kt[0]); i++) {
		if (signer_keygen_wrapped(f->s, WKEY, kt[i].type, &blob,
		    &bloblen, &pub, err, sizeof(err)) == -1)
			fail_msg("wrapgen %s: %s", kt[i].type, err);
		assert_true(bloblen >= 18);
		assert_int_equal(blob[0], P11WRAP_BLOB_V1);
		assert_int_equal(blob[1], kt[i].blobtype);
		assert_true(EVP_PKEY_is_a(pub, kt[i].alg));
		check_blob(f, blob, bloblen, pub);
		free(blob);
		EVP_PKEY_free(pub);
	}
}

static void
test_refusals(void **state)
{
	struct fixture *f = *state;
	struct signer_config cfg;
	struct signer *s;
	unsigned char *blob = (unsigned char *)"x";
	size_t bloblen = 1;
	EVP_PKEY *pub = NULL;
	char err[256];

	assert_int_equal(signer_keygen_wrapped(f->s, "other-wrap", "ec-p256",
	    &blob, &bloblen, &pub, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not granted"));
	assert_null(blob);
	assert_null(pub);
	assert_int_equal(signer_keygen_wrapped(f->s, WKEY, "dsa1024", &blob,
	    &bloblen, &pub, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown key type"));
	/* Still serving. */
	assert_int_equal(signer_keygen_wrapped(f->s, WKEY, "ec-p256", &blob,
	    &bloblen, &pub, err, sizeof(err)), 0);
	free(blob);
	EVP_PKEY_free(pub);

	/* Without the grant: refused. */
	cfg = f->cfg;
	cfg.wrap_label = NULL;
	assert_non_null(s = signer_spawn(&cfg, err, sizeof(err)));
	assert_int_equal(signer_keygen_wrapped(s, WKEY, "ec-p256", &blob,
	    &bloblen, &pub, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not granted"));
	signer_close(s);

	/* A granted wrapping key that is not there: no start. */
	cfg.wrap_label = "no-such-wrap";
	assert_null(s = signer_spawn(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "wrapping key \"no-such-wrap\""));
}

/*
 * The TBSCertificate of a certificate for pub (ca: basicConstraints cA;
 * ku: a keyUsage value or NULL), as X509_sign would send it. Freed by caller.
 */
static unsigned char *
tbs_for(EVP_PKEY *pub, int ca, const char *ku, size_t *len)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	unsigned char *der = NULL;
	int n;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_UTF8, (const unsigned char *)"Budi Santoso", -1, -1, 0);
	X509_NAME_add_entry_by_txt(X509_get_issuer_name(x), "CN",
	    MBSTRING_UTF8, (const unsigned char *)"Issuing CA", -1, -1, 0);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	assert_int_equal(X509_set_pubkey(x, pub), 1);
	X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, 0);
	assert_non_null(e = X509V3_EXT_conf_nid(NULL, &ctx,
	    NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE"));
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	if (ku != NULL) {
		assert_non_null(e = X509V3_EXT_conf_nid(NULL, &ctx,
		    NID_key_usage, ku));
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	/* The signature algorithm the TBS names: ecdsa-with-SHA256. */
	assert_int_equal(X509_ALGOR_set0((X509_ALGOR *)X509_get0_tbs_sigalg(x),
	    OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL), 1);
	n = i2d_re_X509_tbs(x, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	X509_free(x);
	return der;
}

static int
sign_tbs(struct fixture *f, EVP_PKEY *pub, int ca, const char *ku,
    char *err, size_t errlen)
{
	unsigned char *tbs, *sig = NULL;
	size_t len, siglen = 0;
	int rc;

	tbs = tbs_for(pub, ca, ku, &len);
	rc = signer_sign(f->s, SIGNER_KIND_CERT, CAKEY, "SHA256", tbs, len,
	    &sig, &siglen, err, errlen);
	OPENSSL_free(tbs);
	free(sig);
	return rc;
}

/*
 * An issuance signer (granted WRAPGEN) certifies only the subscriber keys
 * it generated, once each, as end entities: a compromised cad worker can
 * make no subordinate CA and certify no key of its own.
 */
static void
test_cert_policy(void **state)
{
	struct fixture *f = *state;
	unsigned char *blob = NULL;
	size_t bloblen = 0;
	EVP_PKEY *pub = NULL, *own = NULL;
	char err[256] = "";

	if (signer_keygen_wrapped(f->s, WKEY, "ec-p256", &blob, &bloblen,
	    &pub, err, sizeof(err)) == -1)
		fail_msg("wrapgen: %s", err);
	/* Refused, and the key stays certifiable. */
	assert_int_equal(sign_tbs(f, pub, 1, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a CA certificate"));
	assert_int_equal(sign_tbs(f, pub, 0, "critical,keyCertSign", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "keyCertSign or cRLSign"));
	assert_int_equal(sign_tbs(f, pub, 0, "critical,digitalSignature,cRLSign",
	    err, sizeof(err)), -1);
	if (sign_tbs(f, pub, 0, "critical,digitalSignature,nonRepudiation",
	    err, sizeof(err)) != 0)
		fail_msg("the generated key's end-entity certificate: %s", err);
	/* Once only. */
	assert_int_equal(sign_tbs(f, pub, 0, "critical,digitalSignature", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not a subscriber key this signer generated"));
	/* A key the signer never made. */
	assert_non_null(own = EVP_EC_gen("P-256"));
	assert_int_equal(sign_tbs(f, own, 0, "critical,digitalSignature", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not a subscriber key this signer generated"));
	/* The signer serves on. */
	free(blob);
	EVP_PKEY_free(pub);
	pub = NULL;
	assert_int_equal(signer_keygen_wrapped(f->s, WKEY, "ec-p256", &blob,
	    &bloblen, &pub, err, sizeof(err)), 0);
	assert_int_equal(sign_tbs(f, pub, 0, NULL, err, sizeof(err)), 0);
	free(blob);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(own);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrapgen),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_cert_policy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
