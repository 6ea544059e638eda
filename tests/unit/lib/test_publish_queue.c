/*
 * lib/publish.c publish_run against a real PostgreSQL and a throwaway
 * slapd. The database is one of the test's own, migrated from schema/ by
 * deploy/migrate.sh on the cluster of PKI_TEST_PG_URI (set by tests/run.sh;
 * without it the test fails, tests never skip) and dropped afterwards: the
 * stack's crld publishes the stack's queue, and would take these rows.
 *
 *  - only the newest pending row of an entry and attribute is read and
 *    published; the older ones are retired unread; a done CRL row keeps no
 *    DER, a CA certificate's row does; the published bytes are the DER's,
 *    byte for byte (binary result format);
 *  - a directory that does not answer (a listening socket that never
 *    accepts) ends the batch at the first row: the others stay untouched,
 *    and the call costs one row's time-out, not one per row;
 *  - the time budget is checked before each row, not only between batches;
 *  - a CRL over 16 MiB (OpenLDAP 2.5's default olcSockbufMaxIncomingAuth,
 *    which closes the connection on a larger request): published by the
 *    stack's slapd (deploy/slapd/config.ldif.in raises the limit) byte for
 *    byte; refused by a slapd with the default limit as too large, naming
 *    its size, not as the directory down, so the rows after it still go.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
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
#include <ldap.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/db.h"
#include "lib/hex.h"
#include "lib/ldappub.h"
#include "lib/log.h"
#include "lib/publish.h"
#include "tests/unit/lib/pgtest.h"
#include "tests/unit/lib/slapdtest.h"

#define CRL_ATTR	"certificateRevocationList;binary"
/* Over OpenLDAP 2.5's default limit for an authenticated client (16 MiB - 1). */
#define BIG_CRL_BYTES	(20 * 1024 * 1024)
#define STACK_BASE	"dc=pki"
#define STACK_PUB_DN	"cn=publisher," STACK_BASE
#define STACK_PUB_PW	"test-publisher-pw"

struct fixture {
	struct slapdtest sl;
	struct pgtest	 pg;
	PGconn		*sql;			/* ours, for checks */
	struct db	*db;			/* ours, for publish_run */
};

static int
setup(void **state)
{
	struct fixture *fx;

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	pgtest_create(&fx->pg, "pki_test_publish");
	/* As crld: its grants must do (schema/002, 046). */
	pgtest_connect(&fx->pg, "pki_crl", &fx->sql, &fx->db);
	slapdtest_start(&fx->sl, "test_publish_queue");
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	slapdtest_stop(&fx->sl);
	db_close(fx->db);
	PQfinish(fx->sql);
	pgtest_drop(&fx->pg);
	free(fx);
	return 0;
}

/* A real, signed CRL with n entries (slapd checks the syntax); DER to free(). */
static unsigned char *
make_crl(EVP_PKEY *pkey, int n, size_t *lenp)
{
	X509_CRL *crl = X509_CRL_new();
	X509_NAME *name = X509_NAME_new();
	X509_REVOKED *r;
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_INTEGER *serial;
	unsigned char *der = NULL, *p;
	int i, len;

	assert_non_null(crl);
	assert_non_null(name);
	assert_non_null(t);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"Publish CA", -1, -1, 0), 1);
	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, name), 1);
	assert_non_null(X509_gmtime_adj(t, 0));
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	assert_non_null(X509_gmtime_adj(t, 86400));
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
	for (i = 0; i < n; i++) {
		r = X509_REVOKED_new();
		serial = ASN1_INTEGER_new();
		assert_non_null(r);
		assert_non_null(serial);
		/* Serials with zero octets: a text round trip would show. */
		assert_int_equal(ASN1_INTEGER_set(serial, 0x1000000 + i), 1);
		assert_int_equal(X509_REVOKED_set_serialNumber(r, serial), 1);
		assert_int_equal(X509_REVOKED_set_revocationDate(r, t), 1);
		assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
		ASN1_INTEGER_free(serial);
	}
	assert_true(X509_CRL_sign(crl, pkey, EVP_sha256()) > 0);
	len = i2d_X509_CRL(crl, NULL);
	assert_true(len > 0);
	der = malloc((size_t)len);
	assert_non_null(der);
	p = der;
	assert_int_equal(i2d_X509_CRL(crl, &p), len);
	X509_CRL_free(crl);
	X509_NAME_free(name);
	ASN1_TIME_free(t);
	*lenp = (size_t)len;
	return der;
}

