/*
 * The signer process and the pkisigner provider against a throw-away
 * SoftHSM2 token: X509_sign, X509_CRL_sign, OCSP_basic_sign, TS_RESP_CTX and
 * CMS signing through signer_pkey() with EC P-256 and RSA-2048, every output
 * verified with the public key; the signer's refusals (kind, key, digest,
 * keygen, TBS that does not decode as the kind, OCSP times not in RFC
 * 5280's form); a malformed frame ending the signer; a token that goes
 * away and comes back, also with the signer in its sandbox
 * (SANDBOX_SIGNER), and the whole token store (a failed re-init); a PIN
 * from the environment that the spawning process does not keep; two
 * threads at once; requests pipelined from one thread
 * (signer_sign_begin/end): answered in one write, each reply to its own
 * ticket, a refusal among them, tickets shared with another thread, a
 * signer killed with requests in flight.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/params.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "hsm/p11.h"
#include "hsm/p11_priv.h"
#include "hsm/signer.h"
#include "hsm/signer_proto.h"
#include "lib/auditseal.h"
#include "lib/config.h"
#include "lib/der.h"
#include "lib/log.h"
#include "tests/unit/hsm/hsmtest.h"

#define TOKEN	"signer-test"

static const char *const keylabels[] = { "ec-ca", "rsa-ca" };

struct fixture {
	struct hsmtest		 h;
	struct signer_config	 cfg;
	struct signer		*s;
};

static void
add_grant(struct signer_config *c, enum signer_kind kind, const char *label)
{
	c->grants[c->ngrants].kind = kind;
	c->grants[c->ngrants].key_label = label;
	c->ngrants++;
}

static int
setup(void **state)
{
	struct fixture *f;
	struct p11_module *m = NULL;
	struct p11_token *t = NULL;
	EVP_PKEY *pub = NULL;
	char err[256];
	int kind, rc = -1;

	log_init("test_signer", LOGL_ERR, NULL);
	if ((f = calloc(1, sizeof(*f))) == NULL || hsmtest_setup(&f->h) == -1)
		return -1;
	if ((m = p11_module_load(f->h.module, err, sizeof(err))) == NULL ||
	    p11_token_init(m, TOKEN, HSMTEST_SO_PIN, HSMTEST_USER_PIN, err,
	    sizeof(err)) == -1 ||
	    (t = p11_token_open(m, TOKEN, HSMTEST_USER_PIN, NULL, err,
	    sizeof(err))) == NULL)
		goto out;
	if (p11_key_generate(t, "ec-ca", P11_KEY_EC_P256, &pub, err,
	    sizeof(err)) == -1)
		goto out;
	EVP_PKEY_free(pub);
	if (p11_key_generate(t, "rsa-ca", P11_KEY_RSA2048, &pub, err,
	    sizeof(err)) == -1)
		goto out;
	EVP_PKEY_free(pub);
	if (p11_key_generate(t, "ocsp-1", P11_KEY_EC_P256, &pub, err,
	    sizeof(err)) == -1)
		goto out;
	EVP_PKEY_free(pub);
	pub = NULL;

	f->cfg.module = f->h.module;
	f->cfg.lock_dir = f->h.lockdir;
	f->cfg.tokens[0].label = TOKEN;
	f->cfg.tokens[0].pin_file = f->h.pinfile;
	f->cfg.ntokens = 1;
	for (kind = SIGNER_KIND_CERT; kind <= SIGNER_KIND_AUDIT; kind++) {
		add_grant(&f->cfg, (enum signer_kind)kind, "ec-ca");
		add_grant(&f->cfg, (enum signer_kind)kind, "rsa-ca");
	}
	add_grant(&f->cfg, SIGNER_KIND_OCSP, "ocsp-1");
	if ((f->s = signer_spawn(&f->cfg, err, sizeof(err))) == NULL)
		goto out;
	*state = f;
	rc = 0;
out:
	if (rc == -1)
		fprintf(stderr, "setup: %s\n", err);
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

static void
fail_openssl(const char *what)
{
	ERR_print_errors_fp(stderr);
	fail_msg("%s failed", what);
}

/* A self-signed certificate for pub, signed through pkey; eku may be NULL. */
static X509 *
make_cert(EVP_PKEY *pkey, EVP_PKEY *pub, const char *cn, const char *eku)
{
	X509 *x;
	X509_NAME *n;
	X509_EXTENSION *ext;
	X509V3_CTX v3;

	x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	n = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, n), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -60));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_set_pubkey(x, pub), 1);
	if (eku != NULL) {
		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_ext_key_usage, eku);
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, pkey, EVP_sha256()) <= 0)
		fail_openssl("X509_sign");
	return x;
}

static void
get_keys(struct fixture *f, enum signer_kind kind, const char *label,
    EVP_PKEY **pkey, EVP_PKEY **pub)
{
	char err[256];

	if ((*pkey = signer_pkey(f->s, kind, label, err, sizeof(err))) == NULL)
		fail_msg("signer_pkey %s: %s", label, err);
	if (signer_pubkey(f->s, label, pub, err, sizeof(err)) == -1)
		fail_msg("signer_pubkey %s: %s", label, err);
}

static void
test_spawn_failures(void **state)
{
	struct fixture *f = *state;
	struct signer_config c = f->cfg;
	struct signer *s;
	EVP_PKEY *pub = NULL;
	char err[256] = "";
	int i;

	c.tokens[0].pin_file = f->h.badpinfile;
	s = signer_spawn(&c, err, sizeof(err));
	assert_null(s);
	assert_non_null(strstr(err, "wrong user PIN"));

	c = f->cfg;
	c.tokens[0].label = "missing-token";
	assert_null(signer_spawn(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "not present"));

	c = f->cfg;
	c.grants[0].key_label = "no-such-key";
	assert_null(signer_spawn(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "no-such-key"));

	/*
	 * missing_keys_ok (crld): it starts with the keys that are there;
	 * the missing one is refused per request. With none, it does not.
	 */
	c.missing_keys_ok = 1;
	if ((s = signer_spawn(&c, err, sizeof(err))) == NULL)
		fail_msg("missing_keys_ok, one key missing: %s", err);
	assert_int_equal(signer_pubkey(s, "no-such-key", &pub, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no-such-key"));
	if (signer_pubkey(s, "rsa-ca", &pub, err, sizeof(err)) == -1)
		fail_msg("missing_keys_ok: the key present: %s", err);
	EVP_PKEY_free(pub);
	signer_close(s);
	for (i = 0; i < c.ngrants; i++)
		c.grants[i].key_label = "no-such-key";
	assert_null(signer_spawn(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "none of the"));
}

/*
 * A numbered grant (crld's issuing-N): a key made after the signer
 * started, by another process as `pkictl ca issuing` makes one, is
 * granted and signs; the prefix alone, a leading zero, more than a number
 * after it, or another kind are refused. Until 2026-12-06 grants named
 * keys only, and crld signed no CRL of an issuing CA made while it ran.
 */
static void
test_numbered_grant(void **state)
{
	struct fixture *f = *state;
	struct signer_config c = f->cfg;
	struct signer *s;
	struct p11_module *m = NULL;
	struct p11_token *t = NULL;
	EVP_PKEY *pub = NULL, *made = NULL, *pkey = NULL;
	unsigned char tbs[] = { 0x30, 0x00 }, *sig = NULL;
	size_t siglen = 0;
	X509_NAME *name;
	X509_CRL *crl;
	ASN1_TIME *tm;
	ASN1_INTEGER *num;
	char err[256] = "";
	static const char *const refused[] = { "renewed-", "renewed-07",
	    "renewed-7x", "renewed-1234567890", "renewed", "xrenewed-7" };
	size_t i;

	c.ngrants = 0;
	c.missing_keys_ok = 1;
	assert_int_equal(signer_config_grant(&c, SIGNER_KIND_CRL, "ec-ca"), 0);
	assert_int_equal(signer_config_grant_numbered(&c, SIGNER_KIND_CRL,
	    "renewed-"), 0);
	if ((s = signer_spawn(&c, err, sizeof(err))) == NULL)
		fail_msg("a numbered grant with no key yet: %s", err);
	/* Granted, not there yet: refused as a missing key. */
	assert_int_equal(signer_pubkey(s, "renewed-7", &pub, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no private key labelled"));
	if ((m = p11_module_load(f->h.module, err, sizeof(err))) == NULL ||
	    (t = p11_token_open(m, TOKEN, HSMTEST_USER_PIN, NULL, err,
	    sizeof(err))) == NULL ||
	    p11_key_generate(t, "renewed-7", P11_KEY_EC_P256, &made, err,
	    sizeof(err)) == -1)
		fail_msg("renewed-7: %s", err);
	if (signer_pubkey(s, "renewed-7", &pub, err, sizeof(err)) == -1)
		fail_msg("renewed-7, made after the signer started: %s", err);
	assert_int_equal(EVP_PKEY_eq(pub, made), 1);
	/* A CRL signed with it verifies. */
	if ((pkey = signer_pkey(s, SIGNER_KIND_CRL, "renewed-7", err,
	    sizeof(err))) == NULL)
		fail_msg("signer_pkey renewed-7: %s", err);
	name = X509_NAME_new();
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"Renewed CA", -1, -1, 0), 1);
	crl = X509_CRL_new();
	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, name), 1);
	X509_NAME_free(name);
	tm = X509_gmtime_adj(NULL, 0);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, tm), 1);
	ASN1_TIME_free(tm);
	tm = X509_gmtime_adj(NULL, 3600);
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, tm), 1);
	ASN1_TIME_free(tm);
	num = ASN1_INTEGER_new();
	ASN1_INTEGER_set(num, 1);
	assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0),
	    1);
	ASN1_INTEGER_free(num);
	if (X509_CRL_sign(crl, pkey, EVP_sha256()) <= 0)
		fail_openssl("X509_CRL_sign with renewed-7");
	assert_int_equal(X509_CRL_verify(crl, pub), 1);
	X509_CRL_free(crl);
	/* Only the kind granted. */
	assert_int_equal(signer_sign(s, SIGNER_KIND_CERT, "renewed-7",
	    "SHA256", tbs, sizeof(tbs), &sig, &siglen, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not granted"));
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(signer_sign(s, SIGNER_KIND_CRL, refused[i],
		    "SHA256", tbs, sizeof(tbs), &sig, &siglen, err,
		    sizeof(err)), -1);
		if (strstr(err, "not granted") == NULL)
			fail_msg("%s: %s", refused[i], err);
	}
	assert_null(sig);
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(made);
	signer_close(s);
	(void)p11_key_destroy(t, "renewed-7", err, sizeof(err));
	p11_token_close(t);
	p11_module_free(m);
}

static void
test_x509_sign(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *pkey, *pub;
	X509 *x;
	size_t i;

	for (i = 0; i < 2; i++) {
		get_keys(f, SIGNER_KIND_CERT, keylabels[i], &pkey, &pub);
		assert_int_equal(EVP_PKEY_get_id(pkey), EVP_PKEY_get_id(pub));
		assert_int_equal(EVP_PKEY_get_bits(pkey), EVP_PKEY_get_bits(pub));
		x = make_cert(pkey, pub, "Test CA", NULL);
		assert_int_equal(X509_verify(x, pub), 1);
		assert_int_equal(X509_check_private_key(x, pkey), 1);
		/* The same with SHA-384. */
		assert_true(X509_sign(x, pkey, EVP_sha384()) > 0);
		assert_int_equal(X509_verify(x, pub), 1);
		assert_int_equal(X509_get_signature_nid(x), i == 0 ?
		    NID_ecdsa_with_SHA384 : NID_sha384WithRSAEncryption);
		X509_free(x);
		EVP_PKEY_free(pkey);
		EVP_PKEY_free(pub);
	}
}

static void
test_crl_sign(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *pkey, *pub, *certkey;
	X509_CRL *crl;
	X509_REVOKED *rev;
	ASN1_INTEGER *serial, *num;
	ASN1_TIME *t, *nu;
	X509 *x;
	size_t i;

	for (i = 0; i < 2; i++) {
		get_keys(f, SIGNER_KIND_CERT, keylabels[i], &certkey, &pub);
		x = make_cert(certkey, pub, "Test CA", NULL);
		EVP_PKEY_free(pub);
		get_keys(f, SIGNER_KIND_CRL, keylabels[i], &pkey, &pub);
		crl = X509_CRL_new();
		assert_int_equal(X509_CRL_set_version(crl, 1), 1);
		assert_int_equal(X509_CRL_set_issuer_name(crl,
		    X509_get_subject_name(x)), 1);
		t = X509_gmtime_adj(NULL, 0);
		assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
		/* What the signer requires beyond the shape: hsm/extern.h. */
		nu = X509_gmtime_adj(NULL, 86400);
		assert_int_equal(X509_CRL_set1_nextUpdate(crl, nu), 1);
		ASN1_TIME_free(nu);
		num = ASN1_INTEGER_new();
		ASN1_INTEGER_set(num, 7);
		assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num,
		    0, 0), 1);
		ASN1_INTEGER_free(num);
		rev = X509_REVOKED_new();
		serial = ASN1_INTEGER_new();
		ASN1_INTEGER_set(serial, 4242);
		X509_REVOKED_set_serialNumber(rev, serial);
		X509_REVOKED_set_revocationDate(rev, t);
		assert_int_equal(X509_CRL_add0_revoked(crl, rev), 1);
		ASN1_INTEGER_free(serial);
		ASN1_TIME_free(t);
		if (X509_CRL_sign(crl, pkey, EVP_sha256()) <= 0)
			fail_openssl("X509_CRL_sign");
		assert_int_equal(X509_CRL_verify(crl, pub), 1);
		/* Valid for ten years: the signer refuses (a replayable CRL). */
		nu = X509_gmtime_adj(NULL, 3650L * 86400);
		assert_int_equal(X509_CRL_set1_nextUpdate(crl, nu), 1);
		ASN1_TIME_free(nu);
		assert_true(X509_CRL_sign(crl, pkey, EVP_sha256()) <= 0);
		ERR_clear_error();
		X509_CRL_free(crl);
		X509_free(x);
		EVP_PKEY_free(certkey);
		EVP_PKEY_free(pkey);
		EVP_PKEY_free(pub);
	}
}

static void
ocsp_sign_one(struct fixture *f, const char *label)
{
	EVP_PKEY *pkey, *pub, *certkey;
	OCSP_BASICRESP *bs;
	OCSP_CERTID *id;
	ASN1_TIME *now, *next;
	STACK_OF(X509) *certs;
	X509_STORE *store;
	X509 *x;

	get_keys(f, SIGNER_KIND_CERT, "ec-ca", &certkey, &pub);
	EVP_PKEY_free(pub);
	get_keys(f, SIGNER_KIND_OCSP, label, &pkey, &pub);
	x = make_cert(certkey, pub, "OCSP responder", NULL);
	bs = OCSP_BASICRESP_new();
	id = OCSP_cert_to_id(NULL, x, x);
	now = X509_gmtime_adj(NULL, 0);
	/* Without a nextUpdate, or valid a year: refused (hsm/README.md). */
	assert_non_null(OCSP_basic_add1_status(bs, id, V_OCSP_CERTSTATUS_GOOD,
	    0, NULL, now, NULL));
	assert_int_equal(OCSP_basic_sign(bs, x, pkey, EVP_sha256(), NULL, 0),
	    0);
	OCSP_BASICRESP_free(bs);
	bs = OCSP_BASICRESP_new();
	next = X509_gmtime_adj(NULL, 365L * 86400);
	assert_non_null(OCSP_basic_add1_status(bs, id, V_OCSP_CERTSTATUS_GOOD,
	    0, NULL, now, next));
	assert_int_equal(OCSP_basic_sign(bs, x, pkey, EVP_sha256(), NULL, 0),
	    0);
	ERR_clear_error();
	OCSP_BASICRESP_free(bs);
	ASN1_TIME_free(next);
	/* Four days, as ocspd's policy: signed. */
	bs = OCSP_BASICRESP_new();
	next = X509_gmtime_adj(NULL, 4L * 86400);
	assert_non_null(OCSP_basic_add1_status(bs, id, V_OCSP_CERTSTATUS_GOOD,
	    0, NULL, now, next));
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	if (OCSP_basic_sign(bs, x, pkey, EVP_sha256(), NULL, 0) != 1)
		fail_openssl("OCSP_basic_sign");
	/* The signature over ResponseData, checked with the public key. */
	assert_int_equal(ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA),
	    OCSP_resp_get0_tbs_sigalg(bs), OCSP_resp_get0_signature(bs),
	    (void *)OCSP_resp_get0_respdata(bs), pub), 1);
	certs = sk_X509_new_null();
	sk_X509_push(certs, x);
	store = X509_STORE_new();
	assert_int_equal(OCSP_basic_verify(bs, certs, store, OCSP_NOVERIFY),
	    1);
	X509_STORE_free(store);
	sk_X509_free(certs);
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	X509_free(x);
	EVP_PKEY_free(certkey);
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(pub);
}

static void
test_ocsp_sign(void **state)
{
	struct fixture *f = *state;

	ocsp_sign_one(f, "ec-ca");
	ocsp_sign_one(f, "rsa-ca");
	ocsp_sign_one(f, "ocsp-1");
}

