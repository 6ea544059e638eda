/*
 * The CMS layer of the PAdES signer (sign/cades.c), with a local throw-away
 * key standing in for the remote signHash: for ECDSA P-256 (SHA-256 and
 * SHA-384) and RSA PKCS#1 v1.5, the SignedData made from cades_tbs() and a
 * signature over its hash verifies with `openssl cms -verify` against the
 * content (and fails on other content); it carries content-type, message-
 * digest and signing-certificate-v2 but no signing-time; the chain goes into
 * certificates; a signature by another key, or over other attributes, is
 * refused by cades_set_signature(); a time-stamp token becomes the
 * signature-time-stamp unsigned attribute. Wrong digests and key types are
 * refused by cades_new().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sign/cades.h"
#include "sign/tsa_client.h"

static char dir[512];

static EVP_PKEY *
keygen(const char *type)
{
	EVP_PKEY *k;

	if (strcmp(type, "EC") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	assert_non_null(k);
	return k;
}

static void
ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A certificate for key named cn, signed by ikey (issuer NULL: self). */
static X509 *
mkcert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey, int ca)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	static long serial = 1;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	ext(x, issuer ? issuer : x, NID_basic_constraints,
	    ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	ext(x, issuer ? issuer : x, NID_key_usage, ca ?
	    "critical,keyCertSign,cRLSign" : "critical,digitalSignature,nonRepudiation");
	ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
	assert_int_not_equal(X509_sign(x, ikey ? ikey : key, EVP_sha256()), 0);
	X509_NAME_free(n);
	return x;
}

static void
writefile(const char *name, const void *p, size_t len)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
writepem(const char *name, X509 *x)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	assert_int_equal(fclose(f), 0);
}

static int
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	return r == 0 ? 0 : -1;
}

/* signHash's stand-in: a signature of the digest tbs hashes to. */
static unsigned char *
remote_sign(EVP_PKEY *key, const EVP_MD *md, const unsigned char *tbs,
    size_t tbslen, size_t *siglen)
{
	unsigned char h[EVP_MAX_MD_SIZE], *sig;
	unsigned int hlen;
	EVP_PKEY_CTX *ctx;

	assert_int_equal(EVP_Digest(tbs, tbslen, h, &hlen, md, NULL), 1);
	ctx = EVP_PKEY_CTX_new(key, NULL);
	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
	if (EVP_PKEY_is_a(key, "RSA")) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx,
		    RSA_PKCS1_PADDING), 1);
		/* PKCS#1 v1.5 with the DigestInfo, as signd's RSA. */
		assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, md), 1);
	}
	assert_int_equal(EVP_PKEY_sign(ctx, NULL, siglen, h, hlen), 1);
	sig = malloc(*siglen);
	assert_non_null(sig);
	assert_int_equal(EVP_PKEY_sign(ctx, sig, siglen, h, hlen), 1);
	EVP_PKEY_CTX_free(ctx);
	return sig;
}

