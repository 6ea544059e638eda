/*
 * Recording issued tokens without a database round trip per request: request
 * threads queue a record (bounded); one thread writes batches, each with its
 * audit event, in one transaction. A database outage only delays recording;
 * a full queue stops issuance (tsa_recorder_add fails).
 *
 * A clean shutdown never waits on the database for what it keeps: the
 * worker's spill file holds what the database does not take. Its first
 * line is a header, "#tsa-spill done=N", N a fixed-width byte offset: the
 * records before N are in the database, those from N on may not be. A
 * record queued in memory that is also in the file is known by its offset
 * there (ends[]), and after a clean shutdown no record is in the files
 * twice:
 *  - at start (before the sandbox) the worker locks its own file, worker 0
 *    also every other file of the tsa.spill_file family that no current
 *    worker owns (left by another tsa.workers), and writes what is still
 *    to record from all of them into a new file (temporary file, fsync,
 *    rename over its own, fsync of the directory), then removes the
 *    others, empty ones too;
 *  - records are read from the file a chunk at a time (without the lock:
 *    requests do not wait on the disk), only when none of the previous
 *    chunk waits any more; N moves past a record once its batch is
 *    committed (pwrite and fdatasync of the header), and the file is
 *    emptied once everything in it is committed;
 *  - when stopping, tsa_recorder_stop first appends the records that came
 *    from requests and fdatasyncs them (the "appended" region), and only
 *    then is the database tried, for at most flush_timeout; N enters the
 *    appended region only once every record before it is committed, so a
 *    commit of appended records never carries N past a record of the file
 *    that is not in the database (a replay is harmless, a gap is not);
 *  - while running, the keeper thread (rec_keeper) appends to that region
 *    too, every REC_KEEP_MS, whenever the database is not taking records
 *    (the last write failed, or one has been out longer than
 *    REC_KEEP_AFTER_MS: a lock, a COMMIT waiting for a synchronous
 *    standby, during which the writer is inside libpq): so a crash during
 *    an outage loses at most what came in the last REC_KEEP_MS or so, as
 *    one in normal operation loses what waits for its batch, not every
 *    token since the outage began. The region only grows at the end of
 *    the file, and the loader stops at its start;
 *  - a database that does not answer at all (a COMMIT waiting for a
 *    synchronous standby that is down) cannot hold the shutdown:
 *    tsa_recorder_stop stops waiting TSA_STOP_GRACE_S after flush_timeout
 *    and leaves the thread (and r) behind for the process exit; the file
 *    already holds every record, N short of the unanswered batch.
 * So nothing is lost on a clean shutdown, whatever the database does and
 * whatever was loaded, and a crash at worst replays records the database
 * already has: such a record is skipped, and not counted in the audit
 * event (stmt_record_batch). After start the file is used only through
 * its open descriptor (dup, read, lseek, pwrite, fdatasync, ftruncate):
 * the seccomp filter of a worker allows no open, rename or flock.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/audit.h"
#include "lib/db.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "tsa/extern.h"

#define REC_BATCH		1000
#define REC_LINGER_MS		100	/* wait this long for a batch to fill */
#define REC_RETRY_MAX_MS	5000
/* A database attempt when stopping gets at least this long. */
#define REC_STOP_TRY_MIN_MS	1000
#define REC_FIELD_CHARS		"0123456789abcdefABCDEF.:-TZ"
#define REC_LINE_MAX		1024	/* a spill line is under 600 bytes */
/*
 * A spill line's fields: serial, genTime, policy, imprint algorithm,
 * imprint, nonce ("-": none), certReq (0/1) and, since schema/064, the
 * signing certificate's ca_certificate.id ("-": unknown). A line of
 * REC_SPILL_FIELDS_V1 fields was written before that (a spill file left by
 * the previous tsad, replayed by this one): its record gets no certificate
 * (cert_id 0, NULL in tsa_token), since which one signed it is not known
 * here: after a rotation the certificate loaded now may be another.
 */
#define REC_SPILL_FIELDS_V1	7
#define REC_SPILL_FIELDS	8
#define REC_CERT_ID_DIGITS	19	/* a bigint, positive */
/*
 * Serials an audit event names at most (conflict_serials): 100 of 47
 * characters stay far below the 64 KiB of details (schema/040); the
 * conflicts count and tsa_token_conflict have them all.
 */
#define REC_AUDIT_SERIALS	100

/* The spill file's first line: the offset of the first record not yet in PG. */
#define REC_SPILL_MAGIC		"#tsa-spill done="
#define REC_SPILL_HDR		((off_t)sizeof(REC_SPILL_MAGIC) - 1 + 20 + 1)
/* Records read from the spill file at once, at most half the free queue. */
#define REC_SPILL_CHUNK		REC_BATCH
#define REC_SPILL_LOCK_TRIES	3
/*
 * The keeper: how often it looks, and how long a write may be out before
 * the records waiting behind it go to the spill file.
 */
#define REC_KEEP_MS		100
#define REC_KEEP_AFTER_MS	500

struct tsa_recorder {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;		/* the thread's */
	pthread_cond_t		 stop_cond;	/* tsa_recorder_stop's; file_busy 0 */
	pthread_t		 thread;
	pthread_t		 keeper;	/* rec_keeper, with a spill file */
	pthread_cond_t		 keeper_cond;
	int			 keeper_running;
	int			 keeper_stop;
	struct tsa_record	*ring;
	off_t			*ends;		/* per slot: 0, or past its spill line */
	size_t			 cap, head, count;
	/*
	 * Slots promised to tokens whose signatures are being made
	 * (tsa_recorder_reserve): count + reserved <= cap, so that a token
	 * signed always finds its slot.
	 */
	size_t			 reserved;
	/*
	 * The keeper's last try to put the records the database is not
	 * taking in the spill file failed (a full or failing disk): while
	 * the database is still behind, no token is issued (rec_unkept_locked).
	 */
	int			 keep_failed;
	int			 stopping;
	int			 db_ok;
	int			 writing;	/* a batch is with the database */
	struct timespec		 write_start;	/* monotonic: since when */
	struct timespec		 stop_at;	/* monotonic: PG given up */
	int			 lost;		/* records neither in PG nor spilled */
	int			 finished;	/* the thread is done with r */
	int			 abandoned;	/* so the thread frees r */

	char			*conninfo;
	long			 db_timeout_ms;	/* db_set_timeout; 0: none */
	char			 instance[64];
	char			 actor[80];
	struct db		*db;
	int			(*test_write)(void *, const struct tsa_record *,
				    size_t);
	void			*test_arg;
	struct tsa_record	*batch;		/* what the thread writes */
	size_t			*conflicts;	/* REC_BATCH: rec_write's */

	/*
	 * The spill file (-1: none). The thread reads and writes it; the
	 * keeper and tsa_recorder_stop append to it, each once file_busy is
	 * 0. Whoever does I/O without the lock sets file_busy (under the
	 * lock) first, and waits for it to be 0 before. [header, done): in
	 * PG. [done, loaded): spill_queued records in the queue (and
	 * malformed lines). [loaded, app): only in the file. [app, end):
	 * appended by the keeper while the database did not take them and
	 * by the stop, app_queued of them in the queue, those before
	 * app_done committed (app 0: none).
	 */
	int			 spill_fd;
	int			 file_busy;
	off_t			 spill_done, spill_loaded, spill_end;
	size_t			 spill_queued;
	off_t			 spill_app, app_done;
	size_t			 app_queued;
	struct tsa_record	*chunk;		/* read, not yet queued */
	off_t			*chunk_ends;
};

static int	(*rec_test_write)(void *, const struct tsa_record *, size_t);
static void	*rec_test_arg;

/*
 * A batch: the count of rows it inserted (PQcmdTuples; the rows are not
 * sent back) goes into the audit event (a replay inserts fewer, or none). A serial already there is
 * either the same token replayed (a crash, a stalled COMMIT that went
 * through after all: the spill file still held it) or a different token
 * with the same serial, which stmt_record_conflicts tells apart. $8: the
 * signing certificates' ids (NULL: unknown, schema/064).
 */
