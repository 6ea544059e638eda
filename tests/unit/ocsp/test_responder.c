/*
 * ocspd's freshness rules, without a database or an HSM (software keys):
 *  - the pre-signing batch (sync.c ocsp_sync_sign): with nothing fresh
 *    enough to sign it does not ask to run again at once (a full batch due
 *    after a long outage spun the thread at 100 % CPU); an entry that fails
 *    to sign does not keep the entries after it unsigned; a failing signer
 *    ends the batch after OCSP_SIGN_MAX_FAILS attempts;
 *  - thisUpdate is never before the revocationTime it reports, live or
 *    pre-signed, when the status is newer than the last read's time;
 *  - the never-issued bound counts responses, not serials;
 *  - the HTTP max-age of an answer: the policy's, never past nextUpdate,
 *    short for never-issued serials, with Expires saying the same;
 *  - a CertID whose hashAlgorithm has no parameters (RFC 5754 §2) is
 *    answered live with that very CertID, not from the cache with ours;
 *  - /health's figures are counted once per second, however often asked,
 *    and a count in progress does not hold the other askers;
 *  - certificates expired more than ocsp.expired_grace_seconds ago leave
 *    the cache (and the pre-signing) at a full pass; a request for one is
 *    answered with the database's status (a fake lookup here), never as
 *    never issued, tryLater when the database cannot say; within the
 *    grace an expired revoked certificate is still answered from the
 *    cache;
 *  - a SHA-2 CertID response is refreshed while it is asked for within a
 *    refresh period only, then dropped (a client asking once for every
 *    serial made three more signatures per certificate permanent);
 *  - conditional GETs (RFC 9110 §13): If-None-Match lists, weak
 *    comparison and "*", strictly parsed; HTTP-dates in their three forms,
 *    nothing else (lib/http, for crld); If-Modified-Since ignored, however
 *    late, through ocspd's real HTTP handler: a "good" and a "revoked"
 *    answer dated the same second share a Last-Modified, never an ETag;
 *  - the CertIDs of a request missing from the cache cost one database
 *    round trip, and a loop that defers lookups gets them named for the
 *    lookup thread and goes on from its answer (tryLater, or signed); a notification's payload names a serial the next poll
 *    reads again, and any other payload is ignored; the connections'
 *    timeouts ride in their conninfo;
 *  - /health: degraded when the last read is old though the database
 *    was fine, when lookups keep failing, and before a responder
 *    certificate expires;
 *    serving_until from the SHA-1 answers of issued certificates;
 *  - nextUpdate never past the responder certificate's notAfter, and
 *    nothing signed once it has passed; nothing signed in an outage once
 *    the last read is a validity old, while the cache still serves;
 *  - GET paths through the handler: "//" + base64, and urls.ocsp's path
 *    ("/ocsp/" + base64), answered as "/" + base64;
 *  - nonces of 1 to 128 octets echoed (RFC 9654 §2.1), 0 and 129
 *    malformedRequest, all ignored with nonce = ignore; a nonce of raw
 *    octets (no OCTET STRING) answered from the cache unless critical.
 *
 * ocsp_sync_sign and ocspd_handle are static: the sources, main.c with
 * its main() renamed, are included rather than linked, so the generic
 * tests/unit rule builds this program (no ocspd rule in the Makefile),
 * and every non-static function is the real one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "lib/config.h"
#include "lib/log.h"

#include "ocsp/budget.c"
#include "ocsp/cache.c"
#include "ocsp/request.c"
#include "ocsp/respond.c"
#include "ocsp/sync.c"
/* ocspd_handle, the HTTP handler, and its helpers; not its main(). */
int	ocspd_main(int, char **);
#define main ocspd_main
#include "ocsp/main.c"
#undef main

#define GOOD_ISSUER	0
#define BROKEN_ISSUER	1	/* no responder key: every signature fails */

static struct ocsp_responder r;
static struct ocsp_sync sy;
static struct ocspd_loop tloop;

static X509 *
make_cert(EVP_PKEY *key, const char *cn)
{
	X509 *x = X509_new();

	assert_non_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

static void
make_issuer(struct ocsp_issuer *iss, const char *name, int broken)
{
	iss->key = EVP_EC_gen("P-256");
	assert_non_null(iss->key);
	iss->cert = make_cert(iss->key, name);
	iss->rcert = make_cert(iss->key, "responder");
	snprintf(iss->name, sizeof(iss->name), "%s", name);
	assert_int_equal(ocsp_issuer_prepare(iss, "SHA256"), 0);
	if (broken) {
		EVP_PKEY_free(iss->key);
		iss->key = NULL;
	}
}

/* A fresh responder: two issuers, the default policy, an empty cache. */
static int
setup(void **state)
{
	struct config *policy;
	char err[256];

	memset(&r, 0, sizeof(r));
	memset(&sy, 0, sizeof(sy));
	policy = config_load(NULL, err, sizeof(err));
	assert_non_null(policy);
	assert_int_equal(ocsp_policy_load(policy, &r.pol, err, sizeof(err)), 0);
	config_free(policy);
	make_issuer(&r.iss[GOOD_ISSUER], "good", 0);
	make_issuer(&r.iss[BROKEN_ISSUER], "broken", 1);
	r.niss = 2;
	r.cache = ocsp_cache_new();
	assert_non_null(r.cache);
	r.synced_at = time(NULL);
	sy.r = &r;
	return 0;
}

static int
teardown(void **state)
{
	int i;

	ocsp_cache_free(r.cache);
	ocsp_budget_free(r.budget);
	for (i = 0; i < r.niss; i++)
		ocsp_issuer_clear(&r.iss[i]);
	log_init("test", LOGL_ERR, NULL);
	return 0;
}

static void
add_good(int issuer, int i)
{
	struct ocsp_status st;
	char serial[32];

	memset(&st, 0, sizeof(st));
	st.reason = -1;
	snprintf(serial, sizeof(serial), "%X", 0x1000 + i);
	assert_int_equal(ocsp_cache_set_status(r.cache, issuer, serial, &st), 1);
}

static int
presigned(int issuer, int i)
{
	struct ocsp_status st;
	struct ocsp_blob *b = NULL;
	char serial[32];
	int rc;

	snprintf(serial, sizeof(serial), "%X", 0x1000 + i);
	rc = ocsp_cache_lookup(r.cache, issuer, serial, OCSP_HASH_SHA1,
	    time(NULL), &st, &b);
	ocsp_blob_unref(b);
	return rc == OCSP_CACHE_HIT;
}

/* Lines of a log file (one per failed signature: log_openssl). */
static int
count_lines(FILE *f)
{
	int c, n = 0;

	rewind(f);
	while ((c = fgetc(f)) != EOF)
		if (c == '\n')
			n++;
	return n;
}

/*
 * A full batch due while what we know is too old to sign (hashes asked
 * for during a long database outage): the thread must wait, not loop.
 */
static void
test_stale_full_batch_waits(void **state)
{
	int i, more = -1;

	for (i = 0; i < OCSP_SIGN_BATCH + 44; i++)
		add_good(GOOD_ISSUER, i);
	r.synced_at = time(NULL) - r.pol.validity - 1;
	assert_int_equal(ocsp_sync_sign(&sy, &more), 0);
	assert_int_equal(more, 0);
	/* Fresh again: a full batch is signed and more is asked for. */
	r.synced_at = time(NULL);
	assert_int_equal(ocsp_sync_sign(&sy, &more), OCSP_SIGN_BATCH);
	assert_int_equal(more, 1);
}

/* Entries that fail to sign do not keep the rest of the batch unsigned. */
static void
test_failure_skips_one_entry(void **state)
{
	FILE *log = tmpfile();
	int i, more = -1;

	assert_non_null(log);
	log_init("test", LOGL_ERR, log);
	for (i = 0; i < 40; i++)
		add_good(GOOD_ISSUER, i);
	for (i = 0; i < 3; i++)
		add_good(BROKEN_ISSUER, 100 + i);
	assert_int_equal(ocsp_sync_sign(&sy, &more), 40);
	assert_int_equal(more, 0);
	for (i = 0; i < 40; i++)
		assert_true(presigned(GOOD_ISSUER, i));
	for (i = 0; i < 3; i++)
		assert_false(presigned(BROKEN_ISSUER, 100 + i));
	assert_int_equal(count_lines(log), 3);
	log_init("test", LOGL_ERR, NULL);
	fclose(log);
}

/*
 * A cache larger than one call's walk (OCSP_DUE_BUDGET buckets): the
 * entries due are found over successive calls, each once per pass, and a
 * pass takes a bounded number of calls; most calls stop before the end.
 */
static void
test_due_walk_bounded(void **state)
{
	static struct ocsp_due due[256];
	struct ocsp_status st;
	struct ocsp_blob *b;
	unsigned char der[8] = { 0x30, 0x06 };
	time_t now = time(NULL);
	char serial[32];
	long i, total = 3 * OCSP_DUE_BUDGET;
	size_t n, found[3] = { 0, 0, 0 };
	int calls, k, j, short_calls = 0;

	memset(&st, 0, sizeof(st));
	st.reason = -1;
	for (i = 0; i < total; i++) {
		snprintf(serial, sizeof(serial), "%lX", 0x100000 + i);
		assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER,
		    serial, &st), 1);
		/* Three left unsigned: due. */
		if (i == 5 || i == total / 2 || i == total - 3)
			continue;
		b = ocsp_blob_new(der, sizeof(der), now, now + 86400, 3600);
		assert_non_null(b);
		assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, serial,
		    OCSP_HASH_SHA1, &st, b, 100), 0);
		ocsp_blob_unref(b);
	}
	/* Two passes: a pass needs at most (buckets / budget) + 1 calls. */
	for (calls = 0; calls < 2 * 16; calls++) {
		n = ocsp_cache_due(r.cache, now - 3600, now - 3600, now, due,
		    256);
		for (k = 0; k < (int)n; k++) {
			assert_int_equal(due[k].hash, OCSP_HASH_SHA1);
			for (j = 0; j < 3; j++) {
				i = j == 0 ? 5 : j == 1 ? total / 2 : total - 3;
				snprintf(serial, sizeof(serial), "%lX",
				    0x100000 + i);
				if (strcmp(due[k].serial, serial) == 0)
					found[j]++;
			}
		}
		if (n == 0)
			short_calls++;
	}
	/*
	 * Each found once per pass, at least twice in all; a walk of the
	 * whole cache per call would have found each in every call.
	 */
	for (j = 0; j < 3; j++) {
		assert_true(found[j] >= 2);
		assert_true(found[j] < (size_t)calls);
	}
	assert_true(short_calls > 0);
}

/* A signer that fails every time: a few attempts, then wait. */
static void
test_failing_signer_bounded(void **state)
{
	FILE *log = tmpfile();
	int i, more = -1;

	assert_non_null(log);
	log_init("test", LOGL_ERR, log);
	for (i = 0; i < OCSP_SIGN_BATCH + 44; i++)
		add_good(BROKEN_ISSUER, i);
	assert_int_equal(ocsp_sync_sign(&sy, &more), 0);
	assert_int_equal(more, 0);
	assert_int_equal(count_lines(log), OCSP_SIGN_MAX_FAILS);
	log_init("test", LOGL_ERR, NULL);
	fclose(log);
}

/*
 * The CertID OpenSSL makes for serial of the good issuer, its hashAlgorithm
 * with NULL parameters, or with none when absent (RFC 5754 §2): the NULL
 * (05 00) after the OID taken out, and the two lengths around it fixed
 * (short form: a CertID of a short serial is under 128 octets).
 */
static OCSP_CERTID *
make_certid(const char *serial, const EVP_MD *md, int absent)
{
	OCSP_CERTID *cid;
	ASN1_INTEGER *ai = NULL;
	BIGNUM *bn = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	int n, at;

	assert_true(BN_hex2bn(&bn, serial) > 0);
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	cid = OCSP_cert_id_new(md,
	    X509_get_subject_name(r.iss[GOOD_ISSUER].cert),
	    X509_get0_pubkey_bitstr(r.iss[GOOD_ISSUER].cert), ai);
	assert_non_null(cid);
	BN_free(bn);
	ASN1_INTEGER_free(ai);
	if (!absent)
		return cid;
	n = i2d_OCSP_CERTID(cid, &der);
	OCSP_CERTID_free(cid);
	/* 30 L1 30 L2 06 Lo <oid> 05 00 ... */
	assert_true(n > 0 && n < 128 && der[0] == 0x30 && der[2] == 0x30 &&
	    der[4] == 0x06);
	at = 6 + der[5];
	assert_true(der[at] == 0x05 && der[at + 1] == 0x00);
	memmove(der + at, der + at + 2, (size_t)(n - at - 2));
	der[1] -= 2;
	der[3] -= 2;
	p = der;
	cid = d2i_OCSP_CERTID(NULL, &p, n - 2);
	assert_non_null(cid);
	OPENSSL_free(der);
	return cid;
}

/* A DER OCSPRequest for the CertID cid (taken). */
static unsigned char *
make_request_of(OCSP_CERTID *cid, size_t *len)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char *der = NULL;
	int n;

	assert_non_null(req);
	assert_non_null(OCSP_request_add0_id(req, cid));
	n = i2d_OCSP_REQUEST(req, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	OCSP_REQUEST_free(req);
	return der;
}

/* A DER OCSPRequest for serial of the good issuer (SHA-1 CertID). */
static unsigned char *
make_request(const char *serial, size_t *len)
{
	return make_request_of(make_certid(serial, EVP_sha1(), 0), len);
}

/* Flips a bit of a response's signature. */
static void
sig_flip(OCSP_BASICRESP *bs)
{
	ASN1_BIT_STRING *sig = (ASN1_BIT_STRING *)OCSP_resp_get0_signature(bs);

	assert_true(ASN1_STRING_length(sig) > 8);
	((unsigned char *)ASN1_STRING_get0_data(sig))[8] ^= 0x01;
}

/*
 * ocsp_sign's hand-made frame against OpenSSL's: for the same statuses,
 * OCSP_basic_sign (the way ocspd signed until 2026-12-06) must write the
 * same ResponseData, signatureAlgorithm and certs, and our signature must
 * verify with the responder certificate. producedAt is the second of
 * signing: tried again when the two fall in different seconds.
 */
static void
assert_signed_as_openssl(const struct ocsp_single *s, int n,
    OCSP_REQUEST *req)
{
	struct ocsp_issuer *iss = &r.iss[GOOD_ISSUER];
	time_t now = time(NULL);
	OCSP_BASICRESP *ref = NULL, *ours;
	OCSP_RESPONSE *resp;
	STACK_OF(X509) *certs;
	X509_STORE *store;
	unsigned char *der = NULL, *a = NULL, *b = NULL;
	const unsigned char *p;
	size_t len;
	int alen, blen, tries;

	for (tries = 0; tries < 3; tries++) {
		OCSP_BASICRESP_free(ref);
		OPENSSL_free(der);
		assert_int_equal(ocsp_singles_make(iss, &r.pol, s, n, req, now,
		    r.pol.validity, &ref), 0);
		assert_int_equal(OCSP_basic_sign(ref, iss->rcert, iss->key,
		    EVP_sha256(), NULL, OCSP_RESPID_KEY), 1);
		assert_int_equal(ocsp_sign(&r, GOOD_ISSUER, s, n, req, now,
		    r.pol.validity, &der, &len), 0);
		p = der;
		resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
		assert_non_null(resp);
		assert_ptr_equal(p, der + len);
		assert_int_equal(OCSP_response_status(resp),
		    OCSP_RESPONSE_STATUS_SUCCESSFUL);
		ours = OCSP_response_get1_basic(resp);
		assert_non_null(ours);
		alen = i2d_OCSP_RESPDATA(OCSP_resp_get0_respdata(ref), &a);
		blen = i2d_OCSP_RESPDATA(OCSP_resp_get0_respdata(ours), &b);
		if (alen == blen && memcmp(a, b, (size_t)alen) == 0)
			break;
		OCSP_BASICRESP_free(ours);
		OCSP_RESPONSE_free(resp);
		OPENSSL_free(a);
		OPENSSL_free(b);
		a = b = NULL;
	}
	assert_true(tries < 3);
	/* The same signatureAlgorithm and certificates. */
	OPENSSL_free(a);
	OPENSSL_free(b);
	a = b = NULL;
	alen = i2d_X509_ALGOR(OCSP_resp_get0_tbs_sigalg(ref), &a);
	blen = i2d_X509_ALGOR(OCSP_resp_get0_tbs_sigalg(ours), &b);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, (size_t)alen);
	certs = (STACK_OF(X509) *)OCSP_resp_get0_certs(ours);
	assert_int_equal(sk_X509_num(certs), 1);
	assert_int_equal(X509_cmp(sk_X509_value(certs, 0), iss->rcert), 0);
	/*
	 * It verifies: the signature is the responder key's, over that
	 * (the certificate's chain is not what is tested here).
	 */
	store = X509_STORE_new();
	assert_non_null(store);
	assert_int_equal(OCSP_basic_verify(ours, NULL, store, OCSP_NOVERIFY),
	    1);
	/* A changed signature does not. */
	sig_flip(ours);
	assert_int_equal(OCSP_basic_verify(ours, NULL, store, OCSP_NOVERIFY),
	    0);
	/* And the whole of it is DER OpenSSL writes back unchanged. */
	OPENSSL_free(a);
	a = NULL;
	alen = i2d_OCSP_RESPONSE(resp, &a);
	assert_int_equal(alen, (int)len);
	assert_memory_equal(a, der, len);
	X509_STORE_free(store);
	OPENSSL_free(a);
	OPENSSL_free(b);
	OPENSSL_free(der);
	OCSP_BASICRESP_free(ours);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(ref);
}