static void
roundtrip(const char *type, const EVP_MD *md)
{
	EVP_PKEY *cakey = keygen("EC"), *key = keygen(type), *other = keygen(type);
	X509 *ca = mkcert(cakey, "Test CA", NULL, NULL, 1);
	X509 *leaf = mkcert(key, "Ayu Lestari", ca, cakey, 0);
	STACK_OF(X509) *chain = sk_X509_new_null();
	const char content[] = "%PDF-1.7 the two ByteRange parts, concatenated";
	unsigned char dg[EVP_MAX_MD_SIZE], *tbs, *sig, *der, *tbs2;
	unsigned int dglen;
	size_t tbslen, siglen, derlen, tbs2len, vlen;
	const unsigned char *v;
	char err[256] = "";
	struct cades *c;
	/* A DER SEQUENCE standing in for a TimeStampToken. */
	const unsigned char tst[] = { 0x30, 0x03, 0x02, 0x01, 0x07 };

	sk_X509_push(chain, ca);
	assert_int_equal(EVP_Digest(content, strlen(content), dg, &dglen, md,
	    NULL), 1);
	c = cades_new(leaf, chain, md, dg, dglen, err, sizeof(err));
	assert_non_null(c);
	assert_null(cades_signature(c, &vlen));
	assert_int_equal(cades_der(c, &der, &derlen, err, sizeof(err)), -1);
	assert_int_equal(cades_tbs(c, &tbs, &tbslen, err, sizeof(err)), 0);
	assert_int_equal(tbs[0], 0x31);
	/* The same bytes twice. */
	assert_int_equal(cades_tbs(c, &tbs2, &tbs2len, err, sizeof(err)), 0);
	assert_int_equal(tbslen, tbs2len);
	assert_memory_equal(tbs, tbs2, tbslen);
	free(tbs2);

	/* Another key's signature, or one over other bytes: refused. */
	sig = remote_sign(other, md, tbs, tbslen, &siglen);
	assert_int_equal(cades_set_signature(c, sig, siglen, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "does not verify"));
	free(sig);
	tbs[tbslen - 1] ^= 1;
	sig = remote_sign(key, md, tbs, tbslen, &siglen);
	tbs[tbslen - 1] ^= 1;
	assert_int_equal(cades_set_signature(c, sig, siglen, err, sizeof(err)),
	    -1);
	free(sig);
	assert_int_equal(cades_add_timestamp(c, tst, sizeof(tst), err,
	    sizeof(err)), -1);

	sig = remote_sign(key, md, tbs, tbslen, &siglen);
	assert_int_equal(cades_set_signature(c, sig, siglen, err, sizeof(err)),
	    0);
	v = cades_signature(c, &vlen);
	assert_non_null(v);
	assert_int_equal(vlen, siglen);
	assert_memory_equal(v, sig, siglen);
	assert_int_equal(cades_add_timestamp(c, tst, sizeof(tst), err,
	    sizeof(err)), 0);
	assert_int_equal(cades_der(c, &der, &derlen, err, sizeof(err)), 0);

	writefile("sig.der", der, derlen);
	writefile("content", content, strlen(content));
	writefile("other", content, strlen(content) - 1);
	writepem("ca.pem", ca);
	writepem("leaf.pem", leaf);
	/* openssl verifies: the signature, the chain, the message digest. */
	assert_int_equal(sh("cd %s && openssl cms -verify -binary -inform DER "
	    "-in sig.der -content content -CAfile ca.pem -purpose any "
	    "-out /dev/null 2>verify.err", dir), 0);
	assert_int_equal(sh("cd %s && openssl cms -verify -binary -inform DER "
	    "-in sig.der -content other -CAfile ca.pem -purpose any "
	    "-out /dev/null 2>/dev/null", dir), -1);
	/* The signer and the CA in certificates; no -certfile needed above. */
	assert_int_equal(sh("cd %s && openssl cms -verify -binary -inform DER "
	    "-in sig.der -content content -CAfile ca.pem -purpose any "
	    "-signer signer.pem -out /dev/null 2>/dev/null && "
	    "cmp -s signer.pem leaf.pem", dir), 0);
	assert_int_equal(sh("cd %s && openssl cms -cmsout -print -inform DER "
	    "-in sig.der >print.txt", dir), 0);
	assert_int_equal(sh("cd %s && grep -q 'object: contentType' print.txt "
	    "&& grep -q 'object: messageDigest' print.txt && grep -q "
	    "'object: id-smime-aa-signingCertificateV2' print.txt && grep -q "
	    "'object: id-smime-aa-timeStampToken' print.txt", dir), 0);
	assert_int_equal(sh("cd %s && grep -q 'signingTime' print.txt", dir),
	    -1);
	assert_int_equal(sh("cd %s && grep -q 'eContent: <ABSENT>' print.txt",
	    dir), 0);
	assert_int_equal(sh("cd %s && grep -A1 'signatureAlgorithm:' print.txt "
	    "| grep -q '%s'", dir, EVP_PKEY_is_a(key, "RSA") ?
	    "rsaEncryption" : EVP_MD_is_a(md, "SHA2-384") ?
	    "ecdsa-with-SHA384" : "ecdsa-with-SHA256"), 0);

	free(sig);
	free(tbs);
	OPENSSL_free(der);
	cades_free(c);
	sk_X509_free(chain);
	X509_free(leaf);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	EVP_PKEY_free(cakey);
}

static void
test_ecdsa_sha256(void **state)
{
	roundtrip("EC", EVP_sha256());
}

static void
test_ecdsa_sha384(void **state)
{
	roundtrip("EC", EVP_sha384());
}

static void
test_rsa_pkcs1(void **state)
{
	roundtrip("RSA", EVP_sha256());
}

/*
 * cades_size_bound() is an upper bound, known before signing: for keys
 * whose signature value varies in length (ECDSA: r and s lose a byte to a
 * leading zero half the time, and gain one for a sign bit) and for RSA,
 * many real SignedData are never longer, and at least once exactly as long
 * (the longest value occurs); with a token of TSA_TOKEN_MAX bytes, the
 * bound with tst_max holds too and a larger token is refused.
 */