static const struct db_stmt stmt_record_batch = { "tsa_record_batch",
	"INSERT INTO tsa_token (serial, gen_time, policy, imprint_alg, imprint, "
	"nonce, cert_req, cert_id, instance) SELECT s, g, p, a, i, n, c, e, $9 "
	"FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], "
	"$5::text[], $6::text[], $7::boolean[], $8::bigint[]) "
	"AS t(s, g, p, a, i, n, c, e) "
	"ON CONFLICT (serial) DO NOTHING", 9 };

/*
 * Only when the batch inserted fewer rows than it has: the records (their
 * 1-based positions) whose serial is in tsa_token for another token (any
 * field but the instance differs; an unknown certificate, a spill line of
 * before schema/064, differs from none). They are kept in
 * tsa_token_conflict (schema/043_tsa_token_conflict.sql; a replay of one
 * is not kept twice) and reported; the batch commits, so that one
 * collision does not stop the recording of every later token.
 */
static const struct db_stmt stmt_record_conflicts = { "tsa_record_conflicts",
	"WITH t AS (SELECT * FROM unnest($1::text[], $2::timestamptz[], "
	"$3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[], "
	"$8::bigint[]) WITH ORDINALITY AS t(s, g, p, a, i, n, c, e, k)), "
	"d AS (SELECT * FROM t WHERE NOT EXISTS (SELECT 1 FROM tsa_token x "
	"WHERE x.serial = t.s AND x.gen_time = t.g AND x.policy = t.p AND "
	"x.imprint_alg = t.a AND x.imprint = t.i AND "
	"x.nonce IS NOT DISTINCT FROM t.n AND x.cert_req = t.c AND "
	"(x.cert_id IS NULL OR t.e IS NULL OR x.cert_id = t.e))), "
	"kept AS (INSERT INTO tsa_token_conflict (serial, gen_time, policy, "
	"imprint_alg, imprint, nonce, cert_req, cert_id, instance) SELECT s, g, "
	"p, a, i, n, c, e, $9 FROM d ON CONFLICT DO NOTHING) "
	"SELECT k FROM d ORDER BY k", 9 };

/* Our fields hold only hex, OIDs and ISO times: checked, so quoting is simple. */
static int
rec_field_ok(const char *s)
{
	return strspn(s, REC_FIELD_CHARS) == strlen(s);
}

static int
rec_valid(const struct tsa_record *r)
{
	return r->serial[0] != '\0' && r->gen_time[0] != '\0' &&
	    r->cert_id >= 0 &&
	    rec_field_ok(r->serial) && rec_field_ok(r->gen_time) &&
	    rec_field_ok(r->policy) && rec_field_ok(r->imprint_alg) &&
	    rec_field_ok(r->imprint) && rec_field_ok(r->nonce);
}

/* A PostgreSQL array literal of one field of n records; malloc'd. */
static char *
rec_array(const struct tsa_record *b, size_t n, size_t off, int nullable)
{
	size_t i, len = 3, pos;
	char *s;
	const char *v;

	for (i = 0; i < n; i++)
		len += strlen((const char *)&b[i] + off) + 6;	/* "v", or NULL, */
	if ((s = malloc(len)) == NULL)
		return NULL;
	pos = 0;
	s[pos++] = '{';
	for (i = 0; i < n; i++) {
		v = (const char *)&b[i] + off;
		if (i > 0)
			s[pos++] = ',';
		if (nullable && *v == '\0')
			pos += (size_t)snprintf(s + pos, len - pos, "NULL");
		else
			pos += (size_t)snprintf(s + pos, len - pos, "\"%s\"", v);
	}
	s[pos++] = '}';
	s[pos] = '\0';
	return s;
}

/* The PostgreSQL bigint[] literal of n records' cert_id (0: NULL); malloc'd. */
static char *
rec_id_array(const struct tsa_record *b, size_t n)
{
	size_t i, len = 3 + n * (REC_CERT_ID_DIGITS + 1), pos;
	char *s;

	if ((s = malloc(len)) == NULL)
		return NULL;
	pos = 0;
	s[pos++] = '{';
	for (i = 0; i < n; i++) {
		if (i > 0)
			s[pos++] = ',';
		if (b[i].cert_id == 0)
			pos += (size_t)snprintf(s + pos, len - pos, "NULL");
		else
			pos += (size_t)snprintf(s + pos, len - pos, "%lld",
			    b[i].cert_id);
	}
	s[pos++] = '}';
	s[pos] = '\0';
	return s;
}

/* A certificate id for an audit event: its number, or null when unknown. */
static json_t *
rec_id_json(long long id)
{
	return id != 0 ? json_integer((json_int_t)id) : json_null();
}

static int
rec_id_cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/*
 * The certificates that signed the n records of b, each once, ascending
 * (null, an unknown one, first): a batch mixes them after a rotation
 * (records of the spill file with new ones). At most n of 19 digits, well
 * under the 64 KiB of details (schema/040). NULL when out of memory.
 */
