/*
 * tsa/token.c, the direct DER path for granted tokens, judged by OpenSSL:
 *  - octet for octet what TS_RESP_CTX writes for the same query, serial and
 *    time (an RSA key: PKCS#1 v1.5 signatures are deterministic), across
 *    digests, nonces, certReq, requested policies and policy files
 *    (accuracy, ordering, genTime precision, ESSCertID v1 and v2 digests,
 *    signing digest);
 *  - with an EC key: d2i_TS_RESP reads it, TS_RESP_verify_response accepts
 *    it (signature, chain to the CA, ESSCertIDv2, imprint, nonce, policy),
 *    and each field equals its input, as does the record;
 *  - tsad's pipelined path (tsa_respond_begin, the signature made
 *    elsewhere, tsa_respond_finish) gives the same octets and record;
 *  - queries TS_RESP_CTX rejects get the same rejection as before, octet
 *    for octet, with the failInfo each deserves: badAlg (SHA-1, digest
 *    parameters), unacceptedPolicy, badRequest (version 2),
 *    unacceptedExtension, badDataFormat (an imprint of the wrong length,
 *    not DER).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/config.h"
#include "tsa/extern.h"
#include "tests/unit/tsa/tsatest.h"

static EVP_PKEY *ca_key, *ec_key, *rsa_key;
static X509 *ca_cert, *ec_cert, *rsa_cert;

static struct timeval fixed_tv;
static unsigned char fixed_serial[16];

static int
fake_now(struct timeval *tv)
{
	*tv = fixed_tv;
	return 0;
}

static int
fake_serial(unsigned char *buf, size_t len)
{
	assert_int_equal(len, sizeof(fixed_serial));
	memcpy(buf, fixed_serial, len);
	return 0;
}


static int
setup(void **state)
{
	ca_key = EVP_EC_gen("P-256");
	ec_key = EVP_EC_gen("P-256");
	rsa_key = EVP_RSA_gen(2048);
	if (ca_key == NULL || ec_key == NULL || rsa_key == NULL)
		return -1;
	ca_cert = make_cert(ca_key, "Test CA", 1, NULL, NULL, 0);
	/* A serial with the high bit set: 00-prefixed INTEGER. */
	ec_cert = make_cert(ec_key, "Test TSA EC", 0x80badcafeL, ca_cert, ca_key, 1);
	rsa_cert = make_cert(rsa_key, "Test TSA RSA", 2, ca_cert, ca_key, 1);
	return 0;
}