static void
test_signed_as_openssl(void **state)
{
	struct ocsp_single s[3];
	OCSP_REQUEST *req;
	OCSP_CERTID *cid;
	unsigned char nonce[16] = "0123456789abcdef";

	memset(s, 0, sizeof(s));
	/* good, from issuer and serial (a pre-signed response) */
	s[0].hash = OCSP_HASH_SHA1;
	s[0].serial = "0A1B2C3D4E5F60718293";
	s[0].st.reason = -1;
	assert_signed_as_openssl(s, 1, NULL);
	/* revoked with a reason and an invalidity date */
	s[0].st.state = OCSP_STATE_REVOKED;
	s[0].st.reason = 1;
	s[0].st.revoked_at = 1700000000;
	s[0].st.invalidity = 1690000000;
	assert_signed_as_openssl(s, 1, NULL);
	/* never issued: certificateHold and the extended revoked extension */
	s[0].st.state = OCSP_STATE_NONISSUED;
	s[0].st.invalidity = 0;
	assert_signed_as_openssl(s, 1, NULL);
	/* three CertIDs of a request, a nonce echoed */
	req = OCSP_REQUEST_new();
	assert_non_null(req);
	cid = make_certid("01", EVP_sha256(), 0);
	assert_non_null(OCSP_request_add0_id(req, cid));
	assert_int_equal(OCSP_request_add1_nonce(req, nonce, sizeof(nonce)), 1);
	s[0].cid = cid;
	s[0].st.state = OCSP_STATE_GOOD;
	s[0].st.reason = -1;
	s[1] = s[0];
	s[1].st.state = OCSP_STATE_REVOKED;
	s[1].st.reason = 9;
	s[1].st.revoked_at = 1750000000;
	s[2] = s[0];
	s[2].st.state = OCSP_STATE_NONISSUED;
	assert_signed_as_openssl(s, 3, req);
	OCSP_REQUEST_free(req);
}

/* thisUpdate - revocationTime of a one-response DER, in seconds. */
static long
this_update_after_revocation(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	OCSP_SINGLERESP *single;
	ASN1_GENERALIZEDTIME *rev = NULL, *thisupd = NULL, *nextupd = NULL;
	int reason, status, day, sec;

	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	assert_non_null(resp);
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	single = OCSP_resp_get0(bs, 0);
	assert_non_null(single);
	status = OCSP_single_get0_status(single, &reason, &rev, &thisupd,
	    &nextupd);
	assert_int_equal(status, V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(ASN1_TIME_diff(&day, &sec, rev, thisupd), 1);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return (long)day * 86400 + sec;
}

/*
 * The maintenance thread applies a read's statuses before it publishes
 * the read's time: an answer may see a revocation newer than synced_at.
 */
static void
test_this_update_not_before_revocation(void **state)
{
	struct ocsp_status st;
	struct ocsp_blob *blob = NULL;
	const unsigned char *der = NULL;
	unsigned char *req;
	size_t reqlen, derlen;
	time_t now = time(NULL);
	int owned = 0, cacheable = 0, more;

	r.synced_at = now - 100;
	memset(&st, 0, sizeof(st));
	st.state = OCSP_STATE_REVOKED;
	st.reason = 1;
	st.revoked_at = now - 10;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "2A",
	    &st), 1);
	/* Signed for the request (and kept). */
	req = make_request("2A", &reqlen);
	assert_int_equal(ocsp_answer(&r, req, reqlen, &der, &derlen, &blob,
	    &owned, &cacheable), 0);
	assert_non_null(blob);
	assert_true(this_update_after_revocation(der, derlen) >= 0);
	assert_true(blob->this_update >= st.revoked_at);
	ocsp_blob_unref(blob);
	blob = NULL;
	/* Pre-signed by the maintenance thread. */
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "2B",
	    &st), 1);
	assert_int_equal(ocsp_sync_sign(&sy, &more), 1);
	OPENSSL_free(req);
	req = make_request("2B", &reqlen);
	assert_int_equal(ocsp_answer(&r, req, reqlen, &der, &derlen, &blob,
	    &owned, &cacheable), 0);
	assert_non_null(blob);
	assert_true(this_update_after_revocation(der, derlen) >= 0);
	ocsp_blob_unref(blob);
	/* A database clock far ahead is followed OCSP_CLOCK_SKEW_S at most. */
	st.revoked_at = now + 3600;
	assert_true(ocsp_this_update(now - 100, &(struct ocsp_single){ .st = st },
	    1, now) == (int64_t)now + OCSP_CLOCK_SKEW_S);
	OPENSSL_free(req);
}

/* max_nonissued bounds never-issued responses, whatever their serials. */
static void
test_nonissued_bound_counts_responses(void **state)
{
	static const unsigned char der[] = { 0x30, 0x03, 0x0a, 0x01, 0x00 };
	struct ocsp_status st, good;
	struct ocsp_cache_stats cs;
	struct ocsp_blob *b;
	time_t now = time(NULL);
	int h;

	memset(&st, 0, sizeof(st));
	st.state = OCSP_STATE_NONISSUED;
	st.reason = -1;
	b = ocsp_blob_new(der, sizeof(der), now, now + 3600, 10);
	assert_non_null(b);
	for (h = 0; h < OCSP_NHASH; h++)
		assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "A", h, &st,
		    b, OCSP_NHASH), 0);
	/* Replacing one is no new response. */
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "A", 0, &st, b,
	    OCSP_NHASH), 0);
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "B", 0, &st, b,
	    OCSP_NHASH), 1);
	ocsp_cache_stats(r.cache, 0, now, &cs);
	assert_int_equal(cs.nonissued, 1);
	assert_int_equal(cs.blobs, OCSP_NHASH);
	/* "A" issued after all: its four never-issued responses are gone. */
	memset(&good, 0, sizeof(good));
	good.reason = -1;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "A",
	    &good), 1);
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "B", 0, &st, b,
	    OCSP_NHASH), 0);
	ocsp_blob_unref(b);
}

static void
test_max_age(void **state)
{
	static const unsigned char der[] = { 0x30, 0x03, 0x0a, 0x01, 0x00 };
	struct ocsp_status st;
	struct ocsp_blob *b, *blob = NULL;
	struct config *policy;
	struct ocsp_policy pol;
	const unsigned char *out = NULL;
	unsigned char *req;
	char expires[32], want[32], err[256];
	FILE *log = tmpfile();
	size_t reqlen, outlen;
	time_t now = time(NULL);
	int owned = 0, cacheable = 0;

	assert_non_null(log);
	/* Defaults: an hour, ten seconds for a serial never issued. */
	assert_int_equal(r.pol.max_age, 3600);
	assert_int_equal(r.pol.nonissued_max_age, 10);
	b = ocsp_blob_new(der, sizeof(der), now, now + 4 * 86400, 3600);
	assert_non_null(b);
	assert_int_equal(ocsp_blob_max_age(b, now, expires, sizeof(expires)),
	    3600);
	ocsp_http_date((int64_t)now + 3600, want, sizeof(want));
	assert_string_equal(expires, want);
	/* Never past nextUpdate, never negative. */
	b->next_update = now + 100;
	assert_int_equal(ocsp_blob_max_age(b, now, expires, sizeof(expires)),
	    100);
	b->next_update = now - 5;
	assert_int_equal(ocsp_blob_max_age(b, now, expires, sizeof(expires)), 0);
	ocsp_http_date((int64_t)now, want, sizeof(want));
	assert_string_equal(expires, want);
	ocsp_blob_unref(b);

	/* The answers carry their status's bound. */
	req = make_request("7E57", &reqlen);
	assert_int_equal(ocsp_answer(&r, req, reqlen, &out, &outlen, &blob,
	    &owned, &cacheable), 0);
	assert_non_null(blob);
	assert_int_equal(blob->max_age, 10);
	ocsp_blob_unref(blob);
	blob = NULL;
	OPENSSL_free(req);
	memset(&st, 0, sizeof(st));
	st.reason = -1;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "7E58",
	    &st), 1);
	req = make_request("7E58", &reqlen);
	assert_int_equal(ocsp_answer(&r, req, reqlen, &out, &outlen, &blob,
	    &owned, &cacheable), 0);
	assert_non_null(blob);
	assert_int_equal(blob->max_age, 3600);
	ocsp_blob_unref(blob);
	OPENSSL_free(req);

	/* The default follows a shorter refresh period; longer is refused. */
	setenv("PKI_OCSP_REFRESH_SECONDS", "600", 1);
	policy = config_load(NULL, err, sizeof(err));
	assert_non_null(policy);
	assert_int_equal(ocsp_policy_load(policy, &pol, err, sizeof(err)), 0);
	assert_int_equal(pol.max_age, 600);
	setenv("PKI_OCSP_MAX_AGE_SECONDS", "601", 1);
	log_init("test", LOGL_ERR, log);	/* config_get_long says why */
	assert_int_equal(ocsp_policy_load(policy, &pol, err, sizeof(err)), -1);
	log_init("test", LOGL_ERR, NULL);
	assert_non_null(strstr(err, "ocsp.max_age_seconds"));
	assert_int_equal(count_lines(log), 1);
	fclose(log);
	setenv("PKI_OCSP_MAX_AGE_SECONDS", "0", 1);
	assert_int_equal(ocsp_policy_load(policy, &pol, err, sizeof(err)), 0);
	assert_int_equal(pol.max_age, 0);
	unsetenv("PKI_OCSP_REFRESH_SECONDS");
	unsetenv("PKI_OCSP_MAX_AGE_SECONDS");
	config_free(policy);
}

/* The CertID of the one SingleResponse of a response, in DER. */
static int
response_certid(const unsigned char *der, size_t len, unsigned char **out)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	OCSP_SINGLERESP *single;
	int n, reason;

	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	assert_non_null(resp);
	assert_int_equal(OCSP_response_status(resp),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	assert_int_equal(OCSP_resp_count(bs), 1);
	single = OCSP_resp_get0(bs, 0);
	assert_int_equal(OCSP_single_get0_status(single, &reason, NULL, NULL,
	    NULL), V_OCSP_CERTSTATUS_GOOD);
	*out = NULL;
	n = i2d_OCSP_CERTID(OCSP_SINGLERESP_get0_id(single), out);
	assert_true(n > 0);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return n;
}

/*
 * RFC 5754 §2: a SHA-2 AlgorithmIdentifier may leave its parameters out.
 * Such a CertID is echoed as sent (signed live, not kept), since a client
 * that compares CertIDs by their encoding (BouncyCastle) would find no
 * answer in a pre-signed response, whose CertID carries NULL parameters.
 * NULL parameters, as OpenSSL and Java send them, stay on the cache.
 */
static void
test_certid_absent_params_echoed(void **state)
{
	const EVP_MD *mds[2] = { EVP_sha1(), EVP_sha256() };
	struct ocsp_status st;
	struct ocsp_blob *blob;
	const unsigned char *out;
	unsigned char *req, *want, *got, *ber;
	size_t reqlen, outlen;
	uint64_t live;
	int i, absent, owned, cacheable, wantlen, gotlen, more;

	memset(&st, 0, sizeof(st));
	st.reason = -1;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "7E59",
	    &st), 1);
	assert_int_equal(ocsp_sync_sign(&sy, &more), 1);	/* SHA-1 */
	for (i = 0; i < 2; i++) {
		for (absent = 0; absent <= 1; absent++) {
			OCSP_CERTID *cid = make_certid("7E59", mds[i], absent);

			want = NULL;
			wantlen = i2d_OCSP_CERTID(cid, &want);
			assert_true(wantlen > 0);
			req = make_request_of(cid, &reqlen);
			live = r.signed_live;
			blob = NULL;
			owned = cacheable = -1;
			assert_int_equal(ocsp_answer(&r, req, reqlen, &out,
			    &outlen, &blob, &owned, &cacheable), 0);
			gotlen = response_certid(out, outlen, &got);
			/* The CertID asked about, byte for byte. */
			assert_int_equal(gotlen, wantlen);
			assert_memory_equal(got, want, (size_t)wantlen);
			if (absent) {
				/* Signed for this request, kept nowhere. */
				assert_null(blob);
				assert_int_equal(owned, 1);
				assert_int_equal(cacheable, 0);
				assert_true(r.signed_live == live + 1);
				OPENSSL_free((unsigned char *)out);
			} else {
				assert_non_null(blob);
				assert_int_equal(owned, 0);
				assert_int_equal(cacheable, 1);
				ocsp_blob_unref(blob);
			}
			OPENSSL_free(got);
			OPENSSL_free(want);
			OPENSSL_free(req);
		}
	}
	/* SHA-1 with NULL parameters came from the pre-signing, unsigned now. */
	req = make_request("7E59", &reqlen);
	live = r.signed_live;
	assert_int_equal(ocsp_answer(&r, req, reqlen, &out, &outlen, &blob,
	    &owned, &cacheable), 0);
	assert_non_null(blob);
	assert_true(r.signed_live == live);
	ocsp_blob_unref(blob);
	/*
	 * The same request in BER (an indefinite length outside, which d2i
	 * takes): its bytes are not walked for the parameters, so live.
	 */
	assert_true(reqlen < 128 && req[0] == 0x30);
	ber = malloc(reqlen + 2);
	assert_non_null(ber);
	ber[0] = 0x30;
	ber[1] = 0x80;
	memcpy(ber + 2, req + 2, reqlen - 2);
	ber[reqlen] = ber[reqlen + 1] = 0;
	blob = NULL;
	assert_int_equal(ocsp_answer(&r, ber, reqlen + 2, &out, &outlen, &blob,
	    &owned, &cacheable), 0);
	assert_null(blob);
	assert_int_equal(owned, 1);
	assert_true(response_certid(out, outlen, &got) > 0);
	OPENSSL_free((unsigned char *)out);
	OPENSSL_free(got);
	free(ber);
	OPENSSL_free(req);
}

/*
 * The answer to req with its first CertID's hashAlgorithm parameters (a
 * NULL, "05 00") replaced by the two octets params; with ber, the
 * request's outer SEQUENCE has an indefinite length (not walked for the
 * parameters: encoded again instead). The answer's DER in *out, NULL
 * when it came from the cache; returns 1 when *out is the caller's to
 * free (signed live), 0 otherwise.
 */
