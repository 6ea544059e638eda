/*
 * Streaming CRL issuance (lib/crlgen.h).
 *
 * The CertificateList is assembled in one buffer whose front is reserved:
 *
 *	[ reserve | entries ... | crlExtensions | sigAlg | signature ]
 *
 * The fields before revokedCertificates are known before the first row, so
 * the reserve is sized for them and for the three headers whose lengths are
 * known only at the end (revokedCertificates, TBSCertList, CertificateList);
 * they are written backwards into it. realloc of a large glibc block is an
 * mremap, so growing the buffer copies nothing either.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/audit.h"
#include "lib/crlgen.h"
#include "lib/der.h"
#include "lib/hex.h"
#include "lib/db.h"
#include "lib/file.h"
#include "lib/log.h"
#include "lib/sigdigest.h"

#define CRLGEN_HDR_MAX		6	/* tag, 0x84, four length octets */
#define CRLGEN_MAX_LEN		(1024u * 1024 * 1024)
#define CRLGEN_SERIAL_MAX	20	/* RFC 5280 §4.1.2.2 */
/*
 * Rows revoked before schema/024 have no revocation_xid: a delta judges
 * them by their xmin, and only within this many sequence numbers below its
 * base's max_seq. Only a base made before 024 can have missed one (024's
 * ALTER TABLE waited for every revocation in flight); every later change
 * sets revocation_xid and is judged exactly, whatever its distance.
 */
#define CRLGEN_SEQ_WINDOW	"100000"
#define CRLGEN_ATTEMPTS		5

/* RFC 5280 §5.3.1 */
#define REASON_UNSPECIFIED	0
#define REASON_REMOVE		8
#define REASON_MAX		10

static const struct db_stmt stmt_state_init = { "lib_crlgen_state_init",
	"INSERT INTO crl_state (issuer_id) VALUES ($1) ON CONFLICT DO NOTHING", 1 };
static const struct db_stmt stmt_state_lock = { "lib_crlgen_state_lock",
	"SELECT next_number FROM crl_state WHERE issuer_id = $1 FOR UPDATE", 1 };
static const struct db_stmt stmt_state_next = { "lib_crlgen_state_next",
	"UPDATE crl_state SET next_number = next_number + 1 WHERE issuer_id = $1", 1 };
static const struct db_stmt stmt_state_raise = { "lib_crlgen_state_raise",
	"UPDATE crl_state SET next_number = $2::bigint WHERE issuer_id = $1 "
	"AND next_number < $2::bigint", 2 };
/*
 * Seconds since the newest base ($2 'base') or the newest delta on the
 * newest base ($2 'delta': a delta on an older one does not make a new
 * base's delta redundant); NULL: none.
 */
static const struct db_stmt stmt_age = { "lib_crlgen_age",
	"SELECT extract(epoch FROM now() - max(this_update))::float8 FROM crl "
	"WHERE issuer_id = $1 AND CASE WHEN $2 = 'base' THEN is_base ELSE "
	"kind = 'delta' AND base_number = (SELECT max(b.number) FROM crl b "
	"WHERE b.issuer_id = $1 AND b.is_base) END", 2 };
/*
 * Seconds from now to thisUpdate and to nextUpdate of the newest CRL of
 * kind $2 ('full': complete, base or not; 'delta'): the one crld serves.
 */
static const struct db_stmt stmt_expiry = { "lib_crlgen_expiry",
	"SELECT extract(epoch FROM this_update - now())::float8, "
	"extract(epoch FROM next_update - now())::float8 FROM crl "
	"WHERE issuer_id = $1 AND kind = $2 ORDER BY number DESC LIMIT 1", 2 };
static const struct db_stmt stmt_now = { "lib_crlgen_now",
	"SELECT coalesce(max(revocation_seq), 0), pg_current_snapshot()::text, "
	"floor(extract(epoch FROM now()))::bigint FROM certificate "
	"WHERE issuer_id = $1 AND revocation_seq IS NOT NULL", 1 };
static const struct db_stmt stmt_base = { "lib_crlgen_base",
	"SELECT number, max_seq, snapshot::text FROM crl WHERE issuer_id = $1 "
	"AND is_base ORDER BY number DESC LIMIT 1", 1 };
static const struct db_stmt stmt_newest = { "lib_crlgen_newest",
	"SELECT max_seq, coalesce(base_number, 0), snapshot::text FROM crl "
	"WHERE issuer_id = $1 AND kind = $2 ORDER BY number DESC LIMIT 1", 2 };
/*
 * Whether a revocation at or below a CRL's max_seq committed after that CRL
 * was built ($3, its snapshot): one that took its revocation_seq before
 * another but committed after it. max_seq alone cannot tell, and the CRL
 * would wait for the next scheduled base. A change the snapshot did not
 * see has a revocation_xid at or above its xmin (index
 * certificate_revocation_xid, schema/046); rows from before schema/024,
 * without one, are judged by xmin within CRLGEN_SEQ_WINDOW.
 */
static const struct db_stmt stmt_committed_since = {
	"lib_crlgen_committed_since",
	"SELECT EXISTS (SELECT 1 FROM certificate WHERE issuer_id = $1 AND "
	"revocation_seq <= $2::bigint AND revocation_xid >= "
	"pg_snapshot_xmin($3::pg_snapshot) AND NOT "
	"pg_visible_in_snapshot(revocation_xid, $3::pg_snapshot)) OR EXISTS "
	"(SELECT 1 FROM certificate WHERE issuer_id = $1 AND revocation_xid IS "
	"NULL AND revocation_seq <= $2::bigint AND revocation_seq > $2::bigint - "
	CRLGEN_SEQ_WINDOW " AND NOT pg_visible_in_snapshot(crl_xid8(xmin, "
	"pg_snapshot_xmax($4::pg_snapshot)::text::bigint), $3::pg_snapshot))",
	4 };
/*
 * The entries as a binary COPY (crlgen_row: text, timestamptz, smallint,
 * timestamptz). Its literals are numbers printed here and snapshots that
 * crlgen_snapshot_ok() passed: COPY takes no parameters. A delta lists the
 * rows changed after its base's max_seq, and those whose change the base's
 * snapshot did not see (in flight while it was built): judged by the
 * top-level transaction that last changed the status (revocation_xid,
 * schema/024), which is then at or above the snapshot's xmin (an index
 * range, schema/046, however many rows one transaction revoked). Rows
 * revoked before 024 are judged by their xmin, through crl_xid8 (schema/023,
 * given the xmax of this transaction's snapshot as a constant, so computed
 * once, not per row), within CRLGEN_SEQ_WINDOW.
 */
#define CRLGEN_COLS	"COPY (SELECT serial, revoked_at, revocation_reason, " \
	"invalidity_date FROM certificate"
#define CRLGEN_WHERE	" WHERE issuer_id = %lld AND revocation_seq IS NOT " \
	"NULL AND "
static const char copy_full[] = CRLGEN_COLS CRLGEN_WHERE
	"not_after > to_timestamp(%lld) AND revoked_at IS NOT NULL) TO STDOUT "
	"(FORMAT binary)";
/*
 * Arguments: issuer, cutoff, base max_seq, base snapshot twice, base
 * max_seq, this snapshot, base snapshot. A released hold (revoked_at NULL)
 * is exempt from the expiry cut-off: its base may have listed it on hold
 * before the certificate expired, and without removeFromCRL base + delta
 * would keep it on hold until the next base.
 */
static const char copy_delta[] = CRLGEN_COLS CRLGEN_WHERE
	"(not_after > to_timestamp(%lld) OR revoked_at IS NULL) "
	"AND (revocation_seq > %lld OR (revocation_xid >= pg_snapshot_xmin("
	"'%s'::pg_snapshot) AND NOT pg_visible_in_snapshot(revocation_xid, "
	"'%s'::pg_snapshot)) OR (revocation_xid IS NULL AND revocation_seq > "
	"%lld - " CRLGEN_SEQ_WINDOW " AND NOT pg_visible_in_snapshot(crl_xid8("
	"xmin, pg_snapshot_xmax('%s'::pg_snapshot)::text::bigint), "
	"'%s'::pg_snapshot)))) TO STDOUT (FORMAT binary)";