/* Appends a DER tag and length (long form for 128 and more). */
static size_t
der_hdr(unsigned char *p, unsigned char tag, size_t len)
{
	size_t n = 0;

	p[n++] = tag;
	if (len < 128)
		p[n++] = (unsigned char)len;
	else {
		p[n++] = 0x84;
		p[n++] = (unsigned char)(len >> 24);
		p[n++] = (unsigned char)(len >> 16);
		p[n++] = (unsigned char)(len >> 8);
		p[n++] = (unsigned char)len;
	}
	return n;
}

/*
 * A signed CRL of at least min bytes, written as DER directly (an
 * X509_CRL of ~600,000 entries costs hundreds of MB): 16-byte serials,
 * ECDSA P-256 with SHA-256. DER to free().
 */
static unsigned char *
make_big_crl(EVP_PKEY *pkey, size_t min, size_t *lenp)
{
	static const unsigned char alg[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a,
	    0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
	static const char this_upd[] = "261201000000Z";
	static const char next_upd[] = "491231000000Z";
	X509_NAME *name = X509_NAME_new();
	unsigned char *issuer = NULL, *tbs, *out, *sig, *p;
	size_t n, i, entries = min / 35 + 1, rlen, tlen, siglen = 0, olen, off;
	int ilen;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	assert_non_null(name);
	assert_non_null(ctx);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"Publish CA", -1, -1, 0), 1);
	assert_true((ilen = i2d_X509_NAME(name, &issuer)) > 0);
	rlen = entries * 35;
	tlen = 3 + sizeof(alg) + (size_t)ilen + 2 * 15 + 6 + rlen;
	tbs = malloc(tlen + 6);	/* its header: up to 6 bytes */
	assert_non_null(tbs);
	n = der_hdr(tbs, 0x30, tlen);
	memcpy(tbs + n, "\x02\x01\x01", 3);		/* v2 */
	n += 3;
	memcpy(tbs + n, alg, sizeof(alg));
	n += sizeof(alg);
	memcpy(tbs + n, issuer, (size_t)ilen);
	n += (size_t)ilen;
	n += der_hdr(tbs + n, 0x17, 13);
	memcpy(tbs + n, this_upd, 13);
	n += 13;
	n += der_hdr(tbs + n, 0x17, 13);
	memcpy(tbs + n, next_upd, 13);
	n += 13;
	n += der_hdr(tbs + n, 0x30, rlen);
	for (i = 0; i < entries; i++) {
		p = tbs + n;
		p[0] = 0x30;
		p[1] = 33;
		p[2] = 0x02;
		p[3] = 16;
		memset(p + 4, 0, 16);
		p[4] = 0x40;		/* positive, 16 octets */
		p[16] = (unsigned char)(i >> 24);
		p[17] = (unsigned char)(i >> 16);
		p[18] = (unsigned char)(i >> 8);
		p[19] = (unsigned char)i;
		p[20] = 0x17;
		p[21] = 13;
		memcpy(p + 22, this_upd, 13);
		n += 35;
	}
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
	    pkey), 1);
	assert_int_equal(EVP_DigestSign(ctx, NULL, &siglen, tbs, n), 1);
	sig = malloc(siglen);
	assert_non_null(sig);
	assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, tbs, n), 1);
	olen = n + sizeof(alg) + 3 + siglen;
	out = malloc(olen + 6);
	assert_non_null(out);
	off = der_hdr(out, 0x30, olen);
	memcpy(out + off, tbs, n);
	off += n;
	memcpy(out + off, alg, sizeof(alg));
	off += sizeof(alg);
	off += der_hdr(out + off, 0x03, siglen + 1);
	out[off++] = 0x00;
	memcpy(out + off, sig, siglen);
	off += siglen;
	*lenp = off;
	free(sig);
	free(tbs);
	OPENSSL_free(issuer);
	X509_NAME_free(name);
	EVP_MD_CTX_free(ctx);
	return out;
}

