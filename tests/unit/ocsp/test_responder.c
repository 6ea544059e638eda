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
 *  - conditional GETs (RFC 9110 §13): If-None-Match lists, weak
 *    comparison and "*", strictly parsed; HTTP-dates in their three forms,
 *    nothing else; If-Modified-Since only when If-None-Match is absent, and
 *    only for a blob no answer of an earlier status can share a
 *    Last-Modified with (a revocation in the second of a pre-signing).
 *
 * ocsp_sync_sign is static: the sources are included rather than linked,
 * so the generic tests/unit rule builds this program (no ocspd rule in the
 * Makefile), and every non-static function is the real one.
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
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "lib/config.h"
#include "lib/log.h"

#include "ocsp/cache.c"
#include "ocsp/request.c"
#include "ocsp/respond.c"
#include "ocsp/sync.c"

#define GOOD_ISSUER	0
#define BROKEN_ISSUER	1	/* responder certificate and key differ */

static struct ocsp_responder r;
static struct ocsp_sync sy;
static EVP_PKEY *other_key;

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
make_issuer(struct ocsp_issuer *iss, const char *name, EVP_PKEY *rcert_key)
{
	iss->keys[0] = EVP_EC_gen("P-256");
	assert_non_null(iss->keys[0]);
	iss->nkeys = 1;
	iss->cert = make_cert(iss->keys[0], name);
	iss->rcert = make_cert(rcert_key != NULL ? rcert_key : iss->keys[0],
	    "responder");
	snprintf(iss->name, sizeof(iss->name), "%s", name);
	assert_int_equal(ocsp_issuer_hash(iss), 0);
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
	make_issuer(&r.iss[GOOD_ISSUER], "good", NULL);
	other_key = EVP_EC_gen("P-256");
	assert_non_null(other_key);
	make_issuer(&r.iss[BROKEN_ISSUER], "broken", other_key);
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
	for (i = 0; i < r.niss; i++) {
		EVP_PKEY_free(r.iss[i].keys[0]);
		X509_free(r.iss[i].cert);
		X509_free(r.iss[i].rcert);
	}
	EVP_PKEY_free(other_key);
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
	assert_int_equal(ocsp_cache_set_status(r.cache, issuer, serial, &st, 0),
	    1);
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
	    &st, 0), 1);
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
	    &st, 0), 1);
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
	    &good, 0), 1);
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
	    &st, 0), 1);
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
	    &st, 0), 1);
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
cond_blob(int lm_strong)
{
	static const unsigned char der[] = { 0x30, 0x03, 0x0a, 0x01, 0x00 };
	struct ocsp_blob *b;

	b = ocsp_blob_new(der, sizeof(der), T9, T9 + 4 * 86400, 3600);
	assert_non_null(b);
	assert_string_equal(b->last_modified, "Sun, 09 Sep 2001 01:46:40 GMT");
	b->lm_strong = lm_strong;
	return b;
}

