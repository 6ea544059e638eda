/*
 * Answering OCSP requests (RFC 6960, RFC 5019 profile): which issuer a CertID
 * names, what we say about a serial, and signing BasicOCSPResponses with the
 * issuer's delegated responder key (through the signer in ocspd; any
 * EVP_PKEY in the fuzz harness).
 *
 * Decisions (docs in ocsp/README.md):
 *  - every CertID of a request must name one and the same issuer we serve;
 *    a CertID of another issuer, an unsupported hash, or CertIDs of two of
 *    our issuers (one response has one signer, and each issuer has its own
 *    responder) get "unauthorized" (RFC 6960 §2.3);
 *  - a single CertID without a nonce to echo is answered from the cache;
 *    anything else is signed live, as is a CertID whose hashAlgorithm
 *    does not carry NULL parameters (RFC 5754 §2 lets SHA-2 leave them
 *    absent): the cache's CertIDs have them, and some clients match a
 *    SingleResponse to their question by the CertID's encoding;
 *  - a serial never issued is "revoked", certificateHold, revocationTime
 *    1970-01-01T00:00:00Z, with the extended revoked definition extension
 *    (RFC 6960 §2.2, §4.4.8), or "unknown" when the policy says so;
 *  - a serial the cache does not hold is looked up in the database first
 *    (r->lookup): the cache keeps certificates until expired_grace after
 *    their notAfter only, and one expired longer ago, which we did issue,
 *    is answered live with its recorded status (good or revoked), never
 *    as never issued; when the database cannot say, tryLater;
 *  - thisUpdate is the time we last read the status from PostgreSQL (RFC
 *    6960 §4.2.2.1: the most recent time the status is known to be
 *    correct; on a hot standby the primary's time of the data replayed,
 *    if earlier: sync.c), so an outage never makes a response claim
 *    fresher knowledge than we have; when even that is older than the
 *    validity, tryLater.
 *    A revocation newer than that read (ocsp_this_update) moves it up to
 *    the revocationTime, never leaving thisUpdate before it;
 *  - nextUpdate is never later than the responder certificate's notAfter
 *    (a relying party could not verify the response after it); once that
 *    has passed, tryLater;
 *  - HTTP caches may keep an answer a bounded time only (max_age_seconds,
 *    nonissued_max_age_seconds), far below nextUpdate: a CDN would go on
 *    serving "good" for days after a revocation otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>
#include <openssl/params.h>
#include <openssl/x509v3.h>

#include "lib/config.h"
#include "lib/der.h"
#include "lib/log.h"
#include "lib/sigdigest.h"
#include "lib/timeutil.h"
#include "ocsp/extern.h"

/* OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED } (RFC 6960 §4.2.1). */
const unsigned char ocsp_malformed_der[5] = { 0x30, 0x03, 0x0a, 0x01, 0x01 };
const unsigned char ocsp_internal_der[5] = { 0x30, 0x03, 0x0a, 0x01, 0x02 };
const unsigned char ocsp_trylater_der[5] = { 0x30, 0x03, 0x0a, 0x01, 0x03 };
const unsigned char ocsp_unauthorized_der[5] = { 0x30, 0x03, 0x0a, 0x01, 0x06 };

/* id-pkix-ocsp-extended-revoke (RFC 6960 §4.4.8); OpenSSL 3.0 has no NID. */
#define OCSP_OID_EXTENDED_REVOKE	"1.3.6.1.5.5.7.48.1.9"

/* Cache-Control max-age by default: issued serials, never-issued ones. */
#define OCSP_MAX_AGE_DEFAULT		3600
#define OCSP_NONISSUED_MAX_AGE_DEFAULT	10
/*
 * How far a hot standby's data may be behind, by default. An idle primary
 * sends the standby nothing until the standby asks (every
 * wal_receiver_timeout / 2, 30 s by default), so the data time of a
 * healthy standby may be 30 s old plus a poll period; 4 times that.
 */
#define OCSP_MAX_STANDBY_LAG_DEFAULT	120
/*
 * How long after its notAfter a certificate stays in the cache, by
 * default: crld's crl.expired_grace_seconds (7 days), so a revoked
 * certificate leaves the cache when it leaves the CRLs.
 */
#define OCSP_EXPIRED_GRACE_DEFAULT	604800

static const char *const ocsp_hash_names[OCSP_NHASH] = {
	"SHA1", "SHA256", "SHA384", "SHA512"
};

static int
ocsp_policy_long(const struct config *p, const char *key, long def, long min,
    long max, long *out, char *err, size_t errlen)
{
	if (config_get_long(p, key, def, min, max, out) == -1) {
		snprintf(err, errlen, "policy: %s must be an integer in "
		    "[%ld, %ld]", key, min, max);
		return -1;
	}
	return 0;
}