static int
teardown(void **state)
{
	X509_free(ca_cert);
	X509_free(ec_cert);
	X509_free(rsa_cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(rsa_key);
	return 0;
}

/* A policy file's values through the environment (lib/config). */
static void
set_policy(const char *signing, const char *ess, const char *secs,
    const char *millis, const char *micros, const char *ordering,
    const char *precision)
{
	setenv("PKI_TSA_POLICY", "2.999.1.2.1", 1);
	setenv("PKI_TSA_OTHER_POLICIES", "2.999.1.2.2, 1.3.6.1.4.1.99999.7", 1);
	setenv("PKI_TSA_DIGESTS", "SHA256, SHA384, SHA512", 1);
	setenv("PKI_TSA_SIGNING_DIGEST", signing, 1);
	setenv("PKI_TSA_ESS_CERT_ID_DIGEST", ess, 1);
	setenv("PKI_TSA_ACCURACY_SECONDS", secs, 1);
	setenv("PKI_TSA_ACCURACY_MILLIS", millis, 1);
	setenv("PKI_TSA_ACCURACY_MICROS", micros, 1);
	setenv("PKI_TSA_ORDERING", ordering, 1);
	setenv("PKI_TSA_CLOCK_PRECISION_DIGITS", precision, 1);
	setenv("PKI_TSA_INCLUDE_CHAIN", "true", 1);
}

/* The ca_certificate.id the responders' records name (schema/064). */
#define TEST_CERT_ID	4242LL

static struct tsa_responder *
make_responder(X509 *cert, EVP_PKEY *key)
{
	struct tsa_responder *r;
	struct config *policy;
	STACK_OF(X509) *extra;
	char err[256];

	policy = config_load(NULL, err, sizeof(err));
	assert_non_null(policy);
	extra = sk_X509_new_null();
	assert_non_null(extra);
	sk_X509_push(extra, ca_cert);
	r = tsa_responder_new(policy, cert, TEST_CERT_ID, key, extra, 1, err,
	    sizeof(err));
	if (r == NULL)
		fail_msg("tsa_responder_new: %s", err);
	tsa_responder_test_hooks(r, fake_now, fake_serial, 1);
	sk_X509_free(extra);	/* the responder keeps its own references */
	config_free(policy);
	return r;
}

struct query {
	const char	*md;		/* imprint digest name */
	int		 mdlen;		/* imprint length; 0: the digest's */
	const char	*nonce;		/* hex, NULL: none */
	int		 cert_req;
	const char	*policy;	/* NULL: none */
	long		 version;
	int		 ext;		/* add an extension */
	int		 param;		/* 1: NULL parameters, 2: an INTEGER */
};

static unsigned char *
make_query(const struct query *q, size_t *len)
{
	TS_REQ *req = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_INTEGER *nonce = NULL;
	ASN1_OBJECT *pol;
	BIGNUM *bn = NULL;
	unsigned char hash[64], *der = NULL;
	const EVP_MD *md = EVP_get_digestbyname(q->md);
	X509_EXTENSION *ext;
	int n, i;

	assert_non_null(md);
	for (i = 0; i < (int)sizeof(hash); i++)
		hash[i] = (unsigned char)(i * 13 + 1);
	X509_ALGOR_set_md(alg, md);
	if (q->param == 1)
		X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL,
		    NULL);
	else if (q->param == 2) {
		ASN1_INTEGER *ai = ASN1_INTEGER_new();

		ASN1_INTEGER_set(ai, 5);
		X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)),
		    V_ASN1_INTEGER, ai);
	}
	TS_MSG_IMPRINT_set_algo(mi, alg);
	TS_MSG_IMPRINT_set_msg(mi, hash, q->mdlen ? q->mdlen : EVP_MD_get_size(md));
	TS_REQ_set_version(req, q->version ? q->version : 1);
	TS_REQ_set_msg_imprint(req, mi);
	if (q->nonce != NULL) {
		assert_true(BN_hex2bn(&bn, q->nonce) > 0);
		nonce = BN_to_ASN1_INTEGER(bn, NULL);
		TS_REQ_set_nonce(req, nonce);
	}
	if (q->policy != NULL) {
		pol = OBJ_txt2obj(q->policy, 1);
		TS_REQ_set_policy_id(req, pol);
		ASN1_OBJECT_free(pol);
	}
	TS_REQ_set_cert_req(req, q->cert_req);
	if (q->ext) {
		ext = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints,
		    "CA:FALSE");
		TS_REQ_add_ext(req, ext, -1);
		X509_EXTENSION_free(ext);
	}
	n = i2d_TS_REQ(req, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	BN_free(bn);
	ASN1_INTEGER_free(nonce);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(req);
	return der;
}

static TS_RESP *
parse_resp(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	TS_RESP *resp;

	resp = d2i_TS_RESP(NULL, &p, (long)len);
	assert_non_null(resp);
	assert_ptr_equal(p, der + len);
	return resp;
}

/*
 * A response's status, and its failInfo bits in *fail (0: none). Both
 * paths are compared octet for octet, so one reading judges both.
 */
static long
resp_status(const unsigned char *der, size_t len, unsigned long *fail)
{
	TS_RESP *resp = parse_resp(der, len);
	TS_STATUS_INFO *si = TS_RESP_get_status_info(resp);
	const ASN1_BIT_STRING *bits;
	long status;
	int i;

	status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si));
	*fail = 0;
	if ((bits = TS_STATUS_INFO_get0_failure_info(si)) != NULL)
		for (i = 0; i < 32; i++)
			if (ASN1_BIT_STRING_get_bit(bits, i))
				*fail |= 1UL << i;
	TS_RESP_free(resp);
	return status;
}

#define FAIL_BIT(n)	(1UL << (n))