/*
 * A complete CRL's query is planned with random_page_cost at most
 * CRLGEN_PAGE_COST, then set back ($1) for the rest of the transaction
 * (prepared statements keep the plan they were first given). Its entries
 * come from certificate_crl_entries (schema/092) by an index-only scan:
 * the index is read whole at every complete CRL, so its pages are cached,
 * and with the default cost of 4 a random page, the planner preferred a
 * sequential scan of the table wherever its rows were small (every row of
 * the benchmark's is a revoked one, with a 1-byte DER), deforming every wide
 * row for 36 ms of PostgreSQL's CPU at 100,000 entries where the index
 * takes 27 (crl/README.md, "Benchmark"). A delta's query is not touched.
 */
#define CRLGEN_PAGE_COST	"1.1"
static const struct db_stmt stmt_page_cost = { "lib_crlgen_page_cost",
	"SELECT current_setting('random_page_cost'), set_config("
	"'random_page_cost', least(current_setting('random_page_cost')::"
	"float8, " CRLGEN_PAGE_COST ")::text, true)", 0 };
static const struct db_stmt stmt_page_cost_back = { "lib_crlgen_page_cost_back",
	"SELECT set_config('random_page_cost', $1, true)", 1 };
static const struct db_stmt stmt_record = { "lib_crlgen_record",
	"INSERT INTO crl (issuer_id, number, kind, is_base, base_number, "
	"this_update, next_update, max_seq, snapshot, entries, bytes, sha256, "
	"issued_by) VALUES ($1, $2, $3, $4, $5, to_timestamp($6::bigint), "
	"to_timestamp($7::bigint), $8, $9::pg_snapshot, $10, $11, $12, $13)", 13 };
/*
 * The DER reaches crl_current through a temporary table filled by COPY
 * (db_copy_bytea): as a parameter, libpq would hold a second copy of it.
 * Its column is EXTERNAL, as crl_current's and publish_queue's are
 * (schemas 005 and 046: stored as is): a value compressed here went
 * compressed into both, since INSERT ... SELECT copies a compressed datum
 * as it is, whatever the target column's storage. Until 2026-12-07 every
 * CRL was so compressed with pglz at each issuance, in the one transaction
 * that holds the issuer's crl_state lock.
 */
#define CRLGEN_STAGE_CREATE	"CREATE TEMP TABLE crlgen_stage (der bytea) " \
	"ON COMMIT DROP; ALTER TABLE crlgen_stage ALTER COLUMN der SET " \
	"STORAGE EXTERNAL"
#define CRLGEN_STAGE_COPY	"COPY crlgen_stage (der) FROM STDIN " \
	"(FORMAT binary)"
static const struct db_stmt stmt_current = { "lib_crlgen_current",
	"INSERT INTO crl_current (issuer_id, kind, number, this_update, "
	"next_update, der) SELECT $1, $2, $3, to_timestamp($4::bigint), "
	"to_timestamp($5::bigint), der FROM crlgen_stage "
	"ON CONFLICT (issuer_id, kind) DO UPDATE "
	"SET number = EXCLUDED.number, this_update = EXCLUDED.this_update, "
	"next_update = EXCLUDED.next_update, der = EXCLUDED.der "
	"WHERE crl_current.number < EXCLUDED.number", 5 };

/*
 * The LDAP publication of the CRL just stored, copied inside the server
 * (the DER crosses the wire once). The same row and audit event as
 * publish_queue_add().
 */
static const struct db_stmt stmt_queue = { "lib_crlgen_queue",
	"INSERT INTO publish_queue (dn, attribute, der) SELECT $1, $2, der "
	"FROM crl_current WHERE issuer_id = $3 AND kind = $4 AND number = $5 "
	"RETURNING id", 5 };

/* A growing byte buffer; failed sticks after the first allocation failure. */
struct cbuf {
	unsigned char	*d;
	size_t		 len;
	size_t		 cap;
	int		 failed;
};

struct crlgen_ctx {
	struct db			*db;
	const char			*actor;
	const struct crlgen_issuer	*is;
	const struct crlgen_policy	*pol;
	enum crlgen_kind		 kind;
	int				 flags;
	crlgen_sign_fn			 sign;
	void				*sign_arg;
	struct crlgen_result		*res;
	char				*err;
	size_t				 errlen;
	/* streaming */
	struct cbuf			 b;
	long long			 entries;
	int				 row_failed;
	/* revoked rows whose reason is no revocation reason (§5.3.1) */
	long long			 bad_reasons;
	char				 bad_serial[48];
};

static void	crlgen_seterr(struct crlgen_ctx *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
crlgen_seterr(struct crlgen_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
}

static double
crlgen_clock(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) == -1)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
crlgen_now(void)
{
	return crlgen_clock(CLOCK_MONOTONIC);
}

static int
cbuf_reserve(struct cbuf *b, size_t more)
{
	unsigned char *nd;
	size_t ncap;

	if (b->failed)
		return -1;
	if (b->len + more <= b->cap)
		return 0;
	if (more > CRLGEN_MAX_LEN || b->len > CRLGEN_MAX_LEN - more) {
		b->failed = 1;
		return -1;
	}
	ncap = b->cap < 4096 ? 4096 : b->cap;
	while (ncap < b->len + more)
		ncap *= 2;
	if ((nd = realloc(b->d, ncap)) == NULL) {
		b->failed = 1;
		return -1;
	}
	b->d = nd;
	b->cap = ncap;
	return 0;
}

static void
cbuf_put(struct cbuf *b, const void *p, size_t n)
{
	if (n == 0 || cbuf_reserve(b, n) == -1)
		return;
	memcpy(b->d + b->len, p, n);
	b->len += n;
}

/* Writes a DER tag and minimal length into out (at least 6 bytes); returns its size. */
static size_t
der_hdr(unsigned char *out, unsigned char tag, size_t len)
{
	size_t n = 0;

	out[n++] = tag;
	if (len < 0x80)
		out[n++] = (unsigned char)len;
	else if (len < 0x100) {
		out[n++] = 0x81;
		out[n++] = (unsigned char)len;
	} else if (len < 0x10000) {
		out[n++] = 0x82;
		out[n++] = (unsigned char)(len >> 8);
		out[n++] = (unsigned char)len;
	} else if (len < 0x1000000) {
		out[n++] = 0x83;
		out[n++] = (unsigned char)(len >> 16);
		out[n++] = (unsigned char)(len >> 8);
		out[n++] = (unsigned char)len;
	} else {
		out[n++] = 0x84;
		out[n++] = (unsigned char)(len >> 24);
		out[n++] = (unsigned char)(len >> 16);
		out[n++] = (unsigned char)(len >> 8);
		out[n++] = (unsigned char)len;
	}
	return n;
}

static void
cbuf_tlv(struct cbuf *b, unsigned char tag, const void *content, size_t n)
{
	unsigned char h[CRLGEN_HDR_MAX];

	cbuf_put(b, h, der_hdr(h, tag, n));
	cbuf_put(b, content, n);
}

/* Appends tag + the contents of inner (then emptied). */
static void
cbuf_wrap(struct cbuf *b, unsigned char tag, struct cbuf *inner)
{
	if (inner->failed)
		b->failed = 1;
	cbuf_tlv(b, tag, inner->d, inner->len);
	inner->len = 0;
}

static void
put2(unsigned char *p, int v)
{
	p[0] = (unsigned char)('0' + v / 10 % 10);
	p[1] = (unsigned char)('0' + v % 10);
}

/*
 * Civil date of a day count since 1970-01-01 (proleptic Gregorian; H.
 * Hinnant's algorithm): no gmtime_r, whose lock and table walk cost more
 * than the rest of an entry.
 */