static TS_REQ *
make_ts_req(void)
{
	TS_REQ *req = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	unsigned char dg[32];

	memset(dg, 0xab, sizeof(dg));
	X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL);
	assert_int_equal(TS_MSG_IMPRINT_set_algo(mi, alg), 1);
	assert_int_equal(TS_MSG_IMPRINT_set_msg(mi, dg, sizeof(dg)), 1);
	assert_int_equal(TS_REQ_set_version(req, 1), 1);
	assert_int_equal(TS_REQ_set_msg_imprint(req, mi), 1);
	assert_int_equal(TS_REQ_set_cert_req(req, 1), 1);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	return req;
}

static ASN1_INTEGER *
ts_serial(struct TS_resp_ctx *ctx, void *data)
{
	ASN1_INTEGER *s = ASN1_INTEGER_new();

	ASN1_INTEGER_set(s, ++*(long *)data);
	return s;
}

static unsigned char *tbs_ts_attrs(int, size_t *);
static void	ts_set_content(EVP_MD_CTX *, const unsigned char *, size_t);
static int	sig_verifies(EVP_PKEY *, const unsigned char *, size_t,
		    const unsigned char *, size_t);

/* 1 when OpenSSL's error queue holds a message with text in its data. */
static int
errors_say(const char *text)
{
	const char *data;
	int flags, found = 0;

	while (ERR_get_error_all(NULL, NULL, NULL, &data, &flags) != 0)
		if ((flags & ERR_TXT_STRING) && strstr(data, text) != NULL)
			found = 1;
	return found;
}

/*
 * A time-stamp through the provider: TS_RESP_CTX signs its SignedAttributes
 * without the TSTInfo they cover, so since 2026-12-06 the signer refuses
 * it and TS_RESP_CTX answers rejection (tsad turns that into
 * systemFailure); a signing context given the TSTInfo
 * (SIGNER_PARAM_CONTENT), as tsa/token.c gives it, signs, with EC and RSA.
 */
static void
test_timestamp(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *pkey, *pub, *certkey;
	TS_RESP_CTX *ctx;
	TS_RESP *resp;
	TS_REQ *req;
	BIO *bio;
	X509 *x;
	ASN1_OBJECT *policy;
	EVP_MD_CTX *mctx;
	unsigned char *tbs, sig[512];
	long serial = 0;
	size_t i, len, siglen;

	for (i = 0; i < 2; i++) {
		get_keys(f, SIGNER_KIND_CERT, keylabels[i], &certkey, &pub);
		x = make_cert(certkey, pub, "Test TSA",
		    "critical,timeStamping");
		EVP_PKEY_free(pub);
		get_keys(f, SIGNER_KIND_TIMESTAMP, keylabels[i], &pkey, &pub);
		ctx = TS_RESP_CTX_new();
		assert_int_equal(TS_RESP_CTX_set_signer_cert(ctx, x), 1);
		assert_int_equal(TS_RESP_CTX_set_signer_key(ctx, pkey), 1);
		assert_int_equal(TS_RESP_CTX_set_signer_digest(ctx,
		    EVP_sha256()), 1);
		policy = OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1);
		assert_int_equal(TS_RESP_CTX_set_def_policy(ctx, policy), 1);
		ASN1_OBJECT_free(policy);
		assert_int_equal(TS_RESP_CTX_add_md(ctx, EVP_sha256()), 1);
		TS_RESP_CTX_set_serial_cb(ctx, ts_serial, &serial);
		req = make_ts_req();
		bio = BIO_new(BIO_s_mem());
		assert_int_equal(i2d_TS_REQ_bio(bio, req), 1);
		ERR_clear_error();
		resp = TS_RESP_create_response(ctx, bio);
		if (resp == NULL)
			fail_openssl("TS_RESP_create_response");
		assert_int_equal(ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(
		    TS_RESP_get_status_info(resp))), TS_STATUS_REJECTION);
		assert_null(TS_RESP_get_token(resp));
		assert_true(errors_say("kind timestamp: TSTInfo (RFC 3161 "
		    "§2.4.2): none sent"));
		/* With the TSTInfo: signed, and the signature verifies. */
		tbs = tbs_ts_attrs((int)i, &len);
		mctx = EVP_MD_CTX_new();
		assert_non_null(mctx);
		assert_int_equal(EVP_DigestSignInit_ex(mctx, NULL, "SHA256",
		    NULL, NULL, pkey, NULL), 1);
		ts_set_content(mctx, tbs, len);
		siglen = sizeof(sig);
		if (EVP_DigestSign(mctx, sig, &siglen, tbs, len) != 1)
			fail_openssl("EVP_DigestSign with the TSTInfo");
		assert_true(sig_verifies(pub, tbs, len, sig, siglen));
		/* Initialised again, the context has forgotten it. */
		siglen = sizeof(sig);
		assert_int_equal(EVP_DigestSignInit_ex(mctx, NULL, "SHA256",
		    NULL, NULL, pkey, NULL), 1);
		assert_int_equal(EVP_DigestSign(mctx, sig, &siglen, tbs, len),
		    0);
		assert_true(errors_say("none sent"));
		EVP_MD_CTX_free(mctx);
		OPENSSL_free(tbs);
		BIO_free(bio);
		TS_REQ_free(req);
		TS_RESP_free(resp);
		TS_RESP_CTX_free(ctx);
		X509_free(x);
		EVP_PKEY_free(certkey);
		EVP_PKEY_free(pkey);
		EVP_PKEY_free(pub);
	}
}

/* Verifies a re-parsed copy (the original still holds the signing key). */
static void
cms_verify_ok(CMS_ContentInfo *orig, X509 *x)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *out = BIO_new(BIO_s_mem());
	CMS_ContentInfo *cms;
	unsigned char *der = NULL;
	const unsigned char *p;
	char buf[64];
	int n;

	n = i2d_CMS_ContentInfo(orig, &der);
	assert_true(n > 0);
	p = der;
	cms = d2i_CMS_ContentInfo(NULL, &p, n);
	assert_non_null(cms);
	OPENSSL_free(der);

	sk_X509_push(certs, x);
	if (CMS_verify(cms, certs, NULL, NULL, out, CMS_NOVERIFY |
	    CMS_BINARY) != 1)
		fail_openssl("CMS_verify");
	n = BIO_read(out, buf, sizeof(buf));
	assert_int_equal(n, 11);
	assert_memory_equal(buf, "hello world", 11);
	BIO_free(out);
	sk_X509_free(certs);
	CMS_ContentInfo_free(cms);
}

static void
test_cms(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *pkey, *pub, *certkey;
	CMS_ContentInfo *cms;
	BIO *in;
	X509 *x;
	size_t i;

	for (i = 0; i < 2; i++) {
		get_keys(f, SIGNER_KIND_CERT, keylabels[i], &certkey, &pub);
		x = make_cert(certkey, pub, "Test signer", NULL);
		EVP_PKEY_free(pub);
		get_keys(f, SIGNER_KIND_CMS, keylabels[i], &pkey, &pub);

		in = BIO_new_mem_buf("hello world", 11);
		cms = CMS_sign(x, pkey, NULL, in, CMS_BINARY);
		if (cms == NULL)
			fail_openssl("CMS_sign");
		cms_verify_ok(cms, x);
		CMS_ContentInfo_free(cms);
		BIO_free(in);

		in = BIO_new_mem_buf("hello world", 11);
		cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL |
		    CMS_BINARY);
		assert_non_null(cms);
		if (CMS_add1_signer(cms, x, pkey, EVP_sha384(), CMS_BINARY) ==
		    NULL)
			fail_openssl("CMS_add1_signer");
		if (CMS_final(cms, in, NULL, CMS_BINARY) != 1)
			fail_openssl("CMS_final");
		cms_verify_ok(cms, x);
		CMS_ContentInfo_free(cms);
		BIO_free(in);

		X509_free(x);
		EVP_PKEY_free(certkey);
		EVP_PKEY_free(pkey);
		EVP_PKEY_free(pub);
	}
}