/* Queues der for (dn, attr) as crld does; the row's id. */
static long
queue(struct fixture *fx, const char *dn, const char *attr,
    const unsigned char *der, size_t len)
{
	char *hex;
	long id;
	const char *values[3];
	PGresult *res;

	hex = malloc(2 * len + 1);
	assert_non_null(hex);
	hex_encode(der, len, hex);
	values[0] = dn;
	values[1] = attr;
	values[2] = hex;
	res = PQexecParams(fx->sql, "INSERT INTO publish_queue (dn, attribute, "
	    "der) VALUES ($1, $2, decode($3, 'hex')) RETURNING id", 3, NULL,
	    values, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("queue: %s", PQerrorMessage(fx->sql));
	id = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	free(hex);
	return id;
}

static long
row_long(struct fixture *fx, long id, const char *expr)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT %s FROM publish_queue WHERE id = %ld",
	    expr, id);
	return sql_long(fx->sql, sql);
}

/* Nothing pending from an earlier test. */
static void
queue_clear(struct fixture *fx)
{
	sql0(fx->sql, "UPDATE publish_queue SET done_at = now() WHERE "
	    "done_at IS NULL");
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_newest_only(void **state)
{
	struct fixture *fx = *state;
	struct ldappub_conf lc = { fx->sl.uri, ADMIN_DN, fx->sl.pwfile,
	    "dc=test", 0 };
	const char *dn = "cn=Publish CA,dc=test";
	const unsigned char junk[] = { 0x01, 0x02, 0x03 };
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	unsigned char *crl1, *crl3, md[32];
	char hex[65], sql[512], *v;
	size_t len1, len3;
	long a1, a2, a3;
	LDAP *ld;
	LDAPMessage *res = NULL, *e;
	char *attrs[] = { CRL_ATTR, NULL };
	struct berval **vals;

	assert_non_null(pkey);
	queue_clear(fx);
	crl1 = make_crl(pkey, 1, &len1);
	crl3 = make_crl(pkey, 300, &len3);
	/*
	 * Three pending CRLs of one entry: only the newest goes out. The
	 * middle one is no CRL at all: read and sent, slapd would refuse it.
	 */
	a1 = queue(fx, dn, CRL_ATTR, crl1, len1);
	a2 = queue(fx, dn, CRL_ATTR, junk, sizeof(junk));
	a3 = queue(fx, dn, CRL_ATTR, crl3, len3);
	assert_int_equal(publish_run(fx->db, &lc, "test", 0, NULL), 0);
	assert_int_equal(row_long(fx, a3, "attempts"), 1);
	assert_int_equal(row_long(fx, a1, "attempts"), 0);
	assert_int_equal(row_long(fx, a2, "attempts"), 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM publish_queue WHERE "
	    "id IN (%ld, %ld, %ld) AND done_at IS NOT NULL AND der IS NULL",
	    a1, a2, a3);
	assert_int_equal(sql_long(fx->sql, sql), 3);
	/* Audited once, with what was published; the retired rows not at all. */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_event WHERE "
	    "action = 'publish.ldap' AND object_id IN ('%ld', '%ld')", a1, a2);
	assert_int_equal(sql_long(fx->sql, sql), 0);
	assert_int_equal(EVP_Digest(crl3, len3, md, NULL, EVP_sha256(), NULL),
	    1);
	hex_encode(md, sizeof(md), hex);
	snprintf(sql, sizeof(sql), "SELECT details->>'sha256' || ' ' || "
	    "(details->>'bytes') || ' ' || (details->'also_done')::text FROM "
	    "audit_event WHERE action = 'publish.ldap' AND object_id = '%ld'",
	    a3);
	v = sql1(fx->sql, sql);
	/* ... and it names the rows it retired. */
	snprintf(sql, sizeof(sql), "%s %zu [%ld, %ld]", hex, len3, a1, a2);
	assert_string_equal(v, sql);
	free(v);
	/* The directory holds the newest DER, byte for byte. */
	ld = slapdtest_admin_bind(&fx->sl);
	assert_non_null(ld);
	assert_int_equal(ldap_search_ext_s(ld, dn, LDAP_SCOPE_BASE,
	    "(objectClass=*)", attrs, 0, NULL, NULL, NULL, 0, &res),
	    LDAP_SUCCESS);
	assert_non_null(e = ldap_first_entry(ld, res));
	vals = ldap_get_values_len(ld, e, CRL_ATTR);
	assert_non_null(vals);
	assert_int_equal(vals[0]->bv_len, len3);
	assert_memory_equal(vals[0]->bv_val, crl3, len3);
	ldap_value_free_len(vals);
	ldap_msgfree(res);
	ldap_unbind_ext_s(ld, NULL, NULL);
	free(crl1);
	free(crl3);
	EVP_PKEY_free(pkey);
}

