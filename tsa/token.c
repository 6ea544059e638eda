/*
 * Granted time-stamp responses written directly as DER (RFC 3161 §2.4.2,
 * RFC 5652 §5, RFC 5816), without TS_RESP_CTX: everything that does not
 * change between tokens (the SigningCertificateV2 attribute, the
 * IssuerAndSerialNumber, the AlgorithmIdentifiers, the certificates for
 * certReq, the accuracy) is encoded once by tsa_token_new(); a token is then
 * the TSTInfo, four signed attributes, one signature through the EVP_PKEY
 * (the signer process in tsad) and a few headers around them.
 *
 * The output is what TS_RESP_CTX writes for the same inputs, octet for
 * octet (tests/unit/tsa/test_token.c compares them): version 3 SignedData
 * with the TSTInfo encapsulated, the digest AlgorithmIdentifier with NULL
 * parameters, signed attributes contentType, signingTime (UTCTime, from
 * genTime's second), messageDigest and signingCertificate(V2) in DER SET
 * order (X.690 §11.6), the TSA certificate then the chain when certReq.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include "hsm/signer.h"
#include "lib/der.h"
#include "tsa/extern.h"

#define TSA_OID_MAX	32	/* the DER of the OIDs we write, with header */
#define TSA_AID_MAX	32
#define TSA_ATTRS	4

struct tsa_token {
	EVP_PKEY	*key;
	EVP_MD		*sign_md;	/* fetched once */
	EVP_MD_CTX	*sign_tmpl;	/* DigestSign initialised once, copied per token */
	size_t		 sig_max;
	unsigned char	*sig;		/* sig_max octets */
	unsigned char	 digest_aid[TSA_AID_MAX];	/* signing digest, NULL params */
	size_t		 digest_aid_len;
	unsigned char	 sig_aid[TSA_AID_MAX];		/* ecdsa-with-* or rsaEncryption */
	size_t		 sig_aid_len;
	unsigned char	 oid_signed_data[TSA_OID_MAX];
	size_t		 oid_signed_data_len;
	unsigned char	 oid_tstinfo[TSA_OID_MAX];
	size_t		 oid_tstinfo_len;
	unsigned char	 attr_ctype[64];	/* contentType = id-ct-TSTInfo */
	size_t		 attr_ctype_len;
	unsigned char	 oid_signing_time[TSA_OID_MAX];
	size_t		 oid_signing_time_len;
	unsigned char	 oid_msg_digest[TSA_OID_MAX];
	size_t		 oid_msg_digest_len;
	unsigned char	*attr_ess;	/* signingCertificate(V2), whole Attribute */
	size_t		 attr_ess_len;
	unsigned char	*ias;		/* IssuerAndSerialNumber */
	size_t		 ias_len;
	unsigned char	*certs;		/* [0] IMPLICIT SET OF Certificate */
	size_t		 certs_len;
	unsigned char	 accuracy[32];	/* Accuracy, or nothing */
	size_t		 accuracy_len;
	int		 ordering;
	unsigned int	 precision;
	struct der	 out;		/* tsa_token_new's scratch */
	struct tsa_token_tbs tbs;	/* tsa_token_build's, reused per token */
};

/* The DER (with header) of the OID nid into out; its length, 0 on error. */
static size_t
tsa_token_oid(int nid, unsigned char *out, size_t outlen)
{
	const ASN1_OBJECT *obj;
	unsigned char *p = out;
	int n;

	if ((obj = OBJ_nid2obj(nid)) == NULL ||
	    (n = i2d_ASN1_OBJECT(obj, NULL)) <= 0 || (size_t)n > outlen)
		return 0;
	i2d_ASN1_OBJECT(obj, &p);
	return (size_t)n;
}

/* Copies a finished writer's bytes into a new buffer; -1 on error. */
static int
tsa_token_keep(struct der *d, unsigned char **out, size_t *outlen)
{
	if (der_failed(d) || d->len == 0 || (*out = malloc(d->len)) == NULL)
		return -1;
	memcpy(*out, d->buf, d->len);
	*outlen = d->len;
	return 0;
}