int
ocsp_policy_load(const struct config *p, struct ocsp_policy *pol, char *err,
    size_t errlen)
{
	const char *s;
	long def;

	memset(pol, 0, sizeof(*pol));
	if (ocsp_policy_long(p, "ocsp.validity_seconds", 4 * 86400, 60,
	    30 * 86400, &pol->validity, err, errlen) == -1 ||
	    ocsp_policy_long(p, "ocsp.refresh_seconds", 86400, 1,
	    30 * 86400, &pol->refresh, err, errlen) == -1 ||
	    ocsp_policy_long(p, "ocsp.nonissued_validity_seconds", 3600, 60,
	    30 * 86400, &pol->nonissued_validity, err, errlen) == -1 ||
	    ocsp_policy_long(p, "ocsp.max_nonissued", 100000, 0, 100000000,
	    &pol->max_nonissued, err, errlen) == -1 ||
	    ocsp_policy_long(p, "ocsp.poll_ms", 1000, 50, 600000,
	    &pol->poll_ms, err, errlen) == -1 ||
	    ocsp_policy_long(p, "ocsp.max_standby_lag_seconds",
	    OCSP_MAX_STANDBY_LAG_DEFAULT, 1, 86400, &pol->max_standby_lag,
	    err, errlen) == -1 ||
	    ocsp_policy_long(p, "ocsp.expired_grace_seconds",
	    OCSP_EXPIRED_GRACE_DEFAULT, 0, 3650L * 86400, &pol->expired_grace,
	    err, errlen) == -1)
		return -1;
	if (pol->refresh >= pol->validity) {
		snprintf(err, errlen, "policy: ocsp.refresh_seconds (%ld) must "
		    "be below ocsp.validity_seconds (%ld)", pol->refresh,
		    pol->validity);
		return -1;
	}
	/*
	 * HTTP caches (RFC 5019 §6.2): past the refresh period a newer
	 * response exists, so no cache should keep one longer than that.
	 */
	def = pol->refresh < OCSP_MAX_AGE_DEFAULT ? pol->refresh :
	    OCSP_MAX_AGE_DEFAULT;
	if (ocsp_policy_long(p, "ocsp.max_age_seconds", def, 0, pol->refresh,
	    &pol->max_age, err, errlen) == -1 ||
	    ocsp_policy_long(p, "ocsp.nonissued_max_age_seconds",
	    OCSP_NONISSUED_MAX_AGE_DEFAULT, 0, pol->nonissued_validity,
	    &pol->nonissued_max_age, err, errlen) == -1)
		return -1;
	s = config_get(p, "ocsp.nonissued", "revoked");
	if (strcmp(s, "revoked") == 0)
		pol->nonissued_unknown = 0;
	else if (strcmp(s, "unknown") == 0)
		pol->nonissued_unknown = 1;
	else {
		snprintf(err, errlen, "policy: ocsp.nonissued is \"revoked\" or "
		    "\"unknown\", not \"%s\"", s);
		return -1;
	}
	s = config_get(p, "ocsp.nonce", "echo");
	if (strcmp(s, "echo") == 0)
		pol->echo_nonce = 1;
	else if (strcmp(s, "ignore") == 0)
		pol->echo_nonce = 0;
	else {
		snprintf(err, errlen, "policy: ocsp.nonce is \"echo\" or "
		    "\"ignore\", not \"%s\"", s);
		return -1;
	}
	s = config_get(p, "ocsp.signing_digest", "SHA256");
	if (strcasecmp(s, "SHA256") != 0 && strcasecmp(s, "SHA384") != 0 &&
	    strcasecmp(s, "SHA512") != 0) {
		snprintf(err, errlen, "policy: ocsp.signing_digest %s: SHA256, "
		    "SHA384 or SHA512", s);
		return -1;
	}
	pol->sign_md = EVP_get_digestbyname(s);
	snprintf(pol->sign_mdname, sizeof(pol->sign_mdname), "SHA%s", s + 3);
	if (pol->sign_md == NULL) {
		snprintf(err, errlen, "policy: digest %s unavailable", s);
		return -1;
	}
	return 0;
}

long
ocsp_policy_max_age(const struct ocsp_policy *pol,
    const struct ocsp_status *st)
{
	return ocsp_status_nonissued(st) ? pol->nonissued_max_age :
	    pol->max_age;
}

int64_t
ocsp_this_update(int64_t synced, const struct ocsp_single *s, int n,
    time_t now)
{
	int64_t tu = synced, rev;
	int i;

	for (i = 0; i < n; i++) {
		if (s[i].st.state != OCSP_STATE_REVOKED)
			continue;
		rev = s[i].st.revoked_at;
		if (rev > (int64_t)now + OCSP_CLOCK_SKEW_S)
			rev = (int64_t)now + OCSP_CLOCK_SKEW_S;
		if (rev > tu)
			tu = rev;
	}
	return tu;
}

static int
ocsp_issuer_hash(struct ocsp_issuer *iss)
{
	const ASN1_BIT_STRING *key;
	unsigned char *name = NULL;
	const EVP_MD *md;
	unsigned int len;
	int h, nlen, rc = -1;

	if ((nlen = i2d_X509_NAME(X509_get_subject_name(iss->cert), &name)) <= 0)
		goto out;
	if ((key = X509_get0_pubkey_bitstr(iss->cert)) == NULL)
		goto out;
	for (h = 0; h < OCSP_NHASH; h++) {
		if ((md = EVP_get_digestbyname(ocsp_hash_names[h])) == NULL)
			goto out;
		if (EVP_Digest(name, (size_t)nlen, iss->name_hash[h], &len, md,
		    NULL) != 1)
			goto out;
		if (EVP_Digest(key->data, (size_t)key->length, iss->key_hash[h],
		    &len, md, NULL) != 1)
			goto out;
		iss->hash_len[h] = (int)len;
	}
	iss->rnot_after = 0;
	if (iss->rcert != NULL && time_from_asn1(X509_get0_notAfter(iss->rcert),
	    &iss->rnot_after) == -1)
		goto out;
	rc = 0;
out:
	OPENSSL_free(name);
	return rc;
}

/*
 * The AlgorithmIdentifier of signatures by rcert's key with digest mdname,
 * as OpenSSL's own signing writes it (ecdsa-with-SHA256 without
 * parameters, sha256WithRSAEncryption with NULL, ...): asked of a
 * verification context, which needs only the public key.
 */
