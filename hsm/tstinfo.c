/*
 * The signer's check of the TSTInfo a time-stamp token's SignedAttributes
 * cover (RFC 3161 §2.4.2), which the worker sends beside them: strict DER
 * by a streaming walk (hsm/derwalk.h), nothing allocated, then what it
 * says: the attributes' messageDigest is its hash, its genTime is near
 * the signer's own clock, and their signingTime, if any, is its second. Until 2026-12-06 the signer saw the attributes
 * alone and signed whatever OCTET STRING they held as messageDigest, so a
 * tsad worker taken over could have the TSA key sign tokens of any date.
 *
 *	TSTInfo ::= SEQUENCE {
 *		version		INTEGER { v1(1) },
 *		policy		TSAPolicyId,		-- OBJECT IDENTIFIER
 *		messageImprint	MessageImprint,
 *		serialNumber	INTEGER,
 *		genTime		GeneralizedTime,
 *		accuracy	Accuracy		OPTIONAL,
 *		ordering	BOOLEAN			DEFAULT FALSE,
 *		nonce		INTEGER			OPTIONAL,
 *		tsa		[0] GeneralName		OPTIONAL,
 *		extensions	[1] IMPLICIT Extensions	OPTIONAL }
 *	MessageImprint ::= SEQUENCE {
 *		hashAlgorithm	AlgorithmIdentifier,
 *		hashedMessage	OCTET STRING }
 *	Accuracy ::= SEQUENCE {
 *		seconds		INTEGER			OPTIONAL,
 *		millis		[0] INTEGER (1..999)	OPTIONAL,
 *		micros		[1] INTEGER (1..999)	OPTIONAL }
 *
 * (The module has IMPLICIT TAGS: millis and micros are 0x80 and 0x81; tsa
 * is 0xa0 around a GeneralName, a CHOICE.)
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "hsm/derwalk.h"
#include "hsm/extern.h"
#include "lib/der.h"

#define TAG_NULL	0x05
#define TAG_CTX0	0xa0	/* tsa */
#define TAG_CTX1	0xa1	/* extensions */
#define TAG_IMP0	0x80	/* Accuracy millis */
#define TAG_IMP1	0x81	/* Accuracy micros */

/* RFC 3161 §2.4.2: serials of up to 160 bits; one more octet for a 0x00. */
#define TST_SERIAL_MAX		21
/*
 * tsad's TSA_NONCE_MAX, a bound on the nonce's magnitude; RFC 3161 sets
 * none. Its DER INTEGER has one octet more when that is only the sign (a
 * 0x00 before a top bit set: a positive nonce of 512 bits).
 */
#define TST_NONCE_MAX		64
/* genTime's fraction: microseconds at most, as tsad and OpenSSL write it. */
#define TST_FRACTION_MAX	6

#define TST_WHAT	"TSTInfo (RFC 3161 §2.4.2)"

/* A non-negative DER INTEGER of at most max octets. */
static int
tst_uint_ok(const struct dwin *v, size_t max)
{
	return derwalk_int_ok(v, max) == 0 && !(v->p[0] & 0x80) ? 0 : -1;
}

/*
 * A nonce: a DER INTEGER whose magnitude takes at most TST_NONCE_MAX
 * octets, so that of its content one more octet may be a sign octet.
 */
static int
tst_nonce_ok(const struct dwin *v)
{
	if (derwalk_int_ok(v, TST_NONCE_MAX + 1) == -1)
		return -1;
	return v->left <= TST_NONCE_MAX || v->p[0] == 0x00 ||
	    v->p[0] == 0xff ? 0 : -1;
}

/* An Accuracy's millis or micros: a DER INTEGER 1..999. */
static int
tst_small_ok(const struct dwin *v)
{
	unsigned int n = 0;
	size_t i;

	if (tst_uint_ok(v, 2) == -1)
		return -1;
	for (i = 0; i < v->left; i++)
		n = n << 8 | v->p[i];
	return n >= 1 && n <= 999 ? 0 : -1;
}

/*
 * genTime (RFC 3161 §2.4.2, X.690 §11.7): YYYYMMDDHHMMSS[.f]Z, the
 * fraction 1 to TST_FRACTION_MAX digits without a trailing zero (none at
 * all rather than ".0"), the date one that exists. *out: its second.
 */