static void
crlgen_civil(long long days, int *y, int *m, int *d)
{
	long long z = days + 719468, era, doe, yoe, doy, mp;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/*
 * RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050; gen
 * forces GeneralizedTime (invalidityDate, §5.3.2). Writes at most 17 bytes.
 */
static size_t
der_time(unsigned char *out, time_t t, int gen)
{
	long long days = (long long)t / 86400, secs = (long long)t % 86400;
	int year, mon, day;
	size_t n = 0;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	crlgen_civil(days, &year, &mon, &day);
	if (year < 0 || year > 9999)
		year = year < 0 ? 0 : 9999;	/* not reachable from timestamptz we store */
	if (!gen && year >= 1950 && year <= 2049) {
		out[n++] = 0x17;
		out[n++] = 13;
	} else {
		out[n++] = 0x18;
		out[n++] = 15;
		put2(out + n, year / 100);
		n += 2;
	}
	put2(out + n, year % 100);
	put2(out + n + 2, mon);
	put2(out + n + 4, day);
	put2(out + n + 6, (int)(secs / 3600));
	put2(out + n + 8, (int)(secs / 60 % 60));
	put2(out + n + 10, (int)(secs % 60));
	n += 12;
	out[n++] = 'Z';
	return n;
}

/* A non-negative INTEGER's DER (tag included) into out (>= 11 bytes). */
static size_t
crlgen_der_uint(unsigned char *out, unsigned long long v)
{
	unsigned char tmp[9];
	size_t n = 0, i;

	do {
		tmp[n++] = (unsigned char)(v & 0xff);
		v >>= 8;
	} while (v > 0);
	if (tmp[n - 1] & 0x80)
		tmp[n++] = 0;
	out[0] = 0x02;
	out[1] = (unsigned char)n;
	for (i = 0; i < n; i++)
		out[2 + i] = tmp[n - 1 - i];
	return 2 + n;
}

/*
 * A hex digit's value plus one, 0 for any other byte: what
 * OPENSSL_hexchar2int answers (either case), without a call into
 * libcrypto per digit, which was the largest single cost of an entry
 * (32 calls for a 16-byte serial; 7 % of crld --once's CPU at 100,000
 * entries).
 */
static const unsigned char crlgen_hex1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
	['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/*
 * The DER INTEGER (tag included) of a serial stored as hex (schema/004):
 * positive, leading zero octets dropped, 0x00 prepended when the high bit
 * is set. out holds at least 2 + 21 bytes. Returns its size, 0 when hex is
 * not a serial RFC 5280 allows.
 */
static size_t
der_serial(unsigned char *out, const unsigned char *hex, size_t n)
{
	unsigned char v[CRLGEN_SERIAL_MAX + 8];
	size_t nb = 0, i = 0, z = 0;
	int hi, lo;

	if (n == 0 || n > 2 * sizeof(v))
		return 0;
	if (n % 2 == 1) {
		if ((lo = crlgen_hex1[hex[0]]) == 0)
			return 0;
		v[nb++] = (unsigned char)(lo - 1);
		i = 1;
	}
	for (; i < n; i += 2) {
		if ((hi = crlgen_hex1[hex[i]]) == 0 ||
		    (lo = crlgen_hex1[hex[i + 1]]) == 0)
			return 0;
		v[nb++] = (unsigned char)((hi - 1) << 4 | (lo - 1));
	}
	while (z < nb - 1 && v[z] == 0)
		z++;
	nb -= z;
	if (nb > CRLGEN_SERIAL_MAX)
		return 0;
	out[0] = 0x02;
	if (v[z] & 0x80) {
		out[1] = (unsigned char)(nb + 1);
		out[2] = 0;
		memcpy(out + 3, v + z, nb);
		return 3 + nb;
	}
	out[1] = (unsigned char)nb;
	memcpy(out + 2, v + z, nb);
	return 2 + nb;
}

/* A binary int64 column (network byte order). */
static int64_t
crlgen_be64(const unsigned char *u)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | u[i];
	return (int64_t)v;
}

/* A binary timestamptz (µs since 2000-01-01 UTC) as seconds since 1970, rounded down. */
static time_t
crlgen_pgtime(const struct db_row *row, int col)
{
	int64_t us;

	if (row->length[col] != 8)
		return 0;
	us = crlgen_be64(row->value[col]);
	return (time_t)((us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000)) +
	    946684800);
}

/* One revoked entry (RFC 5280 §5.1.2.6, §5.3) from a row of copy_full/copy_delta. */
static int
crlgen_row(void *arg, const struct db_row *row)
{
	/* Entry extension prefixes: reasonCode (2.5.29.21), invalidityDate (2.5.29.24). */
	static const unsigned char reason_ext[] = { 0x30, 0x0a, 0x06, 0x03,
	    0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01 };
	static const unsigned char inv_ext[] = { 0x30, 0x18, 0x06, 0x03, 0x55,
	    0x1d, 0x18, 0x04, 0x11 };
	struct crlgen_ctx *c = arg;
	unsigned char content[128], exts[64], *e;
	size_t n = 0, x = 0, len;
	const unsigned char *r2;
	time_t when;
	int reason;

	if (row->nfields != 4 || row->length[0] < 0 ||
	    (len = der_serial(content, row->value[0],
	    (size_t)row->length[0])) == 0) {
		int shown = row->nfields == 4 && row->length[0] > 0 ?
		    (row->length[0] < 48 ? row->length[0] : 48) : 0;

		crlgen_seterr(c, "certificate serial \"%.*s\" is not a valid "
		    "CRL entry serial (RFC 5280 §4.1.2.2)", shown, shown > 0 ?
		    (const char *)row->value[0] : "");
		c->row_failed = 1;
		return -1;
	}
	n = len;
	if (row->length[1] < 0) {
		/* A released hold, in a delta only: removeFromCRL (§5.3.1). */
		when = c->res->this_update;
		reason = REASON_REMOVE;
	} else {
		when = crlgen_pgtime(row, 1);
		r2 = row->value[2];
		reason = row->length[2] != 2 ?
		    REASON_UNSPECIFIED : (int)(r2[0] << 8 | r2[1]);
		/*
		 * §5.3.1: removeFromCRL only marks, in a delta, an entry that
		 * left the CRL; on a revoked entry it would tell a relying
		 * party to drop it, and 7 is unassigned. The database refuses
		 * both (schemas 004 and 046); a row stored before is listed as
		 * revoked with no reason code, and reported.
		 */
		if (reason == REASON_REMOVE || reason == 7 || reason < 0 ||
		    reason > REASON_MAX) {
			if (c->bad_reasons++ == 0)
				snprintf(c->bad_serial, sizeof(c->bad_serial),
				    "%.*s", (int)(row->length[0] < 40 ?
				    row->length[0] : 40),
				    (const char *)row->value[0]);
			reason = REASON_UNSPECIFIED;
		}
	}
	n += der_time(content + n, when, 0);
	/* §5.3.1: reasonCode unspecified SHOULD be absent. */
	if (reason != REASON_UNSPECIFIED) {
		memcpy(exts + x, reason_ext, sizeof(reason_ext));
		x += sizeof(reason_ext);
		exts[x++] = (unsigned char)reason;
	}
	if (reason != REASON_REMOVE && row->length[3] >= 0) {
		memcpy(exts + x, inv_ext, sizeof(inv_ext));
		x += sizeof(inv_ext);
		x += der_time(exts + x, crlgen_pgtime(row, 3), 1);
	}
	if (x > 0) {
		n += der_hdr(content + n, 0x30, x);
		memcpy(content + n, exts, x);
		n += x;
	}
	if (cbuf_reserve(&c->b, n + 2) == -1) {
		crlgen_seterr(c, "CRL buffer: out of memory or over %u bytes",
		    CRLGEN_MAX_LEN);
		c->row_failed = 1;
		return -1;
	}
	e = c->b.d + c->b.len;
	len = der_hdr(e, 0x30, n);
	memcpy(e + len, content, n);
	c->b.len += len + n;
	c->entries++;
	return 0;
}

/* Extension ::= SEQUENCE { OID 2.5.29.id, critical, OCTET STRING value } */
static void
crlgen_ext(struct cbuf *out, unsigned char id, int critical, struct cbuf *val)
{
	struct cbuf e = { NULL, 0, 0, 0 };
	unsigned char oid[] = { 0x06, 0x03, 0x55, 0x1d, id };
	static const unsigned char crit[] = { 0x01, 0x01, 0xff };

	cbuf_put(&e, oid, sizeof(oid));
	if (critical)
		cbuf_put(&e, crit, sizeof(crit));
	cbuf_wrap(&e, 0x04, val);
	cbuf_wrap(out, 0x30, &e);
	free(e.d);
}

/* DistributionPointName fullName with one URI: [0] { [0] { [6] uri } } */
static void
crlgen_dpname(struct cbuf *out, const char *uri)
{
	struct cbuf gn = { NULL, 0, 0, 0 }, names = { NULL, 0, 0, 0 };

	cbuf_tlv(&gn, 0x86, uri, strlen(uri));	/* uniformResourceIdentifier */
	cbuf_wrap(&names, 0xa0, &gn);		/* fullName [0] GeneralNames */
	cbuf_wrap(out, 0xa0, &names);		/* distributionPoint [0] */
	free(gn.d);
	free(names.d);
}

