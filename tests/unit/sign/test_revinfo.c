/*
 * The CRL checks of B-LT's revocation data (sign/revinfo.c,
 * revinfo_check_crl): a CRL made here by a throw-away CA is accepted when
 * current; refused when its thisUpdate is in the future beyond REVINFO_SKEW
 * (as an OCSP response's is), past its nextUpdate, without nextUpdate,
 * signed by another key, or followed by a byte; a listed certificate is
 * reported revoked (1). A thisUpdate within the skew is accepted. A delta
 * CRL or one whose scope leaves the certificate out is refused. An
 * OCSP response (revinfo_check_ocsp) saying revoked names its reason; a
 * "good" one without nextUpdate is current only while fresh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sign/revinfo.h"

static EVP_PKEY *ca_key, *other_key;
/* What mkcrl adds next: nothing, deltaCRLIndicator or an IDP's scope. */
static enum { SCOPE_FULL, SCOPE_DELTA, SCOPE_ONLY_CA, SCOPE_ONLY_USER,
	SCOPE_SOME_REASONS } crl_scope;
static X509 *ca, *leaf;

static X509 *
mkcert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey)
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
	assert_int_not_equal(X509_sign(x, ikey ? ikey : key, EVP_sha256()), 0);
	X509_NAME_free(n);
	return x;
}

/*
 * A CRL by ca, thisUpdate now + this_off, nextUpdate now + next_off (no
 * nextUpdate when next_off is 0), listing leaf when revoke, signed by key.
 * DER in *der (OPENSSL_free).
 */
static size_t
mkcrl(time_t now, long this_off, long next_off, int revoke, EVP_PKEY *key,
    unsigned char **der)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t;
	int n;

	assert_non_null(crl);
	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl,
	    X509_get_subject_name(ca)), 1);
	t = ASN1_TIME_adj(NULL, now, 0, this_off);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	ASN1_TIME_free(t);
	if (next_off != 0) {
		t = ASN1_TIME_adj(NULL, now, 0, next_off);
		assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
		ASN1_TIME_free(t);
	}
	if (revoke) {
		X509_REVOKED *r = X509_REVOKED_new();

		t = ASN1_TIME_adj(NULL, now, 0, -60);
		assert_int_equal(X509_REVOKED_set_serialNumber(r,
		    X509_get_serialNumber(leaf)), 1);
		assert_int_equal(X509_REVOKED_set_revocationDate(r, t), 1);
		ASN1_TIME_free(t);
		assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
	}
	if (crl_scope == SCOPE_DELTA) {
		ASN1_INTEGER *base = ASN1_INTEGER_new();

		assert_int_equal(ASN1_INTEGER_set(base, 1), 1);
		assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_delta_crl, base,
		    1, 0), 1);
		ASN1_INTEGER_free(base);
	} else if (crl_scope != SCOPE_FULL) {
		ISSUING_DIST_POINT *idp = ISSUING_DIST_POINT_new();

		idp->onlyCA = crl_scope == SCOPE_ONLY_CA ? 0xff : 0;
		idp->onlyuser = crl_scope == SCOPE_ONLY_USER ? 0xff : 0;
		if (crl_scope == SCOPE_SOME_REASONS) {
			idp->onlysomereasons = ASN1_BIT_STRING_new();
			ASN1_BIT_STRING_set_bit(idp->onlysomereasons, 1, 1);
		}
		assert_int_equal(X509_CRL_add1_ext_i2d(crl,
		    NID_issuing_distribution_point, idp, 1, 0), 1);
		ISSUING_DIST_POINT_free(idp);
	}
	assert_int_equal(X509_CRL_sort(crl), 1);
	assert_int_not_equal(X509_CRL_sign(crl, key, EVP_sha256()), 0);
	*der = NULL;
	n = i2d_X509_CRL(crl, der);
	assert_true(n > 0);
	X509_CRL_free(crl);
	return (size_t)n;
}

static int
check(time_t now, long this_off, long next_off, int revoke, EVP_PKEY *key,
    char *err, size_t errlen)
{
	unsigned char *der;
	size_t len = mkcrl(now, this_off, next_off, revoke, key, &der);
	int r;

	err[0] = '\0';
	r = revinfo_check_crl(der, len, leaf, ca, now, err, errlen);
	OPENSSL_free(der);
	return r;
}

static void
test_current(void **state)
{
	char err[256];
	time_t now = time(NULL);

	(void)state;
	assert_int_equal(check(now, -60, 3600, 0, ca_key, err, sizeof(err)),
	    0);
	/* Within the clock skew allowed. */
	assert_int_equal(check(now, REVINFO_SKEW - 60, 3600, 0, ca_key, err,
	    sizeof(err)), 0);
}

