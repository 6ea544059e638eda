/*
 * lib/crlgen.c crlgen_issue against a real PostgreSQL: a database of the
 * test's own, migrated from schema/ by deploy/migrate.sh on the cluster of
 * PKI_TEST_PG_URI (set by tests/run.sh; without it the test fails) and
 * dropped afterwards, an issuer of its own with a software P-256 key.
 *
 *  - a revocation in flight while a base CRL was built, whose
 *    revocation_seq ended more than 100,000 below the base's max_seq (a
 *    bulk revocation of that many rows in one transaction; here the
 *    sequence is moved on instead): on the next delta and complete CRL
 *    (before, only 100,000 sequence numbers below the base were searched);
 *  - removeFromCRL (8) is refused as a revocation reason by the database;
 *    a row stored with it before is listed as revoked without a reason
 *    code, never as removeFromCRL;
 *  - a hold on a base, released after the certificate expired more than
 *    the grace ago: removeFromCRL on the delta (before, the delta's
 *    expiry cut-off dropped it, and base + delta kept the certificate on
 *    hold until the next base);
 *  - CRLGEN_IF_DUE, with an interval of hours, skips a scheduled base or
 *    delta only while the newest complete CRL or delta is not near its
 *    nextUpdate (a CRL of an instance whose nextUpdate is shorter): due
 *    by crlgen_renew_by(), and issued once that has passed (before, the
 *    interval alone counted, and crld served such a CRL expired);
 *  - crlgen_file_check reads back the times crlgen_issue wrote, and those
 *    of an OpenSSL-made CRL in RFC 5280's forms, and refuses the forms
 *    OpenSSL also reads (fractions, offsets, no seconds) and dates that do
 *    not exist.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/crlgen.h"
#include "lib/db.h"
#include "lib/log.h"
#include "tests/unit/lib/pgtest.h"

struct fixture {
	struct pgtest		 pg;
	PGconn			*sql;	/* checks and revocations */
	struct db		*db;	/* crlgen's, as pki_crl */
	EVP_PKEY		*key;
	X509			*cert;
	struct crlgen_issuer	 is;
	struct crlgen_policy	 pol;
};

/* crlgen_sign_fn: ECDSA with SHA-256 in software. */
static int
sign_sw(void *arg, const unsigned char *tbs, size_t tbslen,
    unsigned char **sig, size_t *siglen, char *err, size_t errlen)
{
	EVP_PKEY *key = arg;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t n = 0;
	int rc = -1;

	*sig = NULL;
	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
	    key) != 1 || EVP_DigestSign(ctx, NULL, &n, tbs, tbslen) != 1 ||
	    (*sig = malloc(n)) == NULL ||
	    EVP_DigestSign(ctx, *sig, &n, tbs, tbslen) != 1) {
		snprintf(err, errlen, "EVP_DigestSign failed");
		free(*sig);
		*sig = NULL;
		goto out;
	}
	*siglen = n;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* A certificate of the test issuer, unrevoked; its serial is hex. */
static void
add_cert(struct fixture *fx, const char *serial)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "INSERT INTO certificate (issuer_id, "
	    "serial, subject, profile, not_before, not_after, sha256, der) "
	    "VALUES (%lld, '%s', 'CN=%s', 'subscriber', now() - interval "
	    "'1 day', now() + interval '1 year', '%s', '\\x30')", fx->is.id,
	    serial, serial, serial);
	sql0(fx->sql, sql);
}