/* crlExtensions [0] EXPLICIT (RFC 5280 §5.2) into out. */
static int
crlgen_extensions(struct crlgen_ctx *c, struct cbuf *out, long long number,
    long long base)
{
	struct cbuf exts = { NULL, 0, 0, 0 }, v = { NULL, 0, 0, 0 };
	struct cbuf t = { NULL, 0, 0, 0 };
	const ASN1_OCTET_STRING *skid;
	unsigned char md[EVP_MAX_MD_SIZE], num[16];
	unsigned int mdlen = 0;
	int rc = -1;

	/* §5.2.1 Authority Key Identifier: the issuer's subject key identifier. */
	if ((skid = X509_get0_subject_key_id(c->is->cert)) != NULL)
		cbuf_tlv(&t, 0x80, ASN1_STRING_get0_data(skid),
		    (size_t)ASN1_STRING_length(skid));
	else {
		if (X509_pubkey_digest(c->is->cert, EVP_sha1(), md, &mdlen) !=
		    1) {
			crlgen_seterr(c, "X509_pubkey_digest failed");
			goto out;
		}
		cbuf_tlv(&t, 0x80, md, mdlen);
	}
	cbuf_wrap(&v, 0x30, &t);
	crlgen_ext(&exts, 0x23, 0, &v);
	/* §5.2.3 CRL Number. */
	cbuf_put(&v, num, crlgen_der_uint(num, (unsigned long long)number));
	crlgen_ext(&exts, 0x14, 0, &v);
	/* §5.2.4 Delta CRL Indicator (critical): the base's number. */
	if (c->kind == CRLGEN_DELTA) {
		cbuf_put(&v, num, crlgen_der_uint(num,
		    (unsigned long long)base));
		crlgen_ext(&exts, 0x1b, 1, &v);
	}
	/*
	 * §5.2.5 Issuing Distribution Point (critical): the URL in our
	 * certificates' CRL distribution points. A delta carries the same one
	 * as its base: §5.2.4 has complete and delta CRLs share one scope, and
	 * relying parties (OpenSSL's check_delta_base) require the two IDPs to
	 * be identical and to match the certificate's CDP.
	 */
	if (c->pol->url != NULL) {
		crlgen_dpname(&t, c->pol->url);
		cbuf_wrap(&v, 0x30, &t);
		crlgen_ext(&exts, 0x1c, 1, &v);
	}
	/* §5.2.6 Freshest CRL: where the deltas are (complete CRLs only). */
	if (c->kind != CRLGEN_DELTA && c->pol->delta_url != NULL) {
		struct cbuf dp = { NULL, 0, 0, 0 };

		crlgen_dpname(&dp, c->pol->delta_url);
		cbuf_wrap(&t, 0x30, &dp);	/* DistributionPoint */
		cbuf_wrap(&v, 0x30, &t);	/* CRLDistributionPoints */
		crlgen_ext(&exts, 0x2e, 0, &v);
		free(dp.d);
	}
	cbuf_wrap(&t, 0x30, &exts);
	cbuf_wrap(out, 0xa0, &t);
	if (out->failed || exts.failed || v.failed || t.failed) {
		crlgen_seterr(c, "CRL extensions: out of memory");
		goto out;
	}
	rc = 0;
out:
	free(exts.d);
	free(v.d);
	free(t.d);
	return rc;
}

/* The signature AlgorithmIdentifier for the issuer's key and digest. */
static int
crlgen_sigalg(struct crlgen_ctx *c, const unsigned char **alg, size_t *len)
{
	static const unsigned char ec[3][12] = {
		{ 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 },
		{ 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 },
		{ 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04 },
	};
	static const unsigned char rsa[3][15] = {
		{ 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00 },
		{ 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00 },
		{ 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00 },
	};
	EVP_PKEY *pub = X509_get0_pubkey(c->is->cert);
	const char *want;
	char why[128];
	int d;

	/*
	 * The caller's digest must be the one the key fixes (lib/sigdigest.h):
	 * the signature callback signs with it, and a P-384 key's CRL signed
	 * with SHA-256 is refused here rather than published.
	 */
	if ((want = sigdigest_for_key(pub, c->is->digest, why,
	    sizeof(why))) == NULL) {
		crlgen_seterr(c, "issuer %s: its key signs no CRL: %s",
		    c->is->name, why);
		return -1;
	}
	if (strcmp(want, c->is->digest) != 0) {
		crlgen_seterr(c, "issuer %s: CRL digest %s, but its key signs "
		    "with %s (CA/B BR §7.1.3.2)", c->is->name, c->is->digest,
		    want);
		return -1;
	}
	if (strcmp(c->is->digest, "SHA256") == 0)
		d = 0;
	else if (strcmp(c->is->digest, "SHA384") == 0)
		d = 1;
	else if (strcmp(c->is->digest, "SHA512") == 0)
		d = 2;
	else {
		crlgen_seterr(c, "CRL digest %s: SHA256, SHA384 or SHA512 only",
		    c->is->digest);
		return -1;
	}
	if (pub != NULL && EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC) {
		*alg = ec[d];
		*len = sizeof(ec[d]);
	} else if (pub != NULL && EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) {
		*alg = rsa[d];
		*len = sizeof(rsa[d]);
	} else {
		crlgen_seterr(c, "issuer %s: key type not supported for CRLs "
		    "(EC or RSA PKCS#1 v1.5)", c->is->name);
		return -1;
	}
	return 0;
}