/* A done CA certificate row keeps its (small) DER; only CRL rows are emptied. */
static void
test_certificate_row_kept(void **state)
{
	struct fixture *fx = *state;
	struct ldappub_conf lc = { fx->sl.uri, ADMIN_DN, fx->sl.pwfile,
	    "dc=test", 0 };
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	unsigned char *der = NULL;
	int len;
	long id;

	assert_non_null(pkey);
	assert_non_null(x);
	queue_clear(fx);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x),
	    "CN", MBSTRING_ASC, (const unsigned char *)"Publish CA", -1, -1,
	    0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_set_pubkey(x, pkey), 1);
	assert_true(X509_sign(x, pkey, EVP_sha256()) > 0);
	assert_true((len = i2d_X509(x, &der)) > 0);
	id = queue(fx, "cn=Publish CA,dc=test", "cACertificate;binary", der,
	    (size_t)len);
	assert_int_equal(publish_run(fx->db, &lc, "test", 0, NULL), 0);
	assert_int_equal(row_long(fx, id, "(done_at IS NOT NULL)::int"), 1);
	assert_int_equal(row_long(fx, id, "length(der)"), len);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(pkey);
}

/*
 * A directory that accepts connections and never answers: the first row
 * waits out the bind's time-out (ldap.timeout_seconds, 2 s here), the
 * batch ends there, the other
 * rows are untouched and still due. Before, every row of the batch (32)
 * reconnected and waited its own time-outs on crld's issuing thread.
 */
static void
test_directory_down(void **state)
{
	struct fixture *fx = *state;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	char uri[64], dn[64], sql[256];
	struct ldappub_conf lc = { uri, NULL, NULL, "dc=test", 2 };
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	unsigned char *crl;
	size_t len;
	double t0, took;
	long ids[3];
	int fd, i, more = -1, pending;

	assert_non_null(pkey);
	queue_clear(fx);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd != -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 16), 0);	/* never accepted */
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	snprintf(uri, sizeof(uri), "ldap://127.0.0.1:%d", ntohs(sin.sin_port));
	crl = make_crl(pkey, 2, &len);
	for (i = 0; i < 3; i++) {
		snprintf(dn, sizeof(dn), "cn=Down CA %d,dc=test", i);
		ids[i] = queue(fx, dn, CRL_ATTR, crl, len);
	}
	t0 = now_s();
	pending = publish_run(fx->db, &lc, "test", 1.0, &more);
	took = now_s() - t0;
	assert_int_equal(pending, 3);
	assert_int_equal(more, 0);
	/* One row's time-out (2 s, the bind's), not three; but waited out. */
	if (took > 5 || took < 1.5)
		fail_msg("publish_run took %.1f s against a silent directory "
		    "(ldap.timeout_seconds 2)", took);
	assert_int_equal(row_long(fx, ids[0], "attempts"), 1);
	assert_int_equal(row_long(fx, ids[0], "(last_error IS NOT NULL)::int"),
	    1);
	for (i = 1; i < 3; i++) {
		assert_int_equal(row_long(fx, ids[i], "attempts"), 0);
		assert_int_equal(row_long(fx, ids[i],
		    "(next_attempt_at <= now() AND last_error IS NULL)::int"), 1);
	}
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_event WHERE "
	    "action = 'publish.ldap' AND object_id IN ('%ld', '%ld')", ids[1],
	    ids[2]);
	assert_int_equal(sql_long(fx->sql, sql), 0);
	close(fd);
	free(crl);
	EVP_PKEY_free(pkey);
}

/*
 * The budget is checked before each row: spent after the first, the others
 * are left as they are. Rows with a DN that is no DN fail at once (an
 * entry's failure, not the directory's), so the batch would go on.
 */
static void
test_budget_per_row(void **state)
{
	struct fixture *fx = *state;
	struct ldappub_conf lc = { fx->sl.uri, ADMIN_DN, fx->sl.pwfile,
	    "dc=test", 0 };
	const unsigned char der[] = { 0x30, 0x00 };
	char dn[64];
	long ids[3];
	int i, tried = 0;

	queue_clear(fx);
	for (i = 0; i < 3; i++) {
		snprintf(dn, sizeof(dn), "not a dn %d", i);
		ids[i] = queue(fx, dn, CRL_ATTR, der, sizeof(der));
	}
	assert_true(publish_run(fx->db, &lc, "test", 1e-9, NULL) >= 0);
	for (i = 0; i < 3; i++)
		tried += (int)row_long(fx, ids[i], "attempts");
	assert_int_equal(tried, 1);
	assert_int_equal(row_long(fx, ids[0], "attempts"), 1);
}