static json_t *
rec_batch_certs(const struct tsa_record *b, size_t n)
{
	json_t *a = NULL, *ret = NULL;
	long long *ids;
	size_t i;

	if ((ids = calloc(n > 0 ? n : 1, sizeof(*ids))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		ids[i] = b[i].cert_id;
	qsort(ids, n, sizeof(*ids), rec_id_cmp);
	if ((a = json_array()) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		if (i > 0 && ids[i] == ids[i - 1])
			continue;
		if (json_array_append_new(a, rec_id_json(ids[i])) == -1)
			goto out;
	}
	ret = a;
	a = NULL;
out:
	json_decref(a);
	free(ids);
	return ret;
}

struct rec_batch {
	struct tsa_recorder		*rec;
	const struct tsa_record		*b;
	size_t				 n;
	long				 timeout_ms;	/* 0: none */
	/* What the transaction did (set again by each attempt). */
	size_t				 inserted;
	size_t				 nconflicts;
	size_t				*conflicts;	/* indices into b */
};

/*
 * The records of the batch that collide with another token's serial
 * (stmt_record_conflicts): their indices into batch->conflicts, and arrays
 * of (the first REC_AUDIT_SERIALS of) their serials and, in the same
 * order, the certificates that signed them (rec_id_json) for the audit
 * event in *serials and *certs. 0 or -1.
 */
static int
rec_find_conflicts(struct db *db, struct rec_batch *batch,
    const char *const *values, json_t **serials, json_t **certs)
{
	PGresult *res = NULL;
	char *end;
	long long k;
	int i, rc = -1;

	*serials = *certs = NULL;
	if ((res = db_exec(db, &stmt_record_conflicts, values, NULL,
	    NULL)) == NULL || (*serials = json_array()) == NULL ||
	    (*certs = json_array()) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		k = strtoll(PQgetvalue(res, i, 0), &end, 10);
		if (*end != '\0' || k < 1 || (size_t)k > batch->n ||
		    batch->nconflicts == batch->n) {
			log_err("tsa: recorder: %s: unexpected row %s",
			    stmt_record_conflicts.name, PQgetvalue(res, i, 0));
			goto out;
		}
		batch->conflicts[batch->nconflicts++] = (size_t)k - 1;
		if (json_array_size(*serials) < REC_AUDIT_SERIALS &&
		    (json_array_append_new(*serials,
		    json_string(batch->b[k - 1].serial)) == -1 ||
		    json_array_append_new(*certs,
		    rec_id_json(batch->b[k - 1].cert_id)) == -1))
			goto out;
	}
	rc = 0;
out:
	if (rc == -1) {
		json_decref(*serials);
		json_decref(*certs);
		*serials = *certs = NULL;
	}
	PQclear(res);
	return rc;
}

static int
rec_write_txn(struct db *db, void *arg)
{
	struct rec_batch *batch = arg;
	const struct tsa_record *b = batch->b;
	char *arrays[7] = { NULL };
	char *certreq = NULL, sql[64];
	const char *values[9];
	PGresult *res = NULL;
	json_t *details = NULL, *serials = NULL, *certs = NULL;
	json_t *conflict_certs = NULL;
	size_t i;
	int k, rc = -1;

	batch->inserted = batch->nconflicts = 0;

	arrays[0] = rec_array(b, batch->n, offsetof(struct tsa_record, serial), 0);
	arrays[1] = rec_array(b, batch->n, offsetof(struct tsa_record, gen_time), 0);
	arrays[2] = rec_array(b, batch->n, offsetof(struct tsa_record, policy), 0);
	arrays[3] = rec_array(b, batch->n, offsetof(struct tsa_record, imprint_alg), 0);
	arrays[4] = rec_array(b, batch->n, offsetof(struct tsa_record, imprint), 0);
	arrays[5] = rec_array(b, batch->n, offsetof(struct tsa_record, nonce), 1);
	arrays[6] = rec_id_array(b, batch->n);
	if ((certreq = malloc(2 * batch->n + 3)) == NULL)
		goto out;
	certreq[0] = '{';
	for (i = 0; i < batch->n; i++) {
		certreq[1 + 2 * i] = b[i].cert_req ? 't' : 'f';
		certreq[2 + 2 * i] = ',';
	}
	certreq[batch->n > 0 ? 2 * batch->n : 1] = '}';
	certreq[batch->n > 0 ? 2 * batch->n + 1 : 2] = '\0';
	for (k = 0; k < 7; k++) {
		if (arrays[k] == NULL)
			goto out;
	}
	for (k = 0; k < 6; k++)
		values[k] = arrays[k];
	values[6] = certreq;
	values[7] = arrays[6];
	values[8] = batch->rec->instance;
	/*
	 * When stopping: a statement the server cannot finish in time (a lock
	 * wait, a stalled server) fails, and the thread spills in time.
	 */
	if (batch->timeout_ms > 0) {
		snprintf(sql, sizeof(sql), "SET LOCAL statement_timeout = %ld",
		    batch->timeout_ms);
		if (db_run(db, sql) == -1)
			goto out;
	}
	if ((res = db_exec(db, &stmt_record_batch, values, NULL, NULL)) == NULL)
		goto out;
	/* The count of rows inserted: no row sent back for each. */
	batch->inserted = (size_t)strtoul(PQcmdTuples(res), NULL, 10);
	if (batch->inserted < batch->n &&
	    rec_find_conflicts(db, batch, values, &serials,
	    &conflict_certs) == -1)
		goto out;
	/*
	 * count: rows this batch inserted; replayed: records already there,
	 * the same token; conflicts: other tokens with a serial already there;
	 * certificates: the ca_certificate ids that signed the batch's tokens
	 * (null: unknown); conflict_certificates: those of conflict_serials.
	 */
	if ((certs = rec_batch_certs(b, batch->n)) == NULL)
		goto out;
	details = json_pack("{s:I, s:I, s:I, s:s, s:s, s:s, s:O}", "count",
	    (json_int_t)batch->inserted, "replayed", (json_int_t)(batch->n -
	    batch->inserted - batch->nconflicts), "conflicts",
	    (json_int_t)batch->nconflicts, "first_serial", b[0].serial,
	    "last_serial", b[batch->n - 1].serial, "instance",
	    batch->rec->instance, "certificates", certs);
	if (details == NULL || (batch->nconflicts > 0 &&
	    (json_object_set(details, "conflict_serials", serials) == -1 ||
	    json_object_set(details, "conflict_certificates",
	    conflict_certs) == -1)) ||
	    audit_append(db, batch->rec->actor, "tsa.tokens.record",
	    "tsa_token", b[0].serial, details, NULL) == -1)
		goto out;
	/*
	 * Not the COMMIT: a cancelled wait for a synchronous standby reports a
	 * commit the standby may not have, and N would move past its records.
	 * A COMMIT that hangs is left behind by tsa_recorder_stop instead.
	 */
	if (batch->timeout_ms > 0 &&
	    db_run(db, "SET LOCAL statement_timeout = 0") == -1)
		goto out;
	rc = 0;
out:
	PQclear(res);
	json_decref(details);
	json_decref(serials);
	json_decref(conflict_certs);
	json_decref(certs);
	for (k = 0; k < 7; k++)
		free(arrays[k]);
	free(certreq);
	return rc;
}

/*
 * Writes n records; 0 when committed. Reconnects after a failure. timeout_ms
 * (0: none) bounds each statement but the COMMIT (rec_write_txn).
 */
static int
rec_write(struct tsa_recorder *r, const struct tsa_record *b, size_t n,
    long timeout_ms)
{
	struct rec_batch batch;
	const struct tsa_record *t;
	char err[256];
	size_t i;

	if (r->test_write != NULL)
		return r->test_write(r->test_arg, b, n);
	if (r->db == NULL) {
		if ((r->db = db_connect(r->conninfo, err, sizeof(err))) ==
		    NULL) {
			log_warn("tsa: recorder: database unavailable: %s",
			    err);
			return -1;
		}
		(void)db_set_timeout(r->db, r->db_timeout_ms);
	}
	memset(&batch, 0, sizeof(batch));
	batch.rec = r;
	batch.b = b;
	batch.n = n;
	batch.timeout_ms = timeout_ms;
	batch.conflicts = r->conflicts;
	if (db_transaction(r->db, NULL, 3, rec_write_txn, &batch) == -1) {
		/* The connection may be broken: start afresh next time. */
		db_close(r->db);
		r->db = NULL;
		return -1;
	}
	/* Committed: now they are kept, say so loudly. */
	for (i = 0; i < batch.nconflicts; i++) {
		t = &b[batch.conflicts[i]];
		log_err("tsa: recorder: SERIAL COLLISION: serial %s is recorded "
		    "for another token already; this token (genTime %s, policy "
		    "%s, imprint %s %s, nonce %s, certificate id %lld) is kept "
		    "in tsa_token_conflict and in the audit event of its batch: "
		    "tell the TSA's operators (serials must be unique, RFC 3161 "
		    "§2.4.2)", t->serial, t->gen_time, t->policy,
		    t->imprint_alg, t->imprint, t->nonce[0] != '\0' ? t->nonce :
		    "-", t->cert_id);
	}
	if (batch.inserted + batch.nconflicts < n)
		log_info("tsa: recorder: %zu of %zu record(s) were in the "
		    "database already (replayed from the spill file)",
		    n - batch.inserted - batch.nconflicts, n);
	return 0;
}

/* One record as a spill line of REC_SPILL_FIELDS fields. */
static void
rec_spill_line(const struct tsa_record *t, FILE *f)
{
	fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t", t->serial, t->gen_time,
	    t->policy, t->imprint_alg, t->imprint, t->nonce[0] ? t->nonce : "-",
	    t->cert_req);
	if (t->cert_id != 0)
		fprintf(f, "%lld\n", t->cert_id);
	else
		fputs("-\n", f);
}

/*
 * A spill line's certificate id: "-" (unknown) gives 0; otherwise a
 * positive decimal without sign or leading zeros, as rec_spill_line
 * writes it. -1 for anything else.
 */
static int
rec_parse_cert_id(const char *s, long long *id)
{
	size_t n = strspn(s, "0123456789");
	char *end;

	*id = 0;
	if (strcmp(s, "-") == 0)
		return 0;
	if (n == 0 || n != strlen(s) || n > REC_CERT_ID_DIGITS || s[0] == '0')
		return -1;
	errno = 0;
	*id = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || *id <= 0) {
		*id = 0;
		return -1;
	}
	return 0;
}

/*
 * Parses one spill line of REC_SPILL_FIELDS fields, or of
 * REC_SPILL_FIELDS_V1 (written before schema/064: no certificate, cert_id
 * 0); -1 when malformed. whole is 0 for a last line that lacked its
 * newline (a crash cut the write): its record is kept when every field is
 * there, but not its certificate id, the last field, which a cut may have
 * shortened to another valid id (cert_id 0: unknown rather than wrong).
 */