/* DER TBSCertificate of a certificate signed by ec-ca. */
static unsigned char *
tbs_cert(struct fixture *f, size_t *len)
{
	EVP_PKEY *pkey, *pub;
	unsigned char *der = NULL;
	X509 *x;
	int n;

	get_keys(f, SIGNER_KIND_CERT, "ec-ca", &pkey, &pub);
	x = make_cert(pkey, pub, "TBS", NULL);
	n = i2d_re_X509_tbs(x, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	X509_free(x);
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(pub);
	return der;
}

static void
expect_refusal(struct fixture *f, enum signer_kind kind, const char *label,
    const char *md, const unsigned char *tbs, size_t len, const char *want)
{
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char err[512] = "";

	assert_int_equal(signer_sign(f->s, kind, label, md, tbs, len, &sig,
	    &siglen, err, sizeof(err)), -1);
	assert_null(sig);
	if (strstr(err, want) == NULL)
		fail_msg("refusal \"%s\" does not say \"%s\"", err, want);
}

/* t as GeneralizedTime digits (YYYYMMDDHHMMSS) followed by zone. */
static void
gentime(char *out, size_t outlen, time_t t, const char *zone)
{
	struct tm tm;

	assert_non_null(gmtime_r(&t, &tm));
	snprintf(out, outlen, "%04d%02d%02d%02d%02d%02d%s", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, zone);
}

/*
 * A ResponseData (RFC 6960 §4.2.1) into d: one SingleResponse with
 * producedAt of contents produced, thisUpdate of thisupd and nextUpdate
 * of next, written as they are; good, or revoked at rev when rev is not
 * NULL.
 */
static void
ocsp_respdata_at(struct der *d, const char *produced, const char *thisupd,
    const char *next, const char *rev)
{
	static const unsigned char sha1[] = { 0x30, 0x07, 0x06, 0x05, 0x2b,
	    0x0e, 0x03, 0x02, 0x1a };
	unsigned char h[20];

	memset(h, 0xab, sizeof(h));
	der_reset(d);
	der_begin(d, DER_SEQUENCE);
	der_begin(d, DER_CONTEXT_CONS(2));	/* responderID byKey */
	der_tlv(d, DER_OCTET_STRING, h, sizeof(h));
	der_end(d);
	der_tlv(d, DER_GENERALIZEDTIME, produced, strlen(produced));
	der_begin(d, DER_SEQUENCE);			/* responses */
	der_begin(d, DER_SEQUENCE);
	der_begin(d, DER_SEQUENCE);			/* CertID */
	der_raw(d, sha1, sizeof(sha1));
	der_tlv(d, DER_OCTET_STRING, h, sizeof(h));
	der_tlv(d, DER_OCTET_STRING, h, sizeof(h));
	der_small_uint(d, DER_INTEGER, 4242);
	der_end(d);
	if (rev == NULL)
		der_tlv(d, DER_CONTEXT(0), NULL, 0);	/* good */
	else {
		der_begin(d, DER_CONTEXT_CONS(1));	/* revoked */
		der_tlv(d, DER_GENERALIZEDTIME, rev, strlen(rev));
		der_end(d);
	}
	der_tlv(d, DER_GENERALIZEDTIME, thisupd, strlen(thisupd));
	der_begin(d, DER_CONTEXT_CONS(0));
	der_tlv(d, DER_GENERALIZEDTIME, next, strlen(next));
	der_end(d);
	der_end(d);
	der_end(d);
	der_end(d);
	assert_false(der_failed(d));
}

/* Good, with thisUpdate = producedAt. */
static void
ocsp_respdata(struct der *d, const char *produced, const char *next)
{
	ocsp_respdata_at(d, produced, produced, next, NULL);
}

/*
 * An OCSP response's times are read as RFC 6960 §4.2.2.1 has them
 * (lib/der.h der_get_time), not as OpenSSL also reads them: until
 * 2026-12-05 a nextUpdate with a "+1400" offset was bounded 14 hours
 * earlier than a relying party that skips the offset reads it.
 */
static void
test_ocsp_times(void **state)
{
	struct fixture *f = *state;
	struct der d;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	time_t now = time(NULL);
	char produced[32], next[32], thisupd[32], rev[32], err[512] = "";

	der_init(&d);
	gentime(produced, sizeof(produced), now, "Z");
	gentime(next, sizeof(next), now + 4 * 86400, "Z");
	ocsp_respdata(&d, produced, next);
	if (signer_sign(f->s, SIGNER_KIND_OCSP, "ocsp-1", "SHA256", d.buf,
	    d.len, &sig, &siglen, err, sizeof(err)) == -1)
		fail_msg("a ResponseData dated now: %s", err);
	assert_true(siglen > 0);
	free(sig);

	gentime(produced, sizeof(produced), now, ".5Z");
	ocsp_respdata(&d, produced, next);
	expect_refusal(f, SIGNER_KIND_OCSP, "ocsp-1", "SHA256", d.buf, d.len,
	    "producedAt is not YYYYMMDDHHMMSSZ");

	/* 30 days + 10 h on in digits, 30 days - 4 h on with the offset. */
	gentime(produced, sizeof(produced), now, "Z");
	gentime(next, sizeof(next), now + SIGNER_OCSP_MAX_VALIDITY_DEFAULT_S +
	    10 * 3600, "+1400");
	ocsp_respdata(&d, produced, next);
	expect_refusal(f, SIGNER_KIND_OCSP, "ocsp-1", "SHA256", d.buf, d.len,
	    "response 1: nextUpdate is not YYYYMMDDHHMMSSZ");

	/* Still bounded when well-formed. */
	gentime(next, sizeof(next), now + SIGNER_OCSP_MAX_VALIDITY_DEFAULT_S +
	    3600, "Z");
	ocsp_respdata(&d, produced, next);
	expect_refusal(f, SIGNER_KIND_OCSP, "ocsp-1", "SHA256", d.buf, d.len,
	    "response 1 valid beyond");

	/* thisUpdate and revocationTime in the same form, or refused. */
	gentime(next, sizeof(next), now + 4 * 86400, "Z");
	gentime(thisupd, sizeof(thisupd), now, ".25Z");
	ocsp_respdata_at(&d, produced, thisupd, next, NULL);
	expect_refusal(f, SIGNER_KIND_OCSP, "ocsp-1", "SHA256", d.buf, d.len,
	    "response 1: thisUpdate is not YYYYMMDDHHMMSSZ");
	gentime(rev, sizeof(rev), now - 3600, "Z");
	ocsp_respdata_at(&d, produced, produced, next, rev);
	if (signer_sign(f->s, SIGNER_KIND_OCSP, "ocsp-1", "SHA256", d.buf,
	    d.len, &sig, &siglen, err, sizeof(err)) == -1)
		fail_msg("a revoked response: %s", err);
	free(sig);
	gentime(rev, sizeof(rev), now - 3600, "-0700");
	ocsp_respdata_at(&d, produced, produced, next, rev);
	expect_refusal(f, SIGNER_KIND_OCSP, "ocsp-1", "SHA256", d.buf, d.len,
	    "response 1: revocationTime is not YYYYMMDDHHMMSSZ");
	/* One ResponseData, nothing after it. */
	ocsp_respdata(&d, produced, next);
	der_tlv(&d, DER_NULL, NULL, 0);
	expect_refusal(f, SIGNER_KIND_OCSP, "ocsp-1", "SHA256", d.buf, d.len,
	    "2 trailing bytes after an OCSP ResponseData");
	der_free(&d);
}

/* Header and content lengths of the DER TLV at p (short, 0x81, 0x82). */
static size_t
tlv_hdr(const unsigned char *p, size_t *clen)
{
	if (p[1] < 0x80) {
		*clen = p[1];
		return 2;
	}
	if (p[1] == 0x81) {
		*clen = p[2];
		return 3;
	}
	assert_int_equal(p[1], 0x82);
	*clen = (size_t)p[2] << 8 | p[3];
	return 4;
}

/*
 * The DER SEQUENCE der in BER: its outer length indefinite (30 80 ... 00
 * 00), or in four octets (30 84 00 00 xx xx) when long is set. Freed by
 * caller.
 */
static unsigned char *
ber_outer(const unsigned char *der, size_t len, int longlen, size_t *outlen)
{
	unsigned char *out;
	size_t hl, clen;

	hl = tlv_hdr(der, &clen);
	assert_int_equal(hl + clen, len);
	assert_non_null(out = malloc(clen + 6));
	if (longlen) {
		memcpy(out, "\x30\x84\0\0", 4);
		out[4] = (unsigned char)(clen >> 8);
		out[5] = (unsigned char)clen;
		memcpy(out + 6, der + hl, clen);
		*outlen = clen + 6;
	} else {
		memcpy(out, "\x30\x80", 2);
		memcpy(out + 2, der + hl, clen);
		memcpy(out + 2 + clen, "\0\0", 2);
		*outlen = clen + 4;
	}
	return out;
}

/* d's ResponseData (ocsp_respdata: byKey) with rid as its responderID. */
static void
respdata_responder(const struct der *d, const unsigned char *rid,
    size_t ridlen, struct der *out)
{
	const unsigned char *c;
	size_t clen, hl, old;

	hl = tlv_hdr(d->buf, &clen);
	c = d->buf + hl;
	assert_int_equal(c[0], DER_CONTEXT_CONS(2));	/* byKey */
	old = 2 + c[1];
	der_reset(out);
	der_begin(out, DER_SEQUENCE);
	der_raw(out, rid, ridlen);
	der_raw(out, c + old, clen - old);
	der_end(out);
	assert_false(der_failed(out));
}

/*
 * The signer signs DER only (RFC 5280 §4.1, RFC 6960 §4.2.1: X.690 §10),
 * any signer, not only cad's: a TBSCertificate or an OCSP ResponseData
 * that OpenSSL decodes from BER (an indefinite or a non-minimal length;
 * BER inside a byName ResponderID, whose Name OpenSSL would encode again
 * from the bytes it read) is refused, its DER form signed, byName too.
 * Until 2026-12-06 each was signed. test_signer_wrap's
 * test_cert_policy_ca_forms has more TBSCertificate forms.
 */
static void
test_der_only(void **state)
{
	/* byName: CN=ocsp, in DER, and with the RDN's length in 81 0d. */
	static const unsigned char rid_der[] = { 0xa1, 0x11, 0x30, 0x0f, 0x31,
	    0x0d, 0x30, 0x0b, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x04, 'o',
	    'c', 's', 'p' };
	static const unsigned char rid_ber[] = { 0xa1, 0x12, 0x30, 0x10, 0x31,
	    0x81, 0x0d, 0x30, 0x0b, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x04,
	    'o', 'c', 's', 'p' };
	struct fixture *f = *state;
	struct der d, byname;
	unsigned char *tbs, *ber, *sig = NULL;
	size_t len, berlen, siglen = 0;
	time_t now = time(NULL);
	char produced[32], next[32], err[512] = "";
	int longlen;

	tbs = tbs_cert(f, &len);
	for (longlen = 0; longlen < 2; longlen++) {
		ber = ber_outer(tbs, len, longlen, &berlen);
		expect_refusal(f, SIGNER_KIND_CERT, "ec-ca", "SHA256", ber,
		    berlen, "kind cert: a TBSCertificate not in DER");
		free(ber);
	}
	OPENSSL_free(tbs);

	der_init(&d);
	der_init(&byname);
	gentime(produced, sizeof(produced), now, "Z");
	gentime(next, sizeof(next), now + 4 * 86400, "Z");
	ocsp_respdata(&d, produced, next);
	for (longlen = 0; longlen < 2; longlen++) {
		ber = ber_outer(d.buf, d.len, longlen, &berlen);
		expect_refusal(f, SIGNER_KIND_OCSP, "ocsp-1", "SHA256", ber,
		    berlen, "kind ocsp: an OCSP ResponseData not in DER");
		free(ber);
	}
	respdata_responder(&d, rid_ber, sizeof(rid_ber), &byname);
	expect_refusal(f, SIGNER_KIND_OCSP, "ocsp-1", "SHA256", byname.buf,
	    byname.len, "kind ocsp: an OCSP ResponseData not in DER");
	respdata_responder(&d, rid_der, sizeof(rid_der), &byname);
	if (signer_sign(f->s, SIGNER_KIND_OCSP, "ocsp-1", "SHA256", byname.buf,
	    byname.len, &sig, &siglen, err, sizeof(err)) == -1)
		fail_msg("a DER ResponseData with a byName responderID: %s",
		    err);
	free(sig);
	der_free(&byname);
	der_free(&d);
}

/*
 * The audit key's kind: a tree head as lib/auditseal writes it, naming the
 * key that signs it, and nothing else; the signature verifies as pkiaudit
 * checks it.
 */
static void
test_audit_head(void **state)
{
	struct fixture *f = *state;
	struct auditseal seal;
	EVP_PKEY *pub = NULL;
	unsigned char *sig = NULL, *tbs;
	size_t siglen = 0, len;
	char head[512], bad[600], err[512] = "";
	int n;

	memset(&seal, 0, sizeof(seal));
	seal.id = 4;
	seal.tree_size = 1234;
	memset(seal.root, 0xab, sizeof(seal.root));
	snprintf(seal.sealed_at, sizeof(seal.sealed_at),
	    "2026-12-03T15:00:00.123456Z");
	snprintf(seal.key, sizeof(seal.key), "ec-ca");
	assert_true((n = auditseal_head_text(&seal, head, sizeof(head))) > 0);
	if (signer_sign(f->s, SIGNER_KIND_AUDIT, "ec-ca", "SHA256",
	    (unsigned char *)head, (size_t)n, &sig, &siglen, err,
	    sizeof(err)) == -1)
		fail_msg("audit head: %s", err);
	assert_true(siglen <= sizeof(seal.sig));
	memcpy(seal.sig, sig, siglen);
	seal.siglen = siglen;
	assert_int_equal(signer_pubkey(f->s, "ec-ca", &pub, err, sizeof(err)),
	    0);
	assert_int_equal(auditseal_seal_verify(&seal, pub, err, sizeof(err)),
	    0);
	free(sig);
	EVP_PKEY_free(pub);

	/* Another key's head, a changed layout, trailing text, a certificate. */
	expect_refusal(f, SIGNER_KIND_AUDIT, "rsa-ca", "SHA256",
	    (unsigned char *)head, (size_t)n, "not an audit tree head");
	snprintf(bad, sizeof(bad), "%.*s", n, head);
	*strstr(bad, "size ") = 'S';
	expect_refusal(f, SIGNER_KIND_AUDIT, "ec-ca", "SHA256",
	    (unsigned char *)bad, strlen(bad), "not an audit tree head");
	snprintf(bad, sizeof(bad), "%.*sextra\n", n, head);
	expect_refusal(f, SIGNER_KIND_AUDIT, "ec-ca", "SHA256",
	    (unsigned char *)bad, strlen(bad), "not an audit tree head");
	tbs = tbs_cert(f, &len);
	expect_refusal(f, SIGNER_KIND_AUDIT, "ec-ca", "SHA256", tbs, len,
	    "not an audit tree head");
	/* And a head is not a certificate. */
	expect_refusal(f, SIGNER_KIND_CERT, "ec-ca", "SHA256",
	    (unsigned char *)head, (size_t)n, "TBSCertificate");
	OPENSSL_free(tbs);
}

/* ec-ca's tree head naming next ("": none) with nextpub's digest (NULL: 0xee...). */
static int
audit_head_next(char *head, size_t len, const char *next, EVP_PKEY *nextpub)
{
	struct auditseal seal;

	memset(&seal, 0, sizeof(seal));
	seal.id = 9;
	seal.tree_size = 4321;
	memset(seal.root, 0xcd, sizeof(seal.root));
	snprintf(seal.sealed_at, sizeof(seal.sealed_at),
	    "2026-12-07T16:00:00.000001Z");
	snprintf(seal.key, sizeof(seal.key), "ec-ca");
	snprintf(seal.next_key, sizeof(seal.next_key), "%s", next);
	if (nextpub == NULL)
		memset(seal.next_spki_sha256, 0xee, AUDITSEAL_SPKI_HASH);
	else
		assert_int_equal(auditseal_spki_sha256(nextpub,
		    seal.next_spki_sha256), 0);
	return auditseal_head_text(&seal, head, len);
}

/*
 * A handover head (audit key rotation, audit/README.md): the signer signs
 * a head with a "next" line only when the next key is another key it was
 * granted kind audit for, in its token, with the SHA-256 named. So the
 * everyday sealer (one label granted) never names one, nor a key outside
 * its grants (ocsp-1, in the same token), nor a digest of another key.
 */
static void
test_audit_next(void **state)
{
	struct fixture *f = *state;
	struct signer_config c;
	struct signer *everyday;
	struct auditseal got;
	EVP_PKEY *rsapub = NULL, *ecpub = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char head[512], err[512] = "";
	int n;

	assert_int_equal(signer_pubkey(f->s, "rsa-ca", &rsapub, err,
	    sizeof(err)), 0);
	assert_int_equal(signer_pubkey(f->s, "ec-ca", &ecpub, err,
	    sizeof(err)), 0);
	/* Granted both: the handover head is signed and verifies. */
	assert_true((n = audit_head_next(head, sizeof(head), "rsa-ca",
	    rsapub)) > 0);
	if (signer_sign(f->s, SIGNER_KIND_AUDIT, "ec-ca", "SHA256",
	    (unsigned char *)head, (size_t)n, &sig, &siglen, err,
	    sizeof(err)) == -1)
		fail_msg("handover head: %s", err);
	assert_int_equal(auditseal_head_parse((unsigned char *)head,
	    (size_t)n, &got), 0);
	memcpy(got.sig, sig, siglen);
	got.siglen = siglen;
	assert_int_equal(auditseal_seal_verify(&got, ecpub, err, sizeof(err)),
	    0);
	free(sig);
	/* Another digest than the key's; the signing key itself; ocsp-1. */
	assert_true((n = audit_head_next(head, sizeof(head), "rsa-ca",
	    NULL)) > 0);
	expect_refusal(f, SIGNER_KIND_AUDIT, "ec-ca", "SHA256",
	    (unsigned char *)head, (size_t)n, "is not the key the head names");
	assert_true((n = audit_head_next(head, sizeof(head), "rsa-ca",
	    ecpub)) > 0);
	expect_refusal(f, SIGNER_KIND_AUDIT, "ec-ca", "SHA256",
	    (unsigned char *)head, (size_t)n, "is not the key the head names");
	assert_true((n = audit_head_next(head, sizeof(head), "ec-ca",
	    ecpub)) > 0);
	expect_refusal(f, SIGNER_KIND_AUDIT, "ec-ca", "SHA256",
	    (unsigned char *)head, (size_t)n, "its own key");
	assert_true((n = audit_head_next(head, sizeof(head), "ocsp-1",
	    NULL)) > 0);
	expect_refusal(f, SIGNER_KIND_AUDIT, "ec-ca", "SHA256",
	    (unsigned char *)head, (size_t)n, "not a key this signer was "
	    "granted kind audit for");

	/* The everyday sealer: ec-ca's audit grant alone. */
	c = f->cfg;
	c.ngrants = 0;
	add_grant(&c, SIGNER_KIND_AUDIT, "ec-ca");
	if ((everyday = signer_spawn(&c, err, sizeof(err))) == NULL)
		fail_msg("the everyday sealer: %s", err);
	assert_true((n = audit_head_next(head, sizeof(head), "rsa-ca",
	    rsapub)) > 0);
	assert_int_equal(signer_sign(everyday, SIGNER_KIND_AUDIT, "ec-ca",
	    "SHA256", (unsigned char *)head, (size_t)n, &sig, &siglen, err,
	    sizeof(err)), -1);
	assert_null(sig);
	if (strstr(err, "not a key this signer was granted") == NULL)
		fail_msg("everyday sealer: %s", err);
	/* ... which still signs its own heads. */
	assert_true((n = audit_head_next(head, sizeof(head), "", NULL)) > 0);
	if (signer_sign(everyday, SIGNER_KIND_AUDIT, "ec-ca", "SHA256",
	    (unsigned char *)head, (size_t)n, &sig, &siglen, err,
	    sizeof(err)) == -1)
		fail_msg("everyday sealer, plain head: %s", err);
	free(sig);
	sig = NULL;
	signer_close(everyday);

	/* Granted, but no such key in the token. */
	c = f->cfg;
	c.ngrants = 0;
	c.missing_keys_ok = 1;
	add_grant(&c, SIGNER_KIND_AUDIT, "ec-ca");
	add_grant(&c, SIGNER_KIND_AUDIT, "audit-absent");
	if ((everyday = signer_spawn(&c, err, sizeof(err))) == NULL)
		fail_msg("signer with an absent key: %s", err);
	assert_true((n = audit_head_next(head, sizeof(head), "audit-absent",
	    NULL)) > 0);
	assert_int_equal(signer_sign(everyday, SIGNER_KIND_AUDIT, "ec-ca",
	    "SHA256", (unsigned char *)head, (size_t)n, &sig, &siglen, err,
	    sizeof(err)), -1);
	if (strstr(err, "the next audit key audit-absent") == NULL)
		fail_msg("absent next key: %s", err);
	signer_close(everyday);
	EVP_PKEY_free(rsapub);
	EVP_PKEY_free(ecpub);
}

static void
test_refusals(void **state)
{
	struct fixture *f = *state;
	unsigned char *tbs, *longer, *sig = NULL, *attrs = NULL;
	size_t len, siglen;
	EVP_PKEY *pub = NULL;
	STACK_OF(X509_ATTRIBUTE) *sk = NULL;
	unsigned char dg[32] = { 0 };
	char err[512] = "";
	int alen;

	tbs = tbs_cert(f, &len);
	expect_refusal(f, SIGNER_KIND_CRL, "ocsp-1", "SHA256", tbs, len,
	    "kind crl not granted for key ocsp-1");
	expect_refusal(f, SIGNER_KIND_CERT, "other-key", "SHA256", tbs, len,
	    "kind cert not granted for key other-key");
	expect_refusal(f, SIGNER_KIND_CERT, "ec-ca", "SHA1", tbs, len,
	    "digest SHA1 refused");
	expect_refusal(f, SIGNER_KIND_CERT, "ec-ca", "MD5", tbs, len,
	    "digest MD5 refused");
	expect_refusal(f, (enum signer_kind)9, "ec-ca", "SHA256", tbs, len,
	    "unknown kind 9");
	/* A TBSCertificate sent as an OCSP ResponseData. */
	expect_refusal(f, SIGNER_KIND_OCSP, "ocsp-1", "SHA256", tbs, len,
	    "do not decode as an OCSP ResponseData");
	expect_refusal(f, SIGNER_KIND_CRL, "ec-ca", "SHA256", tbs, len,
	    "do not decode as a TBSCertList");
	expect_refusal(f, SIGNER_KIND_CMS, "ec-ca", "SHA256", tbs, len,
	    "do not decode as CMS SignedAttributes");
	/* Trailing bytes. */
	longer = malloc(len + 1);
	memcpy(longer, tbs, len);
	longer[len] = 0;
	expect_refusal(f, SIGNER_KIND_CERT, "ec-ca", "SHA256", longer,
	    len + 1, "1 trailing bytes");
	/* Opaque bytes. */
	expect_refusal(f, SIGNER_KIND_CERT, "ec-ca", "SHA256", dg, 32,
	    "do not decode as a TBSCertificate");
	/* SignedAttributes without a TSTInfo content type, as TIMESTAMP. */
	sk = sk_X509_ATTRIBUTE_new_null();
	assert_non_null(X509at_add1_attr_by_NID(&sk, NID_pkcs9_contentType,
	    V_ASN1_OBJECT,
	    (const unsigned char *)OBJ_nid2obj(NID_pkcs7_data), -1));
	expect_refusal(f, SIGNER_KIND_CMS, "ec-ca", "SHA256", dg, 0,
	    "do not decode as CMS SignedAttributes");
	alen = ASN1_item_i2d((ASN1_VALUE *)sk, &attrs,
	    ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
	assert_true(alen > 0);
	expect_refusal(f, SIGNER_KIND_CMS, "ec-ca", "SHA256", attrs,
	    (size_t)alen, "no message-digest attribute");
	OPENSSL_free(attrs);
	attrs = NULL;
	assert_non_null(X509at_add1_attr_by_NID(&sk, NID_pkcs9_messageDigest,
	    V_ASN1_OCTET_STRING, dg, 32));
	alen = ASN1_item_i2d((ASN1_VALUE *)sk, &attrs,
	    ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
	expect_refusal(f, SIGNER_KIND_TIMESTAMP, "ec-ca", "SHA256", attrs,
	    (size_t)alen, "content type is not id-ct-TSTInfo");
	/* ...which is fine as CMS. */
	if (signer_sign(f->s, SIGNER_KIND_CMS, "ec-ca", "SHA256", attrs,
	    (size_t)alen, &sig, &siglen, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	free(sig);
	sig = NULL;

	assert_int_equal(signer_pubkey(f->s, "other-key", &pub, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "key other-key not granted"));
	assert_int_equal(signer_keygen(f->s, TOKEN, "new-key", "ec-p256", &pub,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "key generation not allowed"));
	assert_null(pub);

	/* After all that the loop still serves. */
	if (signer_sign(f->s, SIGNER_KIND_CERT, "ec-ca", "SHA256", tbs, len,
	    &sig, &siglen, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_true(siglen > 0 && siglen <= 72);
	free(sig);
	free(longer);
	OPENSSL_free(attrs);
	OPENSSL_free(tbs);
	sk_X509_ATTRIBUTE_pop_free(sk, X509_ATTRIBUTE_free);
}

static void
test_keygen_allowed(void **state)
{
	struct fixture *f = *state;
	struct signer_config c = f->cfg;
	struct signer *s;
	EVP_PKEY *pub = NULL, *pub2 = NULL;
	char err[256] = "";

	c.allow_keygen = 1;
	c.grants[0].key_label = "made-here";	/* need not exist yet */
	c.grants[0].kind = SIGNER_KIND_CERT;
	if ((s = signer_spawn(&c, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	if (signer_keygen(s, TOKEN, "made-here", "ec-p384", &pub, err,
	    sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(EVP_PKEY_get_bits(pub), 384);
	assert_int_equal(signer_pubkey(s, "made-here", &pub2, err,
	    sizeof(err)), 0);
	assert_int_equal(EVP_PKEY_eq(pub, pub2), 1);
	EVP_PKEY_free(pub2);
	pub2 = NULL;
	assert_int_equal(signer_keygen(s, TOKEN, "made-here", "ec-p256", &pub2,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already exists"));
	assert_int_equal(signer_keygen(s, TOKEN, "x", "dsa1024", &pub2,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown key type"));
	assert_int_equal(signer_keygen(s, "other-token", "x", "ec-p256", &pub2,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not opened"));

	/* UNKEYGEN: only a key this signer made, named as it was made. */
	assert_int_equal(signer_unkeygen(s, TOKEN, "ec-ca", "ec-p256", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "was not generated by this signer"));
	assert_int_equal(signer_unkeygen(s, TOKEN, "made-here", "ec-p256", err,
	    sizeof(err)), -1);
	assert_int_equal(signer_unkeygen(f->s, TOKEN, "made-here", "ec-p384",
	    err, sizeof(err)), -1);	/* another signer */
	assert_int_equal(signer_pubkey(s, "made-here", &pub2, err,
	    sizeof(err)), 0);
	EVP_PKEY_free(pub2);
	pub2 = NULL;
	if (signer_unkeygen(s, TOKEN, "made-here", "ec-p384", err,
	    sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(signer_pubkey(s, "made-here", &pub2, err,
	    sizeof(err)), -1);	/* gone */
	assert_int_equal(signer_unkeygen(s, TOKEN, "made-here", "ec-p384", err,
	    sizeof(err)), -1);	/* once */
	/* The label is free again: the ceremony can run again. */
	if (signer_keygen(s, TOKEN, "made-here", "ec-p256", &pub2, err,
	    sizeof(err)) == -1)
		fail_msg("%s", err);
	EVP_PKEY_free(pub2);
	/* The fixture's signer has no allow_keygen: refused outright. */
	assert_int_equal(signer_unkeygen(f->s, TOKEN, "ec-ca", "ec-p256", err,
	    sizeof(err)), -1);
	assert_int_equal(signer_pubkey(f->s, "ec-ca", &pub2, err,
	    sizeof(err)), 0);
	EVP_PKEY_free(pub2);
	EVP_PKEY_free(pub);
	signer_close(s);
}

static void
test_unknown_type(void **state)
{
	struct fixture *f = *state;
	unsigned char *body = NULL;
	size_t len;
	uint32_t status;

	assert_int_equal(signer_proto_send(signer_fd(f->s), 77, NULL, 0), 0);
	assert_int_equal(signer_proto_recv(signer_fd(f->s), SIGNER_REPLY_MAX,
	    &status, &body, &len), 0);
	assert_int_equal(status, SIGNER_REFUSED);
	assert_true(len > 0);
	assert_non_null(memmem(body, len, "unknown request type 77", 23));
	free(body);
}

/* Writes frame to a fresh signer and checks that it exits without reply. */
static void
malformed_one(struct fixture *f, const unsigned char *frame, size_t len)
{
	struct signer *s;
	unsigned char *sig = NULL, one;
	size_t siglen;
	char err[256] = "";
	int status;

	if ((s = signer_spawn(&f->cfg, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	assert_int_equal(signer_proto_write(signer_fd(s), frame, len), 0);
	/* EOF, never a reply. */
	assert_int_equal(signer_proto_read(signer_fd(s), &one, 1), 1);
	assert_int_equal(waitpid(signer_pid(s), &status, 0), signer_pid(s));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	assert_int_equal(signer_sign(s, SIGNER_KIND_CERT, "ec-ca", "SHA256",
	    (const unsigned char *)"x", 1, &sig, &siglen, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "signer process"));
	assert_null(sig);
	signer_close(s);
}

static void
test_malformed_frames(void **state)
{
	struct fixture *f = *state;
	/* SIGN whose body is 3 bytes: shorter than its first field. */
	static const unsigned char shortbody[] = {
		0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0
	};
	/* SIGN whose label length runs past the body. */
	static const unsigned char overrun[] = {
		0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 200
	};
	/* A frame claiming 4 GiB. */
	static const unsigned char huge[] = {
		0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff
	};
	/* PUBKEY with a trailing byte after its label. */
	static const unsigned char trailing[] = {
		0, 0, 0, 2, 0, 0, 0, 7, 0, 0, 0, 2, 'e', 'c', 0
	};
	/* PUBKEY with a 65-byte label. */
	unsigned char longlabel[8 + 4 + 65];

	malformed_one(f, shortbody, sizeof(shortbody));
	malformed_one(f, overrun, sizeof(overrun));
	malformed_one(f, huge, sizeof(huge));
	malformed_one(f, trailing, sizeof(trailing));
	memset(longlabel, 'a', sizeof(longlabel));
	memcpy(longlabel, "\0\0\0\2\0\0\0\105\0\0\0\101", 12);
	malformed_one(f, longlabel, sizeof(longlabel));
}

/* The token directory of TOKEN (SoftHSM2 names it by a UUID). */
static void
token_dir(struct fixture *f, char *out, size_t outlen)
{
	DIR *d;
	struct dirent *de;

	d = opendir(f->h.tokendir);
	assert_non_null(d);
	out[0] = '\0';
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			snprintf(out, outlen, "%s/%s", f->h.tokendir,
			    de->d_name);
	closedir(d);
	assert_true(out[0] != '\0');
}

static void
test_token_away_and_back(void **state)
{
	struct fixture *f = *state;
	unsigned char *tbs, *sig = NULL;
	size_t len, siglen;
	char dir[512], away[600], err[512] = "";
	pid_t pid = signer_pid(f->s);
	struct timespec t0, t1;

	tbs = tbs_cert(f, &len);
	token_dir(f, dir, sizeof(dir));
	snprintf(away, sizeof(away), "%s/away", f->h.dir);
	assert_int_equal(rename(dir, away), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(signer_sign(f->s, SIGNER_KIND_CERT, "rsa-ca",
	    "SHA256", tbs, len, &sig, &siglen, err, sizeof(err)), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Fails fast (bounded retries) and says why. */
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	if (strstr(err, "token \"" TOKEN "\" unavailable") == NULL)
		fail_msg("unclear error: %s", err);
	assert_null(sig);
	assert_int_equal(rename(away, dir), 0);
	if (signer_sign(f->s, SIGNER_KIND_CERT, "rsa-ca", "SHA256", tbs, len,
	    &sig, &siglen, err, sizeof(err)) == -1)
		fail_msg("after the token came back: %s", err);
	assert_int_equal(signer_pid(f->s), pid);
	free(sig);
	OPENSSL_free(tbs);
}

/*
 * The whole token store goes away (not one token's directory): the
 * signer's re-init of the module then fails in C_Initialize (SoftHSM2
 * finds no store). Requests fail fast and say so; once the store is back,
 * the next request initializes the module again and signs. (The module
 * used to stay uninitialized for the life of the signer.)
 */
static void
test_tokendir_away_and_back(void **state)
{
	struct fixture *f = *state;
	struct signer *s;
	unsigned char *tbs, *sig[3] = { NULL, NULL, NULL };
	size_t len, siglen;
	char away[600], err[3][512];
	pid_t pid;
	struct timespec t0, t1;
	int i, r[3], slow = 0, back;

	/* A signer of its own: the fixture's would stay broken on failure. */
	if ((s = signer_spawn(&f->cfg, err[0], sizeof(err[0]))) == NULL)
		fail_msg("%s", err[0]);
	pid = signer_pid(s);
	tbs = tbs_cert(f, &len);
	snprintf(away, sizeof(away), "%s/tokens-away", f->h.dir);
	assert_int_equal(rename(f->h.tokendir, away), 0);
	for (i = 0; i < 2; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r[i] = signer_sign(s, SIGNER_KIND_CERT, "ec-ca", "SHA256", tbs,
		    len, &sig[i], &siglen, err[i], sizeof(err[i]));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec >= 3)
			slow = 1;
	}
	/* The store back before any check, so a failure spoils no other test. */
	back = rename(away, f->h.tokendir);
	r[2] = signer_sign(s, SIGNER_KIND_CERT, "ec-ca", "SHA256", tbs, len,
	    &sig[2], &siglen, err[2], sizeof(err[2]));
	OPENSSL_free(tbs);
	assert_int_equal(back, 0);
	if (r[2] == -1)
		fail_msg("after the token store came back: %s", err[2]);
	for (i = 0; i < 2; i++) {
		if (r[i] != -1 || sig[i] != NULL)
			fail_msg("signed with the token store away (%d)", i);
		/* Fails fast (bounded retries) and says why. */
		if (strstr(err[i], "token \"" TOKEN "\" unavailable") == NULL ||
		    strstr(err[i], "C_Initialize") == NULL)
			fail_msg("unclear error (%d): %s", i, err[i]);
	}
	assert_false(slow);
	assert_int_equal(signer_pid(s), pid);
	free(sig[2]);
	signer_close(s);
}

#define TEST_PIN_ENV	"PKI_TEST_SIGNER_PIN"

/* Signs one TBSCertificate through s with ec-ca; fails the test if not. */
static void
sign_once(struct fixture *f, struct signer *s)
{
	unsigned char *tbs, *sig = NULL;
	size_t len, siglen;
	char err[512];

	tbs = tbs_cert(f, &len);
	if (signer_sign(s, SIGNER_KIND_CERT, "ec-ca", "SHA256", tbs, len, &sig,
	    &siglen, err, sizeof(err)) == -1)
		fail_msg("signer with an environment PIN: %s", err);
	free(sig);
	OPENSSL_free(tbs);
}

/*
 * A PIN from the environment (no pin file): the signer has it, the
 * spawning process (the network-facing worker) no longer does, not even
 * in the memory getenv() pointed to; also when the signer cannot start.
 * keep_pin_env keeps it for more signers until signer_config_forget_pins.
 */
static void
test_env_pin_forgotten(void **state)
{
	struct fixture *f = *state;
	struct signer_config c = f->cfg;
	struct signer *s, *s2;
	char err[512] = "", *v;
	size_t i, n = strlen(HSMTEST_USER_PIN);

	c.tokens[0].pin_file = NULL;
	c.tokens[0].pin_env = TEST_PIN_ENV;
	assert_int_equal(setenv(TEST_PIN_ENV, HSMTEST_USER_PIN, 1), 0);
	/* glibc never frees setenv's strings: what v points to stays ours. */
	assert_non_null(v = getenv(TEST_PIN_ENV));
	if ((s = signer_spawn(&c, err, sizeof(err))) == NULL)
		fail_msg("signer with an environment PIN: %s", err);
	assert_null(getenv(TEST_PIN_ENV));
	for (i = 0; i < n; i++)
		if (v[i] != '\0')
			fail_msg("the PIN's value was not wiped in place");
	sign_once(f, s);
	signer_close(s);

	/* A signer that cannot start (wrong PIN) takes it too. */
	assert_int_equal(setenv(TEST_PIN_ENV, "not-the-pin", 1), 0);
	assert_null(signer_spawn(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "wrong user PIN"));
	assert_null(getenv(TEST_PIN_ENV));

	/* keep_pin_env: two signers from one PIN, then forgotten. */
	assert_int_equal(setenv(TEST_PIN_ENV, HSMTEST_USER_PIN, 1), 0);
	c.keep_pin_env = 1;
	if ((s = signer_spawn(&c, err, sizeof(err))) == NULL)
		fail_msg("first of two signers: %s", err);
	assert_non_null(getenv(TEST_PIN_ENV));
	if ((s2 = signer_spawn(&c, err, sizeof(err))) == NULL)
		fail_msg("second of two signers: %s", err);
	signer_config_forget_pins(&c);
	assert_null(getenv(TEST_PIN_ENV));
	sign_once(f, s);
	sign_once(f, s2);
	signer_close(s);
	signer_close(s2);
}

/*
 * A PIN file and the role's variable both set: the file is read, and the
 * variable does not stay in the process that spawns the signer (the
 * worker, facing the network), nor its value in memory: signer_spawn()
 * wipes it for any configuration, signer_config_add_token() at once, with
 * a warning that names both and not the value. Until 2026-12-06 it stayed.
 */
static void
test_env_pin_with_file(void **state)
{
	static const char envpin[] = "env-pin-never-read";
	struct fixture *f = *state;
	struct signer_config c = f->cfg, sc;
	struct signer *s;
	struct config *conf;
	char path[512], line[1024], err[512] = "", *v;
	FILE *fp, *logf;
	size_t i;
	int warned = 0;

	/* A configuration made by hand: the file, and the variable. */
	c.tokens[0].pin_env = TEST_PIN_ENV;
	assert_int_equal(setenv(TEST_PIN_ENV, envpin, 1), 0);
	assert_non_null(v = getenv(TEST_PIN_ENV));
	if ((s = signer_spawn(&c, err, sizeof(err))) == NULL)
		fail_msg("PIN file and variable: %s", err);
	assert_null(getenv(TEST_PIN_ENV));
	for (i = 0; i < strlen(envpin); i++)
		if (v[i] != '\0')
			fail_msg("the variable's value was not wiped in place");
	sign_once(f, s);	/* the file's PIN: the variable's is wrong */
	signer_close(s);

	/* From pki.conf: taken when the token is added. */
	snprintf(path, sizeof(path), "%s/pin-both.conf", f->h.dir);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "[hsm]\nmodule = %s\nca_token = %s\nca_pin_file = %s\n",
	    f->h.module, TOKEN, f->h.pinfile);
	assert_int_equal(fclose(fp), 0);
	if ((conf = config_load(path, err, sizeof(err))) == NULL)
		fail_msg("%s: %s", path, err);
	assert_int_equal(setenv("PKI_CA_PIN", envpin, 1), 0);
	assert_non_null(v = getenv("PKI_CA_PIN"));
	assert_non_null(logf = tmpfile());
	log_init("test_signer", LOGL_WARN, logf);
	memset(&sc, 0, sizeof(sc));
	assert_int_equal(signer_config_add_token(&sc, conf, "ca"), 0);
	log_init("test_signer", LOGL_ERR, NULL);
	assert_null(getenv("PKI_CA_PIN"));
	for (i = 0; i < strlen(envpin); i++)
		if (v[i] != '\0')
			fail_msg("PKI_CA_PIN's value was not wiped in place");
	assert_string_equal(sc.tokens[0].pin_file, f->h.pinfile);
	rewind(logf);
	while (fgets(line, sizeof(line), logf) != NULL) {
		if (strstr(line, envpin) != NULL)
			fail_msg("the variable's value logged: %s", line);
		if (strstr(line, "PKI_CA_PIN") != NULL &&
		    strstr(line, "hsm.ca_pin_file") != NULL)
			warned = 1;
	}
	fclose(logf);
	assert_true(warned);
	add_grant(&sc, SIGNER_KIND_CERT, "ec-ca");
	if ((s = signer_spawn(&sc, err, sizeof(err))) == NULL)
		fail_msg("signer of pin-both.conf: %s", err);
	sign_once(f, s);
	signer_close(s);
	config_free(conf);
}

/*
 * Gives the public key object labelled from the label to, whose own
 * public key object is destroyed: the token then holds a private key
 * whose public key is another's, which is what the signer sees of a
 * faulty signature (a fault cannot be caused in SoftHSM2).
 */
static void
public_swap(struct fixture *f, const char *from, const char *to)
{
	struct p11_module *m;
	CK_FUNCTION_LIST_PTR fl;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE o;
	CK_ULONG n = 0;
	CK_ATTRIBUTE lab = { CKA_LABEL, (void *)to, strlen(to) };
	char err[256];

	if ((m = p11_module_load(f->h.module, err, sizeof(err))) == NULL ||
	    p11_slot_find(m, TOKEN, &slot, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	fl = p11_module_funcs(m);
	assert_int_equal(fl->C_OpenSession(slot, CKF_SERIAL_SESSION |
	    CKF_RW_SESSION, NULL, NULL, &s), CKR_OK);
	assert_int_equal(fl->C_Login(s, CKU_USER,
	    (CK_UTF8CHAR_PTR)HSMTEST_USER_PIN, strlen(HSMTEST_USER_PIN)),
	    CKR_OK);
	assert_int_equal(p11_find_objects(fl, s, CKO_PUBLIC_KEY, to, 1, &o, 1,
	    &n), CKR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(fl->C_DestroyObject(s, o), CKR_OK);
	assert_int_equal(p11_find_objects(fl, s, CKO_PUBLIC_KEY, from, 1, &o,
	    1, &n), CKR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(fl->C_SetAttributeValue(s, o, &lab, 1), CKR_OK);
	fl->C_CloseSession(s);
	p11_module_free(m);
}

/* signer_sign of a TBSCertificate with label through s: 0, or -1 with err. */
static int
sign_cert_with(struct fixture *f, struct signer *s, const char *label,
    EVP_PKEY *check, char *err, size_t errlen)
{
	unsigned char *tbs, *sig = NULL, dg[32];
	size_t len, siglen = 0;
	EVP_PKEY_CTX *ctx;
	int rc;

	tbs = tbs_cert(f, &len);
	rc = signer_sign(s, SIGNER_KIND_CERT, label, "SHA256", tbs, len, &sig,
	    &siglen, err, errlen);
	if (rc == 0 && check != NULL) {
		assert_int_equal(EVP_Digest(tbs, len, dg, NULL, EVP_sha256(),
		    NULL), 1);
		assert_non_null(ctx = EVP_PKEY_CTX_new(check, NULL));
		assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
		assert_true(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) >
		    0);
		assert_int_equal(EVP_PKEY_verify(ctx, sig, siglen, dg,
		    sizeof(dg)), 1);
		EVP_PKEY_CTX_free(ctx);
	}
	if (rc == -1)
		assert_null(sig);
	free(sig);
	OPENSSL_free(tbs);
	return rc;
}

/*
 * An RSA signature leaves the signer only once it verifies with the key's
 * public key (a fault in an RSA-CRT signature gives the key away;
 * hsm/README.md): a key whose token public key is another's signs nothing,
 * each time, while the signer serves on; ECDSA signatures are not checked.
 * A key made again under its label (UNKEYGEN, KEYGEN) is checked against
 * its new public key, not the one kept. Until 2026-12-06 no resident key's
 * signature was checked.
 */
static void
test_rsa_sig_checked(void **state)
{
	struct fixture *f = *state;
	struct signer_config c = f->cfg;
	struct p11_module *m;
	struct p11_token *t;
	struct signer *s;
	EVP_PKEY *pub = NULL, *rsapub = NULL;
	char err[512] = "";
	int i;

	if ((m = p11_module_load(f->h.module, err, sizeof(err))) == NULL ||
	    (t = p11_token_open(m, TOKEN, HSMTEST_USER_PIN, NULL, err,
	    sizeof(err))) == NULL)
		fail_msg("%s", err);
	assert_int_equal(p11_key_generate(t, "rsa-faulty", P11_KEY_RSA2048,
	    &pub, err, sizeof(err)), 0);
	EVP_PKEY_free(pub);
	assert_int_equal(p11_key_generate(t, "rsa-other", P11_KEY_RSA2048,
	    &pub, err, sizeof(err)), 0);
	EVP_PKEY_free(pub);
	assert_int_equal(p11_key_generate(t, "ec-faulty", P11_KEY_EC_P256,
	    &pub, err, sizeof(err)), 0);
	EVP_PKEY_free(pub);
	assert_int_equal(p11_key_generate(t, "ec-other", P11_KEY_EC_P256,
	    &pub, err, sizeof(err)), 0);
	EVP_PKEY_free(pub);
	pub = NULL;
	p11_token_close(t);
	p11_module_free(m);
	public_swap(f, "rsa-other", "rsa-faulty");
	public_swap(f, "ec-other", "ec-faulty");

	c.ngrants = 0;
	add_grant(&c, SIGNER_KIND_CERT, "rsa-faulty");
	add_grant(&c, SIGNER_KIND_CERT, "ec-faulty");
	add_grant(&c, SIGNER_KIND_CERT, "rsa-ca");
	if ((s = signer_spawn(&c, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	for (i = 0; i < 2; i++) {
		assert_int_equal(sign_cert_with(f, s, "rsa-faulty", NULL, err,
		    sizeof(err)), -1);
		if (strstr(err, "does not verify with its public key") == NULL)
			fail_msg("refusal: %s", err);
	}
	assert_int_equal(signer_pubkey(s, "rsa-ca", &rsapub, err,
	    sizeof(err)), 0);
	if (sign_cert_with(f, s, "rsa-ca", rsapub, err, sizeof(err)) == -1)
		fail_msg("rsa-ca: %s", err);
	if (sign_cert_with(f, s, "ec-faulty", NULL, err, sizeof(err)) == -1)
		fail_msg("ec-faulty (ECDSA is not checked): %s", err);
	signer_close(s);
	EVP_PKEY_free(rsapub);
	rsapub = NULL;

	/* The kept public key goes with the key it belongs to. */
	c.ngrants = 0;
	add_grant(&c, SIGNER_KIND_CERT, "rsa-remade");
	c.allow_keygen = 1;
	if ((s = signer_spawn(&c, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	for (i = 0; i < 2; i++) {
		if (signer_keygen(s, TOKEN, "rsa-remade", "rsa2048", &pub, err,
		    sizeof(err)) == -1)
			fail_msg("keygen %d: %s", i, err);
		if (sign_cert_with(f, s, "rsa-remade", pub, err,
		    sizeof(err)) == -1)
			fail_msg("rsa-remade %d: %s", i, err);
		if (signer_unkeygen(s, TOKEN, "rsa-remade", "rsa2048", err,
		    sizeof(err)) == -1)
			fail_msg("unkeygen %d: %s", i, err);
		EVP_PKEY_free(pub);
		pub = NULL;
	}
	signer_close(s);
}

/*
 * c as a daemon's signer: sandbox_section "t" of a configuration written as
 * name in the fixture's directory. As root (with pki-hsm) it demotes to
 * hsm.user, pki-hsm, not to [t]'s user: the token store becomes pki-hsm's,
 * as in the stack, and the lock directory stays root's. Not root: the
 * hsm.user given does not exist and insecure_no_sandbox lets it go on
 * undemoted. The configuration, for config_free.
 */
static struct config *
sandboxed_config(struct fixture *f, struct signer_config *c, const char *name)
{
	struct config *conf;
	char path[512], err[512] = "";
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->h.dir, name);
	assert_non_null(fp = fopen(path, "w"));
	if (geteuid() == 0 && getpwnam("pki-hsm") != NULL) {
		char cmd[1024];

		fprintf(fp, "[t]\nuser = pki-not-the-signers\n");
		snprintf(cmd, sizeof(cmd), "chown -R pki-hsm: '%s' && chown -R "
		    "root: '%s'", f->h.dir, f->h.lockdir);
		assert_int_equal(system(cmd), 0);
	} else
		fprintf(fp, "[hsm]\nuser = pki-test-no-such-user\n"
		    "[t]\ninsecure_no_sandbox = true\n");
	assert_int_equal(fclose(fp), 0);
	if ((conf = config_load(path, err, sizeof(err))) == NULL)
		fail_msg("%s: %s", path, err);
	c->cfg = conf;
	c->sandbox_section = "t";
	return conf;
}

/* "Seccomp:" or "NoNewPrivs:" of /proc/PID/status; -1 when absent. */
static int
proc_status(pid_t pid, const char *key)
{
	char path[64], line[256];
	FILE *fp;
	int v = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, strlen(key)) == 0)
			v = atoi(line + strlen(key));
	fclose(fp);
	return v;
}

/*
 * A daemon's signer demotes itself and enters SANDBOX_SIGNER after its
 * login (sandbox_section): it still signs, and still logs in again when
 * the token went away and came back. SoftHSM2 then reports the missing
 * token through syslog(3), whose socket() the sandbox refuses without
 * ending the process (a killed signer showed first in the local stack).
 * As root the signer demotes to hsm.user (pki-hsm), which owns the token
 * store as in the stack, not to its section's user; while the lock directory and its lock file stay root's (made by
 * the fixture's signer): the re-login uses the descriptor opened at the
 * first login (a demoted signer could not open it again). Not root: the
 * hsm.user given does not exist and insecure_no_sandbox lets the signer
 * go on without demotion. The seccomp filter is installed either way (not
 * in sanitizer builds: lib/sandbox.c).
 */
static void
test_token_away_sandboxed(void **state)
{
	struct fixture *f = *state;
	struct signer_config c = f->cfg;
	struct config *conf;
	struct signer *s;
	unsigned char *tbs, *sig = NULL;
	size_t len, siglen;
	char path[512], dir[512], away[600], err[512] = "";
	pid_t pid;

	conf = sandboxed_config(f, &c, "sandbox.conf");
	/* As root: the lock file the fixture's signer made, kept root's. */
	snprintf(path, sizeof(path), "test -n \"$(ls '%s')\"", f->h.lockdir);
	if (geteuid() == 0 && getpwnam("pki-hsm") != NULL)
		assert_int_equal(system(path), 0);
	if ((s = signer_spawn(&c, err, sizeof(err))) == NULL)
		fail_msg("sandboxed signer: %s", err);
	pid = signer_pid(s);
	if (geteuid() == 0 && getpwnam("pki-hsm") != NULL)
		assert_int_equal(proc_status(pid, "Uid:"),
		    (int)getpwnam("pki-hsm")->pw_uid);
#if !defined(__SANITIZE_ADDRESS__)
	/* libseccomp sets no_new_privs with the filter. */
	assert_int_equal(proc_status(pid, "NoNewPrivs:"), 1);
	assert_int_equal(proc_status(pid, "Seccomp:"), 2);
#else
	assert_int_equal(proc_status(pid, "Seccomp:"), 0);	/* none there */
#endif
	tbs = tbs_cert(f, &len);
	if (signer_sign(s, SIGNER_KIND_CERT, "ec-ca", "SHA256", tbs, len,
	    &sig, &siglen, err, sizeof(err)) == -1)
		fail_msg("sandboxed signer: %s", err);
	free(sig);
	sig = NULL;

	token_dir(f, dir, sizeof(dir));
	snprintf(away, sizeof(away), "%s/away", f->h.dir);
	assert_int_equal(rename(dir, away), 0);
	assert_int_equal(signer_sign(s, SIGNER_KIND_CERT, "ec-ca", "SHA256",
	    tbs, len, &sig, &siglen, err, sizeof(err)), -1);
	if (strstr(err, "token \"" TOKEN "\" unavailable") == NULL)
		fail_msg("token away, sandboxed: %s", err);
	assert_int_equal(rename(away, dir), 0);
	if (signer_sign(s, SIGNER_KIND_CERT, "ec-ca", "SHA256", tbs, len,
	    &sig, &siglen, err, sizeof(err)) == -1)
		fail_msg("sandboxed, after the token came back: %s", err);
	assert_int_equal(signer_pid(s), pid);
	assert_int_equal(signer_broken(s), 0);
	free(sig);
	OPENSSL_free(tbs);
	signer_close(s);
	config_free(conf);
}

/* Milliseconds of CLOCK_MONOTONIC. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct hung_call {
	struct signer	*s;
	const unsigned char *tbs;
	size_t		 len;
	int		 rc;
	long long	 ms;		/* how long the call took */
	char		 err[512];
};

static void *
hung_call_run(void *arg)
{
	struct hung_call *c = arg;
	unsigned char *sig = NULL;
	size_t siglen;
	long long t0 = now_ms();

	c->rc = signer_sign(c->s, SIGNER_KIND_CERT, "ec-ca", "SHA256", c->tbs,
	    c->len, &sig, &siglen, c->err, sizeof(c->err));
	c->ms = now_ms() - t0;
	free(sig);
	return NULL;
}

/*
 * A signer spawned with c and a 1 s bound that has signed tbs once (so a
 * request armed its watchdog): the tests of hung and idle signers.
 */
static struct signer *
spawn_signed_once(struct signer_config *c, const unsigned char *tbs,
    size_t len)
{
	struct signer *s;
	unsigned char *sig = NULL;
	size_t siglen;
	char err[512] = "";

	c->timeout_s = 1;
	if ((s = signer_spawn(c, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	if (signer_sign(s, SIGNER_KIND_CERT, "ec-ca", "SHA256", tbs, len,
	    &sig, &siglen, err, sizeof(err)) == -1)
		fail_msg("the first signature: %s", err);
	free(sig);
	return s;
}

/*
 * The watchdog ends only a request that overruns its bound, not a signer
 * that is idle, or busy with requests each in time, when its alarm goes
 * off (the alarm is armed once per bound, not around each request): with
 * a 1 s bound, a signer idle for 4 s and then signing without pause for
 * 4 s still signs, and has not ended.
 */
static void
test_watchdog_idle_and_busy(void **state)
{
	struct fixture *f = *state;
	struct signer_config c = f->cfg;
	struct signer *s;
	unsigned char *tbs, *sig = NULL;
	size_t len, siglen;
	char err[512] = "";
	long long t0;
	unsigned long n = 0;
	pid_t pid;

	tbs = tbs_cert(f, &len);
	s = spawn_signed_once(&c, tbs, len);
	pid = signer_pid(s);
	sleep(4);	/* past the alarm the request armed */
	assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
	t0 = now_ms();
	while (now_ms() - t0 < 4000) {
		sig = NULL;
		if (signer_sign(s, SIGNER_KIND_CERT, "ec-ca", "SHA256", tbs,
		    len, &sig, &siglen, err, sizeof(err)) == -1)
			fail_msg("signature %lu, %lld ms in: %s", n,
			    now_ms() - t0, err);
		free(sig);
		n++;
	}
	assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
	assert_false(signer_broken(s));
	signer_close(s);
	OPENSSL_free(tbs);
}

/*
 * A signer that stops answering (SIGSTOP stands for an HSM that hangs):
 * signer_sign returns within timeout_s with "no reply within 1 s", and so
 * does a second thread queued on the signer's mutex behind the first; the
 * signer is broken, and, spawned without a sandbox_section (the test's own
 * user), killed and reaped; later calls fail at once; signer_close does
 * not wait. Before the time-outs both threads blocked for ever.
 */
static void
test_hung_signer(void **state)
{
	struct fixture *f = *state;
	struct signer_config c = f->cfg;
	struct hung_call call[2];
	pthread_t th[2];
	struct signer *s;
	unsigned char *tbs, *sig = NULL;
	size_t len, siglen;
	char err[512] = "", want[128];
	long long t0;
	pid_t pid;
	int i;

	tbs = tbs_cert(f, &len);
	s = spawn_signed_once(&c, tbs, len);
	pid = signer_pid(s);

	assert_int_equal(kill(pid, SIGSTOP), 0);
	for (i = 0; i < 2; i++) {
		memset(&call[i], 0, sizeof(call[i]));
		call[i].s = s;
		call[i].tbs = tbs;
		call[i].len = len;
		assert_int_equal(pthread_create(&th[i], NULL, hung_call_run,
		    &call[i]), 0);
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	snprintf(want, sizeof(want), "signer process %ld: no reply within "
	    "1 s", (long)pid);
	for (i = 0; i < 2; i++) {
		assert_int_equal(call[i].rc, -1);
		/* The first took the bound; the one behind it failed at once. */
		if (call[i].ms > 2500)
			fail_msg("call %d took %lld ms (%s)", i, call[i].ms,
			    call[i].err);
	}
	if (strstr(call[0].err, want) == NULL &&
	    strstr(call[1].err, want) == NULL)
		fail_msg("no time-out error: \"%s\", \"%s\"", call[0].err,
		    call[1].err);
	assert_true(call[0].ms >= 900 || call[1].ms >= 900);
	assert_int_equal(signer_broken(s), 1);
	/* Killed and reaped by the client: no such process any more. */
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);

	t0 = now_ms();
	assert_int_equal(signer_sign(s, SIGNER_KIND_CERT, "ec-ca", "SHA256",
	    tbs, len, &sig, &siglen, err, sizeof(err)), -1);
	assert_true(now_ms() - t0 < 100);
	assert_non_null(strstr(err, "gave no reply in time earlier"));
	assert_null(sig);
	t0 = now_ms();
	signer_close(s);
	assert_true(now_ms() - t0 < 1000);
	OPENSSL_free(tbs);
}

/*
 * Key generation has its own, longer bound (keygen_timeout_s): a keygen
 * on a stopped signer gives up after 2 s, not after the signing bound of
 * 1 s; public keys use the signing bound.
 */
static void
test_hung_keygen_bound(void **state)
{
	struct fixture *f = *state;
	struct signer_config c = f->cfg;
	struct signer *s;
	EVP_PKEY *pub = NULL;
	char err[512] = "";
	long long t0, ms;
	pid_t pid;

	c.timeout_s = 1;
	c.keygen_timeout_s = 2;
	c.allow_keygen = 1;
	if ((s = signer_spawn(&c, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	pid = signer_pid(s);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	t0 = now_ms();
	assert_int_equal(signer_keygen(s, TOKEN, "hung-key", "ec-p256", &pub,
	    err, sizeof(err)), -1);
	ms = now_ms() - t0;
	assert_null(pub);
	if (strstr(err, "no reply within 2 s") == NULL || ms < 1900 ||
	    ms > 3500)
		fail_msg("keygen: %lld ms: %s", ms, err);
	assert_int_equal(signer_broken(s), 1);
	signer_close(s);

	/* A public key request on a stopped signer: the signing bound. */
	if ((s = signer_spawn(&c, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	assert_int_equal(kill(signer_pid(s), SIGSTOP), 0);
	t0 = now_ms();
	assert_int_equal(signer_pubkey(s, "ec-ca", &pub, err, sizeof(err)),
	    -1);
	ms = now_ms() - t0;
	if (strstr(err, "no reply within 1 s") == NULL || ms < 900 ||
	    ms > 2500)
		fail_msg("pubkey: %lld ms: %s", ms, err);
	signer_close(s);
}

/*
 * A child of the test that takes a write lock (fcntl, as SoftHSM2 locks
 * its object files) on every file of the token directory and holds them
 * until killed: the token's next operation waits for ever, a module stuck
 * on a lock. Its pid, once the locks are held.
 */
static pid_t
hold_token_locks(struct fixture *f)
{
	char dir[512], path[1024];
	struct dirent *de;
	struct flock fl;
	DIR *d;
	int p[2], fd;
	char c = 0;
	pid_t pid;

	token_dir(f, dir, sizeof(dir));
	assert_int_equal(pipe(p), 0);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		close(p[0]);
		if ((d = opendir(dir)) == NULL)
			_exit(1);
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if ((fd = open(path, O_RDWR)) == -1)
				_exit(1);
			memset(&fl, 0, sizeof(fl));
			fl.l_type = F_WRLCK;
			fl.l_whence = SEEK_SET;
			if (fcntl(fd, F_SETLKW, &fl) == -1)
				_exit(1);
		}
		if (write(p[1], &c, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

/*
 * A daemon's signer (sandbox_section; as root it runs as pki-hsm, and a
 * daemon's worker may not call kill()) that hangs inside the module: its
 * token's files locked by another process, so SoftHSM2 waits for ever.
 * signer_sign returns within the bound and breaks the signer; the signer
 * ends by its own alarm a second later (the client did not kill it), so
 * signer_close returns at once after that. Then a stopped daemon signer,
 * which no alarm ends: signer_close gives up after timeout_s + 2 s
 * instead of waiting for ever (a daemon's shutdown), leaving it running.
 */
static void
test_hung_signer_sandboxed(void **state)
{
	struct fixture *f = *state;
	struct signer_config c = f->cfg;
	struct config *conf;
	struct signer *s;
	unsigned char *tbs, *sig = NULL;
	size_t len, siglen;
	char err[512] = "";
	long long t0, ms, alarm_ms;
	pid_t pid, locker, r;
	int st, rc, broken, alive;

	conf = sandboxed_config(f, &c, "hung.conf");
	tbs = tbs_cert(f, &len);
	s = spawn_signed_once(&c, tbs, len);
	pid = signer_pid(s);
	locker = hold_token_locks(f);
	t0 = now_ms();
	rc = signer_sign(s, SIGNER_KIND_CERT, "ec-ca", "SHA256", tbs, len,
	    &sig, &siglen, err, sizeof(err));
	ms = now_ms() - t0;
	broken = signer_broken(s);
	/* Not killed by the client: still there, stuck in the module. */
	alive = kill(pid, 0) == 0;
	/* Its alarm ends it (exit status 3) within a second and a bit. */
	t0 = now_ms();
	st = 0;
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() - t0 < 3000)
		usleep(10000);
	alarm_ms = now_ms() - t0;
	if (r == 0) {
		/* A failure below must not leave the stuck signer behind. */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	kill(locker, SIGKILL);
	assert_int_equal(waitpid(locker, NULL, 0), locker);
	signer_close(s);
	assert_int_equal(rc, -1);
	if (strstr(err, "no reply within 1 s") == NULL || ms < 900 ||
	    ms > 2500)
		fail_msg("locked token: %lld ms: %s", ms, err);
	assert_int_equal(broken, 1);
	assert_true(alive);
	if (r != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 3)
		fail_msg("hung signer not ended by its alarm after %lld ms",
		    alarm_ms);

	/* Stopped: no alarm ends it; signer_close waits 1 + 2 s, no more. */
	if ((s = signer_spawn(&c, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	pid = signer_pid(s);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_int_equal(signer_sign(s, SIGNER_KIND_CERT, "ec-ca", "SHA256",
	    tbs, len, &sig, &siglen, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no reply within 1 s"));
	t0 = now_ms();
	signer_close(s);
	ms = now_ms() - t0;
	alive = kill(pid, 0) == 0;	/* left, not killed */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (ms < 2900 || ms > 4500)
		fail_msg("signer_close of a stopped signer: %lld ms", ms);
	assert_true(alive);
	OPENSSL_free(tbs);
	config_free(conf);
}

struct worker {
	struct fixture	*f;
	struct signer	*s;
	const char	*label;
	int		 n;
	int		 ok;
	char		 err[256];
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	EVP_PKEY *pkey = NULL, *pub = NULL;
	X509 *x = NULL;
	int i;

	if ((pkey = signer_pkey(w->s, SIGNER_KIND_CERT, w->label, w->err,
	    sizeof(w->err))) == NULL ||
	    signer_pubkey(w->s, w->label, &pub, w->err, sizeof(w->err)) == -1)
		goto out;
	for (i = 0; i < w->n; i++) {
		X509_free(x);
		if ((x = X509_new()) == NULL ||
		    X509_set_pubkey(x, pub) != 1 ||
		    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
		    MBSTRING_ASC, (const unsigned char *)"thread", -1, -1,
		    0) != 1 ||
		    X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
		    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
		    X509_gmtime_adj(X509_getm_notAfter(x), 60) == NULL ||
		    ASN1_INTEGER_set(X509_get_serialNumber(x), i) != 1 ||
		    X509_sign(x, pkey, EVP_sha256()) <= 0 ||
		    X509_verify(x, pub) != 1) {
			ERR_print_errors_fp(stderr);
			snprintf(w->err, sizeof(w->err), "signing %d failed",
			    i);
			goto out;
		}
		w->ok++;
	}
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(pub);
	return NULL;
}

/* Asks for a key the signer does not grant, n times: each one refused. */
static void *
refused_run(void *arg)
{
	struct worker *w = arg;
	unsigned char tbs[3] = { 0x30, 0x01, 0x00 }, *sig;
	size_t siglen;
	int i;

	for (i = 0; i < w->n; i++) {
		sig = NULL;
		if (signer_sign(w->s, SIGNER_KIND_CERT, "not-granted", "SHA256",
		    tbs, sizeof(tbs), &sig, &siglen, w->err,
		    sizeof(w->err)) != -1 || strstr(w->err, "not-granted") ==
		    NULL) {
			free(sig);
			return NULL;
		}
		w->ok++;
	}
	return NULL;
}

/*
 * Threads sharing a signer have their requests pipelined
 * (hsm/signer_client.c): each must get its own reply. Four threads on one
 * signer (EC and RSA keys, each signature verified with its own key) and
 * a fifth whose requests are all refused, in between; two more threads on
 * a second signer.
 */
static void
test_concurrency(void **state)
{
	struct fixture *f = *state;
	struct worker w[7];
	pthread_t th[7];
	struct signer *s2;
	char err[256];
	int i;

	if ((s2 = signer_spawn(&f->cfg, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	for (i = 0; i < 7; i++) {
		w[i].f = f;
		w[i].s = i < 4 || i == 6 ? f->s : s2;
		w[i].label = keylabels[i % 2];
		w[i].n = i == 6 ? 100 : i % 2 == 0 ? 200 : 20;
		w[i].ok = 0;
		w[i].err[0] = '\0';
		assert_int_equal(pthread_create(&th[i], NULL, i == 6 ?
		    refused_run : worker_run, &w[i]), 0);
	}
	for (i = 0; i < 7; i++) {
		pthread_join(th[i], NULL);
		if (w[i].ok != w[i].n) {
			ERR_print_errors_fp(stderr);
			fail_msg("worker %d: %d of %d (%s)", i, w[i].ok,
			    w[i].n, w[i].err);
		}
	}
	assert_false(signer_broken(f->s));
	signer_close(s2);
}

/* Pipelining from one thread: signer_sign_begin / signer_sign_end. */

#define BATCH	8

/*
 * A TSTInfo (RFC 3161 §2.4.2) into d as tsad writes one: serial serial,
 * genTime at t with a fraction (".5"), a SHA-256 imprint.
 */
static void
ts_tstinfo(struct der *d, uint32_t serial, time_t t)
{
	static const unsigned char policy[] = { 0x06, 0x09, 0x2b, 0x06, 0x01,
	    0x04, 0x01, 0x86, 0x8d, 0x1f, 0x01 };	/* 1.3.6.1.4.1.99999.1 */
	static const unsigned char sha256[] = { 0x30, 0x0d, 0x06, 0x09, 0x60,
	    0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00 };
	unsigned char h[32];
	char gt[32];

	memset(h, 0xab, sizeof(h));
	gentime(gt, sizeof(gt), t, ".5Z");
	der_reset(d);
	der_begin(d, DER_SEQUENCE);
	der_small_uint(d, DER_INTEGER, 1);
	der_raw(d, policy, sizeof(policy));
	der_begin(d, DER_SEQUENCE);
	der_raw(d, sha256, sizeof(sha256));
	der_tlv(d, DER_OCTET_STRING, h, sizeof(h));
	der_end(d);
	der_small_uint(d, DER_INTEGER, serial);
	der_tlv(d, DER_GENERALIZEDTIME, gt, strlen(gt));
	der_end(d);
	assert_false(der_failed(d));
}

/*
 * Time-stamp SignedAttributes whose messageDigest is dg (dglen octets):
 * content type id-ct-TSTInfo. OPENSSL_free it.
 */
static unsigned char *
ts_attrs_of(const unsigned char *dg, size_t dglen, size_t *len)
{
	STACK_OF(X509_ATTRIBUTE) *sk = NULL;
	unsigned char *der = NULL;
	int n;

	assert_non_null(X509at_add1_attr_by_NID(&sk, NID_pkcs9_contentType,
	    V_ASN1_OBJECT,
	    (const unsigned char *)OBJ_nid2obj(NID_id_smime_ct_TSTInfo), -1));
	assert_non_null(X509at_add1_attr_by_NID(&sk, NID_pkcs9_messageDigest,
	    V_ASN1_OCTET_STRING, dg, (int)dglen));
	n = ASN1_item_i2d((ASN1_VALUE *)sk, &der,
	    ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
	assert_true(n > 0);
	sk_X509_ATTRIBUTE_pop_free(sk, X509_ATTRIBUTE_free);
	*len = (size_t)n;
	return der;
}

/*
 * What tsad sends for a token: time-stamp SignedAttributes (RFC 3161
 * §2.4.2) over a TSTInfo of serial i + 1 with genTime t (tbs_ts_attrs():
 * now), its messageDigest the mdname hash of it. One buffer: the attributes (*len octets), then the
 * TSTInfo, which ts_tst() finds. Each request's is a TBS of its own.
 * OPENSSL_free it.
 */
static unsigned char *
tbs_ts_attrs_at(int i, const char *mdname, time_t t, size_t *len)
{
	struct der d;
	unsigned char h[EVP_MAX_MD_SIZE], *attrs, *both;
	unsigned int hlen;

	der_init(&d);
	ts_tstinfo(&d, (uint32_t)i + 1, t);
	assert_int_equal(EVP_Digest(d.buf, d.len, h, &hlen,
	    EVP_get_digestbyname(mdname), NULL), 1);
	attrs = ts_attrs_of(h, hlen, len);
	both = OPENSSL_malloc(*len + d.len);
	assert_non_null(both);
	memcpy(both, attrs, *len);
	memcpy(both + *len, d.buf, d.len);
	OPENSSL_free(attrs);
	der_free(&d);
	return both;
}

static unsigned char *
tbs_ts_attrs(int i, size_t *len)
{
	return tbs_ts_attrs_at(i, "SHA256", time(NULL), len);
}

/* The TSTInfo after the attributes tbs_ts_attrs() made; its length. */
static const unsigned char *
ts_tst(const unsigned char *tbs, size_t len, size_t *tstlen)
{
	const unsigned char *p = tbs + len;
	long n;
	int tag, cls;

	assert_int_equal(ASN1_get_object(&p, &n, &tag, &cls, 1 << 20), 0x20);
	*tstlen = (size_t)(p - (tbs + len)) + (size_t)n;
	return tbs + len;
}

/* signer_sign_begin of tbs_ts_attrs()'s, with its TSTInfo. */
static int
ts_begin(struct signer *s, const char *label, const char *mdname,
    const unsigned char *tbs, size_t len, unsigned long *ticket, char *err,
    size_t errlen)
{
	const unsigned char *tst;
	size_t tstlen;

	tst = ts_tst(tbs, len, &tstlen);
	return signer_sign_attrs_begin(s, SIGNER_KIND_TIMESTAMP, label, mdname,
	    tbs, len, tst, tstlen, ticket, err, errlen);
}

/* signer_sign of tbs_ts_attrs()'s, with its TSTInfo. */
static int
ts_sign(struct signer *s, const char *label, const char *mdname,
    const unsigned char *tbs, size_t len, unsigned char **sig,
    size_t *siglen, char *err, size_t errlen)
{
	const unsigned char *tst;
	size_t tstlen;

	tst = ts_tst(tbs, len, &tstlen);
	return signer_sign_attrs(s, SIGNER_KIND_TIMESTAMP, label, mdname, tbs,
	    len, tst, tstlen, sig, siglen, err, errlen);
}

/*
 * Sets the TSTInfo of tbs_ts_attrs()'s tbs on a signer_pkey() signing
 * context (SIGNER_PARAM_CONTENT), as tsa/token.c does.
 */
static void
ts_set_content(EVP_MD_CTX *ctx, const unsigned char *tbs, size_t len)
{
	OSSL_PARAM params[2];
	const unsigned char *tst;
	size_t tstlen;

	tst = ts_tst(tbs, len, &tstlen);
	params[0] = OSSL_PARAM_construct_octet_string(SIGNER_PARAM_CONTENT,
	    (void *)tst, tstlen);
	params[1] = OSSL_PARAM_construct_end();
	assert_int_equal(EVP_PKEY_CTX_set_params(EVP_MD_CTX_get_pkey_ctx(ctx),
	    params), 1);
}

/* 1 when sig is pub's SHA-256 signature over tbs. */
static int
sig_verifies(EVP_PKEY *pub, const unsigned char *tbs, size_t len,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx;
	int ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, tbs, len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* The public keys of ec-ca and rsa-ca, as keylabels[]. */
static void
get_pubs(struct signer *s, EVP_PKEY *pub[2])
{
	char err[256];
	int i;

	for (i = 0; i < 2; i++)
		if (signer_pubkey(s, keylabels[i], &pub[i], err,
		    sizeof(err)) == -1)
			fail_msg("signer_pubkey %s: %s", keylabels[i], err);
}

/* A signer of the test's own, spawned with c (no sandbox_section). */
static struct signer *
spawn_own(const struct signer_config *c)
{
	struct signer *s;
	char err[512] = "";

	if ((s = signer_spawn(c, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	return s;
}

/* The state letter of /proc/PID/stat ('T' stopped), or '?'. */
static char
proc_state(pid_t pid)
{
	char path[64], line[512], *p;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return '?';
	p = fgets(line, sizeof(line), fp);
	fclose(fp);
	if (p == NULL || (p = strrchr(line, ')')) == NULL || p[1] != ' ')
		return '?';
	return p[2];
}

/*
 * Stops an idle signer and waits until it is stopped: what is sent
 * meanwhile waits in its socket, and its next read takes it all at once.
 */
static void
signer_stop(pid_t pid)
{
	long long t0 = now_ms();

	assert_int_equal(kill(pid, SIGSTOP), 0);
	while (proc_state(pid) != 'T') {
		if (now_ms() - t0 > 5000)
			fail_msg("signer %ld not stopped after 5 s", (long)pid);
		usleep(1000);
	}
}

/* The bytes of a SIGN request frame for tbs (what begin writes). */
static size_t
sign_frame_len(const char *label, const unsigned char *tbs, size_t len)
{
	const unsigned char *tst;
	unsigned char *body = NULL;
	size_t n, tstlen;

	tst = ts_tst(tbs, len, &tstlen);
	assert_int_equal(signer_proto_sign_encode(SIGNER_KIND_TIMESTAMP,
	    label, "SHA256", tst, tstlen, tbs, len, &body, &n), 0);
	free(body);
	return 8 + n;
}

/*
 * Begins n time-stamp requests while s is stopped, request i with key
 * label[i] over tbs[i], then lets it go on: all n wait in its socket, and
 * its first read takes them together when they fit SIGNER_PROTO_RDBUF.
 */
static void
begin_stopped(struct signer *s, int n, const char *const *label,
    unsigned char *const *tbs, const size_t *len, unsigned long *ticket)
{
	pid_t pid = signer_pid(s);
	char err[256];
	int i, failed = -1;

	signer_stop(pid);
	for (i = 0; i < n && failed == -1; i++)
		if (ts_begin(s, label[i],
		    "SHA256", tbs[i], len[i], &ticket[i], err,
		    sizeof(err)) == -1)
			failed = i;
	assert_int_equal(kill(pid, SIGCONT), 0);
	if (failed != -1)
		fail_msg("begin %d: %s", failed, err);
	/* Replies come in ticket order: one thread's increase. */
	for (i = 1; i < n; i++)
		assert_true(ticket[i] > ticket[i - 1]);
}

/*
 * One thread keeps a batch in flight, as tsad does: 8 time-stamp
 * requests, EC and RSA keys in turn, each over a TBS of its own, begun
 * while the signer is stopped (all 8 wait in its socket and its first
 * read takes them together), then ended in order; four such batches.
 * Each signature verifies over its own TBS with its key (a reply handed
 * to the wrong ticket does not), and the signer answered each batch with
 * one write: the first end's read brought every reply, so after each end
 * but the last the next reply is already buffered (signer_reply_buffered),
 * and after the last none is. Without a wait before the first end: once
 * every reply is in the socket, one read takes them all, one write or
 * eight. A signer that writes each reply once made (flushing after every
 * request) has the client read the first reply while it signs the second
 * (RSA, the slow one), unless the client does not run meanwhile: each
 * batch catches that most of the time (about 9 in 10 on 2 vCPUs), four
 * nearly always.
 */
static void
test_pipelined_batch(void **state)
{
	struct fixture *f = *state;
	enum { ROUNDS = 4 };
	struct signer *s;
	EVP_PKEY *pub[2] = { NULL, NULL };
	const char *label[BATCH];
	unsigned char *tbs[BATCH], *sig;
	size_t len[BATCH], siglen, wire = 0;
	unsigned long ticket[BATCH];
	int buffered[BATCH], i, round;
	char err[256];

	s = spawn_own(&f->cfg);
	get_pubs(s, pub);
	for (round = 0; round < ROUNDS; round++) {
		wire = 0;
		for (i = 0; i < BATCH; i++) {
			label[i] = keylabels[i % 2];
			tbs[i] = tbs_ts_attrs(round * BATCH + i, &len[i]);
			wire += sign_frame_len(label[i], tbs[i], len[i]);
		}
		/* The whole batch fits one read of the signer's reader. */
		assert_true(wire <= SIGNER_PROTO_RDBUF);
		assert_false(signer_reply_buffered(s));
		begin_stopped(s, BATCH, label, tbs, len, ticket);
		for (i = 0; i < BATCH; i++) {
			sig = NULL;
			if (signer_sign_end(s, ticket[i], &sig, &siglen, err,
			    sizeof(err)) == -1)
				fail_msg("batch %d, end %d: %s", round, i, err);
			buffered[i] = signer_reply_buffered(s);
			if (!sig_verifies(pub[i % 2], tbs[i], len[i], sig,
			    siglen))
				fail_msg("batch %d: signature %d (%s, %zu "
				    "bytes) does not verify over its own TBS",
				    round, i, label[i], siglen);
			free(sig);
		}
		for (i = 0; i < BATCH - 1; i++)
			if (!buffered[i])
				fail_msg("batch %d: after end %d the next "
				    "reply was not buffered yet: the batch was "
				    "not answered in one write", round, i);
		assert_false(buffered[BATCH - 1]);
		for (i = 0; i < BATCH; i++)
			OPENSSL_free(tbs[i]);
	}
	assert_false(signer_broken(s));
	EVP_PKEY_free(pub[0]);
	EVP_PKEY_free(pub[1]);
	signer_close(s);
}

/*
 * A batch larger than the signer's buffers, all of it in its socket
 * before it reads: 96 requests (about 11 KiB: reads of SIGNER_PROTO_RDBUF
 * end inside a request, so the replies so far go out and the rest are
 * read later) and their replies (about 16 KiB with the RSA ones: the
 * reply buffer fills and flushes before a frame is queued). Each ticket
 * still gets its own signature.
 */
static void
test_pipelined_large_batch(void **state)
{
	struct fixture *f = *state;
	enum { N = 96 };
	struct signer *s;
	EVP_PKEY *pub[2] = { NULL, NULL };
	const char *label[N];
	unsigned char *tbs[N], *sig;
	size_t len[N], siglen, wire = 0, replies = 0;
	unsigned long ticket[N];
	int i;
	char err[256];

	s = spawn_own(&f->cfg);
	get_pubs(s, pub);
	for (i = 0; i < N; i++) {
		label[i] = keylabels[i % 2];
		tbs[i] = tbs_ts_attrs(1000 + i, &len[i]);
		wire += sign_frame_len(label[i], tbs[i], len[i]);
	}
	if (wire <= 2 * SIGNER_PROTO_RDBUF)
		fail_msg("%zu bytes of requests", wire);
	begin_stopped(s, N, label, tbs, len, ticket);
	for (i = 0; i < N; i++) {
		sig = NULL;
		if (signer_sign_end(s, ticket[i], &sig, &siglen, err,
		    sizeof(err)) == -1)
			fail_msg("end %d: %s", i, err);
		if (!sig_verifies(pub[i % 2], tbs[i], len[i], sig, siglen))
			fail_msg("signature %d does not verify over its own "
			    "TBS", i);
		replies += 8 + siglen;
		free(sig);
	}
	assert_true(replies > 2 * SIGNER_PROTO_WRBUF);
	assert_false(signer_broken(s));
	for (i = 0; i < N; i++)
		OPENSSL_free(tbs[i]);
	EVP_PKEY_free(pub[0]);
	EVP_PKEY_free(pub[1]);
	signer_close(s);
}

/*
 * A refused request in a pipelined batch (a key the signer does not
 * grant), answered in the same write as the others: it fails its own
 * ticket only, with the signer's refusal; the requests before and after
 * it are signed and verify; the signer still serves. Three batches of 5:
 * the refused one in the middle, first, last.
 */
static void
test_pipelined_refusal(void **state)
{
	struct fixture *f = *state;
	enum { N = 5 };
	static const int bad_at[] = { 2, 0, N - 1 };
	struct signer *s;
	EVP_PKEY *pub[2] = { NULL, NULL };
	const char *label[N];
	unsigned char *tbs[N], *sig;
	size_t len[N], siglen;
	unsigned long ticket[N];
	int buffered[N], i, bad, round, rc;
	char err[256];

	s = spawn_own(&f->cfg);
	get_pubs(s, pub);
	for (round = 0; round < 3; round++) {
		bad = bad_at[round];
		for (i = 0; i < N; i++) {
			label[i] = i == bad ? "not-granted" : keylabels[i % 2];
			tbs[i] = tbs_ts_attrs(100 + round * N + i, &len[i]);
		}
		begin_stopped(s, N, label, tbs, len, ticket);
		for (i = 0; i < N; i++) {
			sig = NULL;
			siglen = 99;
			err[0] = '\0';
			rc = signer_sign_end(s, ticket[i], &sig, &siglen, err,
			    sizeof(err));
			buffered[i] = signer_reply_buffered(s);
			if (i == bad) {
				assert_int_equal(rc, -1);
				assert_null(sig);
				assert_int_equal(siglen, 0);
				if (strstr(err, "kind timestamp not granted "
				    "for key not-granted") == NULL)
					fail_msg("batch %d, refusal %d: \"%s\"",
					    round, i, err);
				continue;
			}
			if (rc == -1)
				fail_msg("batch %d, end %d (refused: %d): %s",
				    round, i, bad, err);
			if (!sig_verifies(pub[i % 2], tbs[i], len[i], sig,
			    siglen))
				fail_msg("batch %d: signature %d does not "
				    "verify over its own TBS", round, i);
			free(sig);
		}
		/* The refusal came in the batch's one write with the rest. */
		for (i = 0; i < N - 1; i++)
			if (!buffered[i])
				fail_msg("batch %d: after end %d the next "
				    "reply was not buffered", round, i);
		for (i = 0; i < N; i++)
			OPENSSL_free(tbs[i]);
	}
	assert_false(signer_broken(s));
	tbs[0] = tbs_ts_attrs(99, &len[0]);
	sig = NULL;
	if (ts_sign(s, "ec-ca", "SHA256", tbs[0],
	    len[0], &sig, &siglen, err, sizeof(err)) == -1)
		fail_msg("after the batches: %s", err);
	assert_true(sig_verifies(pub[0], tbs[0], len[0], sig, siglen));
	free(sig);
	OPENSSL_free(tbs[0]);
	EVP_PKEY_free(pub[0]);
	EVP_PKEY_free(pub[1]);
	signer_close(s);
}

struct plain_signer {
	struct signer	*s;
	EVP_PKEY	*pub;		/* ec-ca's */
	int		 n;
	int		 ok;
	int		 done;		/* __atomic: all n returned */
	char		 err[256];
};

/* signer_sign n times, each over a TBS of its own, each verified. */
static void *
plain_signer_run(void *arg)
{
	struct plain_signer *p = arg;
	unsigned char *tbs, *sig;
	size_t len, siglen;
	int i;

	for (i = 0; i < p->n; i++) {
		tbs = tbs_ts_attrs(5000 + i, &len);
		sig = NULL;
		if (ts_sign(p->s, "ec-ca", "SHA256",
		    tbs, len, &sig, &siglen, p->err, sizeof(p->err)) == 0 &&
		    sig_verifies(p->pub, tbs, len, sig, siglen))
			p->ok++;
		else if (p->err[0] == '\0')
			snprintf(p->err, sizeof(p->err), "signature %d does "
			    "not verify", i);
		free(sig);
		OPENSSL_free(tbs);
	}
	__atomic_store_n(&p->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/*
 * Tickets are shared between threads: one thread keeps 4 requests in
 * flight (begin 4, end 4, in rounds), while a second calls signer_sign
 * 100 times on the same signer (one of the test's own: a ticket left
 * unended on failure would stop every later test). Every signature
 * verifies over its own TBS. The first thread's first request goes
 * before the second thread starts and its last round after the second
 * thread's last call, so each of the 100 plain requests took a ticket
 * among the first thread's: the gaps between its tickets add up to 100.
 */
static void
test_pipelined_with_thread(void **state)
{
	struct fixture *f = *state;
	enum { DEPTH = 4, PLAIN = 100 };
	struct plain_signer p;
	struct signer *s;
	EVP_PKEY *pub[2] = { NULL, NULL };
	unsigned char *tbs[DEPTH], *sig;
	size_t len[DEPTH], siglen;
	unsigned long ticket[DEPTH], prev = 0, gaps = 0;
	int i, k = 0, rounds = 0, last, started = 0;
	char err[256];
	pthread_t th;

	s = spawn_own(&f->cfg);
	get_pubs(s, pub);
	memset(&p, 0, sizeof(p));
	p.s = s;
	p.pub = pub[0];
	p.n = PLAIN;
	do {
		last = __atomic_load_n(&p.done, __ATOMIC_SEQ_CST);
		for (i = 0; i < DEPTH; i++) {
			tbs[i] = tbs_ts_attrs(k + i, &len[i]);
			if (ts_begin(s, keylabels[(k + i) % 2], "SHA256", tbs[i], len[i],
			    &ticket[i], err, sizeof(err)) == -1)
				fail_msg("begin %d: %s", k + i, err);
			if (k + i > 0) {
				assert_true(ticket[i] > prev);
				gaps += ticket[i] - prev - 1;
			}
			prev = ticket[i];
			/* The other thread starts with a request in flight. */
			if (!started) {
				assert_int_equal(pthread_create(&th, NULL,
				    plain_signer_run, &p), 0);
				started = 1;
			}
		}
		for (i = 0; i < DEPTH; i++) {
			sig = NULL;
			if (signer_sign_end(s, ticket[i], &sig, &siglen,
			    err, sizeof(err)) == -1)
				fail_msg("end %d: %s", k + i, err);
			if (!sig_verifies(pub[(k + i) % 2], tbs[i], len[i], sig,
			    siglen))
				fail_msg("signature %d does not verify over "
				    "its own TBS", k + i);
			free(sig);
			OPENSSL_free(tbs[i]);
		}
		k += DEPTH;
		rounds++;
	} while (!last);
	assert_int_equal(pthread_join(th, NULL), 0);
	if (p.ok != PLAIN)
		fail_msg("plain signer_sign: %d of %d (%s)", p.ok, PLAIN,
		    p.err);
	if (gaps != PLAIN)
		fail_msg("%lu tickets of the other thread among ours (%d "
		    "rounds), expected %d", gaps, rounds, PLAIN);
	assert_false(signer_broken(s));
	EVP_PKEY_free(pub[0]);
	EVP_PKEY_free(pub[1]);
	signer_close(s);
}

/*
 * Waits until the peer of the signer's socket is gone (the process
 * ended: POLLHUP), at most 5 s.
 */
static void
wait_hangup(struct signer *s)
{
	struct pollfd pfd;
	long long t0 = now_ms();

	for (;;) {
		pfd.fd = signer_fd(s);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 100) == 1 && (pfd.revents & POLLHUP))
			return;
		if (now_ms() - t0 > 5000)
			fail_msg("the killed signer's socket is still open");
	}
}

/*
 * Begins 2 requests (ec-ca) and lets the signer answer them (waited for,
 * not taken), then 2 more while it is stopped, then kills it: the killed
 * signer had 2 replies out and 2 requests unanswered.
 */
static void
begin_then_kill(struct signer *s, unsigned char *tbs[4], size_t len[4],
    unsigned long ticket[4])
{
	char err[256];
	pid_t pid = signer_pid(s);
	long long t0;
	int i, unread = 0;

	for (i = 0; i < 4; i++) {
		if (i == 2)
			signer_stop(pid);
		if (ts_begin(s, keylabels[0],
		    "SHA256", tbs[i], len[i], &ticket[i], err,
		    sizeof(err)) == -1) {
			kill(pid, SIGCONT);
			fail_msg("begin %d: %s", i, err);
		}
		if (i != 1)
			continue;
		/*
		 * Both replies in our socket: more bytes than one can have
		 * (8 + 72 for P-256), however many writes they took.
		 */
		t0 = now_ms();
		while (ioctl(signer_fd(s), FIONREAD, &unread) == 0 &&
		    unread <= 8 + 72 && now_ms() - t0 < 5000)
			usleep(1000);
		if (unread <= 8 + 72)
			fail_msg("the first 2 replies: %d bytes after 5 s",
			    unread);
	}
	assert_int_equal(kill(pid, SIGKILL), 0);
	wait_hangup(s);
}

/*
 * A signer killed with tickets in flight (spawned without a
 * sandbox_section, as the client's own kill() would find it; a 5 s bound):
 * the replies it had written are still taken and verify; the ends of the
 * requests it never answered fail at once (well within the bound) with an
 * error naming the signer process, not a wait for the bound or for ever;
 * then a new begin fails and takes no ticket (its *ticket untouched), as
 * does signer_sign. Then the other order on a second signer: the begin
 * after the kill fails first (its write breaks the connection), and the
 * four ends in flight all fail at once, the answered ones too.
 */
static void
test_pipelined_signer_killed(void **state)
{
	struct fixture *f = *state;
	struct signer_config c = f->cfg;
	struct signer *s;
	EVP_PKEY *pub[2] = { NULL, NULL };
	unsigned char *tbs[4], *sig;
	size_t len[4], siglen;
	unsigned long ticket[4], t;
	long long t0, ms;
	int i, round;
	char err[256];

	c.timeout_s = 5;
	for (i = 0; i < 4; i++)
		tbs[i] = tbs_ts_attrs(200 + i, &len[i]);
	for (round = 0; round < 2; round++) {
		s = spawn_own(&c);
		if (round == 0)
			get_pubs(s, pub);
		begin_then_kill(s, tbs, len, ticket);
		if (round == 1) {
			/* Begin first: the write fails on the dead socket. */
			t = 4242;
			err[0] = '\0';
			assert_int_equal(ts_begin(s,
			    "ec-ca", "SHA256", tbs[0],
			    len[0], &t, err, sizeof(err)), -1);
			assert_int_equal(t, 4242);
			assert_non_null(strstr(err, "signer process"));
		}
		for (i = 0; i < 4; i++) {
			sig = NULL;
			err[0] = '\0';
			t0 = now_ms();
			if (round == 0 && i < 2) {
				/* Written before the kill: still ours. */
				if (signer_sign_end(s, ticket[i], &sig,
				    &siglen, err, sizeof(err)) == -1)
					fail_msg("end %d, answered before the "
					    "kill: %s", i, err);
				assert_true(sig_verifies(pub[0], tbs[i], len[i],
				    sig, siglen));
				free(sig);
				continue;
			}
			assert_int_equal(signer_sign_end(s, ticket[i], &sig,
			    &siglen, err, sizeof(err)), -1);
			ms = now_ms() - t0;
			assert_null(sig);
			/* A killed signer is not a malformed reply. */
			if (ms > 1000 || strstr(err, "signer process") == NULL ||
			    strstr(err, "malformed") != NULL)
				fail_msg("round %d, end %d after the kill: "
				    "%lld ms: \"%s\"", round, i, ms, err);
		}
		assert_true(signer_broken(s));
		/* No ticket for a new request, and no wait. */
		t = 4242;
		err[0] = '\0';
		t0 = now_ms();
		assert_int_equal(ts_begin(s, "ec-ca", "SHA256", tbs[0], len[0], &t, err, sizeof(err)),
		    -1);
		assert_true(now_ms() - t0 < 100);
		assert_int_equal(t, 4242);
		if (strstr(err, "spawn a new signer") == NULL)
			fail_msg("begin after the kill: \"%s\"", err);
		sig = NULL;
		assert_int_equal(ts_sign(s, "ec-ca",
		    "SHA256", tbs[0], len[0], &sig, &siglen, err, sizeof(err)),
		    -1);
		assert_null(sig);
		t0 = now_ms();
		signer_close(s);
		assert_true(now_ms() - t0 < 1000);
	}
	for (i = 0; i < 4; i++)
		OPENSSL_free(tbs[i]);
	EVP_PKEY_free(pub[0]);
	EVP_PKEY_free(pub[1]);
}

struct keygen_call {
	struct signer	*s;
	int		 ready;		/* __atomic: about to call */
	int		 rc;
	long long	 done_ms;	/* now_ms() when it returned */
	char		 err[256];
};

static void *
keygen_call_run(void *arg)
{
	struct keygen_call *k = arg;
	EVP_PKEY *pub = NULL;

	__atomic_store_n(&k->ready, 1, __ATOMIC_SEQ_CST);
	k->rc = signer_keygen(k->s, TOKEN, "pipelined-rsa", "rsa4096", &pub,
	    k->err, sizeof(k->err));
	k->done_ms = now_ms();
	EVP_PKEY_free(pub);
	return NULL;
}

/* What signer_on_sync's hook takes: the tickets one thread has in flight. */
struct on_sync_state {
	struct signer	*s;
	EVP_PKEY	*pub[2];
	unsigned char	*tbs[3];
	size_t		 len[3];
	unsigned long	 ticket[3];
	int		 n;		/* in flight */
	int		 calls;
};

static void
on_sync_take(void *arg)
{
	struct on_sync_state *st = arg;
	unsigned char *sig;
	size_t siglen;
	char err[256];
	int i;

	st->calls++;
	for (i = 0; i < st->n; i++) {
		sig = NULL;
		if (signer_sign_end(st->s, st->ticket[i], &sig, &siglen, err,
		    sizeof(err)) == -1)
			fail_msg("end %d in the hook: %s", i, err);
		assert_true(sig_verifies(st->pub[i % 2], st->tbs[i], st->len[i],
		    sig, siglen));
		free(sig);
		OPENSSL_free(st->tbs[i]);
	}
	st->n = 0;
}

/*
 * One thread with requests in flight makes a synchronous request (tsad:
 * TS_RESP_CTX signing): signer_on_sync's hook runs first, in that thread,
 * and takes the replies it is owed; without it the synchronous request
 * waits for ever for its turn (the suite's time-out ends it). The hook
 * runs for signer_sign, signer_pubkey and an EVP_PKEY's signature, never
 * for signer_sign_begin.
 */
static void
test_on_sync(void **state)
{
	struct fixture *f = *state;
	struct on_sync_state st;
	unsigned char *tbs, *sig = NULL;
	size_t len, siglen;
	EVP_PKEY *pub = NULL, *key;
	EVP_MD_CTX *ctx;
	char err[256];
	int i, round;

	memset(&st, 0, sizeof(st));
	st.s = spawn_own(&f->cfg);
	get_pubs(st.s, st.pub);
	signer_on_sync(st.s, on_sync_take, &st);
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 3; i++) {
			st.tbs[i] = tbs_ts_attrs(round * 3 + i, &st.len[i]);
			if (ts_begin(st.s, keylabels[i % 2], "SHA256", st.tbs[i], st.len[i],
			    &st.ticket[i], err, sizeof(err)) == -1)
				fail_msg("begin %d: %s", i, err);
			st.n++;
		}
		assert_int_equal(st.calls, round);	/* begin: no hook */
		switch (round) {
		case 0:
			tbs = tbs_ts_attrs(100, &len);
			if (ts_sign(st.s, keylabels[0],
			    "SHA256", tbs, len, &sig, &siglen, err,
			    sizeof(err)) == -1)
				fail_msg("signer_sign: %s", err);
			assert_true(sig_verifies(st.pub[0], tbs, len, sig,
			    siglen));
			free(sig);
			OPENSSL_free(tbs);
			break;
		case 1:
			if (signer_pubkey(st.s, keylabels[1], &pub, err,
			    sizeof(err)) == -1)
				fail_msg("signer_pubkey: %s", err);
			assert_int_equal(EVP_PKEY_eq(pub, st.pub[1]), 1);
			EVP_PKEY_free(pub);
			break;
		case 2:
			key = signer_pkey(st.s, SIGNER_KIND_TIMESTAMP,
			    keylabels[0], err, sizeof(err));
			if (key == NULL)
				fail_msg("signer_pkey: %s", err);
			tbs = tbs_ts_attrs(101, &len);
			ctx = EVP_MD_CTX_new();
			assert_non_null(ctx);
			assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL,
			    "SHA256", NULL, NULL, key, NULL), 1);
			ts_set_content(ctx, tbs, len);
			siglen = 0;
			assert_int_equal(EVP_DigestSign(ctx, NULL, &siglen, tbs,
			    len), 1);
			sig = malloc(siglen);
			assert_non_null(sig);
			assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, tbs,
			    len), 1);
			assert_true(sig_verifies(st.pub[0], tbs, len, sig,
			    siglen));
			free(sig);
			EVP_MD_CTX_free(ctx);
			OPENSSL_free(tbs);
			EVP_PKEY_free(key);
			break;
		}
		assert_int_equal(st.n, 0);
		assert_true(st.calls >= round + 1);
		st.calls = round + 1;
	}
	signer_on_sync(st.s, NULL, NULL);
	EVP_PKEY_free(st.pub[0]);
	EVP_PKEY_free(st.pub[1]);
	signer_close(st.s);
}

/* A time-stamp request refused, its refusal saying want. */
static void
expect_ts_refusal(struct fixture *f, enum signer_kind kind, const char *md,
    const unsigned char *attrs, size_t alen, const unsigned char *tst,
    size_t tstlen, const char *want)
{
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char err[512] = "";

	assert_int_equal(signer_sign_attrs(f->s, kind, "ec-ca", md, attrs,
	    alen, tst, tstlen, &sig, &siglen, err, sizeof(err)), -1);
	assert_null(sig);
	if (strstr(err, want) == NULL)
		fail_msg("refusal \"%s\" does not say \"%s\"", err, want);
}

/*
 * A signer granted timestamp signs SignedAttributes only with the TSTInfo
 * their messageDigest covers (hsm/tstinfo.c), dated near its own clock:
 * until 2026-12-06 it signed any OCTET STRING as messageDigest, so a tsad
 * worker taken over could have tokens of any date signed. Refused: no
 * TSTInfo, another TSTInfo than the digest's, a digest of another
 * algorithm's length, genTime more than 300 s behind or ahead, a TSTInfo
 * with a trailing byte; and content with a kind other than timestamp.
 */
static void
test_timestamp_policy(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *pub[2] = { NULL, NULL };
	unsigned char *a, *b, *sig = NULL, *tst2;
	const unsigned char *tst;
	size_t alen, blen, tstlen, siglen;
	time_t now = time(NULL);
	char err[512];
	int i;

	get_pubs(f->s, pub);
	/* Good, with either key, SHA-256 and SHA-384, genTime 290 s away. */
	for (i = 0; i < 2; i++) {
		a = tbs_ts_attrs(400 + i, &alen);
		if (ts_sign(f->s, keylabels[i], "SHA256", a, alen, &sig,
		    &siglen, err, sizeof(err)) == -1)
			fail_msg("%s: %s", keylabels[i], err);
		assert_true(sig_verifies(pub[i], a, alen, sig, siglen));
		free(sig);
		OPENSSL_free(a);
	}
	a = tbs_ts_attrs_at(402, "SHA384", now, &alen);
	if (ts_sign(f->s, "ec-ca", "SHA384", a, alen, &sig, &siglen, err,
	    sizeof(err)) == -1)
		fail_msg("SHA384: %s", err);
	free(sig);
	/* The same attributes, their 48-octet digest said to be SHA-256's. */
	tst = ts_tst(a, alen, &tstlen);
	expect_ts_refusal(f, SIGNER_KIND_TIMESTAMP, "SHA256", a, alen, tst,
	    tstlen, "messageDigest (RFC 5652 §11.2): 48 octets, SHA256 gives "
	    "32");
	OPENSSL_free(a);
	a = tbs_ts_attrs_at(403, "SHA256", now - 290, &alen);
	if (ts_sign(f->s, "ec-ca", "SHA256", a, alen, &sig, &siglen, err,
	    sizeof(err)) == -1)
		fail_msg("genTime 290 s behind: %s", err);
	free(sig);
	OPENSSL_free(a);
	a = tbs_ts_attrs_at(404, "SHA256", now + 290, &alen);
	if (ts_sign(f->s, "ec-ca", "SHA256", a, alen, &sig, &siglen, err,
	    sizeof(err)) == -1)
		fail_msg("genTime 290 s ahead: %s", err);
	free(sig);
	OPENSSL_free(a);

	/* Backdated and postdated, each with its own true digest. */
	a = tbs_ts_attrs_at(405, "SHA256", now - 3600, &alen);
	tst = ts_tst(a, alen, &tstlen);
	expect_ts_refusal(f, SIGNER_KIND_TIMESTAMP, "SHA256", a, alen, tst,
	    tstlen, "genTime -360");
	OPENSSL_free(a);
	a = tbs_ts_attrs_at(406, "SHA256", now - 320, &alen);
	tst = ts_tst(a, alen, &tstlen);
	expect_ts_refusal(f, SIGNER_KIND_TIMESTAMP, "SHA256", a, alen, tst,
	    tstlen, "from the signer's clock, more than 300 s either way");
	OPENSSL_free(a);
	a = tbs_ts_attrs_at(407, "SHA256", now + 400, &alen);
	tst = ts_tst(a, alen, &tstlen);
	expect_ts_refusal(f, SIGNER_KIND_TIMESTAMP, "SHA256", a, alen, tst,
	    tstlen, "genTime +");
	OPENSSL_free(a);

	/* The attributes of one token with the TSTInfo of another. */
	a = tbs_ts_attrs(408, &alen);
	b = tbs_ts_attrs(409, &blen);
	tst = ts_tst(b, blen, &tstlen);
	expect_ts_refusal(f, SIGNER_KIND_TIMESTAMP, "SHA256", a, alen, tst,
	    tstlen, "messageDigest (RFC 5652 §5.4): not the SHA256 of the "
	    "TSTInfo sent");
	/* No TSTInfo: what the signer signed before (and TS_RESP_CTX asks). */
	expect_ts_refusal(f, SIGNER_KIND_TIMESTAMP, "SHA256", a, alen, NULL, 0,
	    "kind timestamp: TSTInfo (RFC 3161 §2.4.2): none sent");
	expect_refusal(f, SIGNER_KIND_TIMESTAMP, "ec-ca", "SHA256", a, alen,
	    "none sent");
	/* Its own TSTInfo with a byte after it. */
	tst = ts_tst(a, alen, &tstlen);
	tst2 = malloc(tstlen + 1);
	assert_non_null(tst2);
	memcpy(tst2, tst, tstlen);
	tst2[tstlen] = 0;
	expect_ts_refusal(f, SIGNER_KIND_TIMESTAMP, "SHA256", a, alen, tst2,
	    tstlen + 1, "1 trailing bytes");
	/* The right one still signs; as CMS, content is refused. */
	if (signer_sign_attrs(f->s, SIGNER_KIND_TIMESTAMP, "ec-ca", "SHA256",
	    a, alen, tst, tstlen, &sig, &siglen, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	free(sig);
	expect_ts_refusal(f, SIGNER_KIND_CMS, "SHA256", a, alen, tst, tstlen,
	    "bytes of content sent with it: only a time-stamp");
	free(tst2);
	OPENSSL_free(a);
	OPENSSL_free(b);
	EVP_PKEY_free(pub[0]);
	EVP_PKEY_free(pub[1]);
}

/*
 * A reply is held only behind another signature, not behind a key
 * generation pipelined after it (another thread's, RSA-4096: a second
 * or more in SoftHSM2, bounded by keygen_timeout_s): the client waits
 * for a signature no longer than timeout_s (1 s here) from its turn.
 * Both requests wait in the stopped signer's socket, the signature
 * first; its end returns long before the key generation does (in under
 * half its time), and both succeed. Holding the signature until the key
 * was made took the whole key generation, and past 1 s the client took
 * the signer for hung and killed it.
 */
static void
test_pipelined_not_behind_keygen(void **state)
{
	struct fixture *f = *state;
	struct signer_config c = f->cfg;
	struct keygen_call k;
	struct signer *s;
	EVP_PKEY *pub[2] = { NULL, NULL };
	unsigned char *tbs, *sig = NULL;
	size_t len, siglen;
	unsigned long ticket;
	long long t0, sign_ms, keygen_ms;
	pthread_t th;
	pid_t pid;
	char err[256];
	int rc;

	c.timeout_s = 1;
	c.allow_keygen = 1;
	c.grants[0].key_label = "pipelined-rsa";	/* made here */
	c.grants[0].kind = SIGNER_KIND_CERT;
	s = spawn_own(&c);
	get_pubs(s, pub);
	tbs = tbs_ts_attrs(300, &len);
	pid = signer_pid(s);
	memset(&k, 0, sizeof(k));
	k.s = s;
	signer_stop(pid);
	rc = ts_begin(s, "ec-ca", "SHA256",
	    tbs, len, &ticket, err, sizeof(err));
	if (rc == 0) {
		assert_int_equal(pthread_create(&th, NULL, keygen_call_run, &k),
		    0);
		while (!__atomic_load_n(&k.ready, __ATOMIC_SEQ_CST))
			usleep(1000);
		usleep(200 * 1000);	/* its request written meanwhile */
	}
	t0 = now_ms();
	assert_int_equal(kill(pid, SIGCONT), 0);
	if (rc == -1)
		fail_msg("begin: %s", err);
	rc = signer_sign_end(s, ticket, &sig, &siglen, err, sizeof(err));
	sign_ms = now_ms() - t0;
	assert_int_equal(pthread_join(th, NULL), 0);
	keygen_ms = k.done_ms - t0;
	/* The key goes before any check: the token is the fixture's. */
	if (k.rc == 0 && signer_unkeygen(s, TOKEN, "pipelined-rsa", "rsa4096",
	    err, sizeof(err)) == -1)
		fail_msg("unkeygen: %s", err);
	if (rc == -1)
		fail_msg("the signature, with a key generation after it: %s "
		    "(%lld ms)", err, sign_ms);
	assert_true(sig_verifies(pub[0], tbs, len, sig, siglen));
	if (k.rc == -1)
		fail_msg("the key generation: %s", k.err);
	if (sign_ms * 2 >= keygen_ms)
		fail_msg("the signature took %lld ms, the key generation "
		    "after it %lld ms: held behind it", sign_ms, keygen_ms);
	free(sig);
	OPENSSL_free(tbs);
	EVP_PKEY_free(pub[0]);
	EVP_PKEY_free(pub[1]);
	signer_close(s);
}

/*
 * Two groups, each with a fixture (a token store) of its own, run at once,
 * the second in a child process: the time-out tests (the second group)
 * mostly wait out their bounds, which are whole seconds (about 19 s), while
 * the others mostly compute (RSA key generations). One after the other they
 * took the sum of both. The exit status is the first group's failures, or
 * else the second's (a child ended by a signal counts as a failure).
 */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spawn_failures),
		cmocka_unit_test(test_numbered_grant),
		cmocka_unit_test(test_x509_sign),
		cmocka_unit_test(test_crl_sign),
		cmocka_unit_test(test_ocsp_sign),
		cmocka_unit_test(test_timestamp),
		cmocka_unit_test(test_timestamp_policy),
		cmocka_unit_test(test_cms),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_ocsp_times),
		cmocka_unit_test(test_der_only),
		cmocka_unit_test(test_audit_head),
		cmocka_unit_test(test_audit_next),
		cmocka_unit_test(test_keygen_allowed),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_malformed_frames),
		cmocka_unit_test(test_token_away_and_back),
		cmocka_unit_test(test_tokendir_away_and_back),
		cmocka_unit_test(test_env_pin_forgotten),
		cmocka_unit_test(test_env_pin_with_file),
		cmocka_unit_test(test_rsa_sig_checked),
		cmocka_unit_test(test_token_away_sandboxed),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_pipelined_batch),
		cmocka_unit_test(test_pipelined_large_batch),
		cmocka_unit_test(test_pipelined_refusal),
		cmocka_unit_test(test_pipelined_with_thread),
		cmocka_unit_test(test_pipelined_signer_killed),
		cmocka_unit_test(test_pipelined_not_behind_keygen),
		cmocka_unit_test(test_on_sync),
	};
	const struct CMUnitTest timeouts[] = {
		cmocka_unit_test(test_watchdog_idle_and_busy),
		cmocka_unit_test(test_hung_signer),
		cmocka_unit_test(test_hung_keygen_bound),
		cmocka_unit_test(test_hung_signer_sandboxed),
	};
	pid_t pid;
	int rc, st;

	/* Nothing buffered twice. */
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		perror("test_signer: fork");
		return 1;
	}
	if (pid == 0)
		exit(cmocka_run_group_tests_name("time-outs", timeouts, setup,
		    teardown));
	rc = cmocka_run_group_tests(tests, setup, teardown);
	if (waitpid(pid, &st, 0) != pid) {
		perror("test_signer: waitpid");
		return 1;
	}
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "test_signer: the time-out tests (pid %ld) "
		    "ended by signal %d\n", (long)pid, WTERMSIG(st));
		return rc != 0 ? rc : 1;
	}
	return rc != 0 ? rc : WEXITSTATUS(st);
}
