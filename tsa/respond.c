/*
 * Building time-stamp responses (RFC 3161, RFC 5816) with OpenSSL's
 * TS_RESP_CTX: policy, digests, accuracy and ordering come from
 * policy/tsa.conf; we add the strict parsing of the query, 127-bit random
 * serials and a genTime that is refused while the clock is unsynchronized.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/timex.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/ts.h>

#include "lib/config.h"
#include "lib/log.h"
#include "tsa/extern.h"

#define TSA_SERIAL_BYTES	16	/* 126 random bits, always 16 bytes */
#define TSA_MAX_POLICIES	8

struct tsa_responder {
	TS_RESP_CTX	*ctx;
	int		 allow_unsync;
};

int
tsa_clock_synchronized(void)
{
	struct timex tx;
	int state;

	memset(&tx, 0, sizeof(tx));
	state = adjtimex(&tx);
	return state != -1 && state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0;
}

/* RFC 3161 §2.4.2: genTime is the time the token was created, from a trusted clock. */
static int
tsa_time_cb(TS_RESP_CTX *ctx, void *data, long *sec, long *usec)
{
	struct tsa_responder *r = data;
	struct timeval tv;

	if (!r->allow_unsync && !tsa_clock_synchronized()) {
		TS_RESP_CTX_set_status_info(ctx, TS_STATUS_REJECTION,
		    "Time is not available: the system clock is not synchronized.");
		TS_RESP_CTX_add_failure_info(ctx, TS_INFO_TIME_NOT_AVAILABLE);
		return 0;
	}
	if (gettimeofday(&tv, NULL) == -1) {
		TS_RESP_CTX_set_status_info(ctx, TS_STATUS_REJECTION,
		    "Time is not available.");
		TS_RESP_CTX_add_failure_info(ctx, TS_INFO_TIME_NOT_AVAILABLE);
		return 0;
	}
	*sec = tv.tv_sec;
	*usec = tv.tv_usec;
	return 1;
}

/*
 * Serials unique across every instance sharing the database without any
 * coordination: 126 random bits (top bit clear for a positive INTEGER, next
 * bit set for a fixed length); a collision is as likely as guessing a key,
 * and the tsa_token primary key would still catch one.
 */
static ASN1_INTEGER *
tsa_serial_cb(TS_RESP_CTX *ctx, void *data)
{
	unsigned char buf[TSA_SERIAL_BYTES];
	ASN1_INTEGER *serial = NULL;
	BIGNUM *bn = NULL;

	if (RAND_bytes(buf, sizeof(buf)) == 1) {
		buf[0] = (unsigned char)((buf[0] & 0x3f) | 0x40);
		if ((bn = BN_bin2bn(buf, sizeof(buf), NULL)) != NULL)
			serial = BN_to_ASN1_INTEGER(bn, NULL);
	}
	BN_free(bn);
	if (serial == NULL) {
		TS_RESP_CTX_set_status_info(ctx, TS_STATUS_REJECTION,
		    "Error during serial number generation.");
		TS_RESP_CTX_add_failure_info(ctx, TS_INFO_ADD_INFO_NOT_AVAILABLE);
	}
	return serial;
}

static int
tsa_policy_long(const struct config *policy, const char *key, long def, long min,
    long max, long *out)
{
	return config_get_long(policy, key, def, min, max, out);
}

/* Adds each digest of a comma-separated list ("SHA256, SHA384") the TSA accepts. */
static int
tsa_add_digests(TS_RESP_CTX *ctx, const char *list, char *err, size_t errlen)
{
	char buf[256], *tok, *save = NULL;
	const EVP_MD *md;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		if (strcmp(tok, "SHA256") != 0 && strcmp(tok, "SHA384") != 0 &&
		    strcmp(tok, "SHA512") != 0) {
			snprintf(err, errlen, "tsa.digests: %s is not allowed "
			    "(SHA256, SHA384, SHA512)", tok);
			return -1;
		}
		if ((md = EVP_get_digestbyname(tok)) == NULL ||
		    TS_RESP_CTX_add_md(ctx, md) != 1) {
			snprintf(err, errlen, "tsa.digests: %s unavailable", tok);
			return -1;
		}
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "tsa.digests: no digest");
		return -1;
	}
	return 0;
}