static int
rec_parse_line(char *line, int whole, struct tsa_record *t)
{
	char *f[REC_SPILL_FIELDS], *save = NULL;
	int n;

	memset(t, 0, sizeof(*t));
	line[strcspn(line, "\n")] = '\0';
	for (n = 0; n < REC_SPILL_FIELDS; n++) {
		if ((f[n] = strtok_r(n == 0 ? line : NULL, "\t", &save)) == NULL)
			break;
	}
	if (n == REC_SPILL_FIELDS && strtok_r(NULL, "\t", &save) != NULL)
		return -1;
	if (n != REC_SPILL_FIELDS && n != REC_SPILL_FIELDS_V1)
		return -1;
	if (n == REC_SPILL_FIELDS && rec_parse_cert_id(f[REC_SPILL_FIELDS - 1],
	    &t->cert_id) == -1)
		return -1;
	if (!whole)
		t->cert_id = 0;
	if ((size_t)snprintf(t->serial, sizeof(t->serial), "%s", f[0]) >= sizeof(t->serial) ||
	    (size_t)snprintf(t->gen_time, sizeof(t->gen_time), "%s", f[1]) >= sizeof(t->gen_time) ||
	    (size_t)snprintf(t->policy, sizeof(t->policy), "%s", f[2]) >= sizeof(t->policy) ||
	    (size_t)snprintf(t->imprint_alg, sizeof(t->imprint_alg), "%s", f[3]) >= sizeof(t->imprint_alg) ||
	    (size_t)snprintf(t->imprint, sizeof(t->imprint), "%s", f[4]) >= sizeof(t->imprint) ||
	    (size_t)snprintf(t->nonce, sizeof(t->nonce), "%s",
	    strcmp(f[5], "-") == 0 ? "" : f[5]) >= sizeof(t->nonce))
		return -1;
	t->cert_req = strcmp(f[6], "1") == 0;
	return rec_valid(t) ? 0 : -1;
}

/*
 * Reads one line of a spill file into buf: 1 for a line, 2 for a last one
 * without its newline (rec_parse_line judges whether a crash cut it
 * short), 0 at the end of the file, -1 for a line to skip: too long, or
 * holding a NUL byte (a torn write; the line still ends at its own
 * newline, so the next one is read whole).
 */
static int
rec_getline(FILE *f, char *buf, size_t len)
{
	size_t l = 0;
	int c, skip = 0;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (c == '\0')
			skip = 1;
		if (l < len - 1)
			buf[l++] = (char)c;
		else
			skip = 1;
	}
	buf[l] = '\0';
	if (c == EOF && l == 0 && !skip)
		return 0;
	if (skip)
		return -1;
	return c == EOF ? 2 : 1;
}

/* Writes the header (records from done on are not in PG) at offset 0. */
static int
rec_spill_header(int fd, off_t done)
{
	char h[REC_SPILL_HDR + 1];

	snprintf(h, sizeof(h), "%s%020" PRIdMAX "\n", REC_SPILL_MAGIC,
	    (intmax_t)done);
	return pwrite(fd, h, (size_t)REC_SPILL_HDR, 0) == REC_SPILL_HDR ? 0 : -1;
}

/*
 * Where the records still to write begin in a spill file of size bytes:
 * its header's offset, 0 for a file without one (written before headers
 * existed). A header that does not point just past a line (a torn write)
 * counts as pointing at the first record: a replay is harmless, a loss
 * is not.
 */
static off_t
rec_spill_start(int fd, off_t size)
{
	char h[REC_SPILL_HDR + 1], c;
	size_t ml = sizeof(REC_SPILL_MAGIC) - 1;
	intmax_t done;

	if (size < REC_SPILL_HDR || pread(fd, h, (size_t)REC_SPILL_HDR, 0) !=
	    REC_SPILL_HDR || memcmp(h, REC_SPILL_MAGIC, ml) != 0)
		return 0;
	h[REC_SPILL_HDR] = '\0';
	if (h[REC_SPILL_HDR - 1] != '\n' ||
	    strspn(h + ml, "0123456789") != (size_t)REC_SPILL_HDR - 1 - ml)
		return REC_SPILL_HDR;
	done = strtoimax(h + ml, NULL, 10);
	if (done <= REC_SPILL_HDR || done > (intmax_t)size)
		return REC_SPILL_HDR;
	if (pread(fd, &c, 1, (off_t)done - 1) != 1 || c != '\n')
		return REC_SPILL_HDR;
	return (off_t)done;
}

/*
 * Copies the valid records of src still to write to out; adds their
 * number to *n and that of malformed lines to *bad. -1 on a read error.
 */
static int
rec_spill_copy(int src, FILE *out, size_t *n, size_t *bad)
{
	struct tsa_record t;
	struct stat st;
	char line[REC_LINE_MAX];
	FILE *f = NULL;
	int fd, k, rc = -1;

	if (fstat(src, &st) == -1 || (fd = dup(src)) == -1)
		return -1;
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return -1;
	}
	if (fseeko(f, rec_spill_start(src, st.st_size), SEEK_SET) == -1)
		goto out;
	while ((k = rec_getline(f, line, sizeof(line))) != 0) {
		if (k == -1 || rec_parse_line(line, k == 1, &t) == -1) {
			(*bad)++;
			continue;
		}
		rec_spill_line(&t, out);
		(*n)++;
	}
	if (!ferror(f))
		rc = 0;
out:
	fclose(f);
	return rc;
}

/* The spill file of worker of workers: tsa.spill_file itself for one. */
static int
rec_spill_name(const char *base, int worker, int workers, char *buf,
    size_t len)
{
	int n;

	if (workers > 1)
		n = snprintf(buf, len, "%s.%d", base, worker);
	else
		n = snprintf(buf, len, "%s", base);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * 1 when the directory entry name is a spill file of the family of bname
 * (bname, bname.N) that none of workers workers owns now.
 */
static int
rec_spill_orphan(const char *name, const char *bname, int workers)
{
	size_t bl = strlen(bname), dl;
	const char *s;

	if (strncmp(name, bname, bl) != 0)
		return 0;
	s = name + bl;
	if (*s == '\0')
		return workers > 1;
	if (*s != '.' || (dl = strspn(s + 1, "0123456789")) == 0 ||
	    s[1 + dl] != '\0')
		return 0;
	/* bname.N of a current worker, written as rec_spill_name() does. */
	if (workers > 1 && dl <= 2 && (dl == 1 || s[1] != '0') &&
	    atoi(s + 1) < workers)
		return 0;
	return 1;
}

/*
 * Opens path (made when create; then *created says whether this call made
 * it, and the caller fsyncs the directory) and takes its lock, so that no
 * other process (a tsad still stopping, say) writes it while we do. The fd,
 * -1 on an error (in err), -2 when another process holds the lock.
 */
static int
rec_spill_open(const char *path, int create, int *created, char *err,
    size_t errlen)
{
	struct stat st, pst;
	int fd, tries, busy;

	*created = 0;
	for (tries = 0; tries < REC_SPILL_LOCK_TRIES; tries++) {
		*created = 0;
		fd = open(path, (create ? O_RDWR : O_RDONLY) | O_CLOEXEC |
		    O_NOFOLLOW);
		/* O_EXCL: only the process that made it syncs its entry. */
		if (fd == -1 && errno == ENOENT && create) {
			fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
			    O_NOFOLLOW, 0600);
			if (fd == -1 && errno == EEXIST)
				continue;
			*created = fd != -1;
		}
		if (fd == -1) {
			snprintf(err, errlen, "open %s: %s", path, strerror(errno));
			return -1;
		}
		if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "%s: not a regular file", path);
			close(fd);
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			busy = errno == EWOULDBLOCK;
			snprintf(err, errlen, "flock %s: %s", path, busy ?
			    "in use by another process" : strerror(errno));
			close(fd);
			return busy ? -2 : -1;
		}
		/* Still the file of that name, not one renamed away meanwhile? */
		if (stat(path, &pst) == 0 && pst.st_dev == st.st_dev &&
		    pst.st_ino == st.st_ino)
			return fd;
		close(fd);
	}
	snprintf(err, errlen, "%s: replaced while being opened", path);
	return -1;
}

