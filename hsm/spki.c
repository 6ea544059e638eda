/*
 * Reading a certificate's public key without OpenSSL 3.0's decoder
 * machinery (hsm/spki.h): a strict DER walk (hsm/derwalk.c) to the
 * SubjectPublicKeyInfo, then EVP_PKEY_fromdata for the key types our
 * subscribers hold. Anything unusual goes to d2i_PUBKEY, so that the fast
 * path never reads a key differently from OpenSSL, only sooner.
 */
#include <limits.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include "hsm/derwalk.h"
#include "hsm/spki.h"

#define TAG_BITSTRING	0x03
#define TAG_NULL	0x05

/* OBJECT IDENTIFIER contents. */
static const unsigned char oid_ec[] = {	/* 1.2.840.10045.2.1 */
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const unsigned char oid_rsa[] = {	/* 1.2.840.113549.1.1.1 */
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };

static const struct {
	unsigned char	 oid[8];
	size_t		 oidlen;
	const char	*name;
	size_t		 field;		/* octets of a coordinate */
} spki_curves[] = {
	{ { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 }, 8,
	    "prime256v1", 32 },
	{ { 0x2b, 0x81, 0x04, 0x00, 0x22 }, 5, "secp384r1", 48 },
	{ { 0x2b, 0x81, 0x04, 0x00, 0x23 }, 5, "secp521r1", 66 },
};

static int
spki_oid_is(const struct tlv *t, const unsigned char *oid, size_t len)
{
	return t->tag == TAG_OID && t->val.left == len &&
	    memcmp(t->val.p, oid, len) == 0;
}

int
spki_of_cert(const unsigned char *der, size_t len, const unsigned char **spki,
    size_t *spkilen)
{
	struct dwin top = { der, len }, cert, tbs;
	struct tlv t;
	int i;

	/* Certificate ::= SEQUENCE { tbsCertificate, ... } */
	if (derwalk_want(&top, TAG_SEQUENCE, &t) == -1 || top.left != 0)
		return -1;
	cert = t.val;
	if (derwalk_want(&cert, TAG_SEQUENCE, &t) == -1)
		return -1;
	tbs = t.val;
	/* version [0] EXPLICIT OPTIONAL, serialNumber, signature, issuer,
	 * validity, subject, then subjectPublicKeyInfo. */
	if (derwalk_opt(&tbs, 0xa0, &t) == -1 ||
	    derwalk_want(&tbs, TAG_INTEGER, &t) == -1)
		return -1;
	for (i = 0; i < 4; i++)
		if (derwalk_want(&tbs, TAG_SEQUENCE, &t) == -1)
			return -1;
	*spki = tbs.p;
	if (derwalk_want(&tbs, TAG_SEQUENCE, &t) == -1)
		return -1;
	*spkilen = (size_t)(tbs.p - *spki);
	return 0;
}

/* An EC key on curve from its point (the BIT STRING's octets). */
static EVP_PKEY *
spki_ec(const char *curve, const unsigned char *pt, size_t ptlen)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;

	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    (void *)pt, ptlen);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

/* An RSA key from RSAPublicKey ::= SEQUENCE { modulus, publicExponent }. */
static EVP_PKEY *
spki_rsa(const unsigned char *der, size_t len)
{
	struct dwin w = { der, len }, seq;
	struct tlv t, n, e;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *bn = NULL, *be = NULL;

	if (derwalk_want(&w, TAG_SEQUENCE, &t) == -1 || w.left != 0)
		return NULL;
	seq = t.val;
	/* Positive INTEGERs in minimal form, nothing after them. */
	if (derwalk_want(&seq, TAG_INTEGER, &n) == -1 ||
	    derwalk_int_ok(&n.val, 1025) == -1 || (n.val.p[0] & 0x80) ||
	    derwalk_want(&seq, TAG_INTEGER, &e) == -1 ||
	    derwalk_int_ok(&e.val, 8) == -1 || (e.val.p[0] & 0x80) ||
	    seq.left != 0)
		return NULL;
	if ((bn = BN_bin2bn(n.val.p, (int)n.val.left, NULL)) == NULL ||
	    (be = BN_bin2bn(e.val.p, (int)e.val.left, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return pkey;
}

/* The fast path: NULL when it does not take these bytes. */
static EVP_PKEY *
spki_fast(const unsigned char *spki, size_t len)
{
	struct dwin w = { spki, len }, seq, alg;
	struct tlv t, oid, param, bits;
	size_t i, ptlen;

	if (derwalk_want(&w, TAG_SEQUENCE, &t) == -1 || w.left != 0)
		return NULL;
	seq = t.val;
	if (derwalk_want(&seq, TAG_SEQUENCE, &t) == -1)
		return NULL;
	alg = t.val;
	if (derwalk_want(&seq, TAG_BITSTRING, &bits) == -1 || seq.left != 0 ||
	    bits.val.left < 2 || bits.val.p[0] != 0 ||
	    derwalk_want(&alg, TAG_OID, &oid) == -1 ||
	    derwalk_next(&alg, &param) == -1 || alg.left != 0)
		return NULL;
	if (spki_oid_is(&oid, oid_ec, sizeof(oid_ec))) {
		for (i = 0; i < sizeof(spki_curves) / sizeof(spki_curves[0]);
		    i++) {
			if (!spki_oid_is(&param, spki_curves[i].oid,
			    spki_curves[i].oidlen))
				continue;
			/* Uncompressed points only: 04 || X || Y. */
			ptlen = bits.val.left - 1;
			if (ptlen != 1 + 2 * spki_curves[i].field ||
			    bits.val.p[1] != 0x04)
				return NULL;
			return spki_ec(spki_curves[i].name, bits.val.p + 1,
			    ptlen);
		}
		return NULL;
	}
	if (spki_oid_is(&oid, oid_rsa, sizeof(oid_rsa)) &&
	    param.tag == TAG_NULL && param.val.left == 0)
		return spki_rsa(bits.val.p + 1, bits.val.left - 1);
	return NULL;
}

EVP_PKEY *
spki_pkey(const unsigned char *spki, size_t len)
{
	const unsigned char *p = spki;
	EVP_PKEY *pkey;

	if ((pkey = spki_fast(spki, len)) != NULL)
		return pkey;
	if (len > LONG_MAX)
		return NULL;
	pkey = d2i_PUBKEY(NULL, &p, (long)len);
	if (pkey != NULL && p != spki + len) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	return pkey;
}

EVP_PKEY *
spki_cert_pkey(const unsigned char *der, size_t len)
{
	const unsigned char *spki;
	size_t spkilen;

	if (spki_of_cert(der, len, &spki, &spkilen) == -1)
		return NULL;
	return spki_pkey(spki, spkilen);
}