static int
answer_with_params(const unsigned char *req, size_t reqlen,
    const unsigned char params[2], int ber, const unsigned char **out,
    size_t *outlen)
{
	static const unsigned char null_params[2] = { 0x05, 0x00 };
	struct ocsp_blob *blob = NULL;
	unsigned char *q;
	size_t i, qlen = reqlen + (ber ? 2 : 0);
	int owned = -1, cacheable = -1, found = 0;

	assert_true(reqlen < 128 && req[0] == 0x30 && req[1] == reqlen - 2);
	q = malloc(qlen);
	assert_non_null(q);
	if (ber) {
		q[0] = 0x30;
		q[1] = 0x80;
		memcpy(q + 2, req + 2, reqlen - 2);
		q[reqlen] = q[reqlen + 1] = 0;
	} else
		memcpy(q, req, reqlen);
	/* 06 Lo <oid> 05 00: the first NULL after the hash's OID. */
	for (i = 0; i + 2 <= qlen && !found; i++) {
		if (q[i] == 0x06 && i + 2 + q[i + 1] + 2 <= qlen &&
		    memcmp(q + i + 2 + q[i + 1], null_params, 2) == 0) {
			memcpy(q + i + 2 + q[i + 1], params, 2);
			found = 1;
		}
	}
	assert_true(found);
	assert_int_equal(ocsp_answer(&r, q, qlen, out, outlen, &blob, &owned,
	    &cacheable), 0);
	if (blob != NULL) {
		*out = NULL;
		*outlen = 0;
		ocsp_blob_unref(blob);
	}
	free(q);
	return owned == 1;
}

/*
 * RFC 3370 §2.1, RFC 5754 §2: SHA-1 and SHA-2 parameters are NULL or
 * absent. Other parameters make the CertID malformed: malformedRequest,
 * whether the request is walked (DER) or not (BER). Until 2026-12-06 they
 * were signed live, and "20 00" (which d2i takes but OpenSSL cannot read
 * back when it copies the CertID into the answer) got internalError.
 * A hash we do not match stays unauthorized whatever its parameters.
 */
static void
test_certid_bad_params_malformed(void **state)
{
	static const unsigned char bad[][2] = {
		{ 0x20, 0x00 }, { 0x30, 0x00 }, { 0x04, 0x00 }, { 0x31, 0x00 }
	};
	static const unsigned char null_params[2] = { 0x05, 0x00 };
	const EVP_MD *mds[2] = { EVP_sha1(), EVP_sha256() };
	const unsigned char *out;
	unsigned char *req;
	size_t reqlen, outlen;
	struct ocsp_status st;
	int i, j, ber, more;

	memset(&st, 0, sizeof(st));
	st.reason = -1;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "7E59",
	    &st), 1);
	assert_int_equal(ocsp_sync_sign(&sy, &more), 1);
	for (i = 0; i < 2; i++) {
		req = make_request_of(make_certid("7E59", mds[i], 0), &reqlen);
		for (ber = 0; ber <= 1; ber++) {
			for (j = 0; j < (int)(sizeof(bad) / sizeof(bad[0]));
			    j++) {
				answer_with_params(req, reqlen, bad[j], ber,
				    &out, &outlen);
				assert_int_equal(outlen,
				    sizeof(ocsp_malformed_der));
				assert_memory_equal(out, ocsp_malformed_der,
				    sizeof(ocsp_malformed_der));
			}
			/* NULL parameters, the same way: answered. */
			if (answer_with_params(req, reqlen, null_params, ber,
			    &out, &outlen))
				OPENSSL_free((unsigned char *)out);
			else
				assert_null(out);	/* the cache's */
		}
		OPENSSL_free(req);
	}
	/* MD5 (not matched): unauthorized, bad parameters or not. */
	req = make_request_of(make_certid("7E59", EVP_md5(), 0), &reqlen);
	answer_with_params(req, reqlen, bad[0], 0, &out, &outlen);
	assert_int_equal(outlen, sizeof(ocsp_unauthorized_der));
	assert_memory_equal(out, ocsp_unauthorized_der,
	    sizeof(ocsp_unauthorized_der));
	OPENSSL_free(req);
}

/* One ocsp_cache_stats call, made on another thread. */
struct stats_call {
	time_t			 now;
	struct ocsp_cache_stats	 cs;
};

static void *
stats_thread(void *arg)
{
	struct stats_call *sc = arg;

	ocsp_cache_stats(r.cache, 0, sc->now, &sc->cs);
	return NULL;
}

/*
 * GET /health is unauthenticated: counting the cache (every entry, under
 * each shard lock in turn) happens once per second at most, and one HTTP
 * thread counting does not hold the others.
 */
static void
test_stats_counted_once_per_second(void **state)
{
	struct ocsp_cache_stats cs;
	struct stats_call sc;
	pthread_t t;
	time_t now = time(NULL);
	int i, busy;

	add_good(GOOD_ISSUER, 0);
	ocsp_cache_stats(r.cache, 0, now, &cs);
	assert_int_equal(cs.entries, 1);
	assert_int_equal(cs.unsigned_entries, 1);
	/* The same second: the same figures, however the cache changed. */
	add_good(GOOD_ISSUER, 1);
	for (i = 0; i < 1000; i++) {
		ocsp_cache_stats(r.cache, 0, now, &cs);
		assert_int_equal(cs.entries, 1);
	}
	/* The next second: counted again. */
	ocsp_cache_stats(r.cache, 0, now + 1, &cs);
	assert_int_equal(cs.entries, 2);
	/* A clock set back counts again too. */
	add_good(GOOD_ISSUER, 2);
	ocsp_cache_stats(r.cache, 0, now, &cs);
	assert_int_equal(cs.entries, 3);
	ocsp_cache_stats(r.cache, 0, now + 4, &cs);
	assert_int_equal(cs.entries, 3);

	/*
	 * A count in progress (held on the first shard's lock, where it
	 * starts) while another thread asks a second later: that one gets
	 * the figures of the second before at once. If it waited instead,
	 * alarm() ends the test.
	 */
	add_good(GOOD_ISSUER, 3);
	pthread_mutex_lock(&r.cache->shard[0].mtx);
	sc.now = now + 5;
	assert_int_equal(pthread_create(&t, NULL, stats_thread, &sc), 0);
	for (busy = 0, i = 0; i < 10000 && !busy; i++) {
		if (pthread_mutex_trylock(&r.cache->count_mtx) == EBUSY)
			busy = 1;
		else {
			pthread_mutex_unlock(&r.cache->count_mtx);
			usleep(1000);
		}
	}
	assert_true(busy);
	alarm(10);
	ocsp_cache_stats(r.cache, 0, now + 5, &cs);
	alarm(0);
	assert_int_equal(cs.entries, 3);
	pthread_mutex_unlock(&r.cache->shard[0].mtx);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(sc.cs.entries, 4);
	/* What that count found is what the second gets. */
	ocsp_cache_stats(r.cache, 0, now + 5, &cs);
	assert_int_equal(cs.entries, 4);
}

/* 2001-09-09T01:46:40Z */
#define T9	1000000000

/* RFC 9110 §5.6.7: the three forms, exactly; nothing else. */
static void
test_http_date(void **state)
{
	static const char *const bad[] = {
		"",
		"Sun, 09 Sep 2001 01:46:40 UTC",
		"Sun, 09 Sep 2001 01:46:40 GMT ",
		" Sun, 09 Sep 2001 01:46:40 GMT",
		"Sun,09 Sep 2001 01:46:40GMT",		/* strptime takes it */
		"Sun, 9 Sep 2001 01:46:40 GMT",
		"sun, 09 sep 2001 01:46:40 gmt",
		"Sunday, 09 Sep 2001 01:46:40 GMT",
		"Mon, 09 Sep 2001 01:46:40 GMT",	/* a Sunday */
		"Fri, 30 Feb 2001 01:46:40 GMT",	/* strptime takes it */
		"Sun, 09 Sep 2001 01:46:60 GMT",
		"Sun, 09 Sep 2001 24:00:00 GMT",
		"Sun, 09 Sep 01 01:46:40 GMT",
		"Sun, 09 Sep +2001 01:46:40 GMT",
		"Sun, 09 Sep 2001 01:46 GMT",
		"Sun, 09 Sep 2001 01:46:40 GMT, Mon, 10 Sep 2001 01:46:40 GMT",
		"Sun, 09-Sep-01 01:46:40 GMT",
		"Sunday, 09-Sep-2001 01:46:40 GMT",
		"Sun Sep 09 01:46:40 2001",		/* asctime pads with a space */
		"Sun Sep  9 01:46:40 2001 GMT",
		"1000000000",
		"2001-09-09T01:46:40Z",
	};
	time_t now = T9, t;
	size_t i;

	assert_int_equal(http_date_parse("Sun, 09 Sep 2001 01:46:40 GMT",
	    now, &t), 0);
	assert_int_equal(t, T9);
	/* The obsolete forms, which a recipient MUST accept. */
	assert_int_equal(http_date_parse(
	    "Sunday, 09-Sep-01 01:46:40 GMT", now, &t), 0);
	assert_int_equal(t, T9);
	assert_int_equal(http_date_parse("Sun Sep  9 01:46:40 2001", now,
	    &t), 0);
	assert_int_equal(t, T9);
	assert_int_equal(http_date_parse("Thu, 01 Jan 1970 00:00:00 GMT",
	    now, &t), 0);
	assert_int_equal(t, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 1;
		if (http_date_parse(bad[i], now, &t) != -1)
			fail_msg("\"%s\" taken for an HTTP-date", bad[i]);
		assert_int_equal(t, 0);
	}
	assert_int_equal(http_date_parse(NULL, now, &t), -1);
	/*
	 * Two-digit years: the one within 50 years of now, never more than
	 * 50 ahead (1 January 2026: "76" is 2076, "77" 1977).
	 */
	now = 1767225600;
	assert_int_equal(http_date_parse(
	    "Wednesday, 01-Jan-76 00:00:00 GMT", now, &t), 0);
	assert_int_equal(t, 3345062400);
	assert_int_equal(http_date_parse(
	    "Saturday, 01-Jan-77 00:00:00 GMT", now, &t), 0);
	assert_int_equal(t, 220924800);
	/* The day name of the year strptime would have picked: wrong. */
	assert_int_equal(http_date_parse(
	    "Thursday, 01-Jan-76 00:00:00 GMT", now, &t), -1);
}

/* A blob for the conditional tests: dated T9, its ETag from its bytes. */
static struct ocsp_blob *
cond_blob(void)
{
	static const unsigned char der[] = { 0x30, 0x03, 0x0a, 0x01, 0x00 };
	struct ocsp_blob *b;

	b = ocsp_blob_new(der, sizeof(der), T9, T9 + 4 * 86400, 3600);
	assert_non_null(b);
	assert_string_equal(b->last_modified, "Sun, 09 Sep 2001 01:46:40 GMT");
	return b;
}

/* If-None-Match (RFC 9110 §13.1.2): decides whenever present. */
static void
test_if_none_match(void **state)
{
	struct ocsp_blob *b = cond_blob();
	char tag[64], in[256];
	/* @ stands for our tag. */
	static const char *const bad[] = {
		"", ",", "*, @", "@, *", "*@", "@ garbage", "@@", "W/ @",
		"w/@", "\"a\" \"b\", @", "@, \"a\" \"b\"", "@, \"unterminated",
		"'x', @", "@,\x01", "\"a\"b\", @", "\"a\x7f\", @", "\"a\tb\", @",
	};
	const char *c;
	size_t i, o;

	snprintf(tag, sizeof(tag), "%s", b->etag);
	assert_true(ocsp_not_modified(b, tag));
	assert_true(ocsp_not_modified(b, "*"));
	assert_true(ocsp_not_modified(b, " * "));
	/* Weak comparison: W/ on either side does not matter. */
	snprintf(in, sizeof(in), "W/%s", tag);
	assert_true(ocsp_not_modified(b, in));
	snprintf(in, sizeof(in), "\"0011223344556677\", W/\"x\",%s", tag);
	assert_true(ocsp_not_modified(b, in));
	snprintf(in, sizeof(in), " ,, \"\" ,\t%s ,", tag);
	assert_true(ocsp_not_modified(b, in));
	snprintf(in, sizeof(in), "\"\xc3\xa9\", %s", tag);
	assert_true(ocsp_not_modified(b, in));
	/* Another tag, a prefix of ours, ours unquoted or changed in case. */
	assert_false(ocsp_not_modified(b, "\"0011223344556677\""));
	snprintf(in, sizeof(in), "%.*s\"", (int)strlen(tag) - 2, tag);
	assert_false(ocsp_not_modified(b, in));
	snprintf(in, sizeof(in), "%.*s", (int)strlen(tag) - 2, tag + 1);
	assert_false(ocsp_not_modified(b, in));
	snprintf(in, sizeof(in), "%s", tag);
	for (i = 0; in[i] != '\0'; i++)
		if (in[i] >= 'a' && in[i] <= 'f')
			in[i] -= 'a' - 'A';
	if (strcmp(in, tag) != 0)
		assert_false(ocsp_not_modified(b, in));
	/* Not an If-None-Match value: ignored, whatever it holds. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (c = bad[i], o = 0; *c != '\0'; c++) {
			if (*c != '@')
				in[o++] = *c;
			else {
				memcpy(in + o, tag, strlen(tag));
				o += strlen(tag);
			}
		}
		in[o] = '\0';
		if (ocsp_not_modified(b, in))
			fail_msg("If-None-Match: %s matched", in);
	}
	/* No If-None-Match, no blob: the whole answer. */
	assert_false(ocsp_not_modified(b, NULL));
	assert_false(ocsp_not_modified(NULL, tag));
	ocsp_blob_unref(b);
}

/*
 * The reply to one GET of ocspd_handle, served by lib/http on 127.0.0.1:
 * status, body, and the ETag and Last-Modified fields ("" when absent).
 */
struct tget {
	long		 status;
	unsigned char	*body;
	size_t		 len;
	char		 etag[64];
	char		 lm[64];
	char		 cc[128];	/* Cache-Control */
};

static size_t
tget_body(char *p, size_t size, size_t n, void *arg)
{
	struct tget *g = arg;
	unsigned char *nb;

	if ((nb = realloc(g->body, g->len + size * n + 1)) == NULL)
		return 0;
	memcpy(nb + g->len, p, size * n);
	g->body = nb;
	g->len += size * n;
	return size * n;
}