static int
rec_fsync_dir(const char *dir)
{
	int fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

struct rec_orphan {
	char	*path;
	int	 fd;
};

/*
 * Worker 0's part: locks every file of the family no current worker owns.
 * A file that cannot be opened or is locked is left for a later start; an
 * empty one is removed at once (holding its lock: no process writes it).
 * Fills *orphans (*n of them, those with records). -1 only when out of
 * memory or the directory cannot be read.
 */
static int
rec_spill_orphans(const char *dir, const char *bname, int workers,
    struct rec_orphan **orphans, size_t *n)
{
	struct rec_orphan *o;
	struct dirent *de;
	struct stat st;
	DIR *d;
	char path[PATH_MAX], err[PATH_MAX + 64];
	size_t removed = 0;
	int fd, created, rc = -1;

	*orphans = NULL;
	*n = 0;
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!rec_spill_orphan(de->d_name, bname, workers))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) >= sizeof(path))
			continue;
		if ((fd = rec_spill_open(path, 0, &created, err,
		    sizeof(err))) < 0) {
			log_warn("tsa: recorder: %s: left for a later start", err);
			continue;
		}
		/* Nothing to take over (a worker that never spilled). */
		if (fstat(fd, &st) == 0 && st.st_size == 0) {
			if (unlink(path) == 0)
				removed++;
			else
				log_warn("tsa: recorder: unlink %s: %s", path,
				    strerror(errno));
			close(fd);
			continue;
		}
		if ((o = reallocarray(*orphans, *n + 1, sizeof(*o))) == NULL) {
			close(fd);
			goto out;
		}
		*orphans = o;
		if ((o[*n].path = strdup(path)) == NULL) {
			close(fd);
			goto out;
		}
		o[(*n)++].fd = fd;
	}
	rc = 0;
out:
	closedir(d);
	if (removed > 0) {
		log_info("tsa: recorder: %zu empty spill file(s) of %s removed",
		    removed, bname);
		if (rec_fsync_dir(dir) == -1)
			log_warn("tsa: recorder: fsync %s: %s", dir,
			    strerror(errno));
	}
	return rc;
}

static void
rec_orphans_free(struct rec_orphan *o, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		close(o[i].fd);
		free(o[i].path);
	}
	free(o);
}

/*
 * At start, before the sandbox: takes over this worker's spill file (and,
 * for worker 0, the family's orphans), leaving in its place one file with
 * a header and every record of theirs still to write, made whole before
 * it replaces the old one (temporary file, fsync, rename, fsync of the
 * directory); the orphans are removed after. Sets spill_fd (locked) and
 * the offsets. 0, or -1 with err.
 */