static int
tst_gentime(const struct dwin *v, time_t *out)
{
	unsigned char whole[15];
	size_t i, n = v->left;

	*out = 0;
	if (n < 15 || v->p[n - 1] != 'Z')
		return -1;
	if (n > 15) {
		if (n < 17 || n > 16 + TST_FRACTION_MAX || v->p[14] != '.' ||
		    v->p[n - 2] == '0')
			return -1;
		for (i = 15; i < n - 1; i++)
			if (v->p[i] < '0' || v->p[i] > '9')
				return -1;
	}
	memcpy(whole, v->p, 14);
	whole[14] = 'Z';
	return der_get_time(TAG_GENTIME, whole, sizeof(whole), out);
}

/* MessageImprint: a hash algorithm (parameters absent or NULL) and a hash. */
static int
tst_imprint_ok(struct dwin mi)
{
	struct tlv alg, oid, params, hash;
	int r;

	if (derwalk_want(&mi, TAG_SEQUENCE, &alg) == -1 ||
	    derwalk_want(&alg.val, TAG_OID, &oid) == -1 ||
	    derwalk_oid_ok(&oid.val) == -1 ||
	    (r = derwalk_opt(&alg.val, TAG_NULL, &params)) == -1 ||
	    (r == 1 && params.val.left != 0) || alg.val.left != 0 ||
	    derwalk_want(&mi, TAG_OCTETSTRING, &hash) == -1 ||
	    hash.val.left == 0 || mi.left != 0)
		return -1;
	return 0;
}

/*
 * Accuracy: each field optional, in order, at least one (an empty one
 * says nothing; neither tsad nor TS_RESP_CTX writes it).
 */
static int
tst_accuracy_ok(struct dwin acc)
{
	struct tlv t;
	int r, n = 0;

	if ((r = derwalk_opt(&acc, TAG_INTEGER, &t)) == -1 ||
	    (r == 1 && tst_uint_ok(&t.val, 8) == -1))
		return -1;
	n += r;
	if ((r = derwalk_opt(&acc, TAG_IMP0, &t)) == -1 ||
	    (r == 1 && tst_small_ok(&t.val) == -1))
		return -1;
	n += r;
	if ((r = derwalk_opt(&acc, TAG_IMP1, &t)) == -1 ||
	    (r == 1 && tst_small_ok(&t.val) == -1))
		return -1;
	n += r;
	return n > 0 && acc.left == 0 ? 0 : -1;
}

/* tsa [0]: exactly one GeneralName (RFC 5280 §4.2.1.6), tags [0]..[8]. */
static int
tst_tsa_ok(struct dwin gn)
{
	struct tlv t;

	if (derwalk_next(&gn, &t) == -1 || gn.left != 0 ||
	    (t.tag & 0xc0) != 0x80 || (t.tag & 0x1f) > 8)
		return -1;
	return 0;
}

/*
 * extensions [1] IMPLICIT Extensions (RFC 5280 §4.1): one Extension or
 * more, each { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }; DER
 * leaves a FALSE critical out (X.690 §11.5).
 */
static int
tst_extensions_ok(struct dwin exts)
{
	struct tlv ext, t;
	int r;

	if (exts.left == 0)
		return -1;
	while (exts.left > 0) {
		if (derwalk_want(&exts, TAG_SEQUENCE, &ext) == -1 ||
		    derwalk_want(&ext.val, TAG_OID, &t) == -1 ||
		    derwalk_oid_ok(&t.val) == -1 ||
		    (r = derwalk_opt(&ext.val, TAG_BOOLEAN, &t)) == -1 ||
		    (r == 1 && (t.val.left != 1 || t.val.p[0] != 0xff)) ||
		    derwalk_want(&ext.val, TAG_OCTETSTRING, &t) == -1 ||
		    ext.val.left != 0)
			return -1;
	}
	return 0;
}