/* Keeps the value of one field of a header line, without its CRLF. */
static void
tget_field(const char *line, size_t n, const char *name, char *out,
    size_t outlen)
{
	size_t k = strlen(name);

	if (n <= k + 1 || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return;
	line += k + 1;
	n -= k + 1;
	while (n > 0 && *line == ' ') {
		line++;
		n--;
	}
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		n--;
	snprintf(out, outlen, "%.*s", (int)n, line);
}

static size_t
tget_header(char *p, size_t size, size_t n, void *arg)
{
	struct tget *g = arg;

	tget_field(p, size * n, "ETag", g->etag, sizeof(g->etag));
	tget_field(p, size * n, "Last-Modified", g->lm, sizeof(g->lm));
	tget_field(p, size * n, "Cache-Control", g->cc, sizeof(g->cc));
	return size * n;
}

/* GET url with up to two request headers (NULL for none). */
static void
tget(const char *url, const char *h1, const char *h2, struct tget *g)
{
	struct curl_slist *hl = NULL;
	CURL *c;
	CURLcode cc;

	memset(g, 0, sizeof(*g));
	c = curl_easy_init();
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, tget_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, tget_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (h1 != NULL)
		hl = curl_slist_append(hl, h1);
	if (h2 != NULL)
		hl = curl_slist_append(hl, h2);
	if (hl != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if ((cc = curl_easy_perform(c)) != CURLE_OK)
		fail_msg("curl %s: %s", url, curl_easy_strerror(cc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
}

/* The whole answer want, with its validators, not a 304. */
static void
assert_whole(const struct tget *g, const struct tget *want, const char *why)
{
	if (g->status != 200 || g->len != want->len ||
	    memcmp(g->body, want->body, want->len) != 0 ||
	    strcmp(g->etag, want->etag) != 0 || strcmp(g->lm, want->lm) != 0)
		fail_msg("%s: HTTP %ld, %zu bytes, want the whole %zu-byte "
		    "answer", why, g->status, g->len, want->len);
}

/*
 * The field "h: " and the HTTP-date t in form 0 (IMF-fixdate), 1 (RFC
 * 850) or 2 (asctime), RFC 9110 §5.6.7.
 */
static void
tget_date(time_t t, const char *h, int form, char *out, size_t len)
{
	struct tm tm;
	char d[64], tod[16];

	assert_non_null(gmtime_r(&t, &tm));
	switch (form) {
	case 0:
		assert_true(strftime(d, sizeof(d),
		    "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0);
		break;
	case 1:
		/* %y, without -Wformat-y2k's complaint. */
		assert_true(strftime(d, sizeof(d), "%A, %d-%b-", &tm) > 0);
		assert_true(strftime(tod, sizeof(tod), "%H:%M:%S", &tm) > 0);
		snprintf(d + strlen(d), sizeof(d) - strlen(d), "%02d %s GMT",
		    (tm.tm_year + 1900) % 100, tod);
		break;
	default:
		assert_true(strftime(d, sizeof(d), "%a %b %e %H:%M:%S %Y",
		    &tm) > 0);
		break;
	}
	snprintf(out, len, "%s: %s", h, d);
}

/*
 * ocspd's handler (responder r) on an ephemeral port of 127.0.0.1, and
 * in url the GET URL of a request for serial (base64 in the path, RFC
 * 5019). Stop it with http_stop().
 */
static struct http_server *
get_server(const char *serial, char *url, size_t len)
{
	struct http_limits lim;
	struct http_server *srv;
	unsigned char *req, *b64;
	size_t reqlen;
	char err[256];

	memset(&lim, 0, sizeof(lim));
	lim.max_body = OCSP_MAX_BODY;
	lim.conn_memory = 16384;
	lim.max_conns = 16;
	lim.max_conns_per_ip = 16;
	lim.timeout_s = 5;
	lim.threads = 1;
	/* A loop without a signer of its own: signed in the handler. */
	memset(&tloop, 0, sizeof(tloop));
	tloop.r = &r;
	srv = http_start("127.0.0.1", 0, &lim, ocspd_handle, &tloop, err,
	    sizeof(err));
	if (srv == NULL)
		fail_msg("http_start: %s", err);
	req = make_request(serial, &reqlen);
	assert_non_null(b64 = malloc(4 * ((reqlen + 2) / 3) + 1));
	EVP_EncodeBlock(b64, req, (int)reqlen);
	snprintf(url, len, "http://127.0.0.1:%u/%s",
	    (unsigned int)http_port(srv), (const char *)b64);
	free(b64);
	OPENSSL_free(req);
	return srv;
}

/*
 * If-Modified-Since is ignored (RFC 9110 §13.1.3), through ocspd's own
 * handler: thisUpdate counts seconds, and a certificate revoked in the
 * second of its "good" answer is answered "revoked" with the same
 * Last-Modified; another ocspd on the port (reuse_port) or one restarted
 * in that second cannot know what it answered. A date equal to or after
 * Last-Modified gets the whole answer, in every HTTP-date form; only the
 * ETag, made from the bytes, gives a 304.
 */
static void
test_if_modified_since_ignored(void **state)
{
	struct http_server *srv;
	struct ocsp_status st;
	struct tget good, rev, g;
	time_t now = time(NULL), lm, t;
	char url[512], h[128], h2[128];
	int i;

	memset(&st, 0, sizeof(st));
	st.reason = -1;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C5",
	    &st), 1);
	r.synced_at = now - 10;
	srv = get_server("C5", url, sizeof(url));

	tget(url, NULL, NULL, &good);
	assert_int_equal(good.status, 200);
	assert_true(good.len > 0);
	assert_true(good.etag[0] == '"' && good.lm[0] != '\0');
	assert_int_equal(http_date_parse(good.lm, now, &lm), 0);
	assert_int_equal(lm, now - 10);

	/*
	 * Equal to Last-Modified or an hour after it, in the three forms
	 * (each a date ocspd would once have taken): 200.
	 */
	snprintf(h, sizeof(h), "If-Modified-Since: %s", good.lm);
	tget(url, h, NULL, &g);
	assert_whole(&g, &good, "If-Modified-Since equal to Last-Modified");
	free(g.body);
	for (i = 0; i < 6; i++) {
		tget_date(lm + 3600 * (i / 3), "If-Modified-Since", i % 3, h,
		    sizeof(h));
		assert_int_equal(http_date_parse(h + 19, now, &t), 0);
		assert_int_equal(t, lm + 3600 * (i / 3));
		tget(url, h, NULL, &g);
		assert_whole(&g, &good, h);
		free(g.body);
	}
	tget(url, "If-Modified-Since: Fri, 31 Dec 2099 23:59:59 GMT", NULL,
	    &g);
	assert_whole(&g, &good, "If-Modified-Since in 2099");
	free(g.body);

	/* If-None-Match alone decides, whatever If-Modified-Since says. */
	snprintf(h2, sizeof(h2), "If-None-Match: %s", good.etag);
	tget(url, h2, NULL, &g);
	assert_int_equal(g.status, 304);
	assert_int_equal(g.len, 0);
	assert_string_equal(g.etag, good.etag);
	assert_string_equal(g.lm, good.lm);
	free(g.body);
	tget_date(lm - 1, "If-Modified-Since", 0, h, sizeof(h));
	tget(url, h2, h, &g);
	assert_int_equal(g.status, 304);
	free(g.body);
	snprintf(h, sizeof(h), "If-Modified-Since: %s", good.lm);
	tget(url, "If-None-Match: \"0011223344556677\"", h, &g);
	assert_whole(&g, &good, "another ETag, If-Modified-Since equal");
	free(g.body);

	/*
	 * Revoked in that second (revocationTime before the last read):
	 * the "revoked" answer has the "good" one's Last-Modified. The
	 * "good" answer's date, and its ETag, get the whole new answer.
	 */
	st.state = OCSP_STATE_REVOKED;
	st.reason = 1;
	st.revoked_at = now - 20;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C5",
	    &st), 1);
	tget(url, NULL, NULL, &rev);
	assert_int_equal(rev.status, 200);
	assert_string_equal(rev.lm, good.lm);
	assert_string_not_equal(rev.etag, good.etag);
	assert_true(rev.len != good.len ||
	    memcmp(rev.body, good.body, rev.len) != 0);
	snprintf(h, sizeof(h), "If-Modified-Since: %s", good.lm);
	tget(url, h, NULL, &g);
	assert_whole(&g, &rev, "revoked, the good answer's date");
	free(g.body);
	tget_date(lm + 3600, "If-Modified-Since", 1, h, sizeof(h));
	tget(url, h, NULL, &g);
	assert_whole(&g, &rev, "revoked, an hour after the good answer");
	free(g.body);
	tget(url, h2, NULL, &g);
	assert_whole(&g, &rev, "revoked, the good answer's ETag");
	free(g.body);
	snprintf(h2, sizeof(h2), "If-None-Match: %s", rev.etag);
	tget(url, h2, NULL, &g);
	assert_int_equal(g.status, 304);
	assert_string_equal(g.etag, rev.etag);
	free(g.body);

	http_stop(srv);
	free(good.body);
	free(rev.body);
}

/*
 * A status changed in the second of the last answer (through the cache,
 * as the maintenance thread does): the new answer has the old one's
 * Last-Modified, and only its own ETag revalidates it.
 */
static void
test_same_second_etag(void **state)
{
	static const unsigned char d1[] = { 0x30, 0x03, 0x0a, 0x01, 0x00 };
	static const unsigned char d2[] = { 0x30, 0x03, 0x0a, 0x01, 0x01 };
	struct ocsp_status good, rev;
	struct ocsp_blob *old, *b, *got = NULL;
	const unsigned char *der = NULL;
	unsigned char *req;
	size_t reqlen, derlen;
	time_t now = time(NULL);
	int owned = 0, cacheable = 0;

	memset(&good, 0, sizeof(good));
	good.reason = -1;
	rev = good;
	rev.state = OCSP_STATE_REVOKED;
	rev.reason = 1;
	rev.revoked_at = now - 3;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C1",
	    &good), 1);
	old = ocsp_blob_new(d1, sizeof(d1), now - 5, now + 86400, 3600);
	assert_non_null(old);
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "C1", 0, &good,
	    old, 10), 0);
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C1", &rev),
	    1);
	b = ocsp_blob_new(d2, sizeof(d2), now - 5, now + 86400, 3600);
	assert_non_null(b);
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "C1", 0, &rev, b,
	    10), 0);
	assert_string_equal(b->last_modified, old->last_modified);
	assert_string_not_equal(b->etag, old->etag);
	assert_false(ocsp_not_modified(b, old->etag));
	assert_false(ocsp_not_modified(b, NULL));
	assert_true(ocsp_not_modified(b, b->etag));
	ocsp_blob_unref(b);
	ocsp_blob_unref(old);

	/* Through ocsp_answer: the ETag of the bytes it returns. */
	r.synced_at = now - 1;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C4",
	    &good), 1);
	req = make_request("C4", &reqlen);
	assert_int_equal(ocsp_answer(&r, req, reqlen, &der, &derlen, &got,
	    &owned, &cacheable), 0);
	assert_non_null(got);
	assert_true(cacheable);
	assert_ptr_equal(der, got->der);
	b = ocsp_blob_new(der, derlen, got->this_update, got->next_update,
	    got->max_age);
	assert_non_null(b);
	assert_string_equal(b->etag, got->etag);
	assert_true(ocsp_not_modified(got, got->etag));
	assert_false(ocsp_not_modified(got, NULL));
	ocsp_blob_unref(b);
	ocsp_blob_unref(got);
	OPENSSL_free(req);
}

/*
 * The fake database of test_expired_grace and test_lookup_batched
 * (ocsp_lookup_fn): lookups counts its round trips, lookup_serials the
 * serials they asked about.
 */
static int lookups, lookup_serials;

static int
fake_lookup(void *arg, int issuer, const char *const *serials, int n,
    struct ocsp_status *st, int64_t *data_at)
{
	time_t now = time(NULL);
	int i;

	lookups++;
	lookup_serials += n;
	*data_at = now;
	for (i = 0; i < n; i++) {
		memset(&st[i], 0, sizeof(st[i]));
		st[i].state = OCSP_STATE_NONISSUED;
		st[i].reason = -1;
		if (strcmp(serials[i], "DEAD") == 0)	/* the database is away */
			return -1;
		if (issuer != GOOD_ISSUER)
			continue;
		if (strcmp(serials[i], "E1") == 0) {	/* expired long ago, good */
			st[i].state = OCSP_STATE_GOOD;
			st[i].not_after = now - 400 * 86400;
		} else if (strcmp(serials[i], "E4") == 0) {
			/* expired long ago, revoked */
			st[i].state = OCSP_STATE_REVOKED;
			st[i].reason = 1;
			st[i].revoked_at = now - 500 * 86400;
			st[i].not_after = now - 400 * 86400;
		}
	}
	return 0;
}

/* The status of a one-response DER (reason and revocationTime too). */
static int
single_status(const unsigned char *der, size_t len, int *reason,
    time_t *revoked)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	ASN1_GENERALIZEDTIME *rev = NULL, *tu = NULL, *nu = NULL;
	struct tm tm;
	int status;

	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
	assert_non_null(resp);
	if (OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		status = -OCSP_response_status(resp);
		OCSP_RESPONSE_free(resp);
		return status;
	}
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	status = OCSP_single_get0_status(OCSP_resp_get0(bs, 0), reason, &rev,
	    &tu, &nu);
	*revoked = 0;
	if (rev != NULL) {
		assert_int_equal(ASN1_TIME_to_tm(rev, &tm), 1);
		*revoked = timegm(&tm);
	}
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return status;
}

/* Answers the SHA-1 request for serial: its status; *from_cache. */
static int
answer_status(const char *serial, int *reason, time_t *revoked,
    int *from_cache)
{
	struct ocsp_blob *blob = NULL, *cached = NULL;
	struct ocsp_status st;
	const unsigned char *der = NULL;
	unsigned char *req;
	size_t reqlen, derlen;
	int owned = 0, cacheable = 0, status;

	req = make_request(serial, &reqlen);
	assert_int_equal(ocsp_answer(&r, req, reqlen, &der, &derlen, &blob,
	    &owned, &cacheable), 0);
	status = single_status(der, derlen, reason, revoked);
	*from_cache = 0;
	if (blob != NULL && ocsp_cache_lookup(r.cache, GOOD_ISSUER, serial,
	    OCSP_HASH_SHA1, time(NULL), &st, &cached) == OCSP_CACHE_HIT)
		*from_cache = cached == blob;
	ocsp_blob_unref(cached);
	ocsp_blob_unref(blob);
	if (owned)
		OPENSSL_free((unsigned char *)der);
	OPENSSL_free(req);
	return status;
}

/*
 * The answer to the SHA-1 request for serial is the never-issued one's
 * shape, whatever its status (RFC 6960 §2.2, §4.4.8): revoked with reason,
 * the extended revoked definition extension, nextUpdate
 * nonissued_validity_seconds after thisUpdate, kept with
 * nonissued_max_age_seconds. Until 2026-12-07 a serial never issued,
 * revoked by its CA's revocation or hold, had neither: 4 days, no
 * extension.
 */