static int
rec_spill_take(struct tsa_recorder *r, const char *base, int worker,
    int workers, char *err, size_t errlen)
{
	struct rec_orphan *orphans = NULL;
	struct stat st;
	char own[PATH_MAX], tmp[PATH_MAX], dirbuf[PATH_MAX], namebuf[PATH_MAX];
	const char *dir, *bname;
	size_t norphans = 0, i, n = 0, bad = 0;
	FILE *out = NULL;
	int fd = -1, tmpfd = -1, dfd, created, rc = -1;

	if (rec_spill_name(base, worker, workers, own, sizeof(own)) == -1 ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", own) >= sizeof(tmp) ||
	    (size_t)snprintf(dirbuf, sizeof(dirbuf), "%s", base) >= sizeof(dirbuf)) {
		snprintf(err, errlen, "%s: name too long", base);
		return -1;
	}
	snprintf(namebuf, sizeof(namebuf), "%s", base);
	dir = dirname(dirbuf);
	bname = basename(namebuf);
	if ((fd = rec_spill_open(own, 1, &created, err, errlen)) < 0)
		goto out;
	/* A file made here must survive a crash as the file it is. */
	if (created && rec_fsync_dir(dir) == -1) {
		snprintf(err, errlen, "fsync %s: %s", dir, strerror(errno));
		goto out;
	}
	if (worker == 0 && rec_spill_orphans(dir, bname, workers, &orphans,
	    &norphans) == -1) {
		snprintf(err, errlen, "reading %s: %s", dir, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "fstat %s: %s", own, strerror(errno));
		goto out;
	}
	if (st.st_size == 0 && norphans == 0) {
		r->spill_fd = fd;
		fd = -1;
		rc = 0;
		goto out;
	}
	if ((tmpfd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1 || flock(tmpfd, LOCK_EX | LOCK_NB) == -1 ||
	    (dfd = dup(tmpfd)) == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if ((out = fdopen(dfd, "w")) == NULL) {
		close(dfd);
		snprintf(err, errlen, "fdopen %s: %s", tmp, strerror(errno));
		goto out;
	}
	fprintf(out, "%s%020" PRIdMAX "\n", REC_SPILL_MAGIC,
	    (intmax_t)REC_SPILL_HDR);
	if (rec_spill_copy(fd, out, &n, &bad) == -1) {
		snprintf(err, errlen, "reading %s: %s", own, strerror(errno));
		goto out;
	}
	for (i = 0; i < norphans; i++) {
		if (rec_spill_copy(orphans[i].fd, out, &n, &bad) == -1) {
			snprintf(err, errlen, "reading %s: %s", orphans[i].path,
			    strerror(errno));
			goto out;
		}
	}
	if (fflush(out) != 0 || ferror(out) ||
	    (n == 0 && ftruncate(tmpfd, 0) == -1) ||
	    fsync(tmpfd) == -1) {
		snprintf(err, errlen, "writing %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, own) == -1) {
		snprintf(err, errlen, "rename %s to %s: %s", tmp, own,
		    strerror(errno));
		goto out;
	}
	if (rec_fsync_dir(dir) == -1) {
		snprintf(err, errlen, "fsync %s: %s", dir, strerror(errno));
		goto out;
	}
	/* Their records are in our file now, on disk. */
	for (i = 0; i < norphans; i++) {
		if (unlink(orphans[i].path) == -1)
			log_warn("tsa: recorder: unlink %s: %s (its records "
			    "will be replayed)", orphans[i].path, strerror(errno));
	}
	if (norphans > 0 && rec_fsync_dir(dir) == -1)
		log_warn("tsa: recorder: fsync %s: %s", dir, strerror(errno));
	if (n > 0 || bad > 0 || norphans > 0)
		log_warn("tsa: recorder: spill file %s: %zu record(s) to write, "
		    "%zu other file(s) of %s taken over, %zu malformed line(s) "
		    "dropped", own, n, norphans, base, bad);
	r->spill_fd = tmpfd;
	tmpfd = -1;
	r->spill_end = n > 0 ? (off_t)lseek(r->spill_fd, 0, SEEK_END) : 0;
	r->spill_done = r->spill_loaded = n > 0 ? REC_SPILL_HDR : 0;
	rc = 0;
out:
	if (out != NULL)
		fclose(out);
	if (tmpfd != -1) {
		unlink(tmp);
		close(tmpfd);
	}
	if (fd != -1)
		close(fd);
	rec_orphans_free(orphans, norphans);
	return rc;
}

static int
rec_push_locked(struct tsa_recorder *r, const struct tsa_record *t, off_t end)
{
	size_t slot;

	if (r->count + r->reserved >= r->cap)
		return -1;
	slot = (r->head + r->count) % r->cap;
	r->ring[slot] = *t;
	r->ends[slot] = end;
	r->count++;
	return 0;
}

/*
 * The header's offset now: every record before it is in PG. The appended
 * region counts only once nothing before it waits: neither a record of
 * the last chunk nor one never loaded.
 */
static off_t
rec_spill_mark(const struct tsa_recorder *r)
{
	if (r->spill_app == 0 || r->spill_queued > 0 ||
	    r->spill_loaded < r->spill_app)
		return r->spill_done;
	return r->app_done;
}

/*
 * Queues the next records of the spill file, at most half of the free
 * queue (new tokens keep room), from where the last chunk ended; only when
 * no record of the last chunk is queued any more, and not when stopping.
 * Lock held on entry and return; released while the file is read (into
 * r->chunk), so that requests never wait on the disk.
 */
static void
rec_spill_load_locked(struct tsa_recorder *r)
{
	char line[REC_LINE_MAX];
	size_t want, n = 0, bad = 0, i;
	off_t from, end, pos, last;
	FILE *f = NULL;
	int fd, k, eof = 0, failed = 0;

	while (r->file_busy)
		pthread_cond_wait(&r->stop_cond, &r->lock);
	/* The appended region's records are in the queue already. */
	end = r->spill_app != 0 ? r->spill_app : r->spill_end;
	if (r->stopping || r->spill_fd == -1 || r->spill_queued > 0 ||
	    r->spill_loaded >= end)
		return;
	want = (r->cap - r->count - r->reserved + 1) / 2;
	if (want > REC_SPILL_CHUNK)
		want = REC_SPILL_CHUNK;
	if (want == 0)
		return;
	from = last = r->spill_loaded;
	r->file_busy = 1;
	pthread_mutex_unlock(&r->lock);

	if ((fd = dup(r->spill_fd)) != -1 && (f = fdopen(fd, "r")) == NULL)
		close(fd);
	if (f != NULL && fseeko(f, from, SEEK_SET) == 0) {
		while (n < want && last < end &&
		    (k = rec_getline(f, line, sizeof(line))) != 0) {
			if ((pos = ftello(f)) == -1)
				break;
			if (k != -1 && rec_parse_line(line, k == 1,
			    &r->chunk[n]) == 0)
				r->chunk_ends[n++] = pos;
			else
				bad++;
			last = pos;
		}
		eof = feof(f) || last >= end;
		failed = ferror(f);
	} else
		failed = 1;
	if (f != NULL)
		fclose(f);

	pthread_mutex_lock(&r->lock);
	r->file_busy = 0;
	pthread_cond_broadcast(&r->stop_cond);
	if (failed)
		log_warn("tsa: recorder: reading the spill file failed: its "
		    "records wait for the next start");
	if (bad > 0)
		log_warn("tsa: recorder: %zu malformed line(s) of the spill file "
		    "skipped", bad);
	/* Stopping: these stay in the file (after N) for the next start. */
	if (r->stopping)
		return;
	/* Cannot fail unless requests took the room meanwhile. */
	for (i = 0; i < n; i++) {
		if (rec_push_locked(r, &r->chunk[i], r->chunk_ends[i]) == -1)
			break;
	}
	r->spill_queued += i;
	if (i < n)
		r->spill_loaded = i > 0 ? r->chunk_ends[i - 1] : from;
	else if (eof)	/* what a broken line left behind is done with */
		r->spill_loaded = end;
	else
		r->spill_loaded = last;
	if (i > 0)
		log_info("tsa: recorder: %zu record(s) of the spill file queued "
		    "(up to byte %jd of %jd)", i, (intmax_t)r->spill_loaded,
		    (intmax_t)end);
}

/*
 * After a commit that moved the header's offset: records it, or empties
 * the file once everything it held is in PG. Lock held on entry and
 * return, released for the I/O. A failure leaves records to replay, never
 * a gap.
 */
static void
rec_spill_sync_locked(struct tsa_recorder *r)
{
	off_t mark;
	int all, emptied = 0;

	while (r->file_busy)
		pthread_cond_wait(&r->stop_cond, &r->lock);
	mark = rec_spill_mark(r);
	all = r->spill_queued == 0 && r->app_queued == 0 && mark >= r->spill_end;
	r->file_busy = 1;
	pthread_mutex_unlock(&r->lock);
	if (all) {
		if (ftruncate(r->spill_fd, 0) == 0)
			emptied = 1;
		else
			log_warn("tsa: recorder: emptying the spill file: %s",
			    strerror(errno));
	}
	if (!emptied && (rec_spill_header(r->spill_fd, mark) == -1 ||
	    fdatasync(r->spill_fd) == -1))
		log_warn("tsa: recorder: spill file header: %s (records "
		    "already written may be replayed)", strerror(errno));
	pthread_mutex_lock(&r->lock);
	if (emptied) {
		r->spill_done = r->spill_loaded = r->spill_end = 0;
		r->spill_app = r->app_done = 0;
		log_info("tsa: recorder: every record of the spill file is in "
		    "the database: file emptied");
	}
	r->file_busy = 0;
	pthread_cond_broadcast(&r->stop_cond);
}

/*
 * Appends the queued records not in the spill file yet (those from
 * requests; those read from it are still there, after N), fdatasyncs them
 * and marks their slots with their offsets, so that they are never
 * written twice; they join the appended region, the file's last (made by
 * the first such append). The header is left as it is: nothing more is
 * in PG. Lock held and file_busy 0 on entry and return; with unlocked
 * (the keeper) the lock is released for the fdatasync, the slow part,
 * file_busy set meanwhile (the lines themselves are written to the page
 * cache under the lock: requests wait on the disk only when writing to
 * its cache blocks, as on a throttled disk): nothing else
 * touches the file nor the marks then (the thread commits only once
 * file_busy is 0 again; requests only push unmarked records). Adds their
 * number to *n. 0, or -1 (errno) when they could not be kept: then they
 * stay unmarked, as before, and the region as it was.
 */
static int
rec_spill_fresh_locked(struct tsa_recorder *r, size_t *n, int unlocked)
{
	FILE *f = NULL;
	size_t i, slot, fresh = 0;
	off_t start, end = 0, old_end = r->spill_end;
	int fd, rc = -1, saved, synced;

	if (r->spill_fd == -1) {
		errno = EBADF;
		return -1;
	}
	for (i = 0; i < r->count; i++)
		fresh += r->ends[(r->head + i) % r->cap] == 0;
	if (fresh == 0)
		return 0;
	if (r->spill_end == 0) {
		if (rec_spill_header(r->spill_fd, REC_SPILL_HDR) == -1)
			return -1;
		r->spill_done = r->spill_loaded = r->spill_end = REC_SPILL_HDR;
		old_end = REC_SPILL_HDR;
	}
	start = r->spill_end;
	if ((fd = dup(r->spill_fd)) == -1)
		return -1;
	if ((f = fdopen(fd, "r+")) == NULL) {
		close(fd);
		return -1;
	}
	if (fseeko(f, start, SEEK_SET) == -1)
		goto out;
	for (i = 0; i < r->count; i++) {
		slot = (r->head + i) % r->cap;
		if (r->ends[slot] != 0)
			continue;
		rec_spill_line(&r->ring[slot], f);
		if ((end = ftello(f)) == -1)
			goto out;
		r->ends[slot] = end;
	}
	/* ftruncate: whatever an earlier failed try left after them. */
	if (fflush(f) != 0 || ftruncate(r->spill_fd, end) == -1)
		goto out;
	if (unlocked) {
		r->file_busy = 1;
		pthread_mutex_unlock(&r->lock);
	}
	synced = fdatasync(r->spill_fd) == 0;
	saved = errno;
	if (unlocked) {
		pthread_mutex_lock(&r->lock);
		r->file_busy = 0;
		pthread_cond_broadcast(&r->stop_cond);
	}
	errno = saved;
	if (!synced)
		goto out;
	if (r->spill_app == 0)
		r->spill_app = r->app_done = start;
	r->app_queued += fresh;
	r->spill_end = end;
	*n += fresh;
	rc = 0;
out:
	saved = errno;
	/*
	 * Its error is ignored: the lines went through spill_fd (fflush,
	 * fdatasync), and f only closes a dup of it.
	 */
	(void)fclose(f);
	if (rc == -1) {
		for (i = 0; i < r->count; i++) {
			slot = (r->head + i) % r->cap;
			if (r->ends[slot] > start)
				r->ends[slot] = 0;
		}
		/* What this try wrote is past spill_end: the next one overwrites it. */
		r->spill_end = old_end;
		errno = saved;
	}
	return rc;
}

/*
 * The thread's last word when the database did not take everything in
 * time: appends what is not in the file yet (when tsa_recorder_stop could
 * not), records N and fsyncs. Lock held. Empties the queue.
 */
static void
rec_spill_final_locked(struct tsa_recorder *r)
{
	size_t appended = 0;

	if (r->spill_fd == -1) {
		log_err("tsa: recorder: %zu record(s) LOST: database unavailable "
		    "and no tsa.spill_file", r->count);
		r->lost = 1;
	} else if (rec_spill_fresh_locked(r, &appended, 0) == -1) {
		log_err("tsa: recorder: %zu record(s) LOST: database and spill "
		    "file unavailable (%s)", r->count - r->spill_queued -
		    r->app_queued, strerror(errno));
		r->lost = 1;
	} else {
		/* They are on disk: a stale header only replays some. */
		if (rec_spill_header(r->spill_fd, rec_spill_mark(r)) == -1 ||
		    fsync(r->spill_fd) == -1)
			log_warn("tsa: recorder: spill file header: %s (records "
			    "already written may be replayed)", strerror(errno));
		log_warn("tsa: recorder: %zu record(s) kept in the spill file for "
		    "the next start (%zu appended to it, by the keeper or at this "
		    "shutdown, %zu loaded "
		    "from it)", r->count, r->app_queued, r->spill_queued);
	}
	r->count = 0;
}

/* Takes n committed records off the queue, the offsets past those of the file. */
static void
rec_commit_locked(struct tsa_recorder *r, size_t n)
{
	size_t i, slot;

	for (i = 0; i < n; i++) {
		slot = (r->head + i) % r->cap;
		if (r->ends[slot] == 0)
			continue;
		/* Each region is queued in its file order. */
		if (r->spill_app != 0 && r->ends[slot] > r->spill_app) {
			r->app_done = r->ends[slot];
			r->app_queued--;
		} else {
			r->spill_done = r->ends[slot];
			r->spill_queued--;
		}
	}
	r->head = (r->head + n) % r->cap;
	r->count -= n;
	/* Past any malformed line after the last record too. */
	if (r->spill_queued == 0)
		r->spill_done = r->spill_loaded;
}

/* Milliseconds until at (CLOCK_MONOTONIC); negative once past. */
static long
rec_ms_left(const struct timespec *at)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(at->tv_sec - now.tv_sec) * 1000 +
	    (at->tv_nsec - now.tv_nsec) / 1000000L;
}

static void
rec_free(struct tsa_recorder *r)
{
	db_close(r->db);
	if (r->spill_fd != -1)
		close(r->spill_fd);
	free(r->ring);
	free(r->ends);
	free(r->batch);
	free(r->conflicts);
	free(r->chunk);
	free(r->chunk_ends);
	free(r->conninfo);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	pthread_cond_destroy(&r->stop_cond);
	pthread_cond_destroy(&r->keeper_cond);
	free(r);
}

static void *
rec_thread(void *arg)
{
	struct tsa_recorder *r = arg;
	struct timespec ts;
	long backoff = 100, left, timeout_ms;
	size_t n, i;
	off_t mark;
	int ok, tried = 0, abandoned;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (r->count == 0 && !r->stopping)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->count == 0 && r->stopping)
			break;
		/*
		 * Past flush_timeout: what is left stays in the spill file (its
		 * records are there already, unless it could not be written).
		 * Without one, the database gets one try at least.
		 */
		if (r->stopping && rec_ms_left(&r->stop_at) <= 0 &&
		    (r->spill_fd != -1 || tried)) {
			rec_spill_final_locked(r);
			break;
		}
		/* Linger briefly so one transaction carries many tokens. */
		if (r->count < REC_BATCH && !r->stopping) {
			time_deadline(&ts, CLOCK_MONOTONIC, REC_LINGER_MS);
			pthread_cond_timedwait(&r->cond, &r->lock, &ts);
		}
		n = r->count < REC_BATCH ? r->count : REC_BATCH;
		for (i = 0; i < n; i++)
			r->batch[i] = r->ring[(r->head + i) % r->cap];
		timeout_ms = 0;
		if (r->stopping) {
			tried = 1;
			timeout_ms = rec_ms_left(&r->stop_at);
			if (timeout_ms < REC_STOP_TRY_MIN_MS)
				timeout_ms = REC_STOP_TRY_MIN_MS;
		}
		/*
		 * A write may not return for long (a lock, a COMMIT waiting for
		 * a synchronous standby): /health sees how long it is out.
		 */
		clock_gettime(CLOCK_MONOTONIC, &r->write_start);
		r->writing = 1;
		pthread_mutex_unlock(&r->lock);
		ok = rec_write(r, r->batch, n, timeout_ms) == 0;
		pthread_mutex_lock(&r->lock);
		r->writing = 0;
		r->db_ok = ok;
		/* Taken: nothing waits on the spill file's disk any more. */
		if (ok)
			r->keep_failed = 0;
		/* The keeper may be marking slots of this batch: not meanwhile. */
		while (r->file_busy)
			pthread_cond_wait(&r->stop_cond, &r->lock);
		if (ok) {
			mark = rec_spill_mark(r);
			rec_commit_locked(r, n);
			backoff = 100;
			if (r->spill_fd != -1 && r->spill_end != 0 &&
			    mark != rec_spill_mark(r))
				rec_spill_sync_locked(r);
			rec_spill_load_locked(r);
			continue;
		}
		left = REC_RETRY_MAX_MS;
		if (r->stopping && (left = rec_ms_left(&r->stop_at)) <= 0)
			continue;
		time_deadline(&ts, CLOCK_MONOTONIC, backoff < left ? backoff :
		    left);
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
		backoff = backoff * 2 > REC_RETRY_MAX_MS ? REC_RETRY_MAX_MS : backoff * 2;
	}
	r->finished = 1;
	abandoned = r->abandoned;
	pthread_cond_broadcast(&r->stop_cond);
	pthread_mutex_unlock(&r->lock);
	if (abandoned)
		rec_free(r);
	return NULL;
}