static int
ocsp_issuer_sigalg(struct ocsp_issuer *iss, const char *mdname)
{
	unsigned char aid[128];
	OSSL_PARAM params[2];
	EVP_MD_CTX *ctx;
	EVP_PKEY_CTX *pctx = NULL;
	int rc = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit_ex(ctx, &pctx, mdname, NULL, NULL,
	    X509_get0_pubkey(iss->rcert), NULL) != 1)
		goto out;
	params[0] = OSSL_PARAM_construct_octet_string(
	    OSSL_SIGNATURE_PARAM_ALGORITHM_ID, aid, sizeof(aid));
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_PKEY_CTX_get_params(pctx, params) != 1 ||
	    params[0].return_size == 0 || params[0].return_size > sizeof(aid) ||
	    (iss->sigalg_der = OPENSSL_memdup(aid,
	    params[0].return_size)) == NULL)
		goto out;
	iss->sigalg_len = params[0].return_size;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

int
ocsp_issuer_prepare(struct ocsp_issuer *iss, const char *mdname)
{
	OCSP_RESPID *rid = NULL;
	unsigned char *der = NULL;
	const char *md;
	char why[128];
	struct der d;
	int n, rc = -1;

	der_init(&d);
	if (ocsp_issuer_hash(iss) == -1 || iss->rcert == NULL)
		goto out;
	if ((md = sigdigest_for_key(X509_get0_pubkey(iss->rcert), mdname, why,
	    sizeof(why))) == NULL) {
		log_err("ocsp: issuer %s: its responder's key signs no "
		    "response: %s", iss->name, why);
		goto out;
	}
	snprintf(iss->sign_mdname, sizeof(iss->sign_mdname), "%s", md);
	if (ocsp_issuer_sigalg(iss, iss->sign_mdname) == -1)
		goto out;
	/* ResponderID byKey: the SHA-1 of the responder's public key. */
	if ((rid = OCSP_RESPID_new()) == NULL ||
	    OCSP_RESPID_set_by_key(rid, iss->rcert) != 1 ||
	    (n = i2d_OCSP_RESPID(rid, &iss->respid_der)) <= 0)
		goto out;
	iss->respid_len = (size_t)n;
	/* certs [0] EXPLICIT SEQUENCE OF Certificate: the responder's. */
	if ((n = i2d_X509(iss->rcert, &der)) <= 0)
		goto out;
	der_begin(&d, DER_CONTEXT_CONS(0));
	der_begin(&d, DER_SEQUENCE);
	der_raw(&d, der, (size_t)n);
	der_end(&d);
	der_end(&d);
	if (der_failed(&d) || (iss->certs_der = OPENSSL_memdup(d.buf,
	    d.len)) == NULL)
		goto out;
	iss->certs_len = d.len;
	rc = 0;
out:
	OCSP_RESPID_free(rid);
	OPENSSL_free(der);
	der_free(&d);
	return rc;
}

void
ocsp_issuer_clear(struct ocsp_issuer *iss)
{
	EVP_PKEY_free(iss->key);
	X509_free(iss->cert);
	X509_free(iss->rcert);
	OPENSSL_free(iss->respid_der);
	OPENSSL_free(iss->sigalg_der);
	OPENSSL_free(iss->certs_der);
	memset(iss, 0, sizeof(*iss));
}

int
ocsp_issuers_link(struct ocsp_issuer *iss, int n)
{
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int i, j, rc = -1;

	for (i = 0; i < n; i++) {
		iss[i].parent = -1;
		iss[i].serial[0] = '\0';
		if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(
		    iss[i].cert), NULL)) == NULL || (hex = BN_bn2hex(bn)) ==
		    NULL || strlen(hex) >= sizeof(iss[i].serial))
			goto out;
		memcpy(iss[i].serial, hex, strlen(hex) + 1);
		ocsp_serial_canon(iss[i].serial);
		OPENSSL_free(hex);
		hex = NULL;
		BN_free(bn);
		bn = NULL;
		for (j = 0; j < n; j++)
			if (j != i && X509_check_issued(iss[j].cert,
			    iss[i].cert) == X509_V_OK) {
				iss[i].parent = j;
				break;
			}
	}
	rc = 0;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

int
ocsp_responder_valid(const X509 *x, time_t now)
{
	int64_t nb, na;

	if (time_from_asn1(X509_get0_notBefore(x), &nb) == -1 ||
	    time_from_asn1(X509_get0_notAfter(x), &na) == -1)
		return 0;
	return nb <= (int64_t)now && (int64_t)now < na;
}

int64_t
ocsp_next_update(const struct ocsp_issuer *iss, int64_t this_update,
    long validity)
{
	int64_t next = this_update + validity;

	if (iss->rnot_after != 0 && iss->rnot_after < next)
		next = iss->rnot_after;
	return next;
}

int
ocsp_issuer_find(const struct ocsp_issuer *iss, int n,
    const struct ocsp_certid *id)
{
	int i;

	if (id->hash < 0 || id->hash >= OCSP_NHASH)
		return -1;
	for (i = 0; i < n; i++) {
		if (id->name_hash_len == iss[i].hash_len[id->hash] &&
		    id->key_hash_len == iss[i].hash_len[id->hash] &&
		    memcmp(id->name_hash, iss[i].name_hash[id->hash],
		    (size_t)id->name_hash_len) == 0 &&
		    memcmp(id->key_hash, iss[i].key_hash[id->hash],
		    (size_t)id->key_hash_len) == 0)
			return i;
	}
	return -1;
}