/* The signingTime TS_RESP_CTX put in, as seconds since the epoch. */
static time_t
signing_time(const unsigned char *der, size_t len)
{
	TS_RESP *resp = parse_resp(der, len);
	PKCS7_SIGNER_INFO *si;
	const ASN1_TYPE *t;
	struct tm tm;
	time_t ret;

	si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(
	    TS_RESP_get_token(resp)), 0);
	assert_non_null(si);
	t = PKCS7_get_signed_attribute(si, NID_pkcs9_signingTime);
	assert_non_null(t);
	assert_int_equal(ASN1_TIME_to_tm(t->value.utctime, &tm), 1);
	ret = timegm(&tm);
	TS_RESP_free(resp);
	return ret;
}

/*
 * Answers q both ways with the same serial and time; the two DER
 * responses must be the same octets. TS_RESP_CTX takes signingTime from
 * the real clock: the time source is the real time, and a second boundary
 * crossed between the two (signingTime differs) is retried. A rejection
 * (want_granted 0) must carry exactly the failInfo bits want_fail.
 */
/*
 * tsad's path (tsa_respond_begin, a signature made elsewhere,
 * tsa_respond_finish), here signed with key directly: the same octets and
 * record as tsa_respond() gave (want, wrec) for the same time and serial.
 * A query the direct path does not take is answered at once.
 */
static void
check_pending_path(struct tsa_responder *r, EVP_PKEY *key,
    const unsigned char *query, size_t qlen, int want_granted,
    const unsigned char *want, size_t wantlen, const struct tsa_record *wrec)
{
	struct tsa_pending pend;
	struct tsa_record rec;
	unsigned char *reply = NULL, *sig = NULL;
	size_t replylen = 0, siglen = 0;
	EVP_MD_CTX *ctx;
	int granted, rc;

	memset(&pend, 0, sizeof(pend));
	tsa_token_tbs_init(&pend.tbs);
	rc = tsa_respond_begin(r, query, qlen, &reply, &replylen, &granted,
	    &rec, &pend);
	if (!want_granted) {
		assert_int_equal(rc, 0);
		assert_int_equal(granted, 0);
		assert_int_equal(replylen, wantlen);
		assert_memory_equal(reply, want, wantlen);
		goto out;
	}
	assert_int_equal(rc, 1);
	assert_null(reply);
	ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit_ex(ctx, NULL,
	    tsa_responder_sign_mdname(r), NULL, NULL, key, NULL), 1);
	assert_int_equal(EVP_DigestSign(ctx, NULL, &siglen,
	    pend.tbs.signed_attrs.buf, pend.tbs.signed_attrs.len), 1);
	sig = malloc(siglen);
	assert_non_null(sig);
	assert_int_equal(EVP_DigestSign(ctx, sig, &siglen,
	    pend.tbs.signed_attrs.buf, pend.tbs.signed_attrs.len), 1);
	EVP_MD_CTX_free(ctx);
	/* A signature of no length or over the key's size is refused. */
	assert_int_equal(tsa_respond_finish(r, &pend, sig, 0, &reply,
	    &replylen), -1);
	assert_int_equal(tsa_respond_finish(r, &pend, sig,
	    (size_t)EVP_PKEY_get_size(key) + 1, &reply, &replylen), -1);
	assert_int_equal(tsa_respond_finish(r, &pend, sig, siglen, &reply,
	    &replylen), 0);
	assert_int_equal(replylen, wantlen);
	assert_memory_equal(reply, want, wantlen);
	assert_string_equal(pend.rec.serial, wrec->serial);
	assert_string_equal(pend.rec.gen_time, wrec->gen_time);
	assert_string_equal(pend.rec.policy, wrec->policy);
	assert_string_equal(pend.rec.imprint_alg, wrec->imprint_alg);
	assert_string_equal(pend.rec.imprint, wrec->imprint);
	assert_string_equal(pend.rec.nonce, wrec->nonce);
	assert_int_equal(pend.rec.cert_req, wrec->cert_req);
	assert_int_equal(pend.rec.cert_id, TEST_CERT_ID);
out:
	free(sig);
	OPENSSL_free(reply);
	tsa_token_tbs_free(&pend.tbs);
}