/* How long the batch with the database has been out, in ms; 0: none. */
static long long
rec_write_pending_ms_locked(const struct tsa_recorder *r)
{
	struct timespec now;
	long long ms;

	if (!r->writing)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(now.tv_sec - r->write_start.tv_sec) * 1000 +
	    (now.tv_nsec - r->write_start.tv_nsec) / 1000000L;
	return ms > 0 ? ms : 0;
}

/* 1 when the database is not taking records: a write failed, or is out long. */
static int
rec_behind_locked(const struct tsa_recorder *r)
{
	return !r->db_ok ||
	    rec_write_pending_ms_locked(r) >= REC_KEEP_AFTER_MS;
}

/*
 * 1 when a token issued now could be lost by a crash: the database is not
 * taking records and the keeper could not put them in the spill file.
 * Until 2026-12-07 tokens were issued all the same ("a crash now would
 * lose them"); now tsa_recorder_reserve and tsa_recorder_add refuse, and
 * /health says spill_ok false, until a keep succeeds or the database
 * takes the records again.
 */
static int
rec_unkept_locked(const struct tsa_recorder *r)
{
	return r->keep_failed && rec_behind_locked(r);
}

/*
 * The keeper (file comment): while the database is not taking records,
 * the queued ones go to the spill file every REC_KEEP_MS, so that a crash
 * does not lose them; when they cannot, keep_failed stops issuance
 * (rec_unkept_locked). Runs until tsa_recorder_stop says keeper_stop.
 */