/* If-None-Match (RFC 9110 §13.1.2): decides whenever present. */
static void
test_if_none_match(void **state)
{
	struct ocsp_blob *b = cond_blob(1);
	const char *lm = "Sun, 09 Sep 2001 01:46:40 GMT";
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
	assert_true(ocsp_not_modified(b, tag, NULL, T9));
	assert_true(ocsp_not_modified(b, "*", NULL, T9));
	assert_true(ocsp_not_modified(b, " * ", NULL, T9));
	/* Weak comparison: W/ on either side does not matter. */
	snprintf(in, sizeof(in), "W/%s", tag);
	assert_true(ocsp_not_modified(b, in, NULL, T9));
	snprintf(in, sizeof(in), "\"0011223344556677\", W/\"x\",%s", tag);
	assert_true(ocsp_not_modified(b, in, NULL, T9));
	snprintf(in, sizeof(in), " ,, \"\" ,\t%s ,", tag);
	assert_true(ocsp_not_modified(b, in, NULL, T9));
	snprintf(in, sizeof(in), "\"\xc3\xa9\", %s", tag);
	assert_true(ocsp_not_modified(b, in, NULL, T9));
	/* Another tag, a prefix of ours, ours unquoted or changed in case. */
	assert_false(ocsp_not_modified(b, "\"0011223344556677\"", NULL, T9));
	snprintf(in, sizeof(in), "%.*s\"", (int)strlen(tag) - 2, tag);
	assert_false(ocsp_not_modified(b, in, NULL, T9));
	snprintf(in, sizeof(in), "%.*s", (int)strlen(tag) - 2, tag + 1);
	assert_false(ocsp_not_modified(b, in, NULL, T9));
	snprintf(in, sizeof(in), "%s", tag);
	for (i = 0; in[i] != '\0'; i++)
		if (in[i] >= 'a' && in[i] <= 'f')
			in[i] -= 'a' - 'A';
	if (strcmp(in, tag) != 0)
		assert_false(ocsp_not_modified(b, in, NULL, T9));
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
		if (ocsp_not_modified(b, in, NULL, T9))
			fail_msg("If-None-Match: %s matched", in);
	}
	/* Present, it decides alone: an If-Modified-Since that would match does not. */
	assert_false(ocsp_not_modified(b, "\"0011223344556677\"", lm, T9));
	assert_false(ocsp_not_modified(b, "", lm, T9));
	assert_false(ocsp_not_modified(b, "garbage", lm, T9));
	assert_true(ocsp_not_modified(b, tag, "garbage", T9));
	/* No validators, no blob: the whole answer. */
	assert_false(ocsp_not_modified(b, NULL, NULL, T9));
	assert_false(ocsp_not_modified(NULL, tag, NULL, T9));
	ocsp_blob_unref(b);
}

/* If-Modified-Since (RFC 9110 §13.1.3), without If-None-Match. */
static void
test_if_modified_since(void **state)
{
	struct ocsp_blob *b = cond_blob(1);

	assert_true(ocsp_not_modified(b, NULL,
	    "Sun, 09 Sep 2001 01:46:40 GMT", T9));
	assert_true(ocsp_not_modified(b, NULL,
	    "Sun, 09 Sep 2001 01:46:41 GMT", T9));
	assert_true(ocsp_not_modified(b, NULL,
	    "Sunday, 09-Sep-01 01:46:40 GMT", T9));
	assert_true(ocsp_not_modified(b, NULL, "Sun Sep  9 01:46:40 2001",
	    T9));
	assert_false(ocsp_not_modified(b, NULL,
	    "Sun, 09 Sep 2001 01:46:39 GMT", T9));
	/* Not an HTTP-date: ignored (RFC 9110 §13.1.3), the whole answer. */
	assert_false(ocsp_not_modified(b, NULL,
	    "Sun, 09 Sep 2099 01:46:40 UTC", T9));
	assert_false(ocsp_not_modified(b, NULL, "4102444800", T9));
	assert_false(ocsp_not_modified(b, NULL, "", T9));
	/* A Last-Modified another status may have carried: never. */
	b->lm_strong = 0;
	assert_false(ocsp_not_modified(b, NULL,
	    "Sun, 09 Sep 2099 01:46:40 GMT", T9));
	ocsp_blob_unref(b);
}

/*
 * Last-Modified has one-second steps: a status that changes in the
 * second its last answer was dated gives the next answer the same
 * Last-Modified, and If-Modified-Since with it must not keep the old
 * answer in a cache (a revoked certificate "good" for max-age more). The
 * ETag, made from the bytes, tells them apart.
 */