static void
bound_case(const char *type, const char *param, const EVP_MD *md)
{
	EVP_PKEY *cakey = keygen("EC"), *key;
	X509 *ca = mkcert(cakey, "Test CA", NULL, NULL, 1), *leaf;
	STACK_OF(X509) *chain = sk_X509_new_null();
	unsigned char dg[EVP_MAX_MD_SIZE], *tbs, *sig, *der, *tst;
	size_t tbslen, siglen, derlen, bound, bound_t, longest = 0;
	char err[256] = "";
	struct cades *c;
	int i, hit = 0;

	if (strcmp(type, "EC") == 0)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", param);
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)atoi(param));
	assert_non_null(key);
	leaf = mkcert(key, "Ayu Lestari", ca, cakey, 0);
	sk_X509_push(chain, ca);
	assert_int_equal(cades_size_bound(leaf, chain, md, 0, &bound, err,
	    sizeof(err)), 0);
	assert_int_equal(cades_size_bound(leaf, chain, md, TSA_TOKEN_MAX,
	    &bound_t, err, sizeof(err)), 0);
	assert_true(bound_t > bound + TSA_TOKEN_MAX);
	assert_int_equal(cades_size_bound(leaf, chain, md, TSA_TOKEN_MAX + 1,
	    &bound_t, err, sizeof(err)), -1);
	assert_int_equal(cades_size_bound(leaf, chain, md, TSA_TOKEN_MAX,
	    &bound_t, err, sizeof(err)), 0);
	/* A DER SEQUENCE of TSA_TOKEN_MAX bytes standing in for a token. */
	tst = calloc(1, TSA_TOKEN_MAX + 1);
	assert_non_null(tst);
	tst[0] = 0x30;
	tst[1] = 0x82;
	tst[2] = (unsigned char)((TSA_TOKEN_MAX - 4) >> 8);
	tst[3] = (unsigned char)(TSA_TOKEN_MAX - 4);
	for (i = 0; i < 96; i++) {
		assert_int_equal(RAND_bytes(dg, EVP_MD_get_size(md)), 1);
		c = cades_new(leaf, chain, md, dg, EVP_MD_get_size(md), err,
		    sizeof(err));
		assert_non_null(c);
		assert_int_equal(cades_tbs(c, &tbs, &tbslen, err, sizeof(err)),
		    0);
		sig = remote_sign(key, md, tbs, tbslen, &siglen);
		assert_int_equal(cades_set_signature(c, sig, siglen, err,
		    sizeof(err)), 0);
		assert_int_equal(cades_der(c, &der, &derlen, err, sizeof(err)),
		    0);
		assert_true(derlen <= bound);
		if (derlen == bound)
			hit = 1;
		if (derlen > longest)
			longest = derlen;
		OPENSSL_free(der);
		if (i < 4) {
			tst[3] = (unsigned char)(TSA_TOKEN_MAX - 3);
			assert_int_equal(cades_add_timestamp(c, tst,
			    TSA_TOKEN_MAX + 1, err, sizeof(err)), -1);
			tst[3] = (unsigned char)(TSA_TOKEN_MAX - 4);
			assert_int_equal(cades_add_timestamp(c, tst,
			    TSA_TOKEN_MAX, err, sizeof(err)), 0);
			assert_int_equal(cades_der(c, &der, &derlen, err,
			    sizeof(err)), 0);
			assert_true(derlen <= bound_t);
			OPENSSL_free(der);
		}
		free(sig);
		free(tbs);
		cades_free(c);
	}
	/* Tight: the longest value made reaches it (P(miss) < 1e-11). */
	if (!hit)
		fail_msg("%s %s: longest CMS %zu, bound %zu", type, param,
		    longest, bound);
	free(tst);
	sk_X509_free(chain);
	X509_free(leaf);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
}

static void
test_size_bound(void **state)
{
	(void)state;
	bound_case("EC", "P-256", EVP_sha256());
	bound_case("EC", "P-384", EVP_sha384());
	bound_case("EC", "P-521", EVP_sha512());
	bound_case("RSA", "2048", EVP_sha256());
}

static void
test_refusals(void **state)
{
	EVP_PKEY *key = keygen("EC"), *ed;
	X509 *x = mkcert(key, "A", NULL, NULL, 0), *y;
	unsigned char dg[64] = { 0 };
	char err[256];

	assert_null(cades_new(x, NULL, EVP_sha1(), dg, 20, err, sizeof(err)));
	assert_null(cades_new(x, NULL, EVP_sha256(), dg, 32 - 1, err,
	    sizeof(err)));
	assert_null(cades_new(x, NULL, EVP_sha256(), dg, 48, err,
	    sizeof(err)));
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(ed);
	y = mkcert(ed, "B", x, key, 0);
	assert_null(cades_new(y, NULL, EVP_sha256(), dg, 32, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "neither RSA nor EC"));
	X509_free(x);
	X509_free(y);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ecdsa_sha256),
		cmocka_unit_test(test_ecdsa_sha384),
		cmocka_unit_test(test_rsa_pkcs1),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_size_bound),
	};
	const char *t = getenv("PKI_TEST_DIR");
	int rc;

	snprintf(dir, sizeof(dir), "%s/cades.XXXXXX", t ? t : "/tmp");
	if (mkdtemp(dir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0)
		sh("rm -rf %s", dir);
	return rc;
}