static int
tsa_add_policies(TS_RESP_CTX *ctx, const char *def, const char *others,
    char *err, size_t errlen)
{
	char buf[512], *tok, *save = NULL;
	ASN1_OBJECT *oid = NULL;
	int rc = -1, n = 0;

	if (def == NULL || (oid = OBJ_txt2obj(def, 1)) == NULL ||
	    TS_RESP_CTX_set_def_policy(ctx, oid) != 1) {
		snprintf(err, errlen, "tsa.policy: missing or not an OID");
		goto out;
	}
	ASN1_OBJECT_free(oid);
	oid = NULL;
	snprintf(buf, sizeof(buf), "%s", others != NULL ? others : "");
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		if (++n > TSA_MAX_POLICIES || (oid = OBJ_txt2obj(tok, 1)) == NULL ||
		    TS_RESP_CTX_add_policy(ctx, oid) != 1) {
			snprintf(err, errlen, "tsa.other_policies: %s rejected", tok);
			goto out;
		}
		ASN1_OBJECT_free(oid);
		oid = NULL;
	}
	rc = 0;
out:
	ASN1_OBJECT_free(oid);
	return rc;
}

struct tsa_responder *
tsa_responder_new(const struct config *policy, X509 *cert, EVP_PKEY *key,
    STACK_OF(X509) *extra, int allow_unsync, char *err, size_t errlen)
{
	struct tsa_responder *r = NULL, *ret = NULL;
	const EVP_MD *sign_md, *ess_md;
	long secs, millis, micros, precision;
	int ordering, chain;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->ctx = TS_RESP_CTX_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	r->allow_unsync = allow_unsync;
	sign_md = EVP_get_digestbyname(config_get(policy, "tsa.signing_digest",
	    "SHA256"));
	ess_md = EVP_get_digestbyname(config_get(policy, "tsa.ess_cert_id_digest",
	    "SHA256"));
	if (sign_md == NULL || ess_md == NULL) {
		snprintf(err, errlen, "tsa.signing_digest or ess_cert_id_digest unknown");
		goto out;
	}
	if (tsa_policy_long(policy, "tsa.accuracy_seconds", 1, 0, 3600, &secs) == -1 ||
	    tsa_policy_long(policy, "tsa.accuracy_millis", 0, 0, 999, &millis) == -1 ||
	    tsa_policy_long(policy, "tsa.accuracy_micros", 0, 0, 999, &micros) == -1 ||
	    tsa_policy_long(policy, "tsa.clock_precision_digits", 3, 0, 6,
	    &precision) == -1 ||
	    config_get_bool(policy, "tsa.ordering", 0, &ordering) == -1 ||
	    config_get_bool(policy, "tsa.include_chain", 1, &chain) == -1) {
		snprintf(err, errlen, "policy: a [tsa] value is out of range");
		goto out;
	}
	/* The key must belong to the certificate (X509_check_private_key inside). */
	if (TS_RESP_CTX_set_signer_cert(r->ctx, cert) != 1 ||
	    TS_RESP_CTX_set_signer_key(r->ctx, key) != 1 ||
	    X509_check_private_key(cert, key) != 1) {
		snprintf(err, errlen, "the TSA key does not match the TSA certificate");
		goto out;
	}
	if (TS_RESP_CTX_set_signer_digest(r->ctx, sign_md) != 1 ||
	    TS_RESP_CTX_set_ess_cert_id_digest(r->ctx, ess_md) != 1 ||
	    (chain && extra != NULL && TS_RESP_CTX_set_certs(r->ctx, extra) != 1) ||
	    TS_RESP_CTX_set_accuracy(r->ctx, (int)secs, (int)millis,
	    (int)micros) != 1 ||
	    TS_RESP_CTX_set_clock_precision_digits(r->ctx,
	    (unsigned int)precision) != 1) {
		snprintf(err, errlen, "TS_RESP_CTX set-up failed");
		goto out;
	}
	if (tsa_add_policies(r->ctx, config_get(policy, "tsa.policy", NULL),
	    config_get(policy, "tsa.other_policies", ""), err, errlen) == -1 ||
	    tsa_add_digests(r->ctx, config_get(policy, "tsa.digests",
	    "SHA256, SHA384, SHA512"), err, errlen) == -1)
		goto out;
	if (ordering)
		TS_RESP_CTX_add_flags(r->ctx, TS_ORDERING);
	TS_RESP_CTX_set_serial_cb(r->ctx, tsa_serial_cb, r);
	TS_RESP_CTX_set_time_cb(r->ctx, tsa_time_cb, r);
	ret = r;
	r = NULL;
out:
	ERR_clear_error();
	tsa_responder_free(r);
	return ret;
}

void
tsa_responder_free(struct tsa_responder *r)
{
	if (r == NULL)
		return;
	TS_RESP_CTX_free(r->ctx);
	free(r);
}