static int
setup(void **state)
{
	struct fixture *fx;

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	pgtest_create(&fx->pg, "pki_test_crlgen");
	pgtest_connect(&fx->pg, "pki_crl", &fx->sql, &fx->db);

	/* The issuer: a self-signed P-256 certificate, in ca_certificate. */
	fx->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	fx->cert = X509_new();
	assert_non_null(fx->key);
	assert_non_null(fx->cert);
	assert_int_equal(X509_set_version(fx->cert, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(fx->cert), 1),
	    1);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(
	    fx->cert), "CN", MBSTRING_ASC, (const unsigned char *)"crlgen test",
	    -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(fx->cert,
	    X509_get_subject_name(fx->cert)), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(fx->cert), -86400));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(fx->cert),
	    86400 * 365));
	assert_int_equal(X509_set_pubkey(fx->cert, fx->key), 1);
	assert_true(X509_sign(fx->cert, fx->key, EVP_sha256()) > 0);
	fx->is.id = sql_ll(fx->sql, "WITH k AS (INSERT INTO ca_key (role, "
	    "token_label, key_label, key_type, spki, spki_sha256) VALUES "
	    "('issuing', 'test', 'crlgen', 'ec', '\\x30', 'x') RETURNING id) "
	    "INSERT INTO ca_certificate (name, role, key_id, serial, subject, "
	    "issuer, not_before, not_after, sha256, der) SELECT 'issuing', "
	    "'issuing', id, '01', 'CN=crlgen test', 'CN=crlgen test', now() - "
	    "interval '1 day', now() + interval '1 year', 'x', '\\x30' FROM k "
	    "RETURNING id");
	assert_true(fx->is.id > 0);
	fx->is.name = "issuing";
	fx->is.cert = fx->cert;
	fx->is.digest = "SHA256";
	fx->pol.next_update = 3600;
	fx->pol.expired_grace = 86400;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	db_close(fx->db);
	PQfinish(fx->sql);
	pgtest_drop(&fx->pg);
	X509_free(fx->cert);
	EVP_PKEY_free(fx->key);
	free(fx);
	return 0;
}

/* Issues one CRL of kind; the parsed CRL (signature checked), or NULL if skipped. */
static X509_CRL *
issue(struct fixture *fx, enum crlgen_kind kind, int flags)
{
	struct crlgen_result r;
	const unsigned char *p;
	X509_CRL *crl;
	char err[512];

	if (crlgen_issue(fx->db, "test", &fx->is, &fx->pol, kind, flags,
	    sign_sw, fx->key, &r, err, sizeof(err)) == -1)
		fail_msg("crlgen_issue: %s", err);
	if (!r.issued) {
		crlgen_result_clear(&r);
		return NULL;
	}
	p = r.der;
	crl = d2i_X509_CRL(NULL, &p, (long)r.len);
	assert_non_null(crl);
	assert_true(p == r.der + r.len);
	assert_int_equal(X509_CRL_verify(crl, fx->key), 1);
	crlgen_result_clear(&r);
	return crl;
}

/* The entry of serial (hex) on crl, or NULL. */
static X509_REVOKED *
entry(X509_CRL *crl, const char *serial)
{
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
	X509_REVOKED *r;
	BIGNUM *bn = NULL, *want = NULL;
	int i, found;

	assert_true(BN_hex2bn(&want, serial) > 0);
	for (i = 0; i < sk_X509_REVOKED_num(revs); i++) {
		r = sk_X509_REVOKED_value(revs, i);
		bn = ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(r), NULL);
		assert_non_null(bn);
		found = BN_cmp(bn, want) == 0;
		BN_free(bn);
		if (found) {
			BN_free(want);
			return r;
		}
	}
	BN_free(want);
	return NULL;
}

/* The entry's reasonCode, -1 when absent. */
static int
entry_reason(X509_REVOKED *r)
{
	ASN1_ENUMERATED *e;
	int crit = 0;
	long v;

	e = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, &crit, NULL);
	if (e == NULL)
		return -1;
	v = ASN1_ENUMERATED_get(e);
	ASN1_ENUMERATED_free(e);
	return (int)v;
}