static void
compare_paths(struct tsa_responder *r, const struct query *q, long usec,
    int want_granted, unsigned long want_fail)
{
	unsigned char *query, *a = NULL, *b = NULL;
	size_t qlen, alen, blen;
	struct tsa_record ra, rb;
	unsigned long fail;
	size_t direct;
	int ga, gb, attempt;
	long status;

	query = make_query(q, &qlen);
	/*
	 * OpenSSL stamps signingTime with time(), whose coarse clock can lag
	 * gettimeofday() by a few milliseconds just after a second boundary:
	 * then it says the second before. Every attempt of a loop that does
	 * not wait fell in the same few milliseconds (1 run in 15 failed all
	 * three), hence the pause between attempts.
	 */
	for (attempt = 0; attempt < 10; attempt++) {
		gettimeofday(&fixed_tv, NULL);
		fixed_tv.tv_usec = usec;
		tsa_responder_test_hooks(r, fake_now, fake_serial, 0);
		direct = tsa_responder_direct_tokens(r);
		assert_int_equal(tsa_respond(r, query, qlen, &a, &alen, &ga, &ra), 0);
		assert_int_equal(tsa_responder_direct_tokens(r), direct);
		tsa_responder_test_hooks(r, fake_now, fake_serial, 1);
		assert_int_equal(tsa_respond(r, query, qlen, &b, &blen, &gb, &rb), 0);
		/* Granted means built by tsa/token.c, not by a fallback. */
		assert_int_equal(tsa_responder_direct_tokens(r),
		    direct + (want_granted ? 1 : 0));
		assert_int_equal(ga, want_granted);
		assert_int_equal(gb, want_granted);
		if (!want_granted || signing_time(a, alen) == fixed_tv.tv_sec)
			break;
		OPENSSL_free(a);
		OPENSSL_free(b);
		a = b = NULL;
		usleep(20000);	/* out of the coarse clock's lag (below) */
	}
	assert_true(attempt < 10);
	if (alen != blen || memcmp(a, b, alen) != 0) {
		FILE *f;

		if ((f = fopen("/tmp/tsa_ctx.der", "wb")) != NULL) {
			fwrite(a, 1, alen, f);
			fclose(f);
		}
		if ((f = fopen("/tmp/tsa_direct.der", "wb")) != NULL) {
			fwrite(b, 1, blen, f);
			fclose(f);
		}
		fail_msg("the direct path differs from TS_RESP_CTX (md %s, "
		    "nonce %s, certReq %d, policy %s): /tmp/tsa_ctx.der and "
		    "/tmp/tsa_direct.der", q->md, q->nonce ? q->nonce : "-",
		    q->cert_req, q->policy ? q->policy : "-");
	}
	status = resp_status(b, blen, &fail);
	if (status != (want_granted ? TS_STATUS_GRANTED : TS_STATUS_REJECTION) ||
	    fail != (want_granted ? 0 : want_fail))
		fail_msg("md %s, version %ld, ext %d, imprint length %d, param "
		    "%d, policy %s: status %ld failInfo %#lx, want status %d "
		    "failInfo %#lx", q->md, q->version ? q->version : 1, q->ext,
		    q->mdlen, q->param, q->policy ? q->policy : "-", status,
		    fail, want_granted ? TS_STATUS_GRANTED : TS_STATUS_REJECTION,
		    want_granted ? 0 : want_fail);
	/* tsad's pipelined path: the same time and serial (the hooks). */
	check_pending_path(r, rsa_key, query, qlen, want_granted, b, blen, &rb);
	if (want_granted) {
		assert_string_equal(ra.serial, rb.serial);
		assert_string_equal(ra.gen_time, rb.gen_time);
		assert_string_equal(ra.policy, rb.policy);
		assert_string_equal(ra.imprint_alg, rb.imprint_alg);
		assert_string_equal(ra.imprint, rb.imprint);
		assert_string_equal(ra.nonce, rb.nonce);
		assert_int_equal(ra.cert_req, rb.cert_req);
		/* Both paths name the responder's certificate. */
		assert_int_equal(ra.cert_id, TEST_CERT_ID);
		assert_int_equal(rb.cert_id, TEST_CERT_ID);
	}
	OPENSSL_free(a);
	OPENSSL_free(b);
	OPENSSL_free(query);
}

static const char *const mds[] = { "SHA256", "SHA384", "SHA512" };
static const char *const nonces[] = { NULL, "01", "7F", "80", "00FF",
    "1234567890ABCDEF1234567890ABCDEF" };
static const char *const policies[] = { NULL, "2.999.1.2.1", "2.999.1.2.2",
    "1.3.6.1.4.1.99999.7" };