static void
test_lm_strong_after_status_change(void **state)
{
	static const unsigned char d1[] = { 0x30, 0x03, 0x0a, 0x01, 0x00 };
	static const unsigned char d2[] = { 0x30, 0x03, 0x0a, 0x01, 0x01 };
	struct ocsp_status good, rev, ni;
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
	ni = good;
	ni.state = OCSP_STATE_NONISSUED;
	/* Loaded at start (nothing answered before), pre-signed: strong. */
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C1",
	    &good, 0), 1);
	old = ocsp_blob_new(d1, sizeof(d1), now - 5, now + 86400, 3600);
	assert_non_null(old);
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "C1", 0, &good,
	    old, 10), 0);
	assert_true(old->lm_strong);
	assert_true(ocsp_not_modified(old, NULL, old->last_modified, now));
	/* Revoked in that second: the next answer is dated so too. */
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C1", &rev,
	    now - 5), 1);
	b = ocsp_blob_new(d2, sizeof(d2), now - 5, now + 86400, 3600);
	assert_non_null(b);
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "C1", 0, &rev, b,
	    10), 0);
	assert_false(b->lm_strong);
	assert_string_equal(b->last_modified, old->last_modified);
	assert_false(ocsp_not_modified(b, NULL, old->last_modified, now));
	assert_false(ocsp_not_modified(b, old->etag, NULL, now));
	assert_true(ocsp_not_modified(b, b->etag, NULL, now));
	ocsp_blob_unref(b);
	/*
	 * Dated at the revocationTime of the old status or before: still
	 * not; after it: strong again.
	 */
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C1",
	    &good, now - 5), 1);
	b = ocsp_blob_new(d1, sizeof(d1), now - 3, now + 86400, 3600);
	assert_non_null(b);
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "C1", 0, &good,
	    b, 10), 0);
	assert_false(b->lm_strong);
	ocsp_blob_unref(b);
	b = ocsp_blob_new(d1, sizeof(d1), now - 2, now + 86400, 3600);
	assert_non_null(b);
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "C1", 0, &good,
	    b, 10), 0);
	assert_true(b->lm_strong);
	assert_true(ocsp_not_modified(b, NULL, b->last_modified, now));
	ocsp_blob_unref(b);
	ocsp_blob_unref(old);

	/* Never issued, then issued in the second of that answer. */
	old = ocsp_blob_new(d1, sizeof(d1), now - 5, now + 3600, 10);
	assert_non_null(old);
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "C2", 0, &ni,
	    old, 10), 0);
	assert_true(old->lm_strong);
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C2",
	    &good, now - 5), 1);
	b = ocsp_blob_new(d2, sizeof(d2), now - 5, now + 86400, 3600);
	assert_non_null(b);
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "C2", 0, &good,
	    b, 10), 0);
	assert_false(b->lm_strong);
	ocsp_blob_unref(b);
	ocsp_blob_unref(old);
	/* Never answered but as never issued (not kept): the same. */
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C3",
	    &good, now - 5), 1);
	b = ocsp_blob_new(d2, sizeof(d2), now - 5, now + 86400, 3600);
	assert_non_null(b);
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "C3", 0, &good,
	    b, 10), 0);
	assert_false(b->lm_strong);
	ocsp_blob_unref(b);
	/* A blob the cache refused (the status changed meanwhile): never. */
	b = ocsp_blob_new(d2, sizeof(d2), now, now + 86400, 3600);
	assert_non_null(b);
	assert_int_equal(ocsp_cache_put(r.cache, GOOD_ISSUER, "C3", 0, &rev, b,
	    10), 1);
	assert_false(b->lm_strong);
	ocsp_blob_unref(b);

	/* Through ocsp_answer: the pre-signed answer, its ETag, its date. */
	r.synced_at = now - 1;
	assert_int_equal(ocsp_cache_set_status(r.cache, GOOD_ISSUER, "C4",
	    &good, now - 100), 1);
	req = make_request("C4", &reqlen);
	assert_int_equal(ocsp_answer(&r, req, reqlen, &der, &derlen, &got,
	    &owned, &cacheable), 0);
	assert_non_null(got);
	assert_true(cacheable);
	assert_true(got->lm_strong);
	assert_true(ocsp_not_modified(got, got->etag, NULL, now));
	assert_true(ocsp_not_modified(got, NULL, got->last_modified, now));
	ocsp_blob_unref(got);
	OPENSSL_free(req);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
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
		    test_stats_counted_once_per_second, setup, teardown),
		cmocka_unit_test(test_http_date),
		cmocka_unit_test(test_if_none_match),
		cmocka_unit_test(test_if_modified_since),
		cmocka_unit_test_setup_teardown(
		    test_lm_strong_after_status_change, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