static void
test_delta_inflight_far_below(void **state)
{
	struct fixture *fx = *state;
	PGconn *tx = PQconnectdb(fx->pg.db_uri);
	X509_CRL *base, *full, *delta;
	char sql[256];
	long long xseq, yseq, bseq;

	assert_int_equal(PQstatus(tx), CONNECTION_OK);
	add_cert(fx, "0A01");
	add_cert(fx, "0A02");
	/* X: revoked in a transaction that stays open while the base is built. */
	sql0(tx, "BEGIN");
	xseq = sql_ll(tx, "UPDATE certificate SET revoked_at = now(), "
	    "revocation_reason = 1, revoked_by = 'test' WHERE serial = '0A01' "
	    "RETURNING revocation_seq");
	/* 150,000 revocations later (as one bulk transaction would number them). */
	sql0(fx->sql, "SELECT setval('revocation_seq', (SELECT last_value "
	    "FROM revocation_seq) + 150000)");
	yseq = sql_ll(fx->sql, "UPDATE certificate SET revoked_at = now(), "
	    "revocation_reason = 4, revoked_by = 'test' WHERE serial = '0A02' "
	    "RETURNING revocation_seq");
	assert_true(yseq > xseq + 100000);
	base = issue(fx, CRLGEN_BASE, 0);
	assert_non_null(base);
	assert_non_null(entry(base, "0A02"));
	assert_null(entry(base, "0A01"));	/* not committed yet */
	snprintf(sql, sizeof(sql), "SELECT max_seq FROM crl WHERE issuer_id = "
	    "%lld AND is_base ORDER BY number DESC LIMIT 1", fx->is.id);
	bseq = sql_ll(fx->sql, sql);
	assert_true(bseq >= yseq);
	sql0(tx, "COMMIT");
	PQfinish(tx);
	/*
	 * After the revocation (CRLGEN_IF_CHANGED, as crld after its NOTIFY):
	 * the newest complete CRL's max_seq covers X's number, only its
	 * snapshot shows X is new to it.
	 */
	full = issue(fx, CRLGEN_FULL, CRLGEN_IF_CHANGED);
	if (full == NULL)
		fail_msg("no complete CRL after a revocation committed after the "
		    "base, %lld below its max_seq", bseq - xseq);
	assert_non_null(entry(full, "0A01"));
	delta = issue(fx, CRLGEN_DELTA, 0);
	assert_non_null(delta);
	if (entry(delta, "0A01") == NULL)
		fail_msg("the delta lacks a revocation in flight while its base "
		    "was built, %lld below the base's max_seq", bseq - xseq);
	assert_int_equal(entry_reason(entry(delta, "0A01")), 1);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(delta)), 1);
	/* Nothing new now: skipped. */
	assert_null(issue(fx, CRLGEN_FULL, CRLGEN_IF_CHANGED));
	X509_CRL_free(base);
	X509_CRL_free(full);
	X509_CRL_free(delta);
}