/* A CertID for a pre-signed response; free with OCSP_CERTID_free(). */
static OCSP_CERTID *
ocsp_certid_make(const struct ocsp_issuer *iss, int hash, const char *serial)
{
	const EVP_MD *md;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	OCSP_CERTID *cid = NULL;

	if ((md = EVP_get_digestbyname(ocsp_hash_names[hash])) == NULL)
		goto out;
	if (BN_hex2bn(&bn, serial) == 0 ||
	    (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
		goto out;
	cid = OCSP_cert_id_new(md, X509_get_subject_name(iss->cert),
	    X509_get0_pubkey_bitstr(iss->cert), ai);
out:
	BN_free(bn);
	ASN1_INTEGER_free(ai);
	return cid;
}

/* The extended revoked definition extension: critical no, value NULL. */
static int
ocsp_add_extended_revoke(OCSP_BASICRESP *bs)
{
	static const unsigned char null_der[2] = { 0x05, 0x00 };
	ASN1_OBJECT *obj = NULL;
	ASN1_OCTET_STRING *val = NULL;
	X509_EXTENSION *ext = NULL;
	int rc = -1;

	if ((obj = OBJ_txt2obj(OCSP_OID_EXTENDED_REVOKE, 1)) == NULL ||
	    (val = ASN1_OCTET_STRING_new()) == NULL ||
	    ASN1_OCTET_STRING_set(val, null_der, sizeof(null_der)) != 1)
		goto out;
	if ((ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, val)) == NULL ||
	    OCSP_BASICRESP_add_ext(bs, ext, -1) != 1)
		goto out;
	rc = 0;
out:
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(val);
	ASN1_OBJECT_free(obj);
	return rc;
}

/*
 * A successful OCSPResponse (RFC 6960 §4.2.1) around the BasicOCSPResponse
 * basic (DER, blen bytes): SEQUENCE { ENUMERATED 0, [0] EXPLICIT SEQUENCE
 * { id-pkix-ocsp-basic, OCTET STRING basic } }. OpenSSL's
 * OCSP_response_create() encodes the basic response again into its own
 * copy, and i2d_OCSP_RESPONSE() both once more: ~7 µs of a live answer's
 * ~45 µs in the HTTP thread (perf, ocsp/README.md). OPENSSL_malloc'd, its
 * length in *len; NULL when out of memory.
 */
static unsigned char *
ocsp_response_wrap(const unsigned char *basic, size_t blen, size_t *len)
{
	/* 1.3.6.1.5.5.7.48.1.1, as a whole TLV. */
	static const unsigned char basic_oid[] = { DER_OID, 9, 0x2b, 0x06,
	    0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01 };
	/* responseStatus: ENUMERATED successful (0). */
	static const unsigned char successful[] = { 0x0a, 1, 0 };
	size_t oct, seq, ctx, top, total, at = 0;
	unsigned char *out;

	if (der_header_len(blen) == 0)
		return NULL;
	oct = der_header_len(blen) + blen;
	seq = sizeof(basic_oid) + oct;
	ctx = der_header_len(seq) + seq;
	top = sizeof(successful) + der_header_len(ctx) + ctx;
	total = der_header_len(top) + top;
	if (der_header_len(top) == 0 || (out = OPENSSL_malloc(total)) == NULL)
		return NULL;
	at += der_put_header(out + at, DER_SEQUENCE, top);
	memcpy(out + at, successful, sizeof(successful));
	at += sizeof(successful);
	at += der_put_header(out + at, DER_CONTEXT_CONS(0), ctx);
	at += der_put_header(out + at, DER_SEQUENCE, seq);
	memcpy(out + at, basic_oid, sizeof(basic_oid));
	at += sizeof(basic_oid);
	at += der_put_header(out + at, DER_OCTET_STRING, blen);
	memcpy(out + at, basic, blen);
	*len = at + blen;
	return out;
}

/*
 * The SingleResponses and response extensions of a response, as OpenSSL
 * encodes them, in *bs (OCSP_BASICRESP_free'd by the caller).
 */
static int
ocsp_singles_make(const struct ocsp_issuer *iss, const struct ocsp_policy *pol,
    const struct ocsp_single *s, int n, OCSP_REQUEST *req, time_t this_update,
    long validity, OCSP_BASICRESP **bsp)
{
	OCSP_BASICRESP *bs;
	OCSP_CERTID *made = NULL;
	OCSP_SINGLERESP *single;
	ASN1_GENERALIZEDTIME *thisupd = NULL, *nextupd = NULL, *rev = NULL;
	ASN1_GENERALIZEDTIME *inval = NULL;
	int i, status, reason, extrev = 0, rc = -1;

	if ((*bsp = bs = OCSP_BASICRESP_new()) == NULL ||
	    (thisupd = ASN1_GENERALIZEDTIME_set(NULL, this_update)) == NULL ||
	    (nextupd = ASN1_GENERALIZEDTIME_set(NULL, (time_t)ocsp_next_update(
	    iss, (int64_t)this_update, validity))) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		OCSP_CERTID *cid = s[i].cid;

		if (cid == NULL) {
			if ((made = ocsp_certid_make(iss, s[i].hash,
			    s[i].serial)) == NULL)
				goto out;
			cid = made;
		}
		reason = OCSP_REVOKED_STATUS_NOSTATUS;
		ASN1_GENERALIZEDTIME_free(rev);
		rev = NULL;
		switch (s[i].st.state) {
		case OCSP_STATE_GOOD:
			status = V_OCSP_CERTSTATUS_GOOD;
			break;
		case OCSP_STATE_REVOKED:
			status = V_OCSP_CERTSTATUS_REVOKED;
			/*
			 * unspecified (0) is left out, as on our CRLs
			 * (lib/crlgen.c): RFC 5280 §5.3.1 wants the
			 * reasonCode absent rather than unspecified, and the
			 * CA/Browser Forum Baseline Requirements §7.3 forbid
			 * it in OCSP responses.
			 */
			reason = s[i].st.reason ==
			    OCSP_REVOKED_STATUS_UNSPECIFIED ?
			    OCSP_REVOKED_STATUS_NOSTATUS : s[i].st.reason;
			if ((rev = ASN1_GENERALIZEDTIME_set(NULL,
			    (time_t)s[i].st.revoked_at)) == NULL)
				goto out;
			/*
			 * A serial never issued, revoked by its CA's own
			 * revocation or hold: RFC 6960 §2.2 wants the
			 * extension whenever "revoked" answers one (until
			 * 2026-12-07 it was left out).
			 */
			if (s[i].st.ca_over == OCSP_CA_OVER_NONISSUED)
				extrev = 1;
			break;
		default:
			if (pol->nonissued_unknown) {
				status = V_OCSP_CERTSTATUS_UNKNOWN;
				break;
			}
			/* RFC 6960 §2.2: certificateHold, 1970-01-01. */
			status = V_OCSP_CERTSTATUS_REVOKED;
			reason = OCSP_REVOKED_STATUS_CERTIFICATEHOLD;
			if ((rev = ASN1_GENERALIZEDTIME_set(NULL, 0)) == NULL)
				goto out;
			extrev = 1;
			break;
		}
		if ((single = OCSP_basic_add1_status(bs, cid, status, reason, rev,
		    thisupd, nextupd)) == NULL)
			goto out;
		OCSP_CERTID_free(made);
		made = NULL;
		/* RFC 6960 §4.4.2 / RFC 5280 §5.3.2: invalidity date. */
		if (s[i].st.state == OCSP_STATE_REVOKED && s[i].st.invalidity != 0) {
			ASN1_GENERALIZEDTIME_free(inval);
			if ((inval = ASN1_GENERALIZEDTIME_set(NULL,
			    (time_t)s[i].st.invalidity)) == NULL ||
			    OCSP_SINGLERESP_add1_ext_i2d(single,
			    NID_invalidity_date, inval, 0, 0) != 1)
				goto out;
		}
	}
	if (extrev && ocsp_add_extended_revoke(bs) == -1)
		goto out;
	if (req != NULL && OCSP_copy_nonce(bs, req) <= 0)
		goto out;
	rc = 0;
out:
	OCSP_CERTID_free(made);
	ASN1_GENERALIZEDTIME_free(thisupd);
	ASN1_GENERALIZEDTIME_free(nextupd);
	ASN1_GENERALIZEDTIME_free(rev);
	ASN1_GENERALIZEDTIME_free(inval);
	return rc;
}

/* One ASN.1 value as OpenSSL encodes it, appended to d. */
#define OCSP_DER_APPEND(d, i2d, x) do {					\
	unsigned char *enc_ = NULL;					\
	int n_ = i2d((x), &enc_);					\
									\
	if (n_ <= 0)							\
		(d)->failed = 1;					\
	else								\
		der_raw((d), enc_, (size_t)n_);				\
	OPENSSL_free(enc_);						\
} while (0)