static void
tsa_hex(const unsigned char *p, size_t n, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	/* Per byte by hand: snprintf here cost ~7 % of a token's CPU time. */
	for (i = 0; i < n && 2 * i + 2 < outlen; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 0x0f];
	}
	out[2 * i] = '\0';
}

static void
tsa_integer_hex(const ASN1_INTEGER *ai, char *out, size_t outlen)
{
	BIGNUM *bn;
	char *hex = NULL;

	out[0] = '\0';
	if ((bn = ASN1_INTEGER_to_BN(ai, NULL)) != NULL && (hex = BN_bn2hex(bn)) != NULL)
		snprintf(out, outlen, "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
}

/* Fills rec from the TSTInfo of a granted response. */
static int
tsa_fill_record(TS_RESP *resp, int cert_req, struct tsa_record *rec)
{
	TS_TST_INFO *tst = TS_RESP_get_tst_info(resp);
	const ASN1_GENERALIZEDTIME *t;
	TS_MSG_IMPRINT *mi;
	const ASN1_OBJECT *alg;
	ASN1_OCTET_STRING *msg;
	const ASN1_INTEGER *nonce;
	struct tm tm;

	memset(rec, 0, sizeof(*rec));
	if (tst == NULL || (t = TS_TST_INFO_get_time(tst)) == NULL ||
	    ASN1_TIME_to_tm(t, &tm) != 1 ||
	    (mi = TS_TST_INFO_get_msg_imprint(tst)) == NULL)
		return -1;
	tsa_integer_hex(TS_TST_INFO_get_serial(tst), rec->serial, sizeof(rec->serial));
	snprintf(rec->gen_time, sizeof(rec->gen_time),
	    "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	OBJ_obj2txt(rec->policy, sizeof(rec->policy),
	    TS_TST_INFO_get_policy_id(tst), 1);
	X509_ALGOR_get0(&alg, NULL, NULL, TS_MSG_IMPRINT_get_algo(mi));
	OBJ_obj2txt(rec->imprint_alg, sizeof(rec->imprint_alg), alg, 1);
	msg = TS_MSG_IMPRINT_get_msg(mi);
	tsa_hex(ASN1_STRING_get0_data(msg), (size_t)ASN1_STRING_length(msg),
	    rec->imprint, sizeof(rec->imprint));
	if ((nonce = TS_TST_INFO_get_nonce(tst)) != NULL)
		tsa_hex(ASN1_STRING_get0_data(nonce), (size_t)ASN1_STRING_length(nonce),
		    rec->nonce, sizeof(rec->nonce));
	rec->cert_req = cert_req;
	return rec->serial[0] != '\0' ? 0 : -1;
}

int
tsa_respond(struct tsa_responder *r, const unsigned char *query, size_t len,
    unsigned char **reply, size_t *replylen, int *granted, struct tsa_record *rec)
{
	const unsigned char *p = query;
	TS_REQ *req = NULL;
	TS_RESP *resp = NULL;
	BIO *in = NULL;
	unsigned char *der = NULL;
	int n, well_formed, cert_req = 0, rc = -1;

	*reply = NULL;
	*replylen = 0;
	*granted = 0;
	/*
	 * RFC 3161 §2.4.1: exactly one DER TimeStampReq. OpenSSL's own reader
	 * would ignore trailing bytes, so we parse first and hand it an empty
	 * input when the query is not exactly that: it then answers rejection
	 * with failInfo badDataFormat, as for any undecodable request.
	 */
	well_formed = len > 0 && len <= LONG_MAX &&
	    (req = d2i_TS_REQ(NULL, &p, (long)len)) != NULL && p == query + len;
	if (well_formed)
		cert_req = TS_REQ_get_cert_req(req);
	in = well_formed ? BIO_new_mem_buf(query, (int)len) : BIO_new(BIO_s_mem());
	if (in == NULL || (resp = TS_RESP_create_response(r->ctx, in)) == NULL)
		goto out;
	if (ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp))) ==
	    TS_STATUS_GRANTED) {
		if (tsa_fill_record(resp, cert_req, rec) == -1)
			goto out;
		*granted = 1;
	}
	if ((n = i2d_TS_RESP(resp, &der)) <= 0)
		goto out;
	*reply = der;
	*replylen = (size_t)n;
	der = NULL;
	rc = 0;
out:
	if (rc == -1)
		log_openssl(LOGL_ERR, "tsa: cannot build a response");
	ERR_clear_error();
	OPENSSL_free(der);
	BIO_free(in);
	TS_RESP_free(resp);
	TS_REQ_free(req);
	return rc;
}