static void
test_remove_from_crl_refused(void **state)
{
	struct fixture *fx = *state;
	PGresult *res;
	X509_CRL *base, *delta;
	X509_REVOKED *r;

	add_cert(fx, "0B01");
	add_cert(fx, "0B02");
	/* RFC 5280 §5.3.1: 8 is no reason to revoke. */
	res = PQexec(fx->sql, "UPDATE certificate SET revoked_at = now(), "
	    "revocation_reason = 8, revoked_by = 'test' WHERE serial = '0B01'");
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
		fail_msg("the database took removeFromCRL as a revocation reason");
	assert_string_equal(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23514");
	PQclear(res);
	/* A row stored before 046 (its constraint is NOT VALID): made here. */
	sql0(fx->sql, "ALTER TABLE certificate DROP CONSTRAINT "
	    "certificate_reason_not_remove");
	sql0(fx->sql, "UPDATE certificate SET revoked_at = now(), "
	    "revocation_reason = 8, revoked_by = 'test' WHERE serial = '0B01'");
	sql0(fx->sql, "ALTER TABLE certificate ADD CONSTRAINT "
	    "certificate_reason_not_remove CHECK (revocation_reason <> 8) NOT "
	    "VALID");
	base = issue(fx, CRLGEN_BASE, 0);
	assert_non_null(base);
	r = entry(base, "0B01");
	assert_non_null(r);
	assert_int_equal(entry_reason(r), -1);
	/* Revoked after the base: on the delta, still not as removeFromCRL. */
	sql0(fx->sql, "ALTER TABLE certificate DROP CONSTRAINT "
	    "certificate_reason_not_remove");
	sql0(fx->sql, "UPDATE certificate SET revoked_at = now(), "
	    "revocation_reason = 8, revoked_by = 'test' WHERE serial = '0B02'");
	sql0(fx->sql, "ALTER TABLE certificate ADD CONSTRAINT "
	    "certificate_reason_not_remove CHECK (revocation_reason <> 8) NOT "
	    "VALID");
	delta = issue(fx, CRLGEN_DELTA, 0);
	assert_non_null(delta);
	r = entry(delta, "0B02");
	assert_non_null(r);
	assert_int_equal(entry_reason(r), -1);
	X509_CRL_free(base);
	X509_CRL_free(delta);
}

static void
test_released_hold_expired(void **state)
{
	struct fixture *fx = *state;
	X509_CRL *base, *delta;
	X509_REVOKED *r;

	add_cert(fx, "0C01");
	sql0(fx->sql, "UPDATE certificate SET revoked_at = now(), "
	    "revocation_reason = 6, revoked_by = 'test' WHERE serial = '0C01'");
	base = issue(fx, CRLGEN_BASE, 0);
	assert_non_null(base);
	r = entry(base, "0C01");
	assert_non_null(r);
	assert_int_equal(entry_reason(r), 6);
	/* Expired a month ago (grace: a day), then released. */
	sql0(fx->sql, "UPDATE certificate SET not_after = now() - interval "
	    "'30 days' WHERE serial = '0C01'");
	sql0(fx->sql, "UPDATE certificate SET revoked_at = NULL, "
	    "revocation_reason = NULL WHERE serial = '0C01'");
	delta = issue(fx, CRLGEN_DELTA, 0);
	assert_non_null(delta);
	if ((r = entry(delta, "0C01")) == NULL)
		fail_msg("the delta lacks a hold released after the certificate "
		    "expired: base + delta keep it on hold");
	assert_int_equal(entry_reason(r), 8);	/* removeFromCRL */
	X509_CRL_free(base);
	X509_CRL_free(delta);
}

/* Issues one CRL of kind with CRLGEN_IF_DUE; 1 issued, 0 skipped (*due_in). */
static int
issue_if_due(struct fixture *fx, enum crlgen_kind kind, double *due_in)
{
	struct crlgen_result r;
	char err[512];
	int issued;

	if (crlgen_issue(fx->db, "test", &fx->is, &fx->pol, kind, CRLGEN_IF_DUE,
	    sign_sw, fx->key, &r, err, sizeof(err)) == -1)
		fail_msg("crlgen_issue: %s", err);
	issued = r.issued;
	*due_in = r.due_in;
	crlgen_result_clear(&r);
	return issued;
}

/* Moves the issuer's newest CRL of kind ('full', 'delta') secs back in time. */
static void
age_newest(struct fixture *fx, const char *kind, int secs)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "UPDATE crl SET this_update = this_update - "
	    "make_interval(secs => %d), next_update = next_update - "
	    "make_interval(secs => %d) WHERE id = (SELECT id FROM crl WHERE "
	    "issuer_id = %lld AND kind = '%s' ORDER BY number DESC LIMIT 1)",
	    secs, secs, fx->is.id, kind);
	sql0(fx->sql, sql);
}