/* The DER of attr on dn, read anonymously (NULL when absent); to free. */
static struct berval **
read_attr(const char *uri, const char *dn, const char *attr)
{
	LDAP *ld = NULL;
	LDAPMessage *res = NULL, *e;
	char *attrs[] = { (char *)attr, NULL };
	struct berval **vals = NULL;
	int v = LDAP_VERSION3;

	assert_int_equal(ldap_initialize(&ld, uri), LDAP_SUCCESS);
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v);
	if (ldap_search_ext_s(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)",
	    attrs, 0, NULL, NULL, NULL, 0, &res) == LDAP_SUCCESS &&
	    (e = ldap_first_entry(ld, res)) != NULL)
		vals = ldap_get_values_len(ld, e, attr);
	ldap_msgfree(res);
	ldap_unbind_ext_s(ld, NULL, NULL);
	return vals;
}

/*
 * A slapd made as deploy/stack.sh makes the stack's: cn=config from
 * deploy/slapd/config.ldif.in and the base entries (with the publisher)
 * from base.ldif.in, both by slapadd, with the placeholders filled as
 * stack.sh's fill() does (cleartext passwords here). Base STACK_BASE;
 * sl->pwfile holds the publisher's password. Undone by slapdtest_stop().
 */
static void
stack_slapd_start(struct slapdtest *sl)
{
	char cmd[4096], sed[1024], sock[128], path[192];
	struct berval cred = { strlen(STACK_PUB_PW), (char *)STACK_PUB_PW };
	struct timespec ts = { 0, 50 * 1000000L };
	LDAP *ld = NULL;
	int fd, i, v = LDAP_VERSION3, lrc = -1;

	memset(sl, 0, sizeof(*sl));
	snprintf(sl->dir, sizeof(sl->dir), "/tmp/test_publish_stack.XXXXXX");
	assert_non_null(mkdtemp(sl->dir));
	snprintf(sed, sizeof(sed), "sed -e 's|@RUN_DIR@|%s|g' "
	    "-e 's|@SLAPD_RUN_DIR@|%s|g' "
	    "-e 's|@LDAP_DATA@|%s/data|g' -e 's|@LDAP_BASE@|" STACK_BASE "|g' "
	    "-e 's|@LDAP_ROOTDN@|cn=admin," STACK_BASE "|g' "
	    "-e 's|@LDAP_ROOTPW_HASH@|" ADMIN_PW "|g' "
	    "-e 's|@LDAP_PUBLISHER_DN@|" STACK_PUB_DN "|g' "
	    "-e 's|@LDAP_PUBLISHER_PW_HASH@|" STACK_PUB_PW "|g'", sl->dir,
	    sl->dir, sl->dir);
	snprintf(cmd, sizeof(cmd), "set -e; mkdir -m 0700 %s/d %s/data; "
	    "%s deploy/slapd/config.ldif.in | slapadd -q -n0 -F %s/d; "
	    "%s deploy/slapd/base.ldif.in | slapadd -q -n1 -F %s/d",
	    sl->dir, sl->dir, sed, sl->dir, sed, sl->dir);
	if (system(cmd) != 0)
		fail_msg("slapadd of deploy/slapd/*.ldif.in failed");
	snprintf(sock, sizeof(sock), "%s/ldapi", sl->dir);
	slapdtest_ldapi_uri(sock, sl->uri, sizeof(sl->uri));
	snprintf(path, sizeof(path), "%s/d", sl->dir);
	sl->pid = fork();
	assert_true(sl->pid != -1);
	if (sl->pid == 0) {
		execl(SLAPDTEST_SLAPD, "slapd", "-d", "0", "-F", path, "-h",
		    sl->uri, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200 && lrc != LDAP_SUCCESS; i++) {
		if (ld != NULL)
			ldap_unbind_ext_s(ld, NULL, NULL);
		ld = NULL;
		nanosleep(&ts, NULL);
		if (ldap_initialize(&ld, sl->uri) != LDAP_SUCCESS)
			continue;
		ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v);
		lrc = ldap_sasl_bind_s(ld, STACK_PUB_DN, LDAP_SASL_SIMPLE,
		    &cred, NULL, NULL, NULL);
	}
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	if (lrc != LDAP_SUCCESS)
		fail_msg("the stack's slapd did not take the publisher's bind "
		    "on %s", sl->uri);
	snprintf(sl->pwfile, sizeof(sl->pwfile), "%s/bind.pw", sl->dir);
	fd = open(sl->pwfile, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, STACK_PUB_PW "\n", sizeof(STACK_PUB_PW)),
	    (ssize_t)sizeof(STACK_PUB_PW));
	close(fd);
}