/*
 * ResponseData ::= SEQUENCE { version [0] EXPLICIT DEFAULT v1 (left
 * out, as DER wants), responderID, producedAt GeneralizedTime, responses
 * SEQUENCE OF SingleResponse, responseExtensions [1] EXPLICIT Extensions
 * OPTIONAL } (RFC 6960 §4.2.1). OCSP_basic_sign() would have the
 * provider encode it, hash it in this process and send the hash to the
 * signer, having first compared the responder certificate's key with the
 * signer's (X509_check_private_key, per response): a third of a live
 * answer's CPU in the HTTP thread (perf, ocsp/README.md "Hot path").
 */
int
ocsp_tbs_make(const struct ocsp_issuer *iss, const struct ocsp_policy *pol,
    const struct ocsp_single *s, int n, OCSP_REQUEST *req, time_t this_update,
    long validity, time_t produced_at, struct der *tbs)
{
	OCSP_BASICRESP *bs = NULL;
	char produced[64];
	struct tm tm;
	int i, next, rc = -1;

	if (ocsp_singles_make(iss, pol, s, n, req, this_update, validity,
	    &bs) == -1)
		goto out;
	/* GeneralizedTime YYYYMMDDHHMMSSZ (RFC 6960 §4.2.2.1). */
	if (gmtime_r(&produced_at, &tm) == NULL || snprintf(produced,
	    sizeof(produced), "%04d%02d%02d%02d%02d%02dZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec) != 15)
		goto out;
	der_begin(tbs, DER_SEQUENCE);
	der_raw(tbs, iss->respid_der, iss->respid_len);
	der_tlv(tbs, DER_GENERALIZEDTIME, produced, 15);
	der_begin(tbs, DER_SEQUENCE);
	for (i = 0; i < OCSP_resp_count(bs); i++)
		OCSP_DER_APPEND(tbs, i2d_OCSP_SINGLERESP, OCSP_resp_get0(bs, i));
	der_end(tbs);
	if ((next = OCSP_BASICRESP_get_ext_count(bs)) > 0) {
		der_begin(tbs, DER_CONTEXT_CONS(1));
		der_begin(tbs, DER_SEQUENCE);
		for (i = 0; i < next; i++)
			OCSP_DER_APPEND(tbs, i2d_X509_EXTENSION,
			    OCSP_BASICRESP_get_ext(bs, i));
		der_end(tbs);
		der_end(tbs);
	}
	der_end(tbs);
	rc = der_failed(tbs) ? -1 : 0;
out:
	OCSP_BASICRESP_free(bs);
	return rc;
}

int
ocsp_response_make(const struct ocsp_issuer *iss, const unsigned char *tbs,
    size_t tbslen, const unsigned char *sig, size_t siglen,
    unsigned char **der, size_t *len)
{
	static const unsigned char no_unused_bits = 0;
	struct der d;
	int rc = -1;

	*der = NULL;
	*len = 0;
	der_init(&d);
	/* BasicOCSPResponse (RFC 6960 §4.2.1). */
	der_begin(&d, DER_SEQUENCE);
	der_raw(&d, tbs, tbslen);
	der_raw(&d, iss->sigalg_der, iss->sigalg_len);
	/* signature BIT STRING: no unused bits, then the signature. */
	if (der_header_len(siglen + 1) != 0) {
		unsigned char hdr[8];

		der_raw(&d, hdr, der_put_header(hdr, 0x03, siglen + 1));
		der_raw(&d, &no_unused_bits, 1);
		der_raw(&d, sig, siglen);
	} else
		d.failed = 1;
	der_raw(&d, iss->certs_der, iss->certs_len);
	der_end(&d);
	if (!der_failed(&d) && (*der = ocsp_response_wrap(d.buf, d.len,
	    len)) != NULL)
		rc = 0;
	der_free(&d);
	return rc;
}

int
ocsp_tbs_sign(struct ocsp_responder *r, int issuer, const unsigned char *tbs,
    size_t tbslen, unsigned char **sig, size_t *siglen)
{
	const struct ocsp_issuer *iss = &r->iss[issuer];
	EVP_MD_CTX *ctx = NULL;
	int rc = -1;

	*sig = NULL;
	*siglen = 0;
	if (r->sign != NULL)
		return r->sign(r->sign_arg, iss, iss->sign_mdname, tbs, tbslen,
		    sig, siglen);
	if (iss->key == NULL) {
		log_err("ocsp: issuer %s: no responder key", iss->name);
		return -1;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit_ex(ctx, NULL, iss->sign_mdname, NULL, NULL,
	    iss->key, NULL) != 1 ||
	    EVP_DigestSign(ctx, NULL, siglen, tbs, tbslen) != 1 ||
	    (*sig = malloc(*siglen)) == NULL ||
	    EVP_DigestSign(ctx, *sig, siglen, tbs, tbslen) != 1) {
		log_openssl(LOGL_ERR, "ocsp: signing a response for issuer %s",
		    iss->name);
		free(*sig);
		*sig = NULL;
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

int
ocsp_sign(struct ocsp_responder *r, int issuer, const struct ocsp_single *s,
    int n, OCSP_REQUEST *req, time_t this_update, long validity,
    unsigned char **der, size_t *len)
{
	const struct ocsp_issuer *iss = &r->iss[issuer];
	unsigned char *sig = NULL;
	size_t siglen;
	struct der tbs;
	int rc = -1;

	*der = NULL;
	*len = 0;
	der_init(&tbs);
	if (ocsp_tbs_make(iss, &r->pol, s, n, req, this_update, validity,
	    time(NULL), &tbs) == -1) {
		log_openssl(LOGL_ERR, "ocsp: a response for issuer %s",
		    iss->name);
		goto out;
	}
	if (ocsp_tbs_sign(r, issuer, tbs.buf, tbs.len, &sig, &siglen) == -1)
		goto out;
	if (ocsp_response_make(iss, tbs.buf, tbs.len, sig, siglen, der,
	    len) == -1) {
		log_err("ocsp: a response for issuer %s: out of memory",
		    iss->name);
		goto out;
	}
	rc = 0;
out:
	free(sig);
	der_free(&tbs);
	return rc;
}

static void
ocsp_static(const unsigned char *what, const unsigned char **der, size_t *len)
{
	*der = what;
	*len = 5;
}

/*
 * The validity of a response for st: nonissued_validity for a serial never
 * issued, its CA's revocation over it or not (ocsp_status_nonissued).
 */
static long
ocsp_validity_of(const struct ocsp_policy *pol, const struct ocsp_status *st)
{
	return ocsp_status_nonissued(st) ? pol->nonissued_validity :
	    pol->validity;
}

/*
 * The statuses of the serials of p->q.ids[p->miss[0..p->nmiss)], missing
 * from the cache, from a lookup's results (lk->st, in that order) into
 * p->s[miss[j]].st; p->synced is lowered to the time the database's
 * answer is known correct as of (lk->data_at), if earlier. 0, or -1 when
 * the database could not say (lk->rc).
 */
static int
ocsp_answer_apply(struct ocsp_responder *r, struct ocsp_pending *p,
    const struct ocsp_lookup *lk)
{
	struct ocsp_status ca;
	int j;

	if (lk->rc == -1 || lk->n != p->nmiss)
		return -1;
	if (lk->data_at < p->synced)
		p->synced = lk->data_at;
	/*
	 * The database gives each serial's own status; the issuer's own
	 * revocation stands over it as over those of the cache (a blob
	 * signed under an older one of the CA's is not kept: ocsp_cache_put).
	 */
	ocsp_cache_ca_status(r->cache, p->issuer, &ca);
	for (j = 0; j < p->nmiss; j++)
		ocsp_status_under_ca(&lk->st[j], &ca, &p->s[p->miss[j]].st);
	return 0;
}

void
ocsp_answer_lookup_of(const struct ocsp_pending *p, struct ocsp_lookup *lk)
{
	int j;

	memset(lk, 0, sizeof(*lk));
	lk->issuer = p->issuer;
	lk->n = p->nmiss;
	lk->rc = -1;
	for (j = 0; j < p->nmiss; j++) {
		snprintf(lk->serials[j], sizeof(lk->serials[j]), "%s",
		    p->q.ids[p->miss[j]].serial);
		lk->st[j].state = OCSP_STATE_NONISSUED;
		lk->st[j].reason = -1;
	}
}

/*
 * The lookup in the calling thread (r->lookup): what the serials missing
 * from the cache are, all asked in one query. Without a lookup (the fuzz
 * harness), never issued.
 */
static void
ocsp_answer_lookup_now(struct ocsp_responder *r, const struct ocsp_pending *p,
    struct ocsp_lookup *lk)
{
	const char *serials[OCSP_MAX_CERTIDS];
	int j;

	ocsp_answer_lookup_of(p, lk);
	lk->rc = 0;
	lk->data_at = p->synced;
	if (r->lookup == NULL)
		return;
	for (j = 0; j < lk->n; j++)
		serials[j] = lk->serials[j];
	lk->rc = r->lookup(r->lookup_arg, lk->issuer, serials, lk->n, lk->st,
	    &lk->data_at);
}

void
ocsp_pending_init(struct ocsp_pending *p)
{
	memset(p, 0, sizeof(*p));
	der_init(&p->tbs);
}

void
ocsp_pending_clear(struct ocsp_pending *p)
{
	der_free(&p->tbs);
	ocsp_query_free(&p->q);
	ocsp_pending_init(p);
}

/*
 * The second half of ocsp_answer_begin, once every status of p->s is
 * known: the ResponseData to sign (1), or an answer without a signature
 * (0: tryLater, internalError).
 */
static int
ocsp_answer_prepare(struct ocsp_responder *r, struct ocsp_pending *p,
    const unsigned char **der, size_t *derlen)
{
	time_t now = time(NULL);
	int64_t this_update;
	long validity;
	int i, issuer = p->issuer;

	/* Knowledge older than a response's validity cannot be signed. */
	validity = r->pol.validity;
	for (i = 0; i < p->q.nids; i++)
		if (ocsp_validity_of(&r->pol, &p->s[i].st) < validity)
			validity = ocsp_validity_of(&r->pol, &p->s[i].st);
	if (p->synced + validity <= now) {
		ocsp_static(ocsp_trylater_der, der, derlen);
		return 0;
	}
	/*
	 * synced was read before the lookup: a status the maintenance thread
	 * applied since is newer than it (sync.c publishes synced_at after).
	 */
	this_update = ocsp_this_update(p->synced, p->s, p->q.nids, now);
	/*
	 * The responder certificate has expired (ocspd runs past it: it
	 * loads one at start only): a response signed now would not verify.
	 */
	if (ocsp_next_update(&r->iss[issuer], this_update, validity) <=
	    (int64_t)now) {
		ocsp_static(ocsp_trylater_der, der, derlen);
		return 0;
	}
	if (ocsp_tbs_make(&r->iss[issuer], &r->pol, p->s, p->q.nids,
	    p->live && p->q.has_nonce && r->pol.echo_nonce && !p->no_nonce ?
	    p->q.req : NULL,
	    (time_t)this_update, validity, now, &p->tbs) == -1) {
		log_openssl(LOGL_ERR, "ocsp: a response for issuer %s",
		    r->iss[issuer].name);
		ocsp_static(ocsp_internal_der, der, derlen);
		return 0;
	}
	/* A single CertID signed now: kept for the next request. */
	p->keep = !p->live;
	p->hash = p->q.ids[0].hash;
	snprintf(p->serial, sizeof(p->serial), "%s", p->q.ids[0].serial);
	p->st = p->s[0].st;
	p->this_update = this_update;
	p->next_update = ocsp_next_update(&r->iss[issuer], this_update,
	    validity);
	return 1;
}

int
ocsp_answer_begin(struct ocsp_responder *r, const unsigned char *reqder,
    size_t reqlen, const unsigned char **der, size_t *derlen,
    struct ocsp_blob **blob, int *owned, int *cacheable,
    struct ocsp_pending *p)
{
	struct ocsp_query *q = &p->q;
	struct ocsp_single *s = p->s;
	struct ocsp_lookup lk;
	struct ocsp_blob *b = NULL;
	time_t now = time(NULL);
	int i, issuer = -1, k, rc = -1;

	*der = NULL;
	*derlen = 0;
	*blob = NULL;
	*owned = 0;
	*cacheable = 0;
	ocsp_query_free(q);
	memset(s, 0, sizeof(p->s));
	p->nmiss = 0;
	/*
	 * A nonce we would echo but must not: malformed (RFC 9654 §2.1); a
	 * critical one we would ignore (policy) is not understood (§4.4).
	 */
	if (ocsp_query_parse(reqder, reqlen, q) == -1 ||
	    (q->bad_nonce && r->pol.echo_nonce) ||
	    (q->critical_nonce && !r->pol.echo_nonce)) {
		ocsp_static(ocsp_malformed_der, der, derlen);
		rc = 0;
		goto out;
	}
	for (i = 0; i < q->nids; i++) {
		k = ocsp_issuer_find(r->iss, r->niss, &q->ids[i]);
		if (k == -1 || (issuer != -1 && k != issuer)) {
			ocsp_static(ocsp_unauthorized_der, der, derlen);
			rc = 0;
			goto out;
		}
		issuer = k;
	}
	p->issuer = issuer;
	p->synced = __atomic_load_n(&r->synced_at, __ATOMIC_ACQUIRE);
	/*
	 * What we keep is made from our own CertID, not the client's, with
	 * NULL hash parameters: a CertID encoded otherwise (parameters
	 * absent, RFC 5754 §2) is answered live, echoing it as it came.
	 */
	p->live = q->nids > 1 || (q->has_nonce && r->pol.echo_nonce &&
	    !p->no_nonce) || q->ids[0].odd_params;
	for (i = 0; i < q->nids; i++) {
		s[i].cid = p->live ? q->ids[i].cid : NULL;
		s[i].hash = q->ids[i].hash;
		s[i].serial = q->ids[i].serial;
		switch (ocsp_cache_lookup(r->cache, issuer, q->ids[i].serial,
		    q->ids[i].hash, now, &s[i].st, &b)) {
		case OCSP_CACHE_HIT:
			if (!p->live) {
				*der = b->der;
				*derlen = b->len;
				*blob = b;
				*cacheable = 1;
				b = NULL;
				rc = 0;
				goto out;
			}
			ocsp_blob_unref(b);
			b = NULL;
			break;
		case OCSP_CACHE_STATUS:
			break;
		default:
			p->miss[p->nmiss++] = i;
			break;
		}
	}
	/*
	 * Not in the cache: expired past the grace, issued since the last
	 * poll (loaded within a poll period, sync.c), or never issued. Only
	 * the database knows: one query for all of them, not one per CertID;
	 * asked elsewhere when the caller does not wait for it (2).
	 */
	if (p->nmiss > 0) {
		if (p->defer_lookup) {
			rc = 2;
			goto out;
		}
		ocsp_answer_lookup_now(r, p, &lk);
		if (ocsp_answer_apply(r, p, &lk) == -1) {
			ocsp_static(ocsp_trylater_der, der, derlen);
			rc = 0;
			goto out;
		}
	}
	rc = ocsp_answer_prepare(r, p, der, derlen);
out:
	ocsp_blob_unref(b);
	return rc;
}

int
ocsp_answer_looked_up(struct ocsp_responder *r, struct ocsp_pending *p,
    const struct ocsp_lookup *lk, const unsigned char **der, size_t *derlen,
    struct ocsp_blob **blob, int *owned, int *cacheable)
{
	*der = NULL;
	*derlen = 0;
	*blob = NULL;
	*owned = 0;
	*cacheable = 0;
	if (p->nmiss == 0 || p->q.nids == 0)
		return -1;
	if (ocsp_answer_apply(r, p, lk) == -1) {
		ocsp_static(ocsp_trylater_der, der, derlen);
		return 0;
	}
	return ocsp_answer_prepare(r, p, der, derlen);
}

int
ocsp_answer_finish(struct ocsp_responder *r, struct ocsp_pending *p,
    const unsigned char *sig, size_t siglen, const unsigned char **der,
    size_t *derlen, struct ocsp_blob **blob, int *owned, int *cacheable)
{
	struct ocsp_blob *nb;
	unsigned char *out = NULL;
	size_t outlen;

	*der = NULL;
	*derlen = 0;
	*blob = NULL;
	*owned = 0;
	*cacheable = 0;
	if (sig == NULL || ocsp_response_make(&r->iss[p->issuer],
	    p->tbs.buf, p->tbs.len, sig, siglen, &out, &outlen) == -1) {
		if (sig != NULL)
			log_err("ocsp: a response for issuer %s: out of "
			    "memory", r->iss[p->issuer].name);
		ocsp_static(ocsp_internal_der, der, derlen);
		return 0;
	}
	__atomic_add_fetch(&r->signed_live, 1, __ATOMIC_RELAXED);
	if (p->keep && (nb = ocsp_blob_new(out, outlen, p->this_update,
	    p->next_update, ocsp_policy_max_age(&r->pol, &p->st))) != NULL) {
		ocsp_cache_put(r->cache, p->issuer, p->serial, p->hash, &p->st,
		    nb, r->pol.max_nonissued);
		OPENSSL_free(out);
		*der = nb->der;
		*derlen = nb->len;
		*blob = nb;
		*cacheable = 1;
		return 0;
	}
	*der = out;
	*derlen = outlen;
	*owned = 1;
	return 0;
}

int
ocsp_answer(struct ocsp_responder *r, const unsigned char *reqder,
    size_t reqlen, const unsigned char **der, size_t *derlen,
    struct ocsp_blob **blob, int *owned, int *cacheable)
{
	struct ocsp_pending p;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int rc;

	ocsp_pending_init(&p);
	rc = ocsp_answer_begin(r, reqder, reqlen, der, derlen, blob, owned,
	    cacheable, &p);
	if (rc == 1) {
		if (ocsp_tbs_sign(r, p.issuer, p.tbs.buf, p.tbs.len, &sig,
		    &siglen) == -1) {
			free(sig);
			sig = NULL;
		}
		rc = ocsp_answer_finish(r, &p, sig, siglen, der, derlen, blob,
		    owned, cacheable);
		free(sig);
	}
	ocsp_pending_clear(&p);
	return rc;
}