static void
crlgen_iso(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Queues the stored CRL for attribute attr of the CA's entry, audited. */
static int
crlgen_queue(struct crlgen_ctx *c, const char *attr, const char *id,
    const char *kind, const char *num)
{
	const char *v[5] = { c->pol->ldap_dn, attr, id, kind, num };
	PGresult *res;
	json_t *details = NULL;
	int rc = -1;

	if ((res = db_exec(c->db, &stmt_queue, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	if ((details = json_pack("{s:s, s:s, s:I}", "dn", c->pol->ldap_dn,
	    "attribute", attr, "bytes", (json_int_t)c->res->len)) == NULL ||
	    audit_append(c->db, c->actor, "publish.queue", "publish_queue",
	    PQgetvalue(res, 0, 0), details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

/* The rows of the CRL just built, its publication and its audit event. */
static int
crlgen_record(struct crlgen_ctx *c, const char *snapshot)
{
	struct crlgen_result *r = c->res;
	const char *kind = c->kind == CRLGEN_DELTA ? "delta" : "full";
	char id[24], num[24], base[24], tu[24], nu[24], seq[24], ent[24];
	char bytes[24], obj[96], tus[32], nus[32];
	const char *v[13];
	json_t *details = NULL;
	PGresult *res = NULL;
	int rc = -1;

	snprintf(id, sizeof(id), "%lld", c->is->id);
	snprintf(num, sizeof(num), "%lld", r->number);
	snprintf(base, sizeof(base), "%lld", r->base_number);
	snprintf(tu, sizeof(tu), "%lld", (long long)r->this_update);
	snprintf(nu, sizeof(nu), "%lld", (long long)r->next_update);
	snprintf(seq, sizeof(seq), "%lld", r->max_seq);
	snprintf(ent, sizeof(ent), "%lld", r->entries);
	snprintf(bytes, sizeof(bytes), "%zu", r->len);
	v[0] = id;
	v[1] = num;
	v[2] = kind;
	v[3] = c->kind == CRLGEN_BASE ? "true" : "false";
	v[4] = c->kind == CRLGEN_DELTA ? base : NULL;
	v[5] = tu;
	v[6] = nu;
	v[7] = seq;
	v[8] = snapshot;
	v[9] = ent;
	v[10] = bytes;
	v[11] = r->sha256;
	v[12] = c->actor;
	if (db_exec_ok(c->db, &stmt_record, v) == -1) {
		crlgen_seterr(c, "recording CRL %lld failed", r->number);
		goto out;
	}
	v[0] = id;
	v[1] = kind;
	v[2] = num;
	v[3] = tu;
	v[4] = nu;
	if (db_run(c->db, CRLGEN_STAGE_CREATE) == -1 ||
	    db_copy_bytea(c->db, CRLGEN_STAGE_COPY, r->der, r->len) == -1 ||
	    (res = db_exec(c->db, &stmt_current, v, NULL, NULL)) == NULL) {
		crlgen_seterr(c, "storing CRL %lld failed", r->number);
		goto out;
	}
	if (c->pol->ldap_dn != NULL && (crlgen_queue(c, c->kind ==
	    CRLGEN_DELTA ? "deltaRevocationList;binary" :
	    "certificateRevocationList;binary", id, kind, num) == -1 ||
	    (c->pol->arl && crlgen_queue(c, "authorityRevocationList;binary",
	    id, kind, num) == -1))) {
		crlgen_seterr(c, "queueing CRL %lld for LDAP failed", r->number);
		goto out;
	}
	crlgen_iso(r->this_update, tus, sizeof(tus));
	crlgen_iso(r->next_update, nus, sizeof(nus));
	snprintf(obj, sizeof(obj), "%s:%lld", c->is->name, r->number);
	details = json_pack("{s:s, s:I, s:s, s:b, s:o*, s:s, s:s, s:I, s:I, "
	    "s:I, s:s}", "issuer", c->is->name, "number", (json_int_t)r->number,
	    "kind", kind, "base", c->kind == CRLGEN_BASE, "base_number",
	    c->kind == CRLGEN_DELTA ? json_integer(r->base_number) : NULL,
	    "this_update", tus, "next_update", nus, "entries",
	    (json_int_t)r->entries, "bytes", (json_int_t)r->len, "max_seq",
	    (json_int_t)r->max_seq, "sha256", r->sha256);
	if (details == NULL || audit_append(c->db, c->actor, "crl.issue", "crl",
	    obj, details, NULL) == -1) {
		crlgen_seterr(c, "audit event of CRL %lld failed", r->number);
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	json_decref(details);
	return rc;
}

/* "xmin:xmax:xip,..." (pg_snapshot's text form): digits, colons, commas. */
static int
crlgen_snapshot_ok(const char *snap)
{
	return snap != NULL && snap[0] != '\0' &&
	    strspn(snap, "0123456789:,") == strlen(snap);
}

/*
 * Builds and signs the CertificateList into c->b and c->res. pre: the
 * TBSCertList fields before revokedCertificates; ext: crlExtensions.
 */
static int
crlgen_build(struct crlgen_ctx *c, const char *copy_sql,
    const struct cbuf *pre, const struct cbuf *ext)
{
	struct crlgen_result *r = c->res;
	unsigned char *sig = NULL, h[CRLGEN_HDR_MAX];
	const unsigned char *alg;
	size_t siglen = 0, algl, reserve, pos, elen, n;
	char e[256] = "";
	double t0, cpu0;
	int rc = -1;

	if (crlgen_sigalg(c, &alg, &algl) == -1)
		goto out;
	t0 = crlgen_now();
	cpu0 = crlgen_clock(CLOCK_THREAD_CPUTIME_ID);
	reserve = 3 * CRLGEN_HDR_MAX + pre->len;
	c->b.len = 0;
	c->entries = 0;
	c->row_failed = 0;
	c->bad_reasons = 0;
	if (cbuf_reserve(&c->b, reserve + 65536) == -1) {
		crlgen_seterr(c, "CRL buffer: out of memory");
		goto out;
	}
	c->b.len = reserve;
	if (db_copy_rows(c->db, copy_sql, crlgen_row, c) == -1) {
		const char *state = db_last_sqlstate(c->db);

		if (!c->row_failed)
			crlgen_seterr(c, "reading revoked certificates failed "
			    "(SQLSTATE %s)", state[0] != '\0' ? state : "none: "
			    "not a binary COPY");
		goto out;
	}
	if (c->bad_reasons > 0)
		log_warn("CRL %lld of %s: %lld revoked certificate(s) with a "
		    "reason code that is no revocation reason (removeFromCRL or "
		    "unassigned, RFC 5280 §5.3.1), e.g. serial %s: listed "
		    "without a reason code", r->number, c->is->name,
		    c->bad_reasons, c->bad_serial);
	elen = c->b.len - reserve;
	cbuf_put(&c->b, ext->d, ext->len);
	if (c->b.failed) {
		crlgen_seterr(c, "CRL buffer: out of memory or over %u bytes",
		    CRLGEN_MAX_LEN);
		goto out;
	}
	/* Backwards into the reserve: revokedCertificates, the fields, TBSCertList. */
	pos = reserve;
	if (elen > 0) {	/* §5.1.2.6: absent when empty */
		n = der_hdr(h, 0x30, elen);
		pos -= n;
		memcpy(c->b.d + pos, h, n);
	}
	pos -= pre->len;
	memcpy(c->b.d + pos, pre->d, pre->len);
	n = der_hdr(h, 0x30, c->b.len - pos);
	pos -= n;
	memcpy(c->b.d + pos, h, n);
	r->entries = c->entries;
	r->t_build = crlgen_now() - t0;
	r->t_build_cpu = crlgen_clock(CLOCK_THREAD_CPUTIME_ID) - cpu0;

	t0 = crlgen_now();
	if (c->sign(c->sign_arg, c->b.d + pos, c->b.len - pos, &sig, &siglen,
	    e, sizeof(e)) == -1) {
		crlgen_seterr(c, "signing CRL %lld: %s", r->number, e);
		goto out;
	}
	r->t_sign = crlgen_now() - t0;
	/* signatureAlgorithm, signatureValue BIT STRING (no unused bits). */
	cbuf_put(&c->b, alg, algl);
	cbuf_put(&c->b, h, der_hdr(h, 0x03, siglen + 1));
	cbuf_put(&c->b, "", 1);
	cbuf_put(&c->b, sig, siglen);
	if (c->b.failed) {
		crlgen_seterr(c, "CRL buffer: out of memory");
		goto out;
	}
	n = der_hdr(h, 0x30, c->b.len - pos);
	pos -= n;
	memcpy(c->b.d + pos, h, n);
	r->der = c->b.d + pos;
	r->len = c->b.len - pos;
	rc = 0;
out:
	free(sig);
	return rc;
}

/*
 * In the caller's transaction, holding issuer_id's crl_state row lock and
 * having read *next from it: raises it to min when below (RFC 5280
 * §5.2.3: a restore or an asynchronous failover set it back under numbers
 * already served), audited. 1 raised (*next = min), 0 not below, -1.
 */
static int
crlgen_raise_locked(struct db *db, const char *actor, const char *id,
    const char *issuer_name, long long *next, long long min)
{
	char minv[24];
	const char *v[2] = { id, minv };

	if (min <= *next)
		return 0;
	snprintf(minv, sizeof(minv), "%lld", min);
	if (db_exec_ok(db, &stmt_state_raise, v) == -1 ||
	    audit_append_new(db, actor, "crl.number_raised", "crl_state", id,
	    json_pack("{s:s, s:I, s:I}", "issuer", issuer_name, "from",
	    (json_int_t)*next, "to", (json_int_t)min)) == -1)
		return -1;
	log_err("CRL numbers of %s: the database's next number is %lld but "
	    "CRL %lld was already served or written (a restore or an "
	    "asynchronous failover lost commits?): raised to %lld (RFC 5280 "
	    "§5.2.3)", issuer_name, *next, min - 1, min);
	*next = min;
	return 1;
}

struct crlgen_floor {
	const char	*actor;
	long long	 issuer_id;
	const char	*issuer_name;
	long long	 min;
	int		 raised;
};

static int
crlgen_floor_txn(struct db *db, void *arg)
{
	struct crlgen_floor *f = arg;
	PGresult *res;
	char id[24];
	const char *v[1] = { id };
	long long next;

	snprintf(id, sizeof(id), "%lld", f->issuer_id);
	if (db_exec_ok(db, &stmt_state_init, v) == -1 ||
	    (res = db_exec(db, &stmt_state_lock, v, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return -1;
	}
	next = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return (f->raised = crlgen_raise_locked(db, f->actor, id,
	    f->issuer_name, &next, f->min)) == -1 ? -1 : 0;
}

int
crlgen_number_floor(struct db *db, const char *actor, long long issuer_id,
    const char *issuer_name, long long min_number, char *err, size_t errlen)
{
	struct crlgen_floor f = { actor, issuer_id, issuer_name, min_number, 0 };

	if (min_number <= 0)
		return 0;
	if (db_transaction(db, NULL, CRLGEN_ATTEMPTS, crlgen_floor_txn, &f) ==
	    -1) {
		snprintf(err, errlen, "raising the CRL number of %s to %lld "
		    "failed (SQLSTATE %s)", issuer_name, min_number,
		    db_last_sqlstate(db));
		return -1;
	}
	return f.raised;
}

static int
crlgen_txn(struct db *db, void *arg)
{
	struct crlgen_ctx *c = arg;
	struct crlgen_result *r = c->res;
	struct cbuf pre = { NULL, 0, 0, 0 }, ext = { NULL, 0, 0, 0 };
	unsigned char tmp[32], *name = NULL, md[32];
	PGresult *res = NULL;
	/* Snapshots on the heap: one grows with the transactions in flight. */
	char id[24], *snapshot = NULL, *bsnap = NULL, *sql = NULL;
	char *page_cost = NULL;
	size_t sqllen;
	long long cutoff;
	const char *v[2];
	long long cur_seq, base_seq = 0;
	int namelen, rc = -1;
	double t0;

	/* An earlier attempt's CRL (a retried transaction) is not kept. */
	free(c->b.d);
	memset(&c->b, 0, sizeof(c->b));
	memset(r, 0, sizeof(*r));
	snprintf(id, sizeof(id), "%lld", c->is->id);
	v[0] = id;
	/* One issuer's CRLs are made one at a time, wherever crld runs. */
	if ((res = db_exec(db, &stmt_state_lock, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1) {
		crlgen_seterr(c, "locking the CRL number of %s failed",
		    c->is->name);
		goto out;
	}
	r->number = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	res = NULL;
	if (crlgen_raise_locked(db, c->actor, id, c->is->name, &r->number,
	    c->pol->min_number) == -1) {
		crlgen_seterr(c, "raising the CRL number of %s to %lld failed",
		    c->is->name, c->pol->min_number);
		goto out;
	}
	if ((c->flags & CRLGEN_IF_DUE) && c->pol->interval > 0 &&
	    c->kind != CRLGEN_FULL) {
		/*
		 * Another instance may have issued this one since our
		 * schedule said it was due: its CRL is visible now that we
		 * hold the lock (a concurrent issuer's commit makes ours
		 * retry, REPEATABLE READ), and one schedule is enough.
		 */
		double age, renew_in, slack = (double)c->pol->interval / 10;

		slack = slack < 1 ? 1 : slack > 60 ? 60 : slack;
		v[1] = c->kind == CRLGEN_BASE ? "base" : "delta";
		if ((res = db_exec(db, &stmt_age, v, NULL, NULL)) == NULL ||
		    PQntuples(res) != 1) {
			crlgen_seterr(c, "reading the newest CRL's age failed");
			goto out;
		}
		age = PQgetisnull(res, 0, 0) ? -1 : strtod(PQgetvalue(res, 0,
		    0), NULL);
		PQclear(res);
		res = NULL;
		/*
		 * Whatever the interval says, the CRL served must not expire:
		 * it may be another instance's, with a shorter nextUpdate
		 * (until 2026-12-06 such a CRL was served expired for hours).
		 */
		v[1] = c->kind == CRLGEN_BASE ? "full" : "delta";
		if ((res = db_exec(db, &stmt_expiry, v, NULL, NULL)) == NULL) {
			crlgen_seterr(c, "reading the newest CRL's nextUpdate "
			    "failed");
			goto out;
		}
		renew_in = PQntuples(res) != 1 || PQgetisnull(res, 0, 0) ||
		    PQgetisnull(res, 0, 1) ? 0 : crlgen_renew_by(strtod(
		    PQgetvalue(res, 0, 0), NULL), strtod(PQgetvalue(res, 0, 1),
		    NULL));
		PQclear(res);
		res = NULL;
		if (age >= 0 && age < (double)c->pol->interval - slack &&
		    renew_in > 0) {
			r->due_in = (double)c->pol->interval - age;
			if (renew_in < r->due_in)
				r->due_in = renew_in;
			rc = 0;	/* issued stays 0: not due */
			goto out;
		}
	}
	if ((res = db_exec(db, &stmt_now, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1) {
		crlgen_seterr(c, "reading the revocation state failed");
		goto out;
	}
	cur_seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if ((snapshot = strdup(PQgetvalue(res, 0, 1))) == NULL) {
		crlgen_seterr(c, "snapshot: out of memory");
		goto out;
	}
	r->this_update = (time_t)strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	r->next_update = r->this_update + c->pol->next_update;
	r->max_seq = cur_seq;
	PQclear(res);
	res = NULL;
	if (c->kind == CRLGEN_DELTA) {
		if ((res = db_exec(db, &stmt_base, v, NULL, NULL)) == NULL)
			goto out;
		if (PQntuples(res) != 1) {
			crlgen_seterr(c, "no base CRL of %s yet: a delta needs "
			    "one (RFC 5280 §5.2.4)", c->is->name);
			goto out;
		}
		r->base_number = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		base_seq = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		if ((bsnap = strdup(PQgetvalue(res, 0, 2))) == NULL) {
			crlgen_seterr(c, "snapshot: out of memory");
			goto out;
		}
		PQclear(res);
		res = NULL;
	}
	if (c->flags & CRLGEN_IF_CHANGED) {
		v[1] = c->kind == CRLGEN_DELTA ? "delta" : "full";
		if ((res = db_exec(db, &stmt_newest, v, NULL, NULL)) == NULL)
			goto out;
		if (PQntuples(res) == 1 &&
		    strtoll(PQgetvalue(res, 0, 0), NULL, 10) >= cur_seq &&
		    strtoll(PQgetvalue(res, 0, 1), NULL, 10) == r->base_number) {
			const char *cv[4] = { id, PQgetvalue(res, 0, 0),
			    PQgetvalue(res, 0, 2), snapshot };
			PGresult *late;
			int fresh;

			if ((late = db_exec(db, &stmt_committed_since, cv, NULL,
			    NULL)) == NULL)
				goto out;
			fresh = PQntuples(late) == 1 &&
			    strcmp(PQgetvalue(late, 0, 0), "f") == 0;
			PQclear(late);
			if (fresh) {
				rc = 0;	/* issued stays 0: nothing new */
				goto out;
			}
		}
		PQclear(res);
		res = NULL;
	}
	if (db_exec_ok(db, &stmt_state_next, v) == -1) {
		crlgen_seterr(c, "taking CRL number %lld failed", r->number);
		goto out;
	}

	/* version v2, signature, issuer, thisUpdate, nextUpdate (§5.1.2). */
	cbuf_put(&pre, "\x02\x01\x01", 3);
	{
		const unsigned char *alg;
		size_t algl;

		if (crlgen_sigalg(c, &alg, &algl) == -1)
			goto out;
		cbuf_put(&pre, alg, algl);
	}
	if ((namelen = i2d_X509_NAME(X509_get_subject_name(c->is->cert),
	    &name)) <= 0) {
		crlgen_seterr(c, "i2d_X509_NAME failed");
		goto out;
	}
	cbuf_put(&pre, name, (size_t)namelen);
	cbuf_put(&pre, tmp, der_time(tmp, r->this_update, 0));
	cbuf_put(&pre, tmp, der_time(tmp, r->next_update, 0));
	if (pre.failed || crlgen_extensions(c, &ext, r->number,
	    r->base_number) == -1) {
		if (pre.failed)
			crlgen_seterr(c, "CRL fields: out of memory");
		goto out;
	}
	cutoff = (long long)r->this_update - c->pol->expired_grace;
	if (c->kind == CRLGEN_DELTA && (!crlgen_snapshot_ok(bsnap) ||
	    !crlgen_snapshot_ok(snapshot))) {
		crlgen_seterr(c, "a snapshot of %s's CRLs is not a pg_snapshot "
		    "(base %lld)", c->is->name, r->base_number);
		goto out;
	}
	/* The formats plus four numbers of at most 20 characters and four snapshots. */
	sqllen = sizeof(copy_delta) + 4 * 20 + strlen(snapshot) +
	    (bsnap != NULL ? 3 * strlen(bsnap) : 0);
	if ((sql = malloc(sqllen)) == NULL) {
		crlgen_seterr(c, "CRL query: out of memory");
		goto out;
	}
	if (c->kind != CRLGEN_DELTA)
		snprintf(sql, sqllen, copy_full, c->is->id, cutoff);
	else
		snprintf(sql, sqllen, copy_delta, c->is->id, cutoff, base_seq,
		    bsnap, bsnap, base_seq, snapshot, bsnap);
	if (c->kind != CRLGEN_DELTA) {
		if ((res = db_exec(db, &stmt_page_cost, NULL, NULL, NULL)) ==
		    NULL || PQntuples(res) != 1 || (page_cost =
		    strdup(PQgetvalue(res, 0, 0))) == NULL) {
			crlgen_seterr(c, "setting random_page_cost failed");
			goto out;
		}
		PQclear(res);
		res = NULL;
	}
	if (crlgen_build(c, sql, &pre, &ext) == -1)
		goto out;
	if (page_cost != NULL && db_exec_ok(db, &stmt_page_cost_back,
	    (const char *[]){ page_cost }) == -1) {
		crlgen_seterr(c, "setting random_page_cost back failed");
		goto out;
	}
	if (EVP_Digest(r->der, r->len, md, NULL, EVP_sha256(), NULL) != 1) {
		crlgen_seterr(c, "EVP_Digest failed");
		goto out;
	}
	hex_encode(md, sizeof(md), r->sha256);
	t0 = crlgen_now();
	if (crlgen_record(c, snapshot) == -1)
		goto out;
	r->t_record = crlgen_now() - t0;
	r->issued = 1;
	rc = 0;
out:
	PQclear(res);
	OPENSSL_free(name);
	free(pre.d);
	free(ext.d);
	free(snapshot);
	free(bsnap);
	free(sql);
	free(page_cost);
	return rc;
}

int
crlgen_schema_check(struct db *db, char *err, size_t errlen)
{
	return db_schema_check(db, CRLGEN_SCHEMA_MIN, "CRLs need",
	    "certificate.revocation_xid", err, errlen);
}

int
crlgen_issue(struct db *db, const char *actor, const struct crlgen_issuer *is,
    const struct crlgen_policy *pol, enum crlgen_kind kind, int flags,
    crlgen_sign_fn sign, void *sign_arg, struct crlgen_result *res, char *err,
    size_t errlen)
{
	struct crlgen_ctx c;
	char id[24], fname[128], e[256];
	const char *v[1];
	double t0;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	if (errlen > 0)
		err[0] = '\0';
	c.db = db;
	c.actor = actor;
	c.is = is;
	c.pol = pol;
	c.kind = kind;
	c.flags = flags;
	c.sign = sign;
	c.sign_arg = sign_arg;
	c.res = res;
	c.err = err;
	c.errlen = errlen;
	if (pol->next_update <= 0 || pol->expired_grace < 0 ||
	    (kind != CRLGEN_FULL && kind != CRLGEN_BASE &&
	    kind != CRLGEN_DELTA)) {
		snprintf(err, errlen, "crlgen_issue: bad policy or kind");
		goto out;
	}
	snprintf(id, sizeof(id), "%lld", is->id);
	v[0] = id;
	if (db_exec_ok(db, &stmt_state_init, v) == -1) {
		snprintf(err, errlen, "crl_state row of %s: SQLSTATE %s",
		    is->name, db_last_sqlstate(db));
		goto out;
	}
	t0 = crlgen_now();
	if (db_transaction(db, "REPEATABLE READ", CRLGEN_ATTEMPTS, crlgen_txn,
	    &c) == -1) {
		if (err[0] == '\0')
			snprintf(err, errlen, "CRL of %s: transaction failed "
			    "(SQLSTATE %s)", is->name, db_last_sqlstate(db));
		goto out;
	}
	if (res->issued) {
		/* The commit is part of recording. */
		res->t_record = crlgen_now() - t0 - res->t_build - res->t_sign;
		res->buf = c.b.d;
		c.b.d = NULL;
		if (pol->out_dir != NULL) {
			crlgen_file_name(is->name, kind == CRLGEN_DELTA, fname,
			    sizeof(fname));
			if (crlgen_write_file(pol->out_dir, fname, res->der,
			    res->len, e, sizeof(e)) == -1)
				/* Recorded and queued: the next one rewrites it. */
				log_warn("CRL %lld of %s issued but not written: "
				    "%s", res->number, is->name, e);
		}
	}
	err[0] = '\0';
	rc = 0;
out:
	free(c.b.d);
	if (rc == -1)
		crlgen_result_clear(res);
	return rc;
}

void
crlgen_result_clear(struct crlgen_result *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

/*
 * The next TLV in [*p, end): its tag, class and whether it is constructed;
 * *p moves to its contents, of *clen bytes. Definite lengths only. 0 or -1.
 */
static int
crlgen_rd(const unsigned char **p, const unsigned char *end, int *tag,
    int *cls, int *cons, long *clen)
{
	const unsigned char *q = *p;
	int r;

	if (q >= end)
		return -1;
	r = ASN1_get_object(&q, clen, tag, cls, (long)(end - q));
	if ((r & 0x80) != 0 || r == 0x21 || *clen < 0 ||
	    *clen > (long)(end - q))
		return -1;
	*cons = (r & V_ASN1_CONSTRUCTED) != 0;
	*p = q;
	return 0;
}

/* An INTEGER TLV at [p, p + n) (an extension's value) as a long long. */
static int
crlgen_rd_int(const unsigned char *p, long n, long long *v)
{
	ASN1_INTEGER *ai;
	int64_t i64;
	int rc = -1;

	if ((ai = d2i_ASN1_INTEGER(NULL, &p, n)) == NULL)
		return -1;
	if (ASN1_INTEGER_get_int64(&i64, ai) == 1 && i64 >= 0) {
		*v = (long long)i64;
		rc = 0;
	}
	ASN1_INTEGER_free(ai);
	return rc;
}

/* The crlExtensions ([0] EXPLICIT Extensions) in [p, end) into info. */
static int
crlgen_rd_exts(const unsigned char *p, const unsigned char *end,
    struct crlgen_file_info *info)
{
	const unsigned char *e, *eend, *oid;
	ASN1_OBJECT *obj;
	long clen, olen;
	int tag, cls, cons, nid;

	if (crlgen_rd(&p, end, &tag, &cls, &cons, &clen) == -1 ||
	    tag != V_ASN1_SEQUENCE || !cons || p + clen != end)
		return -1;
	while (p < end) {
		if (crlgen_rd(&p, end, &tag, &cls, &cons, &clen) == -1 ||
		    tag != V_ASN1_SEQUENCE || !cons)
			return -1;
		e = p;
		eend = p + clen;
		p = eend;
		oid = e;
		if (crlgen_rd(&e, eend, &tag, &cls, &cons, &olen) == -1 ||
		    tag != V_ASN1_OBJECT)
			return -1;
		e += olen;
		if ((obj = d2i_ASN1_OBJECT(NULL, &oid, e - oid)) == NULL)
			return -1;
		nid = OBJ_obj2nid(obj);
		ASN1_OBJECT_free(obj);
		if (crlgen_rd(&e, eend, &tag, &cls, &cons, &clen) == -1)
			return -1;
		if (tag == V_ASN1_BOOLEAN) {	/* critical */
			e += clen;
			if (crlgen_rd(&e, eend, &tag, &cls, &cons, &clen) == -1)
				return -1;
		}
		if (tag != V_ASN1_OCTET_STRING || e + clen != eend)
			return -1;
		if (nid == NID_crl_number &&
		    crlgen_rd_int(e, clen, &info->number) == -1)
			return -1;
		if (nid == NID_delta_crl &&
		    crlgen_rd_int(e, clen, &info->base_number) == -1)
			return -1;
	}
	return 0;
}

int
crlgen_file_check(const unsigned char *der, size_t len, X509 *cert,
    struct crlgen_file_info *info, char *err, size_t errlen)
{
	const unsigned char *p = der, *end = der + len, *tbs, *tend, *alg1;
	const unsigned char *alg2, *q;
	X509_NAME *issuer = NULL;
	X509_ALGOR *algor = NULL;
	EVP_MD_CTX *ctx = NULL;
	const EVP_MD *md;
	long clen, alg1len, alg2len;
	int tag, cls, cons, mdnid, pknid, rc = -1;

	memset(info, 0, sizeof(info[0]));
	/*
	 * The class too, for each TLV outside the TBSCertList, which the
	 * signature does not cover: until 2026-12-07 a [16] or [3] in place
	 * of the outer SEQUENCE or the BIT STRING passed (fuzz_crlfile).
	 */
	if (len > LONG_MAX || crlgen_rd(&p, end, &tag, &cls, &cons,
	    &clen) == -1 || tag != V_ASN1_SEQUENCE ||
	    cls != V_ASN1_UNIVERSAL || !cons || p + clen != end) {
		snprintf(err, errlen, "not one CertificateList (RFC 5280 §5.1)");
		goto out;
	}
	/* TBSCertList */
	tbs = p;
	if (crlgen_rd(&p, end, &tag, &cls, &cons, &clen) == -1 ||
	    tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL || !cons) {
		snprintf(err, errlen, "no TBSCertList (RFC 5280 §5.1.1.1)");
		goto out;
	}
	tend = p + clen;
	q = p;
	if (crlgen_rd(&q, tend, &tag, &cls, &cons, &clen) == 0 &&
	    tag == V_ASN1_INTEGER && cls == V_ASN1_UNIVERSAL)
		p = q + clen;			/* version */
	alg1 = p;
	if (crlgen_rd(&p, tend, &tag, &cls, &cons, &clen) == -1 ||
	    tag != V_ASN1_SEQUENCE) {
		snprintf(err, errlen, "TBSCertList: no signature algorithm");
		goto out;
	}
	p += clen;
	alg1len = p - alg1;
	q = p;
	if (crlgen_rd(&p, tend, &tag, &cls, &cons, &clen) == -1 ||
	    tag != V_ASN1_SEQUENCE || (issuer = d2i_X509_NAME(NULL, &q,
	    p + clen - q)) == NULL) {
		snprintf(err, errlen, "TBSCertList: no issuer");
		goto out;
	}
	p += clen;
	if (X509_NAME_cmp(issuer, X509_get_subject_name(cert)) != 0) {
		snprintf(err, errlen, "its issuer is not the CA's subject "
		    "(RFC 5280 §5.1.2.3)");
		goto out;
	}
	/*
	 * Universal and primitive, a tag number is its identifier octet
	 * (X.690 §8.1.2), which der_get_time() takes.
	 */
	if (crlgen_rd(&p, tend, &tag, &cls, &cons, &clen) == -1 ||
	    cls != V_ASN1_UNIVERSAL || cons || der_get_time((unsigned int)tag,
	    p, (size_t)clen, &info->this_update) == -1) {
		snprintf(err, errlen, "TBSCertList: no thisUpdate (RFC 5280 "
		    "§5.1.2.4)");
		goto out;
	}
	p += clen;
	q = p;
	if (p < tend && crlgen_rd(&q, tend, &tag, &cls, &cons, &clen) == 0 &&
	    (tag == V_ASN1_UTCTIME || tag == V_ASN1_GENERALIZEDTIME) &&
	    cls == V_ASN1_UNIVERSAL) {
		if (cons || der_get_time((unsigned int)tag, q, (size_t)clen,
		    &info->next_update) == -1) {
			snprintf(err, errlen, "TBSCertList: bad nextUpdate "
			    "(RFC 5280 §5.1.2.5)");
			goto out;
		}
		p = q + clen;
	}
	q = p;
	if (p < tend && crlgen_rd(&q, tend, &tag, &cls, &cons, &clen) == 0 &&
	    tag == V_ASN1_SEQUENCE && cls == V_ASN1_UNIVERSAL)
		p = q + clen;			/* revokedCertificates: skipped */
	q = p;
	if (p < tend) {
		if (crlgen_rd(&q, tend, &tag, &cls, &cons, &clen) == -1 ||
		    cls != V_ASN1_CONTEXT_SPECIFIC || tag != 0 || !cons ||
		    q + clen != tend || crlgen_rd_exts(q, tend, info) == -1) {
			snprintf(err, errlen, "TBSCertList: bad crlExtensions");
			goto out;
		}
	}
	if (info->number == 0) {
		snprintf(err, errlen, "no CRL Number (RFC 5280 §5.2.3)");
		goto out;
	}
	/* signatureAlgorithm, signatureValue */
	p = tend;
	alg2 = p;
	q = p;
	if (crlgen_rd(&p, end, &tag, &cls, &cons, &clen) == -1 ||
	    tag != V_ASN1_SEQUENCE) {
		snprintf(err, errlen, "no signatureAlgorithm");
		goto out;
	}
	p += clen;
	alg2len = p - alg2;
	if (alg1len != alg2len || memcmp(alg1, alg2, (size_t)alg1len) != 0) {
		snprintf(err, errlen, "signatureAlgorithm differs from the "
		    "TBSCertList's (RFC 5280 §5.1.1.2)");
		goto out;
	}
	if ((algor = d2i_X509_ALGOR(NULL, &q, alg2len)) == NULL ||
	    OBJ_find_sigid_algs(OBJ_obj2nid(algor->algorithm), &mdnid,
	    &pknid) != 1 || (md = EVP_get_digestbynid(mdnid)) == NULL) {
		snprintf(err, errlen, "unknown signature algorithm");
		goto out;
	}
	if (crlgen_rd(&p, end, &tag, &cls, &cons, &clen) == -1 ||
	    tag != V_ASN1_BIT_STRING || cls != V_ASN1_UNIVERSAL || cons ||
	    clen < 2 || p[0] != 0 || p + clen != end) {
		snprintf(err, errlen, "bad signatureValue");
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(ctx, NULL, md, NULL,
	    X509_get0_pubkey(cert)) != 1 ||
	    EVP_DigestVerify(ctx, p + 1, (size_t)clen - 1, tbs,
	    (size_t)(tend - tbs)) != 1) {
		snprintf(err, errlen, "its signature does not verify with the "
		    "CA's key");
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	X509_ALGOR_free(algor);
	X509_NAME_free(issuer);
	return rc;
}

double
crlgen_renew_by(double this_update, double next_update)
{
	double margin = (next_update - this_update) / 4;

	if (margin > CRLGEN_RENEW_MARGIN_MAX_S)
		margin = CRLGEN_RENEW_MARGIN_MAX_S;
	if (margin < 0)
		margin = 0;
	return next_update - margin;
}

void
crlgen_file_name(const char *issuer_name, int delta, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s.crl", issuer_name, delta ? "-delta" : "");
}

int
crlgen_read_file(const char *dir, const char *name, size_t max,
    unsigned char **der, size_t *len, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;

	*der = NULL;
	*len = 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path)) {
		snprintf(err, errlen, "%s/%s: path too long", dir, name);
		return -1;
	}
	/*
	 * lstat (newfstatat), not access(2): crld's seccomp filter allows
	 * the former and kills the process on faccessat. Until 2026-12-06
	 * crld probed its files with access(), safe only because every call
	 * came before the filter; one after it (the CA watch reading a new
	 * CA's files while crld runs) would have ended crld. Any error but
	 * ENOENT is the read's to report.
	 */
	if (lstat(path, &st) == -1 && errno == ENOENT)
		return 1;
	/*
	 * out_dir belongs to crld's demoted user: a symlink or a FIFO planted
	 * as NAME.crl is refused, not followed or waited on.
	 */
	return file_read_regular(path, max, der, len, err, errlen) == -1 ?
	    -1 : 0;
}

int
crlgen_write_file(const char *dir, const char *name, const unsigned char *der,
    size_t len, char *err, size_t errlen)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	struct stat st;
	size_t off = 0;
	ssize_t n;
	int fd = -1, rc = -1;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path) || (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp",
	    dir, name, (long)getpid()) >= sizeof(tmp)) {
		snprintf(err, errlen, "%s/%s: path too long", dir, name);
		return -1;
	}
	/*
	 * A fresh file, not O_TRUNC, which crld's filter refuses: a stale one
	 * (an earlier process with our pid) is removed first.
	 */
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1) {
		snprintf(err, errlen, "open %s: %s", tmp, strerror(errno));
		goto out;
	}
	while (off < len) {
		if ((n = write(fd, der + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "write %s: %s", tmp,
			    strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	/*
	 * Readable by the web server or whoever serves the directory, whatever
	 * the umask; crld sets 022, so its filter need not allow fchmod.
	 */
	if (fstat(fd, &st) == -1 || ((st.st_mode & 07777) != 0644 &&
	    fchmod(fd, 0644) == -1) || fsync(fd) == -1) {
		snprintf(err, errlen, "fchmod/fsync %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		snprintf(err, errlen, "close %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "rename %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc == -1)
		(void)unlink(tmp);
	return rc;
}