static void
test_future_this_update(void **state)
{
	char err[256];
	time_t now = time(NULL);

	(void)state;
	assert_int_equal(check(now, REVINFO_SKEW + 60, 7200, 0, ca_key, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "thisUpdate is in the future"));
	assert_int_equal(check(now, 86400, 2 * 86400, 0, ca_key, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "thisUpdate is in the future"));
}

static void
test_refusals(void **state)
{
	unsigned char *der, *longer;
	char err[256];
	time_t now = time(NULL);
	size_t len;

	(void)state;
	assert_int_equal(check(now, -7200, -60, 0, ca_key, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "nextUpdate"));
	assert_int_equal(check(now, -60, 0, 0, ca_key, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nextUpdate"));
	assert_int_equal(check(now, -60, 3600, 0, other_key, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "signed by the certificate's issuer"));
	assert_int_equal(check(now, -60, 3600, 1, ca_key, err, sizeof(err)),
	    1);
	assert_non_null(strstr(err, "revoked"));

	len = mkcrl(now, -60, 3600, 0, ca_key, &der);
	longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, der, len);
	longer[len] = 0;
	assert_int_equal(revinfo_check_crl(longer, len + 1, leaf, ca, now,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a DER CRL"));
	assert_int_equal(revinfo_check_crl(der, len - 1, leaf, ca, now,
	    err, sizeof(err)), -1);
	free(longer);
	OPENSSL_free(der);
}

/*
 * Only a complete CRL covering the certificate is evidence: a delta CRL, one
 * for CA certificates only or for some reasons only is refused, even when
 * current and not listing leaf; one for end entities only is accepted.
 */
static void
test_scope(void **state)
{
	char err[256];
	time_t now = time(NULL);

	(void)state;
	crl_scope = SCOPE_DELTA;
	assert_int_equal(check(now, -60, 3600, 0, ca_key, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "delta or partial CRL"));
	crl_scope = SCOPE_ONLY_CA;
	assert_int_equal(check(now, -60, 3600, 0, ca_key, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "delta or partial CRL"));
	crl_scope = SCOPE_SOME_REASONS;
	assert_int_equal(check(now, -60, 3600, 0, ca_key, err, sizeof(err)),
	    -1);
	crl_scope = SCOPE_ONLY_USER;
	assert_int_equal(check(now, -60, 3600, 0, ca_key, err, sizeof(err)),
	    0);
	assert_int_equal(check(now, -60, 3600, 1, ca_key, err, sizeof(err)),
	    1);
	crl_scope = SCOPE_FULL;
}

/*
 * revinfo_check_ocsp() on a response by the CA itself for leaf: status
 * (revoked with reason privilegeWithdrawn), thisUpdate now + this_off,
 * nextUpdate now + next_off or none when next_off is 0. Its result; err
 * and whether *out was set in the arguments.
 */
static int
check_ocsp(int status, long this_off, long next_off, char *err,
    size_t errlen, int *got_out)
{
	OCSP_CERTID *id = OCSP_cert_to_id(NULL, leaf, ca);
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new(), *out = NULL;
	OCSP_RESPONSE *resp;
	OCSP_REQUEST *req = OCSP_REQUEST_new();
	X509_STORE *trust = X509_STORE_new();
	ASN1_TIME *rev = ASN1_TIME_adj(NULL, time(NULL), 0, -7200);
	ASN1_TIME *thisupd = ASN1_TIME_adj(NULL, time(NULL), 0, this_off);
	ASN1_TIME *nextupd = next_off != 0 ?
	    ASN1_TIME_adj(NULL, time(NULL), 0, next_off) : NULL;
	unsigned char *der = NULL;
	int len, rc;

	assert_non_null(id);
	assert_non_null(bs);
	assert_non_null(req);
	assert_non_null(OCSP_request_add0_id(req, OCSP_CERTID_dup(id)));
	assert_non_null(OCSP_basic_add1_status(bs, id, status,
	    status == V_OCSP_CERTSTATUS_REVOKED ?
	    OCSP_REVOKED_STATUS_PRIVILEGEWITHDRAWN : 0,
	    status == V_OCSP_CERTSTATUS_REVOKED ? rev : NULL, thisupd,
	    nextupd));
	assert_int_equal(OCSP_basic_sign(bs, ca, ca_key, EVP_sha256(), NULL,
	    0), 1);
	resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	assert_non_null(resp);
	len = i2d_OCSP_RESPONSE(resp, &der);
	assert_true(len > 0);
	assert_int_equal(X509_STORE_add_cert(trust, ca), 1);
	err[0] = '\0';
	rc = revinfo_check_ocsp(der, (size_t)len, req, id, NULL, trust, &out,
	    err, errlen);
	*got_out = out != NULL;
	OCSP_BASICRESP_free(out);
	OPENSSL_free(der);
	OCSP_RESPONSE_free(resp);
	OCSP_REQUEST_free(req);
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(id);
	X509_STORE_free(trust);
	ASN1_TIME_free(rev);
	ASN1_TIME_free(thisupd);
	ASN1_TIME_free(nextupd);
	return rc;
}

/*
 * The request ri_ocsp() sends: one CertID for leaf (the copy returned
 * equal to it) and a nonce of 32 random octets in an OCTET STRING (RFC
 * 9654 §2.1; until 2026-12-08 OpenSSL's default 16), another each time.
 */
static void
test_ocsp_request_nonce(void **state)
{
	OCSP_REQUEST *req[2];
	OCSP_CERTID *id[2];
	const OCSP_CERTID *in;
	const ASN1_OCTET_STRING *v[2];
	X509_EXTENSION *ext;
	int i, k;

	(void)state;
	for (i = 0; i < 2; i++) {
		assert_non_null(req[i] = revinfo_ocsp_request(leaf, ca,
		    &id[i]));
		assert_int_equal(OCSP_request_onereq_count(req[i]), 1);
		assert_non_null(in = OCSP_onereq_get0_id(
		    OCSP_request_onereq_get0(req[i], 0)));
		assert_int_equal(OCSP_id_cmp(in, id[i]), 0);
		assert_int_equal(OCSP_REQUEST_get_ext_count(req[i]), 1);
		k = OCSP_REQUEST_get_ext_by_NID(req[i], NID_id_pkix_OCSP_Nonce,
		    -1);
		assert_int_equal(k, 0);
		assert_non_null(ext = OCSP_REQUEST_get_ext(req[i], k));
		v[i] = X509_EXTENSION_get_data(ext);
		assert_int_equal(ASN1_STRING_length(v[i]),
		    2 + REVINFO_NONCE_LEN);
		assert_int_equal(ASN1_STRING_get0_data(v[i])[0], 0x04);
		assert_int_equal(ASN1_STRING_get0_data(v[i])[1],
		    REVINFO_NONCE_LEN);
		assert_int_equal(REVINFO_NONCE_LEN, 32);
	}
	assert_int_not_equal(ASN1_STRING_cmp(v[0], v[1]), 0);
	for (i = 0; i < 2; i++) {
		OCSP_CERTID_free(id[i]);
		OCSP_REQUEST_free(req[i]);
	}
}

/*
 * Saying leaf is revoked with reason privilegeWithdrawn (9): reported
 * revoked (1), the reason named (OpenSSL 3.0's OCSP_crl_reason_str says
 * "(UNKNOWN)" for 9 and 10).
 */
static void
test_ocsp_revoked_reason(void **state)
{
	char err[256];
	int out;

	(void)state;
	assert_int_equal(check_ocsp(V_OCSP_CERTSTATUS_REVOKED, -60, 3600, err,
	    sizeof(err), &out), 1);
	assert_false(out);
	assert_non_null(strstr(err, "reason privilegeWithdrawn"));
}

/*
 * "good" is current with a nextUpdate ahead whatever its thisUpdate's age;
 * without nextUpdate only while its thisUpdate is within REVINFO_SKEW of
 * now: an old one (an hour, a year) says nothing of today (RFC 6960
 * §4.2.2.1), and on plain HTTP anyone may replay it.
 */
static void
test_ocsp_without_next_update(void **state)
{
	char err[256];
	int out;

	(void)state;
	assert_int_equal(check_ocsp(V_OCSP_CERTSTATUS_GOOD, -86400, 3600, err,
	    sizeof(err), &out), 0);
	assert_true(out);
	assert_int_equal(check_ocsp(V_OCSP_CERTSTATUS_GOOD, -60, 0, err,
	    sizeof(err), &out), 0);
	assert_true(out);
	assert_int_equal(check_ocsp(V_OCSP_CERTSTATUS_GOOD, -3600, 0, err,
	    sizeof(err), &out), -1);
	assert_false(out);
	assert_non_null(strstr(err, "not current"));
	assert_int_equal(check_ocsp(V_OCSP_CERTSTATUS_GOOD, -365L * 86400, 0,
	    err, sizeof(err), &out), -1);
	assert_false(out);
	/* A nextUpdate already past stays refused. */
	assert_int_equal(check_ocsp(V_OCSP_CERTSTATUS_GOOD, -7200, -3600, err,
	    sizeof(err), &out), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_current),
		cmocka_unit_test(test_future_this_update),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_ocsp_request_nonce),
		cmocka_unit_test(test_ocsp_revoked_reason),
		cmocka_unit_test(test_ocsp_without_next_update),
	};
	EVP_PKEY *leaf_key;
	int r;

	ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	other_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	leaf_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (ca_key == NULL || other_key == NULL || leaf_key == NULL)
		return 1;
	ca = mkcert(ca_key, "Test CRL CA", NULL, NULL);
	leaf = mkcert(leaf_key, "Test Subscriber", ca, ca_key);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	X509_free(leaf);
	X509_free(ca);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(ca_key);
	return r;
}