/* The same into a fixed array. */
static int
tsa_token_keep_fixed(struct der *d, unsigned char *out, size_t cap,
    size_t *outlen)
{
	if (der_failed(d) || d->len == 0 || d->len > cap)
		return -1;
	memcpy(out, d->buf, d->len);
	*outlen = d->len;
	return 0;
}

/* Appends the n octets an i2d call wrote to der; -1 when it failed. */
static int
tsa_token_i2d_append(struct der *d, int n, unsigned char *der)
{
	if (n <= 0 || der == NULL)
		return -1;
	der_raw(d, der, (size_t)n);
	return 0;
}

/*
 * RFC 5035 / RFC 5816: the SigningCertificate(V2) attribute exactly as
 * TS_RESP_CTX adds it (signer certificate only, its hash without the
 * optional IssuerSerial; the hash algorithm omitted when it is SHA-256).
 */
static int
tsa_token_ess_attr(struct tsa_token *t, X509 *cert, const EVP_MD *ess_md,
    struct der *d)
{
	ESS_SIGNING_CERT_V2 *sc2 = NULL;
	ESS_SIGNING_CERT *sc = NULL;
	unsigned char oid[TSA_OID_MAX], *val = NULL;
	size_t oidlen;
	int n, rc = -1;

	der_reset(d);
	if (EVP_MD_is_a(ess_md, SN_sha1)) {
		if ((sc = OSSL_ESS_signing_cert_new_init(cert, NULL, 0)) == NULL ||
		    (oidlen = tsa_token_oid(NID_id_smime_aa_signingCertificate,
		    oid, sizeof(oid))) == 0)
			goto out;
		n = i2d_ESS_SIGNING_CERT(sc, &val);
	} else {
		if ((sc2 = OSSL_ESS_signing_cert_v2_new_init(ess_md, cert, NULL,
		    0)) == NULL || (oidlen = tsa_token_oid(
		    NID_id_smime_aa_signingCertificateV2, oid, sizeof(oid))) == 0)
			goto out;
		n = i2d_ESS_SIGNING_CERT_V2(sc2, &val);
	}
	der_begin(d, DER_SEQUENCE);
	der_raw(d, oid, oidlen);
	der_begin(d, DER_SET);
	if (tsa_token_i2d_append(d, n, val) == -1)
		goto out;
	der_end(d);
	der_end(d);
	rc = tsa_token_keep(d, &t->attr_ess, &t->attr_ess_len);
out:
	OPENSSL_free(val);
	ESS_SIGNING_CERT_free(sc);
	ESS_SIGNING_CERT_V2_free(sc2);
	return rc;
}

/* RFC 5652 §10.2.4: IssuerAndSerialNumber of the TSA certificate. */
static int
tsa_token_ias(struct tsa_token *t, X509 *cert, struct der *d)
{
	unsigned char *name = NULL, *serial = NULL;
	int rc = -1;
	int nlen, slen;

	der_reset(d);
	nlen = i2d_X509_NAME(X509_get_issuer_name(cert), &name);
	slen = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert), &serial);
	der_begin(d, DER_SEQUENCE);
	if (tsa_token_i2d_append(d, nlen, name) == -1 ||
	    tsa_token_i2d_append(d, slen, serial) == -1)
		goto out;
	der_end(d);
	rc = tsa_token_keep(d, &t->ias, &t->ias_len);
out:
	OPENSSL_free(name);
	OPENSSL_free(serial);
	return rc;
}

/* certificates [0] IMPLICIT: the TSA certificate, then chain (may be NULL). */
static int
tsa_token_certs(struct tsa_token *t, X509 *cert, STACK_OF(X509) *chain,
    struct der *d)
{
	unsigned char *der = NULL;
	X509 *x;
	int i, n, len, rc = -1;