static void
test_if_due_next_update(void **state)
{
	struct fixture *fx = *state;
	struct crlgen_policy keep = fx->pol;
	X509_CRL *crl;
	double due_in;

	/*
	 * Another instance's policy: bases valid 120 s, deltas 20 s. This
	 * one's: a base every 6 h, a delta every 15 min.
	 */
	fx->pol.next_update = 120;
	crl = issue(fx, CRLGEN_BASE, 0);
	assert_non_null(crl);
	X509_CRL_free(crl);
	fx->pol.next_update = 20;
	crl = issue(fx, CRLGEN_DELTA, 0);
	assert_non_null(crl);
	X509_CRL_free(crl);
	fx->pol.next_update = 86400;
	fx->pol.interval = 21600;
	/* Fresh: skipped, due by nextUpdate less a quarter of 120 s. */
	assert_int_equal(issue_if_due(fx, CRLGEN_BASE, &due_in), 0);
	if (due_in > 90.5 || due_in < 80)
		fail_msg("a base valid 120 s: next one due in %.0f s, want "
		    "about 90", due_in);
	fx->pol.next_update = 3600;
	fx->pol.interval = 900;
	assert_int_equal(issue_if_due(fx, CRLGEN_DELTA, &due_in), 0);
	if (due_in > 15.5 || due_in < 5)
		fail_msg("a delta valid 20 s: next one due in %.0f s, want "
		    "about 15", due_in);
	/* 16 s later: the delta is due, though 900 s have not passed. */
	age_newest(fx, "delta", 16);
	if (!issue_if_due(fx, CRLGEN_DELTA, &due_in))
		fail_msg("a delta 4 s before its nextUpdate: skipped, due in "
		    "%.0f s", due_in);
	/* 100 s later: the base too, though 6 h have not passed. */
	age_newest(fx, "full", 100);
	fx->pol.next_update = 86400;
	fx->pol.interval = 21600;
	if (!issue_if_due(fx, CRLGEN_BASE, &due_in))
		fail_msg("a base 20 s before its nextUpdate: skipped, due in "
		    "%.0f s", due_in);
	/* Its own base, valid a day: skipped for the interval now. */
	assert_int_equal(issue_if_due(fx, CRLGEN_BASE, &due_in), 0);
	assert_true(due_in > 21000);
	fx->pol = keep;
}

/*
 * A CRL of the test issuer made and signed by OpenSSL, with thisUpdate and
 * nextUpdate of these types and contents as they are; its DER (free with
 * OPENSSL_free) and length in *len.
 */
static unsigned char *
openssl_crl(struct fixture *fx, int this_type, const char *this_s,
    int next_type, const char *next_s, size_t *len)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t;
	ASN1_INTEGER *num;
	unsigned char *der = NULL;
	int n;

	assert_non_null(crl);
	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl,
	    X509_get_subject_name(fx->cert)), 1);
	t = ASN1_STRING_type_new(this_type);
	assert_int_equal(ASN1_STRING_set(t, this_s, -1), 1);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	ASN1_TIME_free(t);
	t = ASN1_STRING_type_new(next_type);
	assert_int_equal(ASN1_STRING_set(t, next_s, -1), 1);
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
	ASN1_TIME_free(t);
	num = ASN1_INTEGER_new();
	assert_int_equal(ASN1_INTEGER_set(num, 42), 1);
	assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0),
	    1);
	ASN1_INTEGER_free(num);
	assert_true(X509_CRL_sign(crl, fx->key, EVP_sha256()) > 0);
	n = i2d_X509_CRL(crl, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	X509_CRL_free(crl);
	return der;
}

/* crlgen_file_check on an OpenSSL-made CRL: its answer, err, *fi. */
static int
file_check(struct fixture *fx, int this_type, const char *this_s,
    int next_type, const char *next_s, struct crlgen_file_info *fi,
    char *err, size_t errlen)
{
	unsigned char *der;
	size_t len;
	int rc;

	der = openssl_crl(fx, this_type, this_s, next_type, next_s, &len);
	err[0] = '\0';
	rc = crlgen_file_check(der, len, fx->cert, fi, err, errlen);
	OPENSSL_free(der);
	return rc;
}

/*
 * The times a CRL file is served with (crl/main.c, database down) are read
 * by der_get_time (lib/der.h). Until 2026-12-05 they were OpenSSL's
 * reading, which also takes fractions, "+hhmm" offsets and no seconds.
 */