int
signer_tstinfo_check(const unsigned char *tst, size_t len, time_t *gentime,
    char *err, size_t errlen)
{
	struct dwin in = { tst, len };
	struct tlv seq, t;
	int r;

	*gentime = 0;
	if (len == 0)
		return derwalk_fail(err, errlen, TST_WHAT, "none sent with the "
		    "SignedAttributes");
	if (derwalk_want(&in, TAG_SEQUENCE, &seq) == -1)
		return derwalk_fail(err, errlen, TST_WHAT, "not a DER SEQUENCE");
	if (in.left != 0)
		return derwalk_fail(err, errlen, TST_WHAT, "%zu trailing bytes",
		    in.left);
	if (derwalk_want(&seq.val, TAG_INTEGER, &t) == -1 ||
	    t.val.left != 1 || t.val.p[0] != 1)
		return derwalk_fail(err, errlen, TST_WHAT, "version is not v1");
	if (derwalk_want(&seq.val, TAG_OID, &t) == -1 ||
	    derwalk_oid_ok(&t.val) == -1)
		return derwalk_fail(err, errlen, TST_WHAT, "no policy OID");
	if (derwalk_want(&seq.val, TAG_SEQUENCE, &t) == -1 ||
	    tst_imprint_ok(t.val) == -1)
		return derwalk_fail(err, errlen, TST_WHAT, "malformed "
		    "messageImprint");
	if (derwalk_want(&seq.val, TAG_INTEGER, &t) == -1 ||
	    tst_uint_ok(&t.val, TST_SERIAL_MAX) == -1)
		return derwalk_fail(err, errlen, TST_WHAT, "serialNumber is not "
		    "a positive INTEGER of at most 160 bits");
	if (derwalk_want(&seq.val, TAG_GENTIME, &t) == -1 ||
	    tst_gentime(&t.val, gentime) == -1)
		return derwalk_fail(err, errlen, TST_WHAT, "genTime is not "
		    "YYYYMMDDHHMMSS[.f]Z (X.690 §11.7, at most %d fraction "
		    "digits)", TST_FRACTION_MAX);
	if ((r = derwalk_opt(&seq.val, TAG_SEQUENCE, &t)) == -1 ||
	    (r == 1 && tst_accuracy_ok(t.val) == -1))
		return derwalk_fail(err, errlen, TST_WHAT, "malformed accuracy");
	/* DEFAULT FALSE: present only as TRUE (X.690 §11.5, §11.1). */
	if ((r = derwalk_opt(&seq.val, TAG_BOOLEAN, &t)) == -1 ||
	    (r == 1 && (t.val.left != 1 || t.val.p[0] != 0xff)))
		return derwalk_fail(err, errlen, TST_WHAT, "malformed ordering");
	if ((r = derwalk_opt(&seq.val, TAG_INTEGER, &t)) == -1 ||
	    (r == 1 && tst_nonce_ok(&t.val) == -1))
		return derwalk_fail(err, errlen, TST_WHAT, "malformed nonce (at "
		    "most %d octets and a sign octet)", TST_NONCE_MAX);
	if ((r = derwalk_opt(&seq.val, TAG_CTX0, &t)) == -1 ||
	    (r == 1 && tst_tsa_ok(t.val) == -1))
		return derwalk_fail(err, errlen, TST_WHAT, "malformed tsa");
	if ((r = derwalk_opt(&seq.val, TAG_CTX1, &t)) == -1 ||
	    (r == 1 && tst_extensions_ok(t.val) == -1))
		return derwalk_fail(err, errlen, TST_WHAT, "malformed "
		    "extensions");
	if (seq.val.left != 0)
		return derwalk_fail(err, errlen, TST_WHAT, "a field out of order "
		    "or unknown after genTime");
	return 0;
}

int
signer_tst_policy(const unsigned char *attrs, size_t attrslen,
    const unsigned char *tst, size_t tstlen, const EVP_MD *md, time_t now,
    char *err, size_t errlen)
{
	struct signer_attrs a;
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hlen = 0;
	time_t gen;
	/* "SHA256", as the request names it (EVP_MD_get0_name: "SHA2-256"). */
	const char *mdname = OBJ_nid2sn(EVP_MD_get_type(md));

	if (signer_attrs_parse(attrs, attrslen, 1, &a, err, errlen) == -1 ||
	    signer_tstinfo_check(tst, tstlen, &gen, err, errlen) == -1)
		return -1;
	if (EVP_Digest(tst, tstlen, h, &hlen, md, NULL) != 1)
		return derwalk_fail(err, errlen, TST_WHAT, "cannot hash it "
		    "with %s", mdname);
	/* RFC 5652 §5.4: the digest of the content, by the signer's algorithm. */
	if (a.digestlen != hlen)
		return derwalk_fail(err, errlen, "messageDigest (RFC 5652 "
		    "§11.2)", "%zu octets, %s gives %u", a.digestlen,
		    mdname, hlen);
	if (CRYPTO_memcmp(a.digest, h, hlen) != 0)
		return derwalk_fail(err, errlen, "messageDigest (RFC 5652 "
		    "§5.4)", "not the %s of the TSTInfo sent",
		    mdname);
	if (gen > now + SIGNER_TST_SKEW_S || gen < now - SIGNER_TST_SKEW_S)
		return derwalk_fail(err, errlen, TST_WHAT, "genTime %+lld s "
		    "from the signer's clock, more than %d s either way",
		    (long long)(gen - now), SIGNER_TST_SKEW_S);
	if (a.signing_time_set && a.signing_time != gen)
		return derwalk_fail(err, errlen, "signingTime (RFC 5652 "
		    "§11.3)", "%+lld s from genTime's second: a token's "
		    "two times must agree", (long long)(a.signing_time - gen));
	return 0;
}
