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
 * The TBSCertificate of a certificate for pub, as X509_sign would send it:
 * version v (0: v1, 2: v3) and the extensions exts, pairs of name and
 * value as X509V3_EXT_nconf reads them, NULL-terminated (NULL: none).
 * Freed by caller.
 */
static unsigned char *
tbs_build(EVP_PKEY *pub, long v, const char *const *exts, size_t *len)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	unsigned char *der = NULL;
	int n;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, v), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_UTF8, (const unsigned char *)"Budi Santoso", -1, -1, 0);
	X509_NAME_add_entry_by_txt(X509_get_issuer_name(x), "CN",
	    MBSTRING_UTF8, (const unsigned char *)"Issuing CA", -1, -1, 0);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	assert_int_equal(X509_set_pubkey(x, pub), 1);
	X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, 0);
	for (; exts != NULL && exts[0] != NULL; exts += 2) {
		if ((e = X509V3_EXT_nconf(NULL, &ctx, exts[0], exts[1])) ==
		    NULL)
			fail_msg("extension %s = %s", exts[0], exts[1]);
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

/*
 * A v3 TBSCertificate for pub with basicConstraints (ca: cA) and ku as
 * keyUsage (NULL: none). Freed by caller.
 */
static unsigned char *
tbs_for(EVP_PKEY *pub, int ca, const char *ku, size_t *len)
{
	const char *exts[] = { "basicConstraints", ca ? "critical,CA:TRUE" :
	    "critical,CA:FALSE", ku != NULL ? "keyUsage" : NULL, ku, NULL };

	return tbs_build(pub, 2, exts, len);
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

enum ber_form {
	BER_INDEFINITE,		/* 30 80 ... 00 00 */
	BER_LONG_LENGTH,	/* 30 84 00 00 xx xx */
	BER_IN_ISSUER,		/* the issuer Name's length as 81 xx */
	BER_UTCTIME_NO_SECONDS,	/* notBefore YYMMDDHHMMZ (X.690 §11.8) */
};

/*
 * The DER TBSCertificate tbs encoded otherwise, in a form that BER allows
 * and DER does not, as a worker taken over could send it. Freed by caller.
 */
static unsigned char *
tbs_ber(const unsigned char *tbs, size_t len, enum ber_form how,
    size_t *outlen)
{
	const unsigned char *c;
	unsigned char *in, *out;
	size_t clen, hl, o, n, i, vlen;

	hl = tlv_hdr(tbs, &clen);
	assert_int_equal(hl + clen, len);
	c = tbs + hl;
	assert_non_null(out = malloc(len + 16));
	assert_non_null(in = malloc(clen + 16));
	memcpy(in, c, clen);
	n = clen;
	if (how == BER_IN_ISSUER || how == BER_UTCTIME_NO_SECONDS) {
		/* version, serialNumber, signature; then issuer, validity */
		for (o = 0, i = 0; i < 3; i++)
			o += tlv_hdr(in + o, &vlen) + vlen;
		if (how == BER_UTCTIME_NO_SECONDS) {
			o += tlv_hdr(in + o, &vlen) + vlen;
			assert_int_equal(in[o], 0x30);	/* validity */
			o += tlv_hdr(in + o, &vlen);
			/* notBefore: 17 0d YYMMDDHHMMSSZ -> 17 0b YYMMDDHHMMZ */
			assert_int_equal(in[o], 0x17);
			assert_int_equal(in[o + 1], 13);
			in[o + 1] = 11;
			in[o + 2 + 10] = 'Z';
			memmove(in + o + 13, in + o + 15, n - (o + 15));
			n -= 2;
			in[o - 1] -= 2;			/* validity's length */
		} else {
			assert_int_equal(in[o], 0x30);
			assert_true(in[o + 1] < 0x80);
			memmove(in + o + 2, in + o + 1, n - (o + 1));
			in[o + 1] = 0x81;
			n++;
		}
	}
	switch (how) {
	case BER_INDEFINITE:
		memcpy(out, "\x30\x80", 2);
		memcpy(out + 2, in, n);
		memcpy(out + 2 + n, "\0\0", 2);
		*outlen = n + 4;
		break;
	case BER_LONG_LENGTH:
		memcpy(out, "\x30\x84\0\0", 4);
		out[4] = (unsigned char)(n >> 8);
		out[5] = (unsigned char)n;
		memcpy(out + 6, in, n);
		*outlen = n + 6;
		break;
	default:
		/* The outer length in DER: only the inside is BER. */
		assert_true(n >= 128 && n < 65536);
		out[0] = 0x30;
		hl = 1;
		if (n >= 256) {
			out[hl++] = 0x82;
			out[hl++] = (unsigned char)(n >> 8);
		} else
			out[hl++] = 0x81;
		out[hl++] = (unsigned char)n;
		memcpy(out + hl, in, n);
		*outlen = n + hl;
		break;
	}
	free(in);
	return out;
}

/* signer_sign of tbs with the issuing key: 0, or -1 with err. */
static int
sign_bytes(struct fixture *f, const unsigned char *tbs, size_t len,
    char *err, size_t errlen)
{
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int rc;

	rc = signer_sign(f->s, SIGNER_KIND_CERT, CAKEY, "SHA256", tbs, len,
	    &sig, &siglen, err, errlen);
	free(sig);
	return rc;
}

static int
sign_tbs(struct fixture *f, EVP_PKEY *pub, int ca, const char *ku,
    char *err, size_t errlen)
{
	unsigned char *tbs;
	size_t len;
	int rc;

	tbs = tbs_for(pub, ca, ku, &len);
	rc = sign_bytes(f, tbs, len, err, errlen);
	OPENSSL_free(tbs);
	return rc;
}

/* As sign_tbs, with the version and extensions of tbs_build. */
static int
sign_built(struct fixture *f, EVP_PKEY *pub, long v, const char *const *exts,
    char *err, size_t errlen)
{
	unsigned char *tbs;
	size_t len;
	int rc;

	tbs = tbs_build(pub, v, exts, &len);
	rc = sign_bytes(f, tbs, len, err, errlen);
	OPENSSL_free(tbs);
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

/*
 * What the reviewer's probes had cad's signer sign under the issuing key
 * until 2026-12-06, each refused now while the key stays certifiable: a
 * TBSCertificate in BER (indefinite length, a non-minimal length, BER
 * inside the issuer Name, a UTCTime without seconds), a v1 certificate
 * (no extensions: a CA to OpenSSL), a v3 one whose only usage is an
 * nsCertType CA bit (X509_check_ca answers 5), and an extendedKeyUsage
 * that would let a subscriber's key sign OCSP responses or time stamps.
 * An ordinary subscriber's certificate still signs, once.
 */
static void
test_cert_policy_ca_forms(void **state)
{
	static const char *const subscriber[] = {
		"basicConstraints", "critical,CA:FALSE",
		"keyUsage", "critical,digitalSignature,nonRepudiation",
		"extendedKeyUsage", "emailProtection", NULL };
	static const struct { const char *eku, *ns; } bad[] = {
		{ "OCSPSigning", NULL },
		{ "timeStamping", NULL },
		{ "anyExtendedKeyUsage", NULL },
		{ "critical,emailProtection,timeStamping", NULL },
		{ NULL, "sslCA" },
		{ NULL, "emailCA" },
		{ NULL, "objCA" },
		{ NULL, "client" },
	};
	static const enum ber_form forms[] = { BER_INDEFINITE,
	    BER_LONG_LENGTH, BER_IN_ISSUER, BER_UTCTIME_NO_SECONDS };
	static const char *const form_err[] = { "not in DER", "not in DER",
	    "not in DER", "notBefore is not" };
	struct fixture *f = *state;
	unsigned char *blob = NULL, *tbs, *ber;
	const char *exts[9];
	size_t bloblen = 0, len, berlen, i;
	EVP_PKEY *pub = NULL;
	X509_CINF *ci;
	const unsigned char *p;
	char err[256] = "";

	if (signer_keygen_wrapped(f->s, WKEY, "ec-p256", &blob, &bloblen,
	    &pub, err, sizeof(err)) == -1)
		fail_msg("wrapgen: %s", err);
	tbs = tbs_build(pub, 2, subscriber, &len);
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		ber = tbs_ber(tbs, len, forms[i], &berlen);
		/* OpenSSL decodes each: only the signer's DER check refuses. */
		p = ber;
		assert_non_null(ci = d2i_X509_CINF(NULL, &p, (long)berlen));
		assert_ptr_equal(p, ber + berlen);
		X509_CINF_free(ci);
		if (sign_bytes(f, ber, berlen, err, sizeof(err)) != -1)
			fail_msg("BER form %zu signed", i);
		if (strstr(err, form_err[i]) == NULL)
			fail_msg("BER form %zu: \"%s\"", i, err);
		free(ber);
	}
	/* v1: no extensions, so no basicConstraints saying it is no CA. */
	assert_int_equal(sign_built(f, pub, 0, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a v3 certificate"));
	/*
	 * v3: an extendedKeyUsage that acts for the CA beside the profile's
	 * own, or an nsCertType alone (any: cad's profiles set none).
	 */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(exts, 0, sizeof(exts));
		if (bad[i].eku != NULL) {
			memcpy(exts, subscriber, 6 * sizeof(exts[0]));
			exts[6] = "extendedKeyUsage";
			exts[7] = bad[i].eku;
		} else {
			exts[0] = "nsCertType";
			exts[1] = bad[i].ns;
		}
		if (sign_built(f, pub, 2, exts, err, sizeof(err)) != -1)
			fail_msg("%s signed", bad[i].eku != NULL ? bad[i].eku :
			    bad[i].ns);
		if (strstr(err, bad[i].eku != NULL ? "extendedKeyUsage "
		    "OCSPSigning, timeStamping or anyExtendedKeyUsage" :
		    "nsCertType") == NULL)
			fail_msg("%s: \"%s\"", bad[i].eku != NULL ?
			    bad[i].eku : bad[i].ns, err);
	}
	/* Refused all along: the key is still certifiable, once. */
	if (sign_bytes(f, tbs, len, err, sizeof(err)) != 0)
		fail_msg("the subscriber's certificate: %s", err);
	assert_int_equal(sign_bytes(f, tbs, len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a subscriber key this signer generated"));
	OPENSSL_free(tbs);
	free(blob);
	EVP_PKEY_free(pub);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrapgen),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_cert_policy),
		cmocka_unit_test(test_cert_policy_ca_forms),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