static void *
rec_keeper(void *arg)
{
	struct tsa_recorder *r = arg;
	struct timespec ts;
	size_t kept = 0, total = 0;
	int failed = 0;

	pthread_mutex_lock(&r->lock);
	while (!r->keeper_stop) {
		time_deadline(&ts, CLOCK_MONOTONIC, REC_KEEP_MS);
		pthread_cond_timedwait(&r->keeper_cond, &r->lock, &ts);
		if (r->keeper_stop)
			continue;
		if (!rec_behind_locked(r)) {
			total = 0;	/* taking them again: the next outage warns */
			r->keep_failed = failed = 0;
			continue;
		}
		while (r->file_busy && !r->keeper_stop)
			pthread_cond_wait(&r->stop_cond, &r->lock);
		if (r->keeper_stop)
			break;
		kept = 0;
		if (rec_spill_fresh_locked(r, &kept, 1) == -1) {
			if (!failed)
				log_err("tsa: recorder: the database is not taking "
				    "records and the spill file cannot keep them "
				    "(%s): a crash now would lose them; no token "
				    "is issued until one of them takes them",
				    strerror(errno));
			r->keep_failed = failed = 1;
			continue;
		}
		if (failed)
			log_info("tsa: recorder: the spill file keeps the records "
			    "again: tokens are issued");
		r->keep_failed = failed = 0;
		if (kept > 0 && total == 0)
			log_warn("tsa: recorder: the database is not taking "
			    "records: they go to the spill file too until it "
			    "does");
		total += kept;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

void
tsa_spill_write_line(const struct tsa_record *t, FILE *f)
{
	rec_spill_line(t, f);
}

int
tsa_spill_parse_line(char *line, int whole, struct tsa_record *t)
{
	return rec_parse_line(line, whole, t);
}

void
tsa_recorder_test_writer(int (*write)(void *, const struct tsa_record *,
    size_t), void *arg)
{
	rec_test_write = write;
	rec_test_arg = arg;
}

struct tsa_recorder *
tsa_recorder_start(const char *conninfo, const char *instance,
    const char *spill_file, int worker, int workers, size_t max_queue,
    long db_timeout_ms, char *err, size_t errlen)
{
	struct tsa_recorder *r;
	pthread_condattr_t ca;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->spill_fd = -1;
	r->db_ok = 1;
	r->test_write = rec_test_write;
	r->test_arg = rec_test_arg;
	pthread_mutex_init(&r->lock, NULL);
	/* Deadlines on CLOCK_MONOTONIC: a TSA's clock may be stepped. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_cond_init(&r->stop_cond, &ca);
	pthread_cond_init(&r->keeper_cond, &ca);
	pthread_condattr_destroy(&ca);
	r->cap = max_queue > 0 ? max_queue : 1;
	r->db_timeout_ms = db_timeout_ms > 0 ? db_timeout_ms : 0;
	snprintf(r->instance, sizeof(r->instance), "%s", instance);
	snprintf(r->actor, sizeof(r->actor), "tsa:%s", instance);
	/* Everything the thread needs, now: it has no way to report failing. */
	if ((r->ring = calloc(r->cap, sizeof(*r->ring))) == NULL ||
	    (r->ends = calloc(r->cap, sizeof(*r->ends))) == NULL ||
	    (r->batch = calloc(REC_BATCH, sizeof(*r->batch))) == NULL ||
	    (r->conflicts = calloc(REC_BATCH, sizeof(*r->conflicts))) == NULL ||
	    (r->conninfo = strdup(conninfo)) == NULL ||
	    (spill_file != NULL &&
	    ((r->chunk = calloc(REC_SPILL_CHUNK, sizeof(*r->chunk))) == NULL ||
	    (r->chunk_ends = calloc(REC_SPILL_CHUNK,
	    sizeof(*r->chunk_ends))) == NULL))) {
		snprintf(err, errlen, "out of memory (queue of %zu)", r->cap);
		goto fail;
	}
	if (spill_file != NULL) {
		if (rec_spill_take(r, spill_file, worker, workers, err,
		    errlen) == -1)
			goto fail;
		pthread_mutex_lock(&r->lock);	/* no other thread yet */
		rec_spill_load_locked(r);
		pthread_mutex_unlock(&r->lock);
	}
	if (pthread_create(&r->thread, NULL, rec_thread, r) != 0) {
		snprintf(err, errlen, "pthread_create failed");
		goto fail;
	}
	/* Without it a crash during an outage loses every token since. */
	if (r->spill_fd != -1) {
		if (pthread_create(&r->keeper, NULL, rec_keeper, r) != 0)
			log_warn("tsa: recorder: no keeper thread: during an "
			    "outage records wait in memory only");
		else
			r->keeper_running = 1;
	}
	return r;
fail:
	rec_free(r);
	return NULL;
}

int
tsa_recorder_add(struct tsa_recorder *r, const struct tsa_record *t)
{
	int rc;

	if (!rec_valid(t))
		return -1;
	pthread_mutex_lock(&r->lock);
	rc = r->stopping || rec_unkept_locked(r) ? -1 :
	    rec_push_locked(r, t, 0);
	if (rc == 0 && (r->count == 1 || r->count == REC_BATCH))
		pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int
tsa_recorder_reserve(struct tsa_recorder *r)
{
	int rc = -1;

	pthread_mutex_lock(&r->lock);
	if (!r->stopping && !rec_unkept_locked(r) &&
	    r->count + r->reserved < r->cap) {
		r->reserved++;
		rc = 0;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void
tsa_recorder_unreserve(struct tsa_recorder *r)
{
	pthread_mutex_lock(&r->lock);
	if (r->reserved > 0)
		r->reserved--;
	pthread_mutex_unlock(&r->lock);
}

int
tsa_recorder_add_reserved(struct tsa_recorder *r, const struct tsa_record *t)
{
	int rc = -1;

	pthread_mutex_lock(&r->lock);
	/* The slot is given back whatever follows: pushed, or refused. */
	if (r->reserved > 0)
		r->reserved--;
	if (rec_valid(t) && !r->stopping)
		rc = rec_push_locked(r, t, 0);
	if (rc == 0 && (r->count == 1 || r->count == REC_BATCH))
		pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void
tsa_recorder_stats(struct tsa_recorder *r, struct tsa_recorder_health *h)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_lock(&r->lock);
	h->queued = r->count;
	h->reserved = r->reserved;
	h->max_queue = r->cap;
	h->db_ok = r->db_ok;
	h->spill_ok = !rec_unkept_locked(r);
	h->write_pending_ms = rec_write_pending_ms_locked(r);
	pthread_mutex_unlock(&r->lock);
}

int
tsa_recorder_stop(struct tsa_recorder *r, unsigned int flush_timeout_s,
    int *abandoned)
{
	struct timespec until;
	pthread_t thread;
	size_t appended = 0, kept;
	int lost;

	*abandoned = 0;
	if (r == NULL)
		return 0;
	/* The keeper first: from here on the stop appends alone. */
	pthread_mutex_lock(&r->lock);
	r->keeper_stop = 1;
	pthread_cond_broadcast(&r->keeper_cond);
	pthread_cond_broadcast(&r->stop_cond);
	pthread_mutex_unlock(&r->lock);
	if (r->keeper_running)
		pthread_join(r->keeper, NULL);
	r->keeper_running = 0;
	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	time_deadline(&r->stop_at, CLOCK_MONOTONIC,
	    (long)flush_timeout_s * 1000);
	time_deadline(&until, CLOCK_MONOTONIC,
	    ((long)flush_timeout_s + TSA_STOP_GRACE_S) * 1000);
	pthread_cond_broadcast(&r->cond);
	/* Disk I/O of the thread (a chunk, the header), not the database. */
	while (r->file_busy)
		pthread_cond_wait(&r->stop_cond, &r->lock);
	/* First on disk, then the database: SIGKILL may come at any time. */
	if (r->spill_fd != -1 && !r->finished) {
		if (rec_spill_fresh_locked(r, &appended, 0) == -1)
			log_warn("tsa: recorder: stopping: writing to the spill "
			    "file: %s (tried again after the database)",
			    strerror(errno));
		else if (appended > 0)
			log_info("tsa: recorder: stopping: %zu record(s) not yet in "
			    "the database written to the spill file", appended);
	}
	while (!r->finished &&
	    pthread_cond_timedwait(&r->stop_cond, &r->lock, &until) != ETIMEDOUT)
		;
	if (!r->finished) {
		/* Its batch is still with the database: leave it behind. */
		kept = r->spill_queued + r->app_queued;
		lost = kept < r->count;
		r->abandoned = 1;
		if (lost)
			log_err("tsa: recorder: the database did not answer within "
			    "%u s: %zu record(s) LOST (not in the spill file)",
			    flush_timeout_s, r->count - kept);
		else
			log_warn("tsa: recorder: the database did not answer within "
			    "%u s: stopping without it; the %zu record(s) queued "
			    "are in the spill file for the next start",
			    flush_timeout_s, kept);
		thread = r->thread;	/* r is the thread's from here on */
		pthread_mutex_unlock(&r->lock);
		pthread_detach(thread);
		*abandoned = 1;
		return lost ? -1 : 0;
	}
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	lost = r->lost;
	rec_free(r);
	return lost ? -1 : 0;
}