/*
 * A 20 MiB CRL through the queue to a slapd configured as the stack's,
 * bound as its publisher: published, the directory holds its bytes. With
 * OpenLDAP's default olcSockbufMaxIncomingAuth (16 MiB - 1), slapd closed
 * the connection and the row was retried as "directory down" for ever.
 */
static void
test_big_crl_stack_slapd(void **state)
{
	struct fixture *fx = *state;
	struct slapdtest st;
	struct ldappub_conf lc;
	const char *dn = "cn=Big CA," STACK_BASE;
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct berval **vals;
	unsigned char *crl;
	size_t len;
	long id;

	assert_non_null(pkey);
	queue_clear(fx);
	stack_slapd_start(&st);
	crl = make_big_crl(pkey, BIG_CRL_BYTES, &len);
	assert_true(len > BIG_CRL_BYTES);
	memset(&lc, 0, sizeof(lc));
	lc.uri = st.uri;
	lc.bind_dn = STACK_PUB_DN;
	lc.bind_pw_file = st.pwfile;
	lc.base = STACK_BASE;
	id = queue(fx, dn, CRL_ATTR, crl, len);
	assert_int_equal(publish_run(fx->db, &lc, "test", 0, NULL), 0);
	assert_int_equal(row_long(fx, id, "(done_at IS NOT NULL)::int"), 1);
	vals = read_attr(st.uri, dn, CRL_ATTR);
	assert_non_null(vals);
	assert_non_null(vals[0]);
	assert_int_equal(vals[0]->bv_len, len);
	assert_memory_equal(vals[0]->bv_val, crl, len);
	ldap_value_free_len(vals);
	slapdtest_stop(&st);
	free(crl);
	EVP_PKEY_free(pkey);
}

/*
 * The same CRL to a slapd with OpenLDAP's default limit: slapd closes the
 * connection ("Can't contact LDAP server"). The row fails with an error
 * naming its size and the limit, and is not taken for the directory down:
 * the next row of the batch (a small CRL of another entry) is published.
 */
static void
test_big_crl_over_limit(void **state)
{
	struct fixture *fx = *state;
	struct ldappub_conf lc = { fx->sl.uri, ADMIN_DN, fx->sl.pwfile,
	    "dc=test", 0 };
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	unsigned char *big, *small;
	size_t blen, slen;
	char want[64];
	long b, sm;
	char *err;

	assert_non_null(pkey);
	queue_clear(fx);
	big = make_big_crl(pkey, BIG_CRL_BYTES, &blen);
	small = make_crl(pkey, 2, &slen);
	b = queue(fx, "cn=Too Big CA,dc=test", CRL_ATTR, big, blen);
	sm = queue(fx, "cn=Small CA,dc=test", CRL_ATTR, small, slen);
	assert_int_equal(publish_run(fx->db, &lc, "test", 0, NULL), 1);
	assert_int_equal(row_long(fx, b, "attempts"), 1);
	assert_int_equal(row_long(fx, b, "(done_at IS NULL)::int"), 1);
	snprintf(want, sizeof(want), "a request of %zu bytes", blen);
	err = sql1(fx->sql, "SELECT last_error FROM publish_queue WHERE "
	    "attempts > 0 AND done_at IS NULL");
	if (strstr(err, want) == NULL || strstr(err,
	    "olcSockbufMaxIncomingAuth") == NULL)
		fail_msg("last_error does not name the size and the limit: %s",
		    err);
	free(err);
	/* Not "the directory is down": the row after it went out. */
	assert_int_equal(row_long(fx, sm, "(done_at IS NOT NULL)::int"), 1);
	free(big);
	free(small);
	EVP_PKEY_free(pkey);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_newest_only),
		cmocka_unit_test(test_certificate_row_kept),
		cmocka_unit_test(test_directory_down),
		cmocka_unit_test(test_budget_per_row),
		cmocka_unit_test(test_big_crl_stack_slapd),
		cmocka_unit_test(test_big_crl_over_limit),
	};

	log_init("test_publish_queue", LOGL_ERR, stderr);
	/* As crld (lib/daemon.c) and pkictl: slapd closing a socket is no kill. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