static void
test_same_as_ts_resp_ctx(void **state)
{
	struct tsa_responder *r;
	struct query q;
	size_t i, j, k;

	memset(fixed_serial, 0x5a, sizeof(fixed_serial));
	fixed_serial[0] = 0x40;
	set_policy("SHA256", "SHA256", "1", "0", "0", "false", "3");
	r = make_responder(rsa_cert, rsa_key);
	for (i = 0; i < 3; i++)
		for (j = 0; j < sizeof(nonces) / sizeof(nonces[0]); j++)
			for (k = 0; k < sizeof(policies) / sizeof(policies[0]); k++) {
				memset(&q, 0, sizeof(q));
				q.md = mds[i];
				q.nonce = nonces[j];
				q.policy = policies[k];
				q.cert_req = (int)((i + j + k) % 2);
				q.param = (int)(j % 2);
				compare_paths(r, &q, (long)(j * 170017 % 1000000), 1,
				    0);
			}
	tsa_responder_free(r);
}

/* Other policy files: precision, accuracy, ordering, ESS and signing digests. */
static void
test_same_as_ts_resp_ctx_policies(void **state)
{
	static const struct {
		const char *signing, *ess, *secs, *millis, *micros, *ord, *prec;
	} pf[] = {
		/* Precision 0 needs an accuracy over 1 s (tsa_policy_check). */
		{ "SHA256", "SHA256", "2", "0", "0", "false", "0" },
		{ "SHA384", "SHA512", "0", "500", "0", "true", "6" },
		{ "SHA512", "SHA1", "3600", "999", "1", "false", "1" },
		{ "SHA256", "SHA384", "0", "0", "0", "true", "2" },
		/* 10^-4 s within 250 us (tsa_responder_new refuses 10^-3). */
		{ "SHA256", "SHA256", "0", "0", "250", "false", "4" },
	};
	static const long usecs[] = { 0, 1, 100000, 123400, 999999, 500 };
	struct tsa_responder *r;
	struct query q;
	size_t i, j;

	for (i = 0; i < sizeof(pf) / sizeof(pf[0]); i++) {
		set_policy(pf[i].signing, pf[i].ess, pf[i].secs, pf[i].millis,
		    pf[i].micros, pf[i].ord, pf[i].prec);
		r = make_responder(rsa_cert, rsa_key);
		for (j = 0; j < sizeof(usecs) / sizeof(usecs[0]); j++) {
			fixed_serial[0] = (unsigned char)(0x40 | j);
			memset(&q, 0, sizeof(q));
			q.md = mds[j % 3];
			q.nonce = j % 2 ? "C0FFEE" : NULL;
			q.cert_req = (int)(j % 2);
			compare_paths(r, &q, usecs[j], 1, 0);
		}
		tsa_responder_free(r);
	}
}

/*
 * What TS_RESP_CTX rejects stays its answer, octet for octet, and each
 * rejection carries the one failInfo RFC 3161 §2.4.2 names for it.
 */
static void
test_rejections_unchanged(void **state)
{
	struct tsa_responder *r;
	struct query q[6];
	static const unsigned long want[6] = {
		FAIL_BIT(TS_INFO_BAD_ALG),
		FAIL_BIT(TS_INFO_UNACCEPTED_POLICY),
		FAIL_BIT(TS_INFO_BAD_REQUEST),
		FAIL_BIT(TS_INFO_UNACCEPTED_EXTENSION),
		FAIL_BIT(TS_INFO_BAD_DATA_FORMAT),
		FAIL_BIT(TS_INFO_BAD_ALG),
	};
	unsigned char *a = NULL, *b = NULL;
	size_t i, alen, blen;
	struct tsa_record rec;
	unsigned long fail;
	int g;

	set_policy("SHA256", "SHA256", "1", "0", "0", "false", "3");
	r = make_responder(rsa_cert, rsa_key);
	memset(q, 0, sizeof(q));
	q[0].md = "SHA1";			/* badAlg */
	q[1].md = "SHA256";
	q[1].policy = "1.2.3.4";		/* unacceptedPolicy */
	q[2].md = "SHA256";
	q[2].version = 2;			/* badRequest */
	q[3].md = "SHA256";
	q[3].ext = 1;				/* unacceptedExtension */
	q[4].md = "SHA256";
	q[4].mdlen = 20;			/* badDataFormat */
	q[5].md = "SHA256";
	q[5].param = 2;				/* digest parameters: badAlg */
	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++)
		compare_paths(r, &q[i], 0, 0, want[i]);
	/* Not DER: rejected without the direct path being asked. */
	assert_int_equal(tsa_respond(r, (const unsigned char *)"\x30\x03\x02\x01",
	    4, &a, &alen, &g, &rec), 0);
	assert_int_equal(g, 0);
	tsa_responder_test_hooks(r, fake_now, fake_serial, 0);
	assert_int_equal(tsa_respond(r, (const unsigned char *)"\x30\x03\x02\x01",
	    4, &b, &blen, &g, &rec), 0);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	assert_int_equal(resp_status(a, alen, &fail), TS_STATUS_REJECTION);
	assert_int_equal(fail, FAIL_BIT(TS_INFO_BAD_DATA_FORMAT));
	OPENSSL_free(a);
	OPENSSL_free(b);
	tsa_responder_free(r);
}