static void
test_file_check(void **state)
{
	struct fixture *fx = *state;
	struct crlgen_result r;
	struct crlgen_file_info fi;
	char err[512];

	if (crlgen_issue(fx->db, "test", &fx->is, &fx->pol, CRLGEN_BASE, 0,
	    sign_sw, fx->key, &r, err, sizeof(err)) == -1)
		fail_msg("crlgen_issue: %s", err);
	assert_true(r.issued);
	if (crlgen_file_check(r.der, r.len, fx->cert, &fi, err,
	    sizeof(err)) == -1)
		fail_msg("crlgen_file_check: %s", err);
	assert_int_equal(fi.number, r.number);
	assert_int_equal(fi.this_update, r.this_update);
	assert_int_equal(fi.next_update, r.next_update);
	assert_true(fi.next_update > fi.this_update);
	crlgen_result_clear(&r);

	/* UTCTime, and GeneralizedTime from 2050 (RFC 5280 §5.1.2.4). */
	if (file_check(fx, V_ASN1_UTCTIME, "260101000000Z",
	    V_ASN1_GENERALIZEDTIME, "20500101000000Z", &fi, err,
	    sizeof(err)) == -1)
		fail_msg("crlgen_file_check: %s", err);
	assert_int_equal(fi.number, 42);
	assert_int_equal(fi.this_update, 1767225600);
	assert_int_equal(fi.next_update, 2524608000);

	assert_int_equal(file_check(fx, V_ASN1_GENERALIZEDTIME,
	    "20260101000000.5Z", V_ASN1_UTCTIME, "260102000000Z", &fi, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no thisUpdate"));
	assert_int_equal(fi.this_update, 0);
	assert_int_equal(file_check(fx, V_ASN1_UTCTIME, "2601010000Z",
	    V_ASN1_UTCTIME, "260102000000Z", &fi, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no thisUpdate"));
	assert_int_equal(file_check(fx, V_ASN1_UTCTIME, "260101000000Z",
	    V_ASN1_UTCTIME, "260102000000+0100", &fi, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad nextUpdate"));
	assert_int_equal(file_check(fx, V_ASN1_UTCTIME, "260101000000Z",
	    V_ASN1_UTCTIME, "260230000000Z", &fi, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad nextUpdate"));
}

/*
 * crl_current keeps the DER as it is (schema/005: STORAGE EXTERNAL, no
 * pglz at each issuance). Until 2026-12-07 it came from a staging table
 * whose column compressed it, and INSERT ... SELECT stored the compressed
 * value as it was.
 */
static void
test_current_uncompressed(void **state)
{
	struct fixture *fx = *state;
	X509_CRL *crl;
	char sql[512];
	PGresult *res;

	/* Enough entries, all alike, for PostgreSQL to compress their list. */
	snprintf(sql, sizeof(sql), "INSERT INTO certificate (issuer_id, "
	    "serial, subject, profile, not_before, not_after, sha256, der) "
	    "SELECT %lld, 'E' || lpad(upper(to_hex(i)), 5, '0'), 'CN=e', "
	    "'subscriber', now() - interval '1 day', now() + interval '1 year', "
	    "'x', '\\x30' FROM generate_series(1, 400) AS i", fx->is.id);
	sql0(fx->sql, sql);
	sql0(fx->sql, "UPDATE certificate SET revoked_at = now(), "
	    "revocation_reason = 4, revoked_by = 'test' WHERE serial LIKE 'E%'");
	crl = issue(fx, CRLGEN_BASE, 0);
	assert_non_null(crl);
	assert_true(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) >= 400);
	X509_CRL_free(crl);
	snprintf(sql, sizeof(sql), "SELECT coalesce(pg_column_compression(der), "
	    "'none'), length(der) FROM crl_current WHERE issuer_id = %lld AND "
	    "kind = 'full'", fx->is.id);
	res = PQexec(fx->sql, sql);
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(res), 1);
	assert_true(atoi(PQgetvalue(res, 0, 1)) > 8000);
	if (strcmp(PQgetvalue(res, 0, 0), "none") != 0)
		fail_msg("crl_current holds the DER compressed (%s)",
		    PQgetvalue(res, 0, 0));
	PQclear(res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delta_inflight_far_below),
		cmocka_unit_test(test_remove_from_crl_refused),
		cmocka_unit_test(test_released_hold_expired),
		cmocka_unit_test(test_if_due_next_update),
		cmocka_unit_test(test_file_check),
		cmocka_unit_test(test_current_uncompressed),
	};

	log_init("test_crlgen", LOGL_ERR, stderr);
	return cmocka_run_group_tests(tests, setup, teardown);
}