	der_reset(d);
	der_begin(d, DER_CONTEXT_CONS(0));
	n = chain != NULL ? sk_X509_num(chain) : 0;
	for (i = 0; i <= n; i++) {
		x = i == 0 ? cert : sk_X509_value(chain, i - 1);
		len = i2d_X509(x, &der);
		if (tsa_token_i2d_append(d, len, der) == -1)
			goto out;
		OPENSSL_free(der);
		der = NULL;
	}
	der_end(d);
	rc = tsa_token_keep(d, &t->certs, &t->certs_len);
out:
	OPENSSL_free(der);
	return rc;
}

/*
 * The AlgorithmIdentifiers PKCS7_SIGNER_INFO_set() writes: the digest with
 * NULL parameters; ecdsa-with-<digest> without parameters for EC keys,
 * rsaEncryption with NULL for RSA keys. -1 for any other key type.
 */
static int
tsa_token_aids(struct tsa_token *t, EVP_PKEY *key, struct der *d)
{
	unsigned char oid[TSA_OID_MAX];
	size_t oidlen;
	int mdnid = EVP_MD_get_type(t->sign_md), signid;

	der_reset(d);
	if ((oidlen = tsa_token_oid(mdnid, oid, sizeof(oid))) == 0)
		return -1;
	der_begin(d, DER_SEQUENCE);
	der_raw(d, oid, oidlen);
	der_tlv(d, DER_NULL, NULL, 0);
	der_end(d);
	if (tsa_token_keep_fixed(d, t->digest_aid, sizeof(t->digest_aid),
	    &t->digest_aid_len) == -1)
		return -1;
	der_reset(d);
	if (EVP_PKEY_is_a(key, "EC")) {
		if (OBJ_find_sigid_by_algs(&signid, mdnid,
		    NID_X9_62_id_ecPublicKey) != 1 ||
		    (oidlen = tsa_token_oid(signid, oid, sizeof(oid))) == 0)
			return -1;
		der_begin(d, DER_SEQUENCE);
		der_raw(d, oid, oidlen);
		der_end(d);
	} else if (EVP_PKEY_is_a(key, "RSA")) {
		if ((oidlen = tsa_token_oid(NID_rsaEncryption, oid,
		    sizeof(oid))) == 0)
			return -1;
		der_begin(d, DER_SEQUENCE);
		der_raw(d, oid, oidlen);
		der_tlv(d, DER_NULL, NULL, 0);
		der_end(d);
	} else
		return -1;
	return tsa_token_keep_fixed(d, t->sig_aid, sizeof(t->sig_aid),
	    &t->sig_aid_len);
}

/* RFC 3161 §2.4.2 Accuracy: only the non-zero fields; nothing when all are. */
static int
tsa_token_accuracy(struct tsa_token *t, const struct tsa_token_conf *c,
    struct der *d)
{
	t->accuracy_len = 0;
	if (c->accuracy_seconds == 0 && c->accuracy_millis == 0 &&
	    c->accuracy_micros == 0)
		return 0;
	der_reset(d);
	der_begin(d, DER_SEQUENCE);
	if (c->accuracy_seconds != 0)
		der_small_uint(d, DER_INTEGER, c->accuracy_seconds);
	if (c->accuracy_millis != 0)
		der_small_uint(d, DER_CONTEXT(0), c->accuracy_millis);
	if (c->accuracy_micros != 0)
		der_small_uint(d, DER_CONTEXT(1), c->accuracy_micros);
	der_end(d);
	return tsa_token_keep_fixed(d, t->accuracy, sizeof(t->accuracy),
	    &t->accuracy_len);
}