static void
hex_of(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
}

static void
assert_imprint_equal(TS_MSG_IMPRINT *a, TS_MSG_IMPRINT *b)
{
	unsigned char *da = NULL, *db = NULL;
	int na, nb;

	na = i2d_TS_MSG_IMPRINT(a, &da);
	nb = i2d_TS_MSG_IMPRINT(b, &db);
	assert_true(na > 0);
	assert_int_equal(na, nb);
	assert_memory_equal(da, db, (size_t)na);
	OPENSSL_free(da);
	OPENSSL_free(db);
}

/* An EC key (random signatures): OpenSSL verifies, and fields are the inputs. */
static void
test_ec_verifies(void **state)
{
	struct tsa_responder *r;
	struct tsa_record rec;
	struct query q;
	unsigned char *query, *reply;
	const unsigned char *p;
	size_t qlen, rlen, i;
	TS_REQ *req;
	TS_RESP *resp;
	TS_TST_INFO *tst;
	TS_VERIFY_CTX *vctx;
	X509_STORE *store;
	STACK_OF(X509) *certs;
	const TS_ACCURACY *acc;
	char hex[200], want[200];
	int granted, ncerts;

	set_policy("SHA256", "SHA256", "1", "0", "0", "false", "3");
	r = make_responder(ec_cert, ec_key);
	fixed_tv.tv_sec = 1795000000;		/* 2026-11-18T11:06:40Z */
	fixed_tv.tv_usec = 120999;
	for (i = 0; i < 8; i++) {
		memset(&q, 0, sizeof(q));
		q.md = mds[i % 3];
		q.nonce = i % 4 == 3 ? NULL : nonces[1 + i % 5];
		q.cert_req = (int)(i % 2);
		q.policy = i >= 6 ? "2.999.1.2.2" : NULL;
		fixed_serial[0] = 0x41;
		fixed_serial[15] = (unsigned char)i;
		query = make_query(&q, &qlen);
		assert_int_equal(tsa_respond(r, query, qlen, &reply, &rlen,
		    &granted, &rec), 0);
		assert_int_equal(granted, 1);
		assert_int_equal(tsa_responder_direct_tokens(r), i + 1);
		resp = parse_resp(reply, rlen);

		/* OpenSSL's verifier: signature, chain, ESSCertIDv2, imprint, nonce. */
		p = query;
		req = d2i_TS_REQ(NULL, &p, (long)qlen);
		assert_non_null(req);
		vctx = TS_REQ_to_TS_VERIFY_CTX(req, NULL);
		assert_non_null(vctx);
		TS_VERIFY_CTX_add_flags(vctx, TS_VFY_SIGNATURE | TS_VFY_SIGNER);
		store = X509_STORE_new();
		X509_STORE_add_cert(store, ca_cert);
		TS_VERIFY_CTX_set_store(vctx, store);
		if (!q.cert_req) {
			certs = sk_X509_new_null();
			X509_up_ref(ec_cert);
			sk_X509_push(certs, ec_cert);
			TS_VERIFY_CTX_set_certs(vctx, certs);
		}
		if (TS_RESP_verify_response(vctx, resp) != 1)
			fail_msg("TS_RESP_verify_response rejects token %zu", i);

		tst = TS_RESP_get_tst_info(resp);
		assert_int_equal(TS_TST_INFO_get_version(tst), 1);
		OBJ_obj2txt(hex, sizeof(hex), TS_TST_INFO_get_policy_id(tst), 1);
		assert_string_equal(hex, q.policy ? q.policy : "2.999.1.2.1");
		assert_string_equal(rec.policy, hex);
		assert_string_equal((const char *)ASN1_STRING_get0_data(
		    TS_TST_INFO_get_time(tst)), "20261118110640.12Z");
		/* The record keeps genTime's fraction, as the token has it. */
		assert_string_equal(rec.gen_time, "2026-11-18T11:06:40.12Z");
		hex_of(fixed_serial, sizeof(fixed_serial), want);
		hex_of(ASN1_STRING_get0_data(TS_TST_INFO_get_serial(tst)),
		    (size_t)ASN1_STRING_length(TS_TST_INFO_get_serial(tst)), hex);
		assert_string_equal(hex, want);
		for (char *c = want; *c; c++)
			*c = (char)(*c >= 'a' ? *c - 32 : *c);
		assert_string_equal(rec.serial, want);
		assert_imprint_equal(TS_TST_INFO_get_msg_imprint(tst),
		    TS_REQ_get_msg_imprint(req));
		if (q.nonce != NULL)
			assert_int_equal(ASN1_INTEGER_cmp(TS_TST_INFO_get_nonce(tst),
			    TS_REQ_get_nonce(req)), 0);
		else {
			assert_null(TS_TST_INFO_get_nonce(tst));
			assert_string_equal(rec.nonce, "");
		}
		acc = TS_TST_INFO_get_accuracy(tst);
		assert_non_null(acc);
		assert_int_equal(ASN1_INTEGER_get(TS_ACCURACY_get_seconds(acc)), 1);
		assert_null(TS_ACCURACY_get_millis(acc));
		assert_int_equal(TS_TST_INFO_get_ordering(tst), 0);
		assert_null(TS_TST_INFO_get_tsa(tst));
		/* certReq: the TSA certificate and the CA's; else no field at all. */
		certs = TS_RESP_get_token(resp)->d.sign->cert;
		ncerts = certs != NULL ? sk_X509_num(certs) : 0;
		assert_int_equal(ncerts, q.cert_req ? 2 : 0);
		if (q.cert_req)
			assert_int_equal(X509_cmp(sk_X509_value(certs, 0), ec_cert), 0);
		assert_int_equal(rec.cert_req, q.cert_req);
		assert_int_equal(TS_STATUS_INFO_get0_text(TS_RESP_get_status_info(
		    resp)) == NULL, 1);

		TS_VERIFY_CTX_free(vctx);
		TS_REQ_free(req);
		TS_RESP_free(resp);
		OPENSSL_free(reply);
		OPENSSL_free(query);
	}
	tsa_responder_free(r);
}