static void
assert_nonissued_shape(const char *serial, int reason)
{
	struct ocsp_blob *blob = NULL;
	const unsigned char *der = NULL, *p;
	unsigned char *req;
	size_t reqlen, derlen;
	int owned = 0, cacheable = 0, got, day, sec;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	ASN1_OBJECT *obj;
	ASN1_GENERALIZEDTIME *rev = NULL, *tu = NULL, *nu = NULL;

	req = make_request(serial, &reqlen);
	assert_int_equal(ocsp_answer(&r, req, reqlen, &der, &derlen, &blob,
	    &owned, &cacheable), 0);
	p = der;
	resp = d2i_OCSP_RESPONSE(NULL, &p, (long)derlen);
	assert_non_null(resp);
	bs = OCSP_response_get1_basic(resp);
	assert_non_null(bs);
	assert_int_equal(OCSP_single_get0_status(OCSP_resp_get0(bs, 0), &got,
	    &rev, &tu, &nu), V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(got, reason);
	obj = OBJ_txt2obj(OCSP_OID_EXTENDED_REVOKE, 1);
	assert_non_null(obj);
	assert_true(OCSP_BASICRESP_get_ext_by_OBJ(bs, obj, -1) >= 0);
	ASN1_OBJECT_free(obj);
	assert_int_equal(ASN1_TIME_diff(&day, &sec, tu, nu), 1);
	assert_int_equal((long)day * 86400 + sec, r.pol.nonissued_validity);
	assert_non_null(blob);
	assert_int_equal(blob->max_age, r.pol.nonissued_max_age);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	ocsp_blob_unref(blob);
	if (owned)
		OPENSSL_free((unsigned char *)der);
	OPENSSL_free(req);
}

/*
 * The issuer's own certificate revoked (ocsp/README.md "An issuing CA
 * revoked"): every serial answered revoked, cACompromise, the CA's time,
 * cached ones and those of the database alike, unless revoked for good
 * at or before it, or on hold since before it (the earlier time); an
 * answer signed under the CA's old status is not kept; on
 * hold: certificateHold, the CA's time, back to the own status once
 * released. Until 2026-12-07 the leaf's own status alone was answered.
 * A serial never issued, revoked by the CA's revocation or hold, keeps the
 * never-issued answer's extension, validity and max-age
 * (assert_nonissued_shape; until 2026-12-07: none of them).
 */
static void
test_ca_revoked(void **state)
{
	static const unsigned char der[] = { 0x30, 0x03, 0x0a, 0x01, 0x00 };
	struct ocsp_status st, ca, old;
	struct ocsp_blob *b;
	time_t now = time(NULL), rev;
	int reason, cached;

	r.lookup = fake_lookup;
	memset(&st, 0, sizeof(st));
	st.reason = -1;
	st.not_after = now + 86400;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C1",
	    &st), 1);
	st.state = OCSP_STATE_REVOKED;
	st.reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE;
	st.revoked_at = now - 1000;	/* before the CA */
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C2",
	    &st), 1);
	st.revoked_at = now - 10;	/* after the CA */
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C3",
	    &st), 1);
	st.revoked_at = now - 100;	/* the CA's second */
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C7",
	    &st), 1);
	/* On hold: before the CA, after it, in its second. */
	st.reason = OCSP_REVOKED_STATUS_CERTIFICATEHOLD;
	st.revoked_at = now - 1000;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C4",
	    &st), 1);
	st.revoked_at = now - 10;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C5",
	    &st), 1);
	st.revoked_at = now - 100;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C6",
	    &st), 1);
	assert_int_equal(answer_status("C1", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(answer_status("C1", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_GOOD);
	assert_true(cached);
	ocsp_cache_lookup(r.cache, GOOD_ISSUER, "C1", OCSP_HASH_SHA1, now,
	    &old, &b);
	ocsp_blob_unref(b);

	memset(&ca, 0, sizeof(ca));
	ca.state = OCSP_STATE_REVOKED;
	ca.reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE;
	ca.revoked_at = now - 100;
	assert_int_equal(ocsp_cache_set_ca_status(r.cache, GOOD_ISSUER, &ca), 1);
	assert_int_equal(ocsp_cache_set_ca_status(r.cache, GOOD_ISSUER, &ca), 0);
	/* The good answer signed before is gone, and not put back. */
	b = ocsp_blob_new(der, sizeof(der), now, now + 3600, 10);
	assert_non_null(b);
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "C1",
	    OCSP_HASH_SHA1, &old, b, 100), 1);
	ocsp_blob_unref(b);
	assert_int_equal(answer_status("C1", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_CACOMPROMISE);
	assert_int_equal(rev, now - 100);
	assert_int_equal(answer_status("C1", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_true(cached);
	assert_int_equal(answer_status("C2", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	assert_int_equal(rev, now - 1000);
	assert_int_equal(answer_status("C3", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_CACOMPROMISE);
	assert_int_equal(rev, now - 100);
	assert_int_equal(answer_status("C7", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	assert_int_equal(rev, now - 100);
	/*
	 * On hold before the CA's revocation: the hold, its time (the
	 * earlier; until 2026-12-07 cACompromise at the CA's later time);
	 * after it or in its second: the CA's.
	 */
	assert_int_equal(answer_status("C4", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_CERTIFICATEHOLD);
	assert_int_equal(rev, now - 1000);
	assert_int_equal(answer_status("C5", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_CACOMPROMISE);
	assert_int_equal(rev, now - 100);
	assert_int_equal(answer_status("C6", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_CACOMPROMISE);
	assert_int_equal(rev, now - 100);
	/* C4 released from its hold: the CA's revocation. */
	memset(&st, 0, sizeof(st));
	st.reason = -1;
	st.not_after = now + 86400;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C4",
	    &st), 1);
	assert_int_equal(answer_status("C4", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_CACOMPROMISE);
	assert_int_equal(rev, now - 100);
	/* From the database: expired good, expired revoked before, never issued. */
	assert_int_equal(answer_status("E1", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_CACOMPROMISE);
	assert_int_equal(answer_status("E4", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	/* fake_lookup's own clock: a second later under a slow build. */
	assert_true(rev >= now - 500 * 86400 &&
	    rev <= time(NULL) - 500 * 86400);
	assert_int_equal(answer_status("77", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_CACOMPROMISE);
	assert_int_equal(rev, now - 100);
	assert_int_equal(answer_status("77", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_true(cached);
	/* Signed live and from the cache: the never-issued shape. */
	assert_nonissued_shape("76", OCSP_REVOKED_STATUS_CACOMPROMISE);
	assert_nonissued_shape("77", OCSP_REVOKED_STATUS_CACOMPROMISE);
	r.pol.nonissued_unknown = 1;
	assert_int_equal(answer_status("78", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_CACOMPROMISE);
	assert_nonissued_shape("78", OCSP_REVOKED_STATUS_CACOMPROMISE);
	r.pol.nonissued_unknown = 0;

	/* On hold: certificateHold at the hold's time; released: its own. */
	ca.reason = OCSP_REVOKED_STATUS_CERTIFICATEHOLD;
	ca.revoked_at = now - 50;
	assert_int_equal(ocsp_cache_set_ca_status(r.cache, GOOD_ISSUER, &ca), 1);
	assert_int_equal(answer_status("C1", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_CERTIFICATEHOLD);
	assert_int_equal(rev, now - 50);
	assert_int_equal(answer_status("C3", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	assert_int_equal(rev, now - 10);
	assert_int_equal(answer_status("77", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_CERTIFICATEHOLD);
	assert_int_equal(rev, now - 50);
	assert_nonissued_shape("77", OCSP_REVOKED_STATUS_CERTIFICATEHOLD);
	memset(&ca, 0, sizeof(ca));
	ca.reason = -1;
	assert_int_equal(ocsp_cache_set_ca_status(r.cache, GOOD_ISSUER, &ca), 1);
	assert_int_equal(answer_status("C1", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(answer_status("77", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_CERTIFICATEHOLD);
	assert_int_equal(rev, 0);	/* never issued again: 1970 */
	r.lookup = NULL;
}

/*
 * Certificates expired more than the grace ago leave the cache at a full
 * pass and are answered from the database with their recorded status;
 * within the grace, a revoked one is still answered from the cache.
 */
static void
test_expired_grace(void **state)
{
	struct ocsp_status st, got;
	struct ocsp_blob *b = NULL;
	struct ocsp_cache_stats cs;
	struct config *policy;
	struct ocsp_policy pol;
	FILE *log = tmpfile();
	time_t now = time(NULL), rev;
	char err[256];
	int reason, cached, more, n;

	assert_non_null(log);
	/* crld's default (crl.expired_grace_seconds): 7 days. */
	assert_int_equal(r.pol.expired_grace, 604800);
	r.lookup = fake_lookup;
	lookups = 0;
	memset(&st, 0, sizeof(st));
	st.reason = -1;
	/* E1: good, expired past the grace; E3: valid. */
	st.not_after = now - r.pol.expired_grace - 10;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "E1",
	    &st), 1);
	st.not_after = now + 86400;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "E3",
	    &st), 1);
	/* E2: revoked, expired a day ago (within the grace). */
	st.state = OCSP_STATE_REVOKED;
	st.reason = 1;
	st.revoked_at = now - 2 * 86400;
	st.not_after = now - 86400;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "E2",
	    &st), 1);
	/* A full pass: E1 leaves, with nothing signed for it. */
	assert_int_equal(ocsp_cache_expire(r.cache, (int64_t)now -
	    r.pol.expired_grace), 1);
	assert_int_equal(ocsp_cache_lookup(r.cache, GOOD_ISSUER, "E1",
	    OCSP_HASH_SHA1, now, &got, &b), OCSP_CACHE_MISS);
	assert_int_equal(ocsp_cache_lookup(r.cache, GOOD_ISSUER, "E2",
	    OCSP_HASH_SHA1, now, &got, &b), OCSP_CACHE_STATUS);
	assert_true(got.not_after == st.not_after);
	assert_int_equal(ocsp_sync_sign(&sy, &more), 2);
	ocsp_cache_stats(r.cache, 0, now, &cs);
	assert_int_equal(cs.entries, 2);
	assert_int_equal(cs.blobs, 2);
	/* Once more: nothing else goes. */
	assert_int_equal(ocsp_cache_expire(r.cache, (int64_t)now -
	    r.pol.expired_grace), 0);

	/* Within the grace: revoked, from the cache, no database asked. */
	assert_int_equal(answer_status("E2", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, 1);
	assert_true(rev == st.revoked_at);
	assert_true(cached);
	assert_int_equal(lookups, 0);
	/* Past it: the database's "good", live and not kept. */
	assert_int_equal(answer_status("E1", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_GOOD);
	assert_false(cached);
	assert_int_equal(lookups, 1);
	assert_int_equal(ocsp_cache_lookup(r.cache, GOOD_ISSUER, "E1",
	    OCSP_HASH_SHA1, now, &got, &b), OCSP_CACHE_MISS);
	/* ... its "revoked" with reason and time, never the 1970 hold. */
	assert_int_equal(answer_status("E4", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, 1);
	/* fake_lookup's clock: a second may have passed since now. */
	assert_true(rev >= now - 500 * 86400 &&
	    rev <= time(NULL) - 500 * 86400);
	assert_false(cached);
	assert_int_equal(lookups, 2);
	/* A serial the database does not know: never issued, as before. */
	assert_int_equal(answer_status("77", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_CERTIFICATEHOLD);
	assert_true(rev == 0);
	assert_int_equal(lookups, 3);
	/* ... kept: asked again, from the cache. */
	assert_int_equal(answer_status("77", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_true(cached);
	assert_int_equal(lookups, 3);
	/* The database cannot say: tryLater, not "never issued". */
	assert_int_equal(answer_status("DEAD", &reason, &rev, &cached),
	    -OCSP_RESPONSE_STATUS_TRYLATER);
	n = lookups;
	assert_int_equal(n, 4);
	r.lookup = NULL;

	/* The policy's bounds: 0 .. 3650 days. */
	setenv("PKI_OCSP_EXPIRED_GRACE_SECONDS", "0", 1);
	policy = config_load(NULL, err, sizeof(err));
	assert_non_null(policy);
	assert_int_equal(ocsp_policy_load(policy, &pol, err, sizeof(err)), 0);
	assert_int_equal(pol.expired_grace, 0);
	log_init("test", LOGL_ERR, log);
	setenv("PKI_OCSP_EXPIRED_GRACE_SECONDS", "-1", 1);
	assert_int_equal(ocsp_policy_load(policy, &pol, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ocsp.expired_grace_seconds"));
	setenv("PKI_OCSP_EXPIRED_GRACE_SECONDS", "315360001", 1);
	assert_int_equal(ocsp_policy_load(policy, &pol, err, sizeof(err)), -1);
	log_init("test", LOGL_ERR, NULL);
	fclose(log);
	unsetenv("PKI_OCSP_EXPIRED_GRACE_SECONDS");
	config_free(policy);
}

/*
 * revocationReason unspecified (0) is left out of every response we sign,
 * as crlgen leaves it out of the CRL (RFC 5280 §5.3.1; the CA/B Forum
 * Baseline Requirements §7.3 forbid it in OCSP): signed at the request
 * (live) and pre-signed (the maintenance thread's batch), through the
 * cache, and answered for a certificate past the grace looked up in the
 * database. Every other reason is still given.
 */
static int
reason_lookup(void *arg, int issuer, const char *const *serials, int n,
    struct ocsp_status *st, int64_t *data_at)
{
	time_t now = time(NULL);
	int i;

	*data_at = now;
	for (i = 0; i < n; i++) {
		memset(&st[i], 0, sizeof(st[i]));
		st[i].state = OCSP_STATE_REVOKED;
		st[i].reason = strcmp(serials[i], "D0") == 0 ? 0 : 4;
		st[i].revoked_at = now - 500 * 86400;
		st[i].not_after = now - 400 * 86400;
	}
	return 0;
}

static void
test_reason_unspecified(void **state)
{
	struct ocsp_status st;
	time_t now = time(NULL), rev;
	int reason, cached, more, pass;

	memset(&st, 0, sizeof(st));
	st.state = OCSP_STATE_REVOKED;
	st.revoked_at = now - 60;
	st.not_after = now + 86400;
	st.reason = 0;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C0",
	    &st), 1);
	st.reason = 1;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C1",
	    &st), 1);
	/* Pass 0: signed at the request; pass 1: pre-signed, from the cache. */
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			assert_int_equal(ocsp_cache_drop(r.cache, GOOD_ISSUER,
			    "C0"), 1);
			assert_int_equal(ocsp_cache_drop(r.cache, GOOD_ISSUER,
			    "C1"), 1);
			st.reason = 0;
			assert_int_equal(ocsp_cache_set_status(r.cache,
			    GOOD_ISSUER, "C0", &st), 1);
			st.reason = 1;
			assert_int_equal(ocsp_cache_set_status(r.cache,
			    GOOD_ISSUER, "C1", &st), 1);
			assert_int_equal(ocsp_sync_sign(&sy, &more), 2);
		}
		reason = 99;
		assert_int_equal(answer_status("C0", &reason, &rev, &cached),
		    V_OCSP_CERTSTATUS_REVOKED);
		assert_int_equal(reason, OCSP_REVOKED_STATUS_NOSTATUS);
		assert_true(rev == st.revoked_at);
		/* Pre-signed: the cache's own bytes. */
		assert_true(pass == 0 || cached);
		assert_int_equal(answer_status("C1", &reason, &rev, &cached),
		    V_OCSP_CERTSTATUS_REVOKED);
		assert_int_equal(reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
		assert_true(pass == 0 || cached);
	}
	/* Past the grace: the database's statuses, signed live. */
	r.lookup = reason_lookup;
	reason = 99;
	assert_int_equal(answer_status("D0", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_NOSTATUS);
	assert_false(cached);
	assert_int_equal(answer_status("D4", &reason, &rev, &cached),
	    V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(reason, OCSP_REVOKED_STATUS_SUPERSEDED);
	r.lookup = NULL;
}

/*
 * The blobs in the cache, counted afresh (ocsp_cache_stats counts once per
 * second of its now: each call gives another), without a lookup, which
 * would record a request.
 */
static size_t
blobs_now(void)
{
	static time_t at = 1000;
	struct ocsp_cache_stats cs;

	ocsp_cache_stats(r.cache, 0, ++at, &cs);
	return cs.blobs;
}

/*
 * A hash variant asked for once is kept for a refresh period, then
 * dropped and no longer signed; SHA-1 (RFC 5019) always stays.
 */
static void
test_hash_variant_expires(void **state)
{
	struct ocsp_status st;
	struct ocsp_blob *b = NULL;
	struct ocsp_due due[8];
	time_t now = time(NULL);
	int more;

	add_good(GOOD_ISSUER, 1);			/* "1001" */
	/* SHA-256 last asked more than a refresh period ago; SHA-384 now. */
	assert_int_equal(ocsp_cache_lookup(r.cache, GOOD_ISSUER, "1001",
	    OCSP_HASH_SHA256, now - r.pol.refresh - 1, &st, &b),
	    OCSP_CACHE_STATUS);
	assert_int_equal(ocsp_cache_lookup(r.cache, GOOD_ISSUER, "1001",
	    OCSP_HASH_SHA384, now, &st, &b), OCSP_CACHE_STATUS);
	/* SHA-1 and SHA-384 signed, not SHA-256. */
	assert_int_equal(ocsp_sync_sign(&sy, &more), 2);
	assert_int_equal(blobs_now(), 2);
	/* Asked now: SHA-256 signed too. */
	assert_int_equal(ocsp_cache_lookup(r.cache, GOOD_ISSUER, "1001",
	    OCSP_HASH_SHA256, now, &st, &b), OCSP_CACHE_STATUS);
	assert_int_equal(ocsp_sync_sign(&sy, &more), 1);
	assert_int_equal(blobs_now(), 3);
	assert_int_equal(ocsp_sync_sign(&sy, &more), 0);
	/* A refresh period on, none asked again: both dropped, none due. */
	assert_int_equal(ocsp_cache_due(r.cache, 0, (int64_t)now,
	    now + r.pol.refresh, due, 8), 0);
	assert_int_equal(blobs_now(), 1);
	assert_int_equal(ocsp_cache_lookup(r.cache, GOOD_ISSUER, "1001",
	    OCSP_HASH_SHA1, now, &st, &b), OCSP_CACHE_HIT);
	ocsp_blob_unref(b);
	b = NULL;
	/* Asked once more: due again (the refresher or the request signs). */
	assert_int_equal(ocsp_cache_lookup(r.cache, GOOD_ISSUER, "1001",
	    OCSP_HASH_SHA512, now + 1, &st, &b), OCSP_CACHE_STATUS);
	assert_int_equal(ocsp_cache_due(r.cache, 0, (int64_t)now,
	    now + r.pol.refresh, due, 8), 1);
	assert_int_equal(due[0].hash, OCSP_HASH_SHA512);
}

/*
 * On a hot standby, synced_at (every answer's thisUpdate) is the earlier
 * of the read's start and the primary's time of the data replayed; over
 * ocsp.max_standby_lag_seconds, or with that time unknown, the database
 * counts as down (db_ok 0, synced_at held), logged once per episode. On
 * a primary, the read's start. The policy's default and bounds.
 */
static void
test_standby_lag(void **state)
{
	struct config *policy;
	struct ocsp_policy pol;
	FILE *log = tmpfile();
	char err[256];
	const time_t t0 = 1000000000;

	assert_non_null(log);
	assert_int_equal(r.pol.max_standby_lag, 120);
	log_init("test", LOGL_INFO, log);
	sy.standby = 1;
	ocsp_sync_publish(&sy, t0, t0 - 5);
	assert_int_equal(r.synced_at, t0 - 5);
	assert_int_equal(r.db_ok, 1);
	assert_int_equal(r.standby_lag, 5);
	/* The primary's clock ahead of ours: no later than our read. */
	ocsp_sync_publish(&sy, t0 + 1, t0 + 30);
	assert_int_equal(r.synced_at, t0 + 1);
	assert_int_equal(r.standby_lag, 0);
	assert_int_equal(count_lines(log), 0);
	/* Replication stopped: held, not ok, logged once. */
	ocsp_sync_publish(&sy, t0 + 200, t0);
	assert_int_equal(r.synced_at, t0 + 1);
	assert_int_equal(r.db_ok, 0);
	assert_int_equal(r.standby_lag, 200);
	ocsp_sync_publish(&sy, t0 + 201, t0);
	ocsp_sync_publish(&sy, t0 + 202, OCSP_LAG_UNKNOWN);
	assert_int_equal(r.synced_at, t0 + 1);
	assert_int_equal(r.db_ok, 0);
	assert_int_equal(r.standby_lag, OCSP_LAG_UNKNOWN);
	assert_int_equal(count_lines(log), 1);
	/* Exactly the bound is still within it; caught up: logged once. */
	ocsp_sync_publish(&sy, t0 + 320, t0 + 200);
	assert_int_equal(r.synced_at, t0 + 200);
	assert_int_equal(r.db_ok, 1);
	assert_int_equal(r.standby_lag, 120);
	ocsp_sync_publish(&sy, t0 + 321, t0 + 320);
	assert_int_equal(count_lines(log), 2);
	/* Unknown from the start counts as lagging too. */
	sy.lagging = 0;
	ocsp_sync_publish(&sy, t0 + 322, OCSP_LAG_UNKNOWN);
	assert_int_equal(r.db_ok, 0);
	assert_int_equal(r.synced_at, t0 + 320);
	assert_int_equal(count_lines(log), 3);
	/* A primary (promoted): the read's start. */
	sy.standby = 0;
	ocsp_sync_publish(&sy, t0 + 323, OCSP_LAG_NONE);
	assert_int_equal(r.synced_at, t0 + 323);
	assert_int_equal(r.db_ok, 1);
	assert_int_equal(r.standby_lag, OCSP_LAG_NONE);
	assert_int_equal(count_lines(log), 4);
	log_init("test", LOGL_ERR, NULL);
	fclose(log);

	setenv("PKI_OCSP_MAX_STANDBY_LAG_SECONDS", "6", 1);
	policy = config_load(NULL, err, sizeof(err));
	assert_non_null(policy);
	assert_int_equal(ocsp_policy_load(policy, &pol, err, sizeof(err)), 0);
	assert_int_equal(pol.max_standby_lag, 6);
	setenv("PKI_OCSP_MAX_STANDBY_LAG_SECONDS", "0", 1);
	assert_non_null(log = tmpfile());
	log_init("test", LOGL_ERR, log);
	assert_int_equal(ocsp_policy_load(policy, &pol, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ocsp.max_standby_lag_seconds"));
	setenv("PKI_OCSP_MAX_STANDBY_LAG_SECONDS", "86401", 1);
	assert_int_equal(ocsp_policy_load(policy, &pol, err, sizeof(err)), -1);
	log_init("test", LOGL_ERR, NULL);
	fclose(log);
	unsetenv("PKI_OCSP_MAX_STANDBY_LAG_SECONDS");
	config_free(policy);
}

/*
 * Last-Modified is never later than the answer's time (RFC 9110
 * §8.8.2.1), though a revoked answer's thisUpdate follows a revocationTime
 * that a database clock ahead of ours puts in our future.
 */
static void
test_last_modified_not_future(void **state)
{
	struct http_server *srv;
	struct ocsp_status st;
	struct tget g;
	time_t now = time(NULL), lm;
	char url[512];

	memset(&st, 0, sizeof(st));
	st.state = OCSP_STATE_REVOKED;
	st.reason = 1;
	st.revoked_at = now + 30;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "F0",
	    &st), 1);
	r.synced_at = now - 10;
	srv = get_server("F0", url, sizeof(url));
	tget(url, NULL, NULL, &g);
	assert_int_equal(g.status, 200);
	assert_int_equal(http_date_parse(g.lm, now, &lm), 0);
	assert_true(lm >= now && lm <= time(NULL));
	free(g.body);
	/* Again from the cache: the blob's thisUpdate is still ahead. */
	tget(url, NULL, NULL, &g);
	assert_int_equal(g.status, 200);
	assert_int_equal(http_date_parse(g.lm, now, &lm), 0);
	assert_true(lm >= now && lm <= time(NULL));
	free(g.body);
	http_stop(srv);
}

/* A DER OCSPRequest for serials[0..n) of the good issuer, nonce or not. */
static unsigned char *
make_request_n(const char *const *serials, int n, int nonce, size_t *len)
{
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	unsigned char *der = NULL;
	int i, k;

	assert_non_null(req);
	for (i = 0; i < n; i++)
		assert_non_null(OCSP_request_add0_id(req,
		    make_certid(serials[i], EVP_sha1(), 0)));
	if (nonce)
		assert_int_equal(OCSP_request_add1_nonce(req, NULL, 16), 1);
	k = i2d_OCSP_REQUEST(req, &der);
	assert_true(k > 0);
	*len = (size_t)k;
	OCSP_REQUEST_free(req);
	return der;
}

/*
 * ocsp_answer on req: the response status (OCSP_RESPONSE_STATUS_*), and
 * for a successful one each SingleResponse's cert status into status[]
 * (at most 16) and the first one's nextUpdate into *next.
 */
static int
answer_all(const unsigned char *req, size_t reqlen, int *status,
    time_t *next)
{
	struct ocsp_blob *blob = NULL;
	const unsigned char *der = NULL, *p;
	unsigned char *re;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	ASN1_GENERALIZEDTIME *rev, *tu, *nu;
	struct tm tm;
	size_t derlen;
	int owned = 0, cacheable = 0, i, reason, rs;

	assert_int_equal(ocsp_answer(&r, req, reqlen, &der, &derlen, &blob,
	    &owned, &cacheable), 0);
	p = der;
	assert_non_null(resp = d2i_OCSP_RESPONSE(NULL, &p, (long)derlen));
	if ((rs = OCSP_response_status(resp)) ==
	    OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		/* ocsp_response_wrap's bytes: those OpenSSL would write. */
		re = NULL;
		assert_int_equal(i2d_OCSP_RESPONSE(resp, &re), (int)derlen);
		assert_memory_equal(re, der, derlen);
		OPENSSL_free(re);
		assert_non_null(bs = OCSP_response_get1_basic(resp));
		for (i = 0; i < OCSP_resp_count(bs) && i < 16; i++) {
			rev = tu = nu = NULL;
			status[i] = OCSP_single_get0_status(OCSP_resp_get0(bs,
			    i), &reason, &rev, &tu, &nu);
			if (i == 0 && next != NULL) {
				assert_int_equal(ASN1_TIME_to_tm(nu, &tm), 1);
				*next = timegm(&tm);
			}
		}
		OCSP_BASICRESP_free(bs);
	}
	OCSP_RESPONSE_free(resp);
	if (owned)
		OPENSSL_free((unsigned char *)der);
	ocsp_blob_unref(blob);
	return rs;
}

/*
 * A loop that does not wait for the database (ocsp_pending.defer_lookup):
 * ocsp_answer_begin returns 2 for a request with serials the cache does
 * not hold, without asking r->lookup; ocsp_answer_lookup_of names them
 * (only those), and ocsp_answer_looked_up goes on from the lookup's
 * answer: tryLater when it could not say, else the ResponseData to sign
 * with the statuses it gave (two CertIDs: one cached, one looked up).
 * A cached answer is still 0 at once.
 */
static void
test_lookup_deferred(void **state)
{
	static const char *const two[] = { "1001", "D1" };
	struct ocsp_pending p;
	struct ocsp_lookup lk;
	struct ocsp_blob *blob = NULL;
	const unsigned char *der = NULL;
	unsigned char *req, *sig = NULL, *out;
	size_t reqlen, derlen, siglen;
	int owned, cacheable, status[16], pass, i, n, more;

	r.lookup = fake_lookup;
	lookups = 0;
	add_good(GOOD_ISSUER, 1);			/* "1001" */
	assert_int_equal(ocsp_sync_sign(&sy, &more), 1);
	/* Cached: answered at once, deferred or not. */
	req = make_request("1001", &reqlen);
	ocsp_pending_init(&p);
	p.defer_lookup = 1;
	assert_int_equal(ocsp_answer_begin(&r, req, reqlen, &der, &derlen,
	    &blob, &owned, &cacheable, &p), 0);
	assert_non_null(blob);
	assert_true(cacheable);
	ocsp_blob_unref(blob);
	ocsp_pending_clear(&p);
	OPENSSL_free(req);
	req = make_request_n(two, 2, 0, &reqlen);
	for (pass = 0; pass < 2; pass++) {
		ocsp_pending_init(&p);
		p.defer_lookup = 1;
		assert_int_equal(ocsp_answer_begin(&r, req, reqlen, &der,
		    &derlen, &blob, &owned, &cacheable, &p), 2);
		assert_int_equal(lookups, 0);
		ocsp_answer_lookup_of(&p, &lk);
		assert_int_equal(lk.n, 1);
		assert_string_equal(lk.serials[0], "D1");
		assert_int_equal(lk.issuer, GOOD_ISSUER);
		if (pass == 0) {
			/* The lookup thread could not say. */
			lk.rc = -1;
			assert_int_equal(ocsp_answer_looked_up(&r, &p, &lk,
			    &der, &derlen, &blob, &owned, &cacheable), 0);
			assert_int_equal(derlen, sizeof(ocsp_trylater_der));
			assert_memory_equal(der, ocsp_trylater_der, derlen);
			ocsp_pending_clear(&p);
			continue;
		}
		lk.rc = 0;
		lk.data_at = time(NULL);
		lk.st[0].state = OCSP_STATE_REVOKED;
		lk.st[0].reason = 1;
		lk.st[0].revoked_at = time(NULL) - 100;
		lk.st[0].not_after = time(NULL) - 400 * 86400;
		assert_int_equal(ocsp_answer_looked_up(&r, &p, &lk, &der,
		    &derlen, &blob, &owned, &cacheable), 1);
		assert_int_equal(ocsp_tbs_sign(&r, p.issuer, p.tbs.buf,
		    p.tbs.len, &sig, &siglen), 0);
		assert_int_equal(ocsp_answer_finish(&r, &p, sig, siglen, &der,
		    &derlen, &blob, &owned, &cacheable), 0);
		assert_true(owned);
		free(sig);
		out = (unsigned char *)der;
		{
			const unsigned char *q = der;
			OCSP_RESPONSE *resp;
			OCSP_BASICRESP *bs;

			assert_non_null(resp = d2i_OCSP_RESPONSE(NULL, &q,
			    (long)derlen));
			assert_non_null(bs = OCSP_response_get1_basic(resp));
			n = OCSP_resp_count(bs);
			assert_int_equal(n, 2);
			for (i = 0; i < n; i++)
				status[i] = OCSP_single_get0_status(
				    OCSP_resp_get0(bs, i), NULL, NULL, NULL,
				    NULL);
			OCSP_BASICRESP_free(bs);
			OCSP_RESPONSE_free(resp);
		}
		assert_int_equal(status[0], V_OCSP_CERTSTATUS_GOOD);
		assert_int_equal(status[1], V_OCSP_CERTSTATUS_REVOKED);
		OPENSSL_free(out);
		ocsp_pending_clear(&p);
	}
	assert_int_equal(lookups, 0);
	OPENSSL_free(req);
	r.lookup = NULL;
}

/*
 * The CertIDs of a request missing from the cache are asked in one
 * database round trip, not one each; a database that cannot say makes
 * the whole answer tryLater.
 */
static void
test_lookup_batched(void **state)
{
	const char *const mixed[4] = { "E1", "1001", "E4", "78" };
	const char *const dead[3] = { "E1", "DEAD", "79" };
	unsigned char *req;
	size_t len;
	int st[16];

	add_good(GOOD_ISSUER, 1);		/* "1001": in the cache */
	r.lookup = fake_lookup;
	lookups = lookup_serials = 0;
	req = make_request_n(mixed, 4, 0, &len);
	assert_int_equal(answer_all(req, len, st, NULL),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	OPENSSL_free(req);
	assert_int_equal(lookups, 1);
	assert_int_equal(lookup_serials, 3);
	assert_int_equal(st[0], V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(st[1], V_OCSP_CERTSTATUS_GOOD);
	assert_int_equal(st[2], V_OCSP_CERTSTATUS_REVOKED);
	assert_int_equal(st[3], V_OCSP_CERTSTATUS_REVOKED);	/* 1970 hold */
	req = make_request_n(dead, 3, 0, &len);
	assert_int_equal(answer_all(req, len, st, NULL),
	    OCSP_RESPONSE_STATUS_TRYLATER);
	OPENSSL_free(req);
	assert_int_equal(lookups, 2);
	r.lookup = NULL;
}

/*
 * The notifications' payloads (sync.c ocsp_sync_notified): the serials of
 * our issuers, as the table stores them, go into the next poll's array
 * literal; anything else (another issuer, another channel, lower case,
 * too long, a comma or a brace that would add elements to the literal,
 * an issuer id that overflows) is ignored, and past OCSP_NOTIFY_MAX
 * serials the rest are left to the poll's xid range.
 */
static void
test_sync_notified(void **state)
{
	static const char *const bad[] = {
		"8:1A2B",		/* not an issuer of ours */
		"7:1a2b",		/* not as stored (schema/055) */
		"7:", ":1A", "7", "", "7x:1A", " 7:1A", "+7:1A", "-7:1A",
		"7:1A,2B", "7:1A}", "7:{1A", "7:1A 2B", "7: 1A", "7:1A:2B",
		"7:12345678901234567890123456789012345678901",	/* 41 */
		"99999999999999999999999:1A",
	};
	char serial[48], payload[64];
	size_t i;

	memset(&sy, 0, sizeof(sy));
	sy.r = &r;
	r.iss[GOOD_ISSUER].db_id = 7;
	r.iss[BROKEN_ISSUER].db_id = 9;
	ocsp_sync_notified(&sy, "certificate_status", "7:1A2B");
	assert_int_equal(sy.nrenotify, 1);
	assert_string_equal(sy.renotify, "{1A2B}");
	ocsp_sync_notified(&sy, "certificate_status", "9:00FF");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ocsp_sync_notified(&sy, "certificate_status", bad[i]);
	ocsp_sync_notified(&sy, "crl_issued", "7:ABCD");
	assert_int_equal(sy.nrenotify, 2);
	assert_string_equal(sy.renotify, "{1A2B,00FF}");
	/* Up to OCSP_NOTIFY_MAX serials of 40 digits, then no more. */
	for (i = 2; i < OCSP_NOTIFY_MAX + 5; i++) {
		snprintf(serial, sizeof(serial), "%040zX", i);
		snprintf(payload, sizeof(payload), "7:%s", serial);
		ocsp_sync_notified(&sy, "certificate_status", payload);
	}
	assert_int_equal(sy.nrenotify, OCSP_NOTIFY_MAX);
	assert_true(strlen(sy.renotify) < sizeof(sy.renotify));
	snprintf(serial, sizeof(serial), ",%040X}", OCSP_NOTIFY_MAX - 1);
	assert_string_equal(sy.renotify + strlen(sy.renotify) -
	    strlen(serial), serial);
	r.iss[GOOD_ISSUER].db_id = 0;
	r.iss[BROKEN_ISSUER].db_id = 0;
}

/* The value of keyword in conninfo (reparsed), malloc'd; NULL if unset. */
static char *
conninfo_value(const char *conninfo, const char *keyword)
{
	PQconninfoOption *opts, *o;
	char *v = NULL;

	assert_non_null(opts = PQconninfoParse(conninfo, NULL));
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, keyword) == 0 && o->val != NULL)
			assert_non_null(v = strdup(o->val));
	PQconninfoFree(opts);
	return v;
}

/*
 * Both connections carry lock_timeout and statement_timeout in their
 * conninfo (so that db_exec's own reconnections keep them), added to
 * whatever options the configured conninfo had, URI or key=value, every
 * other parameter kept, quotes and backslashes surviving.
 */
static void
test_conninfo_timeouts(void **state)
{
	char err[256], *c, *v;

	c = ocsp_sync_conninfo("host=/run/pki port=5432 dbname=pki "
	    "user=pki_ocsp connect_timeout=5", 150, 250, err, sizeof(err));
	assert_non_null(c);
	v = conninfo_value(c, "options");
	assert_string_equal(v, "-c lock_timeout=150 -c statement_timeout=250");
	free(v);
	v = conninfo_value(c, "host");
	assert_string_equal(v, "/run/pki");
	free(v);
	v = conninfo_value(c, "connect_timeout");
	assert_string_equal(v, "5");
	free(v);
	free(c);

	c = ocsp_sync_conninfo("postgresql://u:p%27w%5C@h:5433/db?"
	    "options=-c%20search_path%3Dx&target_session_attrs=prefer-standby",
	    2000, 30000, err, sizeof(err));
	assert_non_null(c);
	v = conninfo_value(c, "options");
	assert_string_equal(v, "-c search_path=x -c lock_timeout=2000 "
	    "-c statement_timeout=30000");
	free(v);
	v = conninfo_value(c, "password");
	assert_string_equal(v, "p'w\\");
	free(v);
	v = conninfo_value(c, "target_session_attrs");
	assert_string_equal(v, "prefer-standby");
	free(v);
	v = conninfo_value(c, "port");
	assert_string_equal(v, "5433");
	free(v);
	free(c);

	assert_null(ocsp_sync_conninfo("host='unterminated", 1, 1, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "connection string"));
}

/*
 * The on-demand signing budget (budget.c), on a clock of the test's own:
 * a client's bucket holds one second's worth and refills at its rate,
 * never beyond; clients count apart, an IPv6 one by its /64 and an
 * IPv4-mapped one as IPv4; the bucket of all clients bounds them
 * together, and a refusal by either takes nothing from the other; a
 * clock set back refills nothing; a table full of addresses still
 * grants a new one its first signature; NULL is no bound.
 */
static void
test_budget(void **state)
{
	struct ocsp_budget *b;
	uint64_t dropped, later;
	char addr[64];
	int i;

	assert_int_equal(ocsp_budget_take(NULL, "192.0.2.1", 0), 1);
	assert_null(ocsp_budget_new(-1, 0));

	assert_non_null(b = ocsp_budget_new(0, 2));
	assert_int_equal(ocsp_budget_take(b, "192.0.2.1", 1000), 1);
	assert_int_equal(ocsp_budget_take(b, "192.0.2.1", 1000), 1);
	assert_int_equal(ocsp_budget_take(b, "192.0.2.1", 1000), 0);
	assert_int_equal(ocsp_budget_take(b, "::ffff:192.0.2.1", 1000), 0);
	assert_int_equal(ocsp_budget_take(b, "192.0.2.2", 1000), 1);
	/* Half a second at 2 a second: one more, then none. */
	assert_int_equal(ocsp_budget_take(b, "192.0.2.1", 1500), 1);
	assert_int_equal(ocsp_budget_take(b, "192.0.2.1", 1500), 0);
	/* A clock set back refills nothing. */
	assert_int_equal(ocsp_budget_take(b, "192.0.2.1", 500), 0);
	/* Long idle: one second's worth, not more. */
	assert_int_equal(ocsp_budget_take(b, "192.0.2.1", 60000), 1);
	assert_int_equal(ocsp_budget_take(b, "192.0.2.1", 60000), 1);
	assert_int_equal(ocsp_budget_take(b, "192.0.2.1", 60000), 0);
	/* One /64, one client; another /64, another. */
	assert_int_equal(ocsp_budget_take(b, "2001:db8::1", 1000), 1);
	assert_int_equal(ocsp_budget_take(b, "2001:db8::ffff:2", 1000), 1);
	assert_int_equal(ocsp_budget_take(b, "2001:db8::3", 1000), 0);
	assert_int_equal(ocsp_budget_take(b, "2001:db8:0:1::1", 1000), 1);
	/* More addresses than the table holds: each gets its first. */
	for (i = 0; i < 3 * OCSP_BUDGET_SLOTS; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16,
		    (i >> 8) & 255, i & 255);
		assert_int_equal(ocsp_budget_take(b, addr, 2000), 1);
	}
	ocsp_budget_free(b);

	/* All clients together: 3 a second, whoever asks. */
	assert_non_null(b = ocsp_budget_new(3, 0));
	assert_int_equal(ocsp_budget_take(b, "192.0.2.1", 0), 1);
	assert_int_equal(ocsp_budget_take(b, "192.0.2.2", 0), 1);
	assert_int_equal(ocsp_budget_take(b, "192.0.2.3", 0), 1);
	assert_int_equal(ocsp_budget_take(b, "192.0.2.4", 0), 0);
	assert_int_equal(ocsp_budget_take(b, "192.0.2.4", 1000), 1);
	ocsp_budget_free(b);

	/*
	 * Both: a client refused by the bucket of all loses nothing of its
	 * own, and one refused by its own takes nothing from all.
	 */
	assert_non_null(b = ocsp_budget_new(1, 1));
	assert_int_equal(ocsp_budget_take(b, "192.0.2.1", 0), 1);
	assert_int_equal(ocsp_budget_take(b, "192.0.2.2", 0), 0);
	assert_int_equal(ocsp_budget_take(b, "192.0.2.2", 1000), 1);
	assert_int_equal(ocsp_budget_take(b, "192.0.2.2", 2000), 1);
	assert_int_equal(ocsp_budget_take(b, "192.0.2.2", 2000), 0);
	assert_int_equal(ocsp_budget_take(b, "192.0.2.3", 3000), 1);
	/* Refusals counted (/health), whatever the log says. */
	ocsp_budget_refused(b, 1, 3000);
	ocsp_budget_refused(b, 0, 3001);
	ocsp_budget_refused(b, 0, 3002);
	ocsp_budget_counts(b, &dropped, &later);
	assert_int_equal(dropped, 1);
	assert_int_equal(later, 2);
	ocsp_budget_free(b);
}

/*
 * Over budget, through ocspd's handler: a nonce request (GET) for a
 * certificate whose response is pre-signed is answered with that
 * response, without its nonce, and a request that needs a signature the
 * cache cannot stand in for (a nonce marked critical, which we may not
 * ignore; a SHA-256 CertID not signed yet) gets tryLater; within the
 * budget, the nonce is signed and echoed. The budget is emptied before
 * each request (the handler's clock is the real one: 1 a second).
 */
static void
test_budget_handler(void **state)
{
	struct http_server *srv;
	struct tget g, pre;
	OCSP_REQUEST *oreq;
	X509_EXTENSION *ext;
	unsigned char *der, *b64;
	char url[2048], base[256];
	size_t len;
	int k, n, i;

	add_good(GOOD_ISSUER, 1);
	/* Signed (no budget yet) and kept: the pre-signed answer. */
	srv = get_server("1001", url, sizeof(url));
	tget(url, NULL, NULL, &pre);
	assert_int_equal(pre.status, 200);
	assert_true(presigned(GOOD_ISSUER, 1));
	snprintf(base, sizeof(base), "http://127.0.0.1:%u/",
	    (unsigned int)http_port(srv));
	assert_non_null(r.budget = ocsp_budget_new(0, 1));

	for (k = 0; k < 3; k++) {
		assert_non_null(oreq = OCSP_REQUEST_new());
		assert_non_null(OCSP_request_add0_id(oreq, make_certid("1001",
		    k == 2 ? EVP_sha256() : EVP_sha1(), 0)));
		if (k < 2)
			assert_int_equal(OCSP_request_add1_nonce(oreq, NULL,
			    16), 1);
		if (k == 1) {
			assert_non_null(ext = OCSP_REQUEST_get_ext(oreq, 0));
			assert_int_equal(X509_EXTENSION_set_critical(ext, 1),
			    1);
		}
		der = NULL;
		assert_true((n = i2d_OCSP_REQUEST(oreq, &der)) > 0);
		len = (size_t)n;
		OCSP_REQUEST_free(oreq);
		assert_non_null(b64 = malloc(4 * ((len + 2) / 3) + 1));
		EVP_EncodeBlock(b64, der, (int)len);
		snprintf(url, sizeof(url), "%s%s", base, (const char *)b64);
		free(b64);
		OPENSSL_free(der);
		/* Emptied, then asked: a refill in between is a second away. */
		for (i = 0; i < 5; i++) {
			while (ocsp_budget_take(r.budget, "127.0.0.1",
			    daemon_now_ms()) == 1)
				;
			tget(url, NULL, NULL, &g);
			assert_int_equal(g.status, 200);
			if (k == 0 && g.len == pre.len &&
			    memcmp(g.body, pre.body, pre.len) == 0)
				break;
			if (k > 0 && g.len == sizeof(ocsp_trylater_der) &&
			    memcmp(g.body, ocsp_trylater_der, g.len) == 0)
				break;
			/* Else signed live: the budget had refilled. */
			assert_true(g.len > 100);
			free(g.body);
			g.body = NULL;
		}
		assert_true(i < 5);
		free(g.body);
	}
	/* Within the budget: signed, not the cached bytes. */
	sleep(1);
	assert_non_null(oreq = OCSP_REQUEST_new());
	assert_non_null(OCSP_request_add0_id(oreq, make_certid("1001",
	    EVP_sha1(), 0)));
	assert_int_equal(OCSP_request_add1_nonce(oreq, NULL, 16), 1);
	der = NULL;
	assert_true((n = i2d_OCSP_REQUEST(oreq, &der)) > 0);
	OCSP_REQUEST_free(oreq);
	assert_non_null(b64 = malloc(4 * (((size_t)n + 2) / 3) + 1));
	EVP_EncodeBlock(b64, der, n);
	snprintf(url, sizeof(url), "%s%s", base, (const char *)b64);
	free(b64);
	OPENSSL_free(der);
	tget(url, NULL, NULL, &g);
	assert_int_equal(g.status, 200);
	assert_true(g.len > 100 && (g.len != pre.len ||
	    memcmp(g.body, pre.body, pre.len) != 0));
	free(g.body);
	free(pre.body);
	http_stop(srv);
}

/*
 * ocsp_answer's bytes for req[0..len), malloc'd into *out (the caller
 * frees); the response status.
 */
static int
answer_copy(const unsigned char *req, size_t len, unsigned char **out,
    size_t *outlen)
{
	struct ocsp_blob *blob = NULL;
	const unsigned char *der = NULL, *p;
	OCSP_RESPONSE *resp;
	size_t derlen;
	int owned = 0, cacheable = 0, rs;

	assert_int_equal(ocsp_answer(&r, req, len, &der, &derlen, &blob,
	    &owned, &cacheable), 0);
	assert_non_null(*out = malloc(derlen));
	memcpy(*out, der, derlen);
	*outlen = derlen;
	p = der;
	assert_non_null(resp = d2i_OCSP_RESPONSE(NULL, &p, (long)derlen));
	rs = OCSP_response_status(resp);
	OCSP_RESPONSE_free(resp);
	if (owned)
		OPENSSL_free((unsigned char *)der);
	ocsp_blob_unref(blob);
	return rs;
}

/*
 * ocsp_answer for a request of serial 1001 with one nonce extension,
 * its extnValue value[0..len) as it is, critical or not: the response
 * status; *echoed 1 when the response carries that very extension value
 * (OCSP_check_nonce), *cached 1 when its bytes are pre[0..prelen).
 */
static int
answer_nonce(const unsigned char *value, size_t len, int critical,
    const unsigned char *pre, size_t prelen, int *echoed, int *cached)
{
	OCSP_REQUEST *req;
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs;
	ASN1_OCTET_STRING *os;
	X509_EXTENSION *ext;
	const unsigned char *p;
	unsigned char *rder = NULL, *out;
	size_t outlen;
	int n, rs;

	assert_non_null(req = OCSP_REQUEST_new());
	assert_non_null(OCSP_request_add0_id(req, make_certid("1001",
	    EVP_sha1(), 0)));
	assert_non_null(os = ASN1_OCTET_STRING_new());
	assert_int_equal(ASN1_OCTET_STRING_set(os, value, (int)len), 1);
	assert_non_null(ext = X509_EXTENSION_create_by_NID(NULL,
	    NID_id_pkix_OCSP_Nonce, critical, os));
	assert_int_equal(OCSP_REQUEST_add_ext(req, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	assert_true((n = i2d_OCSP_REQUEST(req, &rder)) > 0);
	rs = answer_copy(rder, (size_t)n, &out, &outlen);
	*cached = outlen == prelen && memcmp(out, pre, prelen) == 0;
	*echoed = 0;
	if (rs == OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		p = out;
		assert_non_null(resp = d2i_OCSP_RESPONSE(NULL, &p,
		    (long)outlen));
		assert_non_null(bs = OCSP_response_get1_basic(resp));
		*echoed = OCSP_check_nonce(req, bs) == 1;
		OCSP_BASICRESP_free(bs);
		OCSP_RESPONSE_free(resp);
	}
	free(out);
	OPENSSL_free(rder);
	OCSP_REQUEST_free(req);
	return rs;
}

/* The DER of an OCTET STRING of n octets (n < 256) into out. */
static size_t
nonce_der(size_t n, unsigned char *out)
{
	size_t h = 0, i;

	out[h++] = 0x04;
	if (n >= 128)
		out[h++] = 0x81;
	out[h++] = (unsigned char)n;
	for (i = 0; i < n; i++)
		out[h + i] = (unsigned char)(0xa0 + i);
	return h + n;
}

/*
 * Nonces by length (RFC 9654 §2.1), through ocsp_answer: with nonce =
 * echo, 1 to 128 octets are signed live and echoed (until 2026-12-07 33
 * to 128 got malformedRequest, RFC 8954's bound), 0 and 129
 * malformedRequest; with nonce = ignore, 64 and 129 octets alike get
 * the pre-signed answer, and a critical one malformedRequest.
 */
static void
test_nonce_lengths(void **state)
{
	static const size_t echo[] = { 1, 15, 16, 32, 33, 64, 128 };
	unsigned char v[300], *plain, *pre;
	size_t i, len, plen, prelen;
	int echoed, cached;

	add_good(GOOD_ISSUER, 1);
	plain = make_request("1001", &plen);
	/* Signed at the first request and kept: then the cache's bytes. */
	assert_int_equal(answer_copy(plain, plen, &pre, &prelen),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	free(pre);
	assert_int_equal(answer_copy(plain, plen, &pre, &prelen),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_true(presigned(GOOD_ISSUER, 1));
	for (i = 0; i < sizeof(echo) / sizeof(echo[0]); i++) {
		len = nonce_der(echo[i], v);
		if (answer_nonce(v, len, 0, pre, prelen, &echoed, &cached) !=
		    OCSP_RESPONSE_STATUS_SUCCESSFUL || !echoed || cached)
			fail_msg("a nonce of %zu octets: not echoed", echo[i]);
	}
	len = nonce_der(0, v);
	assert_int_equal(answer_nonce(v, len, 0, pre, prelen, &echoed,
	    &cached), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	len = nonce_der(129, v);
	assert_int_equal(answer_nonce(v, len, 0, pre, prelen, &echoed,
	    &cached), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);

	/* nonce = ignore: as before RFC 9654, the cache's bytes. */
	r.pol.echo_nonce = 0;
	len = nonce_der(64, v);
	assert_int_equal(answer_nonce(v, len, 0, pre, prelen, &echoed,
	    &cached), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_true(cached && !echoed);
	len = nonce_der(129, v);
	assert_int_equal(answer_nonce(v, len, 0, pre, prelen, &echoed,
	    &cached), OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_true(cached && !echoed);
	len = nonce_der(64, v);
	assert_int_equal(answer_nonce(v, len, 1, pre, prelen, &echoed,
	    &cached), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	free(pre);
	OPENSSL_free(plain);
}

/*
 * A nonce whose extnValue holds its raw octets, not an OCTET STRING
 * (BouncyCastle's new Extension(id_pkix_ocsp_nonce, false, new
 * DEROctetString(raw))), through ocsp_answer: not critical, the
 * pre-signed bytes, no nonce in them (until 2026-12-07
 * malformedRequest); critical, malformedRequest; the same with nonce =
 * ignore.
 */
static void
test_nonce_raw(void **state)
{
	static const unsigned char raw[16] = {
		0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
		0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0 };
	unsigned char *plain, *pre;
	size_t plen, prelen;
	int echoed, cached, echo;

	add_good(GOOD_ISSUER, 1);
	plain = make_request("1001", &plen);
	assert_int_equal(answer_copy(plain, plen, &pre, &prelen),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	free(pre);
	assert_int_equal(answer_copy(plain, plen, &pre, &prelen),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_true(presigned(GOOD_ISSUER, 1));
	for (echo = 1; echo >= 0; echo--) {
		r.pol.echo_nonce = echo;
		if (answer_nonce(raw, sizeof(raw), 0, pre, prelen, &echoed,
		    &cached) != OCSP_RESPONSE_STATUS_SUCCESSFUL || !cached ||
		    echoed)
			fail_msg("nonce = %s: a raw nonce, not critical, not "
			    "answered from the cache", echo ? "echo" : "ignore");
		assert_int_equal(answer_nonce(raw, sizeof(raw), 1, pre, prelen,
		    &echoed, &cached), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	}
	free(pre);
	OPENSSL_free(plain);
}

/*
 * GET paths through ocspd's handler (RFC 6960 Appendix A.1): "//" +
 * base64 (a client joining an AIA URL that ends in '/', boulder#2774)
 * and, with urls.ocsp "http://host/ocsp" (r.url_prefix "/ocsp"),
 * "/ocsp/" + base64 and "/ocsp//" + base64 get the same bytes as "/" +
 * base64, the pre-signed answer; "/ocsp" and "/ocsp/" alone are "/"
 * (HTTP 400); a path that only begins like the prefix is not cut.
 * Until 2026-12-07 each of them was malformedRequest.
 */
static void
test_get_paths(void **state)
{
	static const char *const paths[] = { "//", "///", "/ocsp/",
	    "/ocsp//" };
	struct http_server *srv;
	struct tget pre, g;
	char url[2048], base[256], b64[1024];
	size_t i, n;

	add_good(GOOD_ISSUER, 1);
	snprintf(r.url_prefix, sizeof(r.url_prefix), "/ocsp");
	srv = get_server("1001", url, sizeof(url));
	snprintf(base, sizeof(base), "http://127.0.0.1:%u",
	    (unsigned int)http_port(srv));
	n = strlen(url + strlen(base) + 1);
	assert_true(n < sizeof(b64));
	memcpy(b64, url + strlen(base) + 1, n + 1);
	tget(url, NULL, NULL, &pre);
	assert_int_equal(pre.status, 200);
	assert_true(pre.len > 100);
	assert_true(presigned(GOOD_ISSUER, 1));
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char u[2048];

		snprintf(u, sizeof(u), "%s%s%s", base, paths[i], b64);
		tget(u, NULL, NULL, &g);
		assert_int_equal(g.status, 200);
		if (g.len != pre.len || memcmp(g.body, pre.body, pre.len) != 0)
			fail_msg("GET %s+base64: not the bytes of /+base64",
			    paths[i]);
		free(g.body);
	}
	/* The prefix alone is the responder's "/": no request in it. */
	for (i = 0; i < 2; i++) {
		snprintf(url, sizeof(url), "%s/ocsp%s", base, i ? "/" : "");
		tget(url, NULL, NULL, &g);
		assert_int_equal(g.status, 400);
		free(g.body);
	}
	/* "/ocspX/" + base64 is not under "/ocsp": not a request. */
	snprintf(url, sizeof(url), "%s/ocspX/%s", base, b64);
	tget(url, NULL, NULL, &g);
	assert_int_equal(g.status, 200);
	assert_true(g.len == sizeof(ocsp_malformed_der) &&
	    memcmp(g.body, ocsp_malformed_der, g.len) == 0);
	free(g.body);
	free(pre.body);
	http_stop(srv);
}

/*
 * GET /health through ocspd's handler: the JSON, parsed; the HTTP status
 * into *status unless NULL, else it must be 200. Whatever the status, no
 * cache may keep it (Cache-Control: no-store; until 2026-12-06 none was
 * sent, and a 503 or a "degraded" could be served stale as well as an ok).
 */
static json_t *
health_get_status(int *status)
{
	struct http_server *srv;
	struct tget g;
	json_t *o;
	char url[512];

	srv = get_server("1", url, sizeof(url));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/health",
	    (unsigned int)http_port(srv));
	tget(url, NULL, NULL, &g);
	http_stop(srv);
	assert_string_equal(g.cc, "no-store");
	if (status != NULL)
		*status = (int)g.status;
	else
		assert_int_equal(g.status, 200);
	o = json_loadb((const char *)g.body, g.len, 0, NULL);
	free(g.body);
	assert_non_null(o);
	return o;
}

static json_t *
health_get(void)
{
	return health_get_status(NULL);
}

static const char *
health_status(json_t *o)
{
	return json_string_value(json_object_get(o, "status"));
}

/*
 * /health: degraded when the statuses were read too long ago even with
 * the database said to be ok (a stuck maintenance thread), when the last
 * lookups failed in a row (200: what it answers is right), and some days
 * before a responder certificate expires; each responder's notAfter
 * reported. serving_until counts the SHA-1 answers of issued
 * certificates only, not never-issued ones nor SHA-2 variants.
 */
static void
test_health(void **state)
{
	struct ocsp_cache_stats cs;
	struct ocsp_status st;
	struct ocsp_blob *b;
	time_t now = time(NULL);
	json_t *o, *lk;
	int code;

	r.db_ok = 1;
	r.synced_at = now;
	r.iss[GOOD_ISSUER].rnot_after = now + 30 * 86400;
	r.iss[BROKEN_ISSUER].rnot_after = now + 60 * 86400;
	o = health_get();
	assert_string_equal(health_status(o), "ok");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o,
	    "responder_not_after"), "good")), now + 30 * 86400);
	json_decref(o);
	/*
	 * Read a minute ago, the database "ok": the thread is stuck, and
	 * what this responder answers is not known current: 503, so that
	 * a load balancer reading the status code takes it out.
	 */
	r.synced_at = now - 60;
	o = health_get_status(&code);
	assert_int_equal(code, 503);
	assert_string_equal(health_status(o), "degraded");
	json_decref(o);
	/* The database down a moment: degraded, still serving: 200. */
	r.synced_at = time(NULL) - OCSP_HEALTH_SYNC_SLACK_S;
	r.db_ok = 0;
	o = health_get_status(&code);
	assert_int_equal(code, 200);
	assert_string_equal(health_status(o), "degraded");
	json_decref(o);
	r.db_ok = 1;
	o = health_get();
	assert_string_equal(health_status(o), "ok");
	lk = json_object_get(o, "lookups");
	assert_true(json_is_true(json_object_get(lk, "ok")));
	assert_true(json_is_null(json_object_get(lk, "last_ok_at")));
	json_decref(o);
	/*
	 * Lookups (sync.c) failing in a row while the maintenance thread's
	 * connection works: degraded from OCSP_HEALTH_LOOKUP_FAILS, still
	 * 200 (the cache's answers are right, the lookups' tryLater); ok
	 * again after one that succeeded.
	 */
	r.lookups_failed = 7;
	r.lookups_failed_run = OCSP_HEALTH_LOOKUP_FAILS - 1;
	o = health_get();
	assert_string_equal(health_status(o), "ok");
	json_decref(o);
	r.lookups_failed_run = OCSP_HEALTH_LOOKUP_FAILS;
	o = health_get_status(&code);
	assert_int_equal(code, 200);
	assert_string_equal(health_status(o), "degraded");
	assert_true(json_is_true(json_object_get(o, "database_ok")));
	lk = json_object_get(o, "lookups");
	assert_true(json_is_false(json_object_get(lk, "ok")));
	assert_int_equal(json_integer_value(json_object_get(lk, "failed")), 7);
	assert_int_equal(json_integer_value(json_object_get(lk,
	    "failed_in_a_row")), OCSP_HEALTH_LOOKUP_FAILS);
	json_decref(o);
	r.lookups_failed_run = 0;
	r.lookup_ok_at = now;
	o = health_get();
	assert_string_equal(health_status(o), "ok");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o,
	    "lookups"), "last_ok_at")), now);
	json_decref(o);
	/* A responder certificate expiring within OCSP_RESPONDER_WARN_S. */
	r.synced_at = time(NULL);
	r.iss[BROKEN_ISSUER].rnot_after = now + OCSP_RESPONDER_WARN_S - 60;
	o = health_get();
	assert_string_equal(health_status(o), "degraded");
	json_decref(o);

	/* serving_until: the issued certificate's SHA-1 answer. */
	memset(&st, 0, sizeof(st));
	st.reason = -1;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "A1",
	    &st), 1);
	assert_non_null(b = ocsp_blob_new((const unsigned char *)"x", 1, now,
	    now + 1000, 60));
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "A1",
	    OCSP_HASH_SHA1, &st, b, 10), 0);
	ocsp_blob_unref(b);
	assert_non_null(b = ocsp_blob_new((const unsigned char *)"y", 1,
	    now - 500, now + 500, 60));
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "A1",
	    OCSP_HASH_SHA256, &st, b, 10), 0);
	ocsp_blob_unref(b);
	st.state = OCSP_STATE_NONISSUED;
	assert_non_null(b = ocsp_blob_new((const unsigned char *)"z", 1, now,
	    now + 100, 10));
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "A2",
	    OCSP_HASH_SHA1, &st, b, 10), 0);
	ocsp_blob_unref(b);
	ocsp_cache_stats(r.cache, 0, now + 7, &cs);
	assert_int_equal(cs.blobs, 3);
	assert_int_equal(cs.oldest_next_update, now + 1000);
}

/* Seconds nextUpdate - now of the SHA-1 blob of serial in the cache. */
static int64_t
blob_next_update(const char *serial)
{
	struct ocsp_status st;
	struct ocsp_blob *b = NULL;
	int64_t next;

	assert_int_equal(ocsp_cache_lookup(r.cache, GOOD_ISSUER, serial,
	    OCSP_HASH_SHA1, time(NULL), &st, &b), OCSP_CACHE_HIT);
	next = b->next_update;
	ocsp_blob_unref(b);
	return next;
}

/*
 * A response's nextUpdate is never later than its responder
 * certificate's notAfter, live or pre-signed; once that has passed,
 * nothing is signed: tryLater, and the pre-signing batch signs nothing
 * (nor asks to run again). Which certificates may sign at all.
 */
static void
test_responder_expiry(void **state)
{
	const char *const one[1] = { "1001" }, *const two[1] = { "1002" };
	unsigned char *req;
	size_t len;
	time_t now = time(NULL), next;
	int st[16], more;
	X509 *x;

	/* make_cert: valid from an hour ago to a day ahead. */
	x = r.iss[GOOD_ISSUER].rcert;
	assert_int_equal(ocsp_responder_valid(x, now), 1);
	assert_int_equal(ocsp_responder_valid(x, now - 7200), 0);
	assert_int_equal(ocsp_responder_valid(x, now + 86400 + 1), 0);
	assert_true(r.iss[GOOD_ISSUER].rnot_after >= now + 86400 - 5 &&
	    r.iss[GOOD_ISSUER].rnot_after <= now + 86400 + 5);

	r.iss[GOOD_ISSUER].rnot_after = now + 3600;
	add_good(GOOD_ISSUER, 1);
	add_good(GOOD_ISSUER, 2);
	/* Pre-signed: 1001 and 1002; 1001's thisUpdate + 4 days is later. */
	assert_int_equal(ocsp_sync_sign(&sy, &more), 2);
	assert_true(blob_next_update("1001") == now + 3600);
	/* Live (a nonce), and signed at a request and kept. */
	req = make_request_n(one, 1, 1, &len);
	assert_int_equal(answer_all(req, len, st, &next),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	OPENSSL_free(req);
	assert_int_equal(st[0], V_OCSP_CERTSTATUS_GOOD);
	assert_true(next == now + 3600);
	add_good(GOOD_ISSUER, 3);
	req = make_request("1003", &len);
	assert_int_equal(answer_all(req, len, st, &next),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	OPENSSL_free(req);
	assert_true(next == now + 3600);
	assert_true(blob_next_update("1003") == now + 3600);

	/* Expired: tryLater; the batch signs nothing and does not spin. */
	r.iss[GOOD_ISSUER].rnot_after = now - 1;
	add_good(GOOD_ISSUER, 4);
	req = make_request("1004", &len);
	assert_int_equal(answer_all(req, len, st, NULL),
	    OCSP_RESPONSE_STATUS_TRYLATER);
	OPENSSL_free(req);
	req = make_request_n(two, 1, 1, &len);
	assert_int_equal(answer_all(req, len, st, NULL),
	    OCSP_RESPONSE_STATUS_TRYLATER);
	OPENSSL_free(req);
	assert_int_equal(ocsp_sync_sign(&sy, &more), 0);
	assert_int_equal(more, 0);
}

/*
 * During an outage, once the last read is a response's validity old: a
 * response still in the cache (its nextUpdate ahead) is served, but
 * nothing is signed any more, live (a nonce) or for a cached status
 * without a response: tryLater (test_ocsp.sh cannot wait the 60 s the
 * shortest validity takes).
 */
static void
test_outage_trylater(void **state)
{
	const char *const one[1] = { "1001" };
	unsigned char *req;
	size_t len;
	time_t now = time(NULL);
	int st[16], more;

	r.synced_at = now - r.pol.validity + 100;
	add_good(GOOD_ISSUER, 1);
	r.iss[GOOD_ISSUER].rnot_after = 0;	/* no bound but the validity */
	assert_int_equal(ocsp_sync_sign(&sy, &more), 1);
	add_good(GOOD_ISSUER, 2);
	r.synced_at = now - r.pol.validity;
	/* Live answers still possible 100 s ago: now no longer. */
	req = make_request("1001", &len);
	assert_int_equal(answer_all(req, len, st, NULL),
	    OCSP_RESPONSE_STATUS_SUCCESSFUL);
	assert_int_equal(st[0], V_OCSP_CERTSTATUS_GOOD);
	OPENSSL_free(req);
	req = make_request_n(one, 1, 1, &len);
	assert_int_equal(answer_all(req, len, st, NULL),
	    OCSP_RESPONSE_STATUS_TRYLATER);
	OPENSSL_free(req);
	req = make_request("1002", &len);
	assert_int_equal(answer_all(req, len, st, NULL),
	    OCSP_RESPONSE_STATUS_TRYLATER);
	OPENSSL_free(req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_signed_as_openssl, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_due_walk_bounded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stale_full_batch_waits,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_skips_one_entry,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_signer_bounded,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_this_update_not_before_revocation, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_nonissued_bound_counts_responses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_age, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_certid_absent_params_echoed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_certid_bad_params_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_stats_counted_once_per_second, setup, teardown),
		cmocka_unit_test(test_http_date),
		cmocka_unit_test(test_if_none_match),
		cmocka_unit_test_setup_teardown(
		    test_if_modified_since_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_second_etag,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_standby_lag, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_last_modified_not_future, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_grace, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reason_unspecified, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hash_variant_expires,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_deferred, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lookup_batched, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sync_notified, setup,
		    teardown),
		cmocka_unit_test(test_conninfo_timeouts),
		cmocka_unit_test_setup_teardown(test_health, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_paths, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nonce_lengths, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nonce_raw, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_handler, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_responder_expiry, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_outage_trylater, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ca_revoked, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