struct tsa_token *
tsa_token_new(const struct tsa_token_conf *c, char *err, size_t errlen)
{
	struct tsa_token *t = NULL, *ret = NULL;
	unsigned char oid[TSA_OID_MAX];
	size_t oidlen;
	int n;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	der_init(&t->out);
	tsa_token_tbs_init(&t->tbs);
	if (c->precision > 6 || c->accuracy_seconds > 0x7fffffff ||
	    c->accuracy_millis > 999 || c->accuracy_micros > 999) {
		snprintf(err, errlen, "token: precision or accuracy out of range");
		goto out;
	}
	t->ordering = c->ordering;
	t->precision = c->precision;
	if (EVP_PKEY_up_ref(c->key) != 1) {
		snprintf(err, errlen, "token: EVP_PKEY_up_ref failed");
		goto out;
	}
	t->key = c->key;
	if ((t->sign_md = EVP_MD_fetch(NULL, EVP_MD_get0_name(c->sign_md),
	    NULL)) == NULL ||
	    (t->sign_tmpl = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(t->sign_tmpl, NULL,
	    EVP_MD_get0_name(t->sign_md), NULL, NULL, t->key, NULL) != 1 ||
	    (n = EVP_PKEY_get_size(t->key)) <= 0 ||
	    (t->sig = malloc((size_t)n)) == NULL) {
		snprintf(err, errlen, "token: cannot set up signing with the "
		    "TSA key");
		goto out;
	}
	t->sig_max = (size_t)n;
	if (tsa_token_aids(t, c->key, &t->out) == -1) {
		snprintf(err, errlen, "token: the TSA key is neither EC nor RSA, "
		    "or its digest has no signature algorithm");
		goto out;
	}
	if (tsa_token_ess_attr(t, c->cert, c->ess_md, &t->out) == -1 ||
	    tsa_token_ias(t, c->cert, &t->out) == -1 ||
	    tsa_token_certs(t, c->cert, c->chain, &t->out) == -1 ||
	    tsa_token_accuracy(t, c, &t->out) == -1) {
		snprintf(err, errlen, "token: cannot encode the TSA certificate's "
		    "identifiers");
		goto out;
	}
	if ((t->oid_signed_data_len = tsa_token_oid(NID_pkcs7_signed,
	    t->oid_signed_data, sizeof(t->oid_signed_data))) == 0 ||
	    (t->oid_tstinfo_len = tsa_token_oid(NID_id_smime_ct_TSTInfo,
	    t->oid_tstinfo, sizeof(t->oid_tstinfo))) == 0 ||
	    (t->oid_signing_time_len = tsa_token_oid(NID_pkcs9_signingTime,
	    t->oid_signing_time, sizeof(t->oid_signing_time))) == 0 ||
	    (t->oid_msg_digest_len = tsa_token_oid(NID_pkcs9_messageDigest,
	    t->oid_msg_digest, sizeof(t->oid_msg_digest))) == 0 ||
	    (oidlen = tsa_token_oid(NID_pkcs9_contentType, oid,
	    sizeof(oid))) == 0) {
		snprintf(err, errlen, "token: object identifiers unavailable");
		goto out;
	}
	der_reset(&t->out);
	der_begin(&t->out, DER_SEQUENCE);
	der_raw(&t->out, oid, oidlen);
	der_begin(&t->out, DER_SET);
	der_raw(&t->out, t->oid_tstinfo, t->oid_tstinfo_len);
	der_end(&t->out);
	der_end(&t->out);
	if (tsa_token_keep_fixed(&t->out, t->attr_ctype, sizeof(t->attr_ctype),
	    &t->attr_ctype_len) == -1) {
		snprintf(err, errlen, "token: cannot encode the content type");
		goto out;
	}
	ret = t;
	t = NULL;
out:
	ERR_clear_error();
	tsa_token_free(t);
	return ret;
}

void
tsa_token_free(struct tsa_token *t)
{
	if (t == NULL)
		return;
	EVP_MD_CTX_free(t->sign_tmpl);
	EVP_MD_free(t->sign_md);
	EVP_PKEY_free(t->key);
	free(t->sig);
	free(t->attr_ess);
	free(t->ias);
	free(t->certs);
	der_free(&t->out);
	tsa_token_tbs_free(&t->tbs);
	free(t);
}

static void
tsa_token_digits(char *p, unsigned int v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/*
 * genTime as TS_RESP_CTX writes it: YYYYMMDDHHMMSS, then the first
 * precision digits of the microseconds without trailing zeros (X.690
 * §11.7.3: no dot when they are all zero), then Z. Returns the length.
 */
size_t
tsa_token_gentime(const struct tm *tm, long usec, unsigned int precision,
    char out[TSA_GENTIME_MAX])
{
	size_t n = 14;

	tsa_token_digits(out, (unsigned int)tm->tm_year + 1900, 4);
	tsa_token_digits(out + 4, (unsigned int)tm->tm_mon + 1, 2);
	tsa_token_digits(out + 6, (unsigned int)tm->tm_mday, 2);
	tsa_token_digits(out + 8, (unsigned int)tm->tm_hour, 2);
	tsa_token_digits(out + 10, (unsigned int)tm->tm_min, 2);
	tsa_token_digits(out + 12, (unsigned int)tm->tm_sec, 2);
	if (precision > 0) {
		out[n] = '.';
		tsa_token_digits(out + n + 1, (unsigned int)(usec % 1000000), 6);
		n += 1 + precision;
		while (out[n - 1] == '0')
			n--;
		if (out[n - 1] == '.')
			n--;
	}
	out[n++] = 'Z';
	return n;
}

/* X.690 §11.6: a SET OF's elements in ascending order of their encodings. */
static int
tsa_token_der_cmp(const unsigned char *a, size_t alen, const unsigned char *b,
    size_t blen)
{
	int c;

	if ((c = memcmp(a, b, alen < blen ? alen : blen)) != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* The SignedAttributes (RFC 5652 §5.3) into b->signed_attrs, as a SET. */
static void
tsa_token_signed_attrs(const struct tsa_token *t, struct tsa_token_tbs *b,
    const struct tm *tm,
    const unsigned char *md, unsigned int mdlen)
{
	const unsigned char *el[TSA_ATTRS], *tp;
	size_t ellen[TSA_ATTRS], off[TSA_ATTRS], tl;
	char stime[16];
	size_t stlen;
	int i, j;

	/* signingTime (RFC 5652 §11.3): UTCTime for 1950-2049 (§11.3). */
	if (tm->tm_year >= 50 && tm->tm_year < 150) {
		tsa_token_digits(stime, (unsigned int)tm->tm_year % 100, 2);
		stlen = 2;
	} else {
		tsa_token_digits(stime, (unsigned int)tm->tm_year + 1900, 4);
		stlen = 4;
	}
	tsa_token_digits(stime + stlen, (unsigned int)tm->tm_mon + 1, 2);
	tsa_token_digits(stime + stlen + 2, (unsigned int)tm->tm_mday, 2);
	tsa_token_digits(stime + stlen + 4, (unsigned int)tm->tm_hour, 2);
	tsa_token_digits(stime + stlen + 6, (unsigned int)tm->tm_min, 2);
	tsa_token_digits(stime + stlen + 8, (unsigned int)tm->tm_sec, 2);
	stime[stlen + 10] = 'Z';
	stlen += 11;

	der_reset(&b->attrs);
	off[0] = b->attrs.len;
	der_raw(&b->attrs, t->attr_ctype, t->attr_ctype_len);
	off[1] = b->attrs.len;
	der_begin(&b->attrs, DER_SEQUENCE);
	der_raw(&b->attrs, t->oid_signing_time, t->oid_signing_time_len);
	der_begin(&b->attrs, DER_SET);
	der_tlv(&b->attrs, stlen == 13 ? DER_UTCTIME : DER_GENERALIZEDTIME,
	    stime, stlen);
	der_end(&b->attrs);
	der_end(&b->attrs);
	off[2] = b->attrs.len;
	der_begin(&b->attrs, DER_SEQUENCE);
	der_raw(&b->attrs, t->oid_msg_digest, t->oid_msg_digest_len);
	der_begin(&b->attrs, DER_SET);
	der_tlv(&b->attrs, DER_OCTET_STRING, md, mdlen);
	der_end(&b->attrs);
	der_end(&b->attrs);
	off[3] = b->attrs.len;
	der_raw(&b->attrs, t->attr_ess, t->attr_ess_len);
	der_reset(&b->signed_attrs);
	if (der_failed(&b->attrs)) {
		b->signed_attrs.failed = 1;
		return;
	}
	for (i = 0; i < TSA_ATTRS; i++) {
		el[i] = b->attrs.buf + off[i];
		ellen[i] = (i + 1 < TSA_ATTRS ? off[i + 1] : b->attrs.len) - off[i];
	}
	/* Insertion sort: four elements. */
	for (i = 1; i < TSA_ATTRS; i++) {
		tp = el[i];
		tl = ellen[i];
		for (j = i; j > 0 && tsa_token_der_cmp(el[j - 1], ellen[j - 1],
		    tp, tl) > 0; j--) {
			el[j] = el[j - 1];
			ellen[j] = ellen[j - 1];
		}
		el[j] = tp;
		ellen[j] = tl;
	}
	der_begin(&b->signed_attrs, DER_SET);
	for (i = 0; i < TSA_ATTRS; i++)
		der_raw(&b->signed_attrs, el[i], ellen[i]);
	der_end(&b->signed_attrs);
}

/*
 * Signs the SignedAttributes tbs with the TSA key; the signature is in
 * t->sig. tst, the TSTInfo they cover, goes to tsad's signer with them
 * (SIGNER_PARAM_CONTENT: it checks genTime and the digest); other keys
 * have no use for it. -1 on error.
 */
static int
tsa_token_sign(struct tsa_token *t, const unsigned char *tbs, size_t len,
    const unsigned char *tst, size_t tstlen, size_t *siglen)
{
	EVP_MD_CTX *ctx;
	EVP_PKEY_CTX *pctx;
	OSSL_PARAM params[2];
	int rc = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	/* A copy of the initialised context: no provider fetch per token. */
	if (EVP_MD_CTX_copy_ex(ctx, t->sign_tmpl) != 1)
		goto out;
	/* Only a key of the signer's provider takes it. */
	pctx = EVP_MD_CTX_get_pkey_ctx(ctx);
	if (OSSL_PARAM_locate_const(EVP_PKEY_CTX_settable_params(pctx),
	    SIGNER_PARAM_CONTENT) != NULL) {
		params[0] = OSSL_PARAM_construct_octet_string(
		    SIGNER_PARAM_CONTENT, (void *)tst, tstlen);
		params[1] = OSSL_PARAM_construct_end();
		if (EVP_PKEY_CTX_set_params(pctx, params) != 1)
			goto out;
	}
	EVP_MD_CTX_set_flags(ctx, EVP_MD_CTX_FLAG_FINALISE);
	*siglen = t->sig_max;
	if (EVP_DigestSign(ctx, t->sig, siglen, tbs, len) != 1)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

void
tsa_token_tbs_init(struct tsa_token_tbs *b)
{
	der_init(&b->tst);
	der_init(&b->attrs);
	der_init(&b->signed_attrs);
	der_init(&b->out);
	b->cert_req = 0;
}

void
tsa_token_tbs_free(struct tsa_token_tbs *b)
{
	der_free(&b->tst);
	der_free(&b->attrs);
	der_free(&b->signed_attrs);
	der_free(&b->out);
}

const char *
tsa_token_sign_mdname(const struct tsa_token *t)
{
	/* "SHA256", the form the signer process takes (hsm/signer.h). */
	return OBJ_nid2sn(EVP_MD_get_type(t->sign_md));
}

int
tsa_token_prepare(const struct tsa_token *t, const struct tsa_token_input *in,
    struct tsa_token_tbs *b)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	char gentime[TSA_GENTIME_MAX];
	size_t gtlen;

	gtlen = tsa_token_gentime(&in->tm, in->usec, t->precision, gentime);
	b->cert_req = in->cert_req;

	/* TSTInfo (RFC 3161 §2.4.2). */
	der_reset(&b->tst);
	der_begin(&b->tst, DER_SEQUENCE);
	der_small_uint(&b->tst, DER_INTEGER, 1);
	der_raw(&b->tst, in->policy, in->policy_len);
	der_raw(&b->tst, in->imprint, in->imprint_len);
	der_uint(&b->tst, DER_INTEGER, in->serial, in->serial_len);
	der_tlv(&b->tst, DER_GENERALIZEDTIME, gentime, gtlen);
	der_raw(&b->tst, t->accuracy, t->accuracy_len);
	if (t->ordering)
		der_tlv(&b->tst, DER_BOOLEAN, "\xff", 1);
	if (in->nonce != NULL)
		der_raw(&b->tst, in->nonce, in->nonce_len);
	der_end(&b->tst);
	if (der_failed(&b->tst) ||
	    EVP_Digest(b->tst.buf, b->tst.len, md, &mdlen, t->sign_md, NULL) != 1)
		return -1;
	tsa_token_signed_attrs(t, b, &in->tm, md, mdlen);
	return der_failed(&b->signed_attrs) ? -1 : 0;
}

int
tsa_token_finish(const struct tsa_token *t, struct tsa_token_tbs *b,
    const unsigned char *sig, size_t siglen, unsigned char **der,
    size_t *derlen)
{
	struct der *d = &b->out;
	size_t hlen, alen;

	*der = NULL;
	*derlen = 0;
	if (siglen == 0 || siglen > t->sig_max || der_failed(&b->tst) ||
	    der_failed(&b->signed_attrs) || b->signed_attrs.len < 2)
		return -1;
	/* The attributes go into the SignerInfo as [0] IMPLICIT: the content. */
	hlen = b->signed_attrs.buf[1] < 0x80 ? 2 :
	    2 + (size_t)(b->signed_attrs.buf[1] & 0x7f);
	alen = b->signed_attrs.len - hlen;

	der_reset(d);
	der_begin(d, DER_SEQUENCE);		/* TimeStampResp */
	der_begin(d, DER_SEQUENCE);		/* PKIStatusInfo */
	der_small_uint(d, DER_INTEGER, 0);	/* granted */
	der_end(d);
	der_begin(d, DER_SEQUENCE);		/* ContentInfo */
	der_raw(d, t->oid_signed_data, t->oid_signed_data_len);
	der_begin(d, DER_CONTEXT_CONS(0));
	der_begin(d, DER_SEQUENCE);		/* SignedData */
	der_small_uint(d, DER_INTEGER, 3);
	der_begin(d, DER_SET);
	der_raw(d, t->digest_aid, t->digest_aid_len);
	der_end(d);
	der_begin(d, DER_SEQUENCE);		/* EncapsulatedContentInfo */
	der_raw(d, t->oid_tstinfo, t->oid_tstinfo_len);
	der_begin(d, DER_CONTEXT_CONS(0));
	der_tlv(d, DER_OCTET_STRING, b->tst.buf, b->tst.len);
	der_end(d);
	der_end(d);
	if (b->cert_req)
		der_raw(d, t->certs, t->certs_len);
	der_begin(d, DER_SET);			/* signerInfos */
	der_begin(d, DER_SEQUENCE);		/* SignerInfo */
	der_small_uint(d, DER_INTEGER, 1);
	der_raw(d, t->ias, t->ias_len);
	der_raw(d, t->digest_aid, t->digest_aid_len);
	der_begin(d, DER_CONTEXT_CONS(0));
	der_raw(d, b->signed_attrs.buf + hlen, alen);
	der_end(d);
	der_raw(d, t->sig_aid, t->sig_aid_len);
	der_tlv(d, DER_OCTET_STRING, sig, siglen);
	der_end(d);
	der_end(d);
	der_end(d);				/* SignedData */
	der_end(d);
	der_end(d);				/* ContentInfo */
	der_end(d);				/* TimeStampResp */
	if (der_failed(d) || d->depth != 0 ||
	    (*der = OPENSSL_malloc(d->len)) == NULL)
		return -1;
	memcpy(*der, d->buf, d->len);
	*derlen = d->len;
	return 0;
}

int
tsa_token_build(struct tsa_token *t, const struct tsa_token_input *in,
    unsigned char **der, size_t *derlen)
{
	size_t siglen;

	*der = NULL;
	*derlen = 0;
	if (tsa_token_prepare(t, in, &t->tbs) == -1 ||
	    tsa_token_sign(t, t->tbs.signed_attrs.buf, t->tbs.signed_attrs.len,
	    t->tbs.tst.buf, t->tbs.tst.len, &siglen) == -1)
		return -1;
	return tsa_token_finish(t, &t->tbs, t->sig, siglen, der, derlen);
}