/* tsa_token_gentime: X.690 §11.7 as TS_RESP_CTX applies it. */
static void
test_gentime(void **state)
{
	static const struct {
		long usec;
		unsigned int prec;
		const char *want;
	} v[] = {
		{ 0, 3, "20261118110640Z" }, { 999, 3, "20261118110640Z" },
		{ 1000, 3, "20261118110640.001Z" }, { 100000, 6, "20261118110640.1Z" },
		{ 123456, 6, "20261118110640.123456Z" }, { 123456, 0, "20261118110640Z" },
		{ 120000, 2, "20261118110640.12Z" }, { 999999, 1, "20261118110640.9Z" },
	};
	char out[TSA_GENTIME_MAX];
	time_t t = 1795000000;
	struct tm tm;
	size_t i, n;

	gmtime_r(&t, &tm);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = tsa_token_gentime(&tm, v[i].usec, v[i].prec, out);
		assert_int_equal(n, strlen(v[i].want));
		assert_memory_equal(out, v[i].want, n);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gentime),
		cmocka_unit_test(test_same_as_ts_resp_ctx),
		cmocka_unit_test(test_same_as_ts_resp_ctx_policies),
		cmocka_unit_test(test_rejections_unchanged),
		cmocka_unit_test(test_ec_verifies),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
