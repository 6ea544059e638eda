/*
 * lib/db against a real PostgreSQL: PKI_TEST_PG_URI (set by tests/run.sh)
 * names a scratch database we may create tables in. Without it the test
 * fails: tests never skip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <openssl/sha.h>

#include "lib/db.h"
#include "lib/log.h"
#include "lib/sandbox.h"

struct fixture {
	struct db	*a;
	struct db	*b;
	char		 table[64];	/* per-process, so runs can overlap */
	char		 sql[8][256];
	struct db_stmt	 ins;		/* INSERT INTO t(k, v) */
	struct db_stmt	 sel_v;		/* SELECT v FROM t WHERE k */
	struct db_stmt	 upd_v;		/* UPDATE t SET v = v + 1 WHERE k */
	struct db_stmt	 count;		/* SELECT count(*) FROM t WHERE k */
};

static const struct db_stmt stmt_prep_time = {
	"test_db_prepared_time",
	"SELECT prepare_time::text FROM pg_prepared_statements WHERE name = $1",
	1
};

static const struct db_stmt stmt_nulls = {
	"test_db_nulls",
	"SELECT $1::text IS NULL, coalesce($2::text, 'was-null'), $3::text",
	3
};

static const struct db_stmt stmt_div0 = {
	"test_db_div0", "SELECT 1 / $1::int", 1
};

static const struct db_stmt stmt_syntax = {
	"test_db_syntax", "SELEC nothing", 0
};

/* Plain SQL outside the statement machinery, for set-up only. */
static void
exec_plain(struct db *db, const char *sql)
{
	PGresult *res;

	res = PQexec(db_conn(db), sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
}

static int
setup(void **state)
{
	struct fixture *fx;
	const char *uri = getenv("PKI_TEST_PG_URI");
	char err[512], ddl[256];

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	fx->a = db_connect(uri, err, sizeof(err));
	if (fx->a == NULL)
		fail_msg("db_connect: %s", err);
	fx->b = db_connect(uri, err, sizeof(err));
	if (fx->b == NULL)
		fail_msg("db_connect (second): %s", err);
	snprintf(fx->table, sizeof(fx->table), "test_db_%ld", (long)getpid());
	snprintf(ddl, sizeof(ddl), "DROP TABLE IF EXISTS %s; CREATE TABLE %s "
	    "(k text PRIMARY KEY, v int NOT NULL)", fx->table, fx->table);
	exec_plain(fx->a, ddl);

	snprintf(fx->sql[0], sizeof(fx->sql[0]),
	    "INSERT INTO %s (k, v) VALUES ($1, $2::int)", fx->table);
	fx->ins = (struct db_stmt){ "test_db_insert", fx->sql[0], 2 };
	snprintf(fx->sql[1], sizeof(fx->sql[1]),
	    "SELECT v FROM %s WHERE k = $1", fx->table);
	fx->sel_v = (struct db_stmt){ "test_db_select_v", fx->sql[1], 1 };
	snprintf(fx->sql[2], sizeof(fx->sql[2]),
	    "UPDATE %s SET v = v + 1 WHERE k = $1", fx->table);
	fx->upd_v = (struct db_stmt){ "test_db_update_v", fx->sql[2], 1 };
	snprintf(fx->sql[3], sizeof(fx->sql[3]),
	    "SELECT count(*) FROM %s WHERE k = $1", fx->table);
	fx->count = (struct db_stmt){ "test_db_count", fx->sql[3], 1 };
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char ddl[128];

	snprintf(ddl, sizeof(ddl), "DROP TABLE IF EXISTS %s", fx->table);
	exec_plain(fx->a, ddl);
	db_close(fx->a);
	db_close(fx->b);
	free(fx);
	return 0;
}

/* Integer in row 0, column 0 of stmt's result; -1 when no row. */
static long
query_long(struct db *db, const struct db_stmt *stmt, const char *arg)
{
	const char *values[1] = { arg };
	PGresult *res;
	long v = -1;

	res = db_exec(db, stmt, values, NULL, NULL);
	assert_non_null(res);
	if (PQntuples(res) == 1)
		v = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

static char *
prepare_time(struct db *db, const char *name)
{
	const char *values[1] = { name };
	PGresult *res;
	char *t;

	res = db_exec(db, &stmt_prep_time, values, NULL, NULL);
	assert_non_null(res);
	if (PQntuples(res) != 1)
		fail_msg("%s: %d rows in pg_prepared_statements", name,
		    PQntuples(res));
	t = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	assert_non_null(t);
	return t;
}

static void
test_prepared_once(void **state)
{
	struct fixture *fx = *state;
	const char *values[2] = { "once", "1" };
	char *t1, *t2;

	assert_int_equal(db_exec_ok(fx->a, &fx->ins, values), 0);
	t1 = prepare_time(fx->a, "test_db_insert");
	usleep(20000);
	values[0] = "twice";
	assert_int_equal(db_exec_ok(fx->a, &fx->ins, values), 0);
	values[0] = "thrice";
	assert_int_equal(db_exec_ok(fx->a, &fx->ins, values), 0);
	t2 = prepare_time(fx->a, "test_db_insert");
	/* Same preparation: the later runs did not prepare again. */
	assert_string_equal(t1, t2);
	free(t1);
	free(t2);
	/* Per connection: b has not prepared it yet, then does on first use. */
	values[0] = "twice";
	assert_int_equal(query_long(fx->b, &fx->count, "twice"), 1);
	t1 = prepare_time(fx->b, "test_db_count");
	free(t1);
	/* The server forgot (DISCARD ALL, a pooler): prepared again. */
	exec_plain(fx->a, "DEALLOCATE ALL");
	values[0] = "after-deallocate";
	assert_int_equal(db_exec_ok(fx->a, &fx->ins, values), 0);
	t1 = prepare_time(fx->a, "test_db_insert");
	free(t1);
}

static void
test_null_params(void **state)
{
	struct fixture *fx = *state;
	const char *values[3] = { NULL, NULL, "x" };
	PGresult *res;

	res = db_exec(fx->a, &stmt_nulls, values, NULL, NULL);
	assert_non_null(res);
	assert_string_equal(PQgetvalue(res, 0, 0), "t");
	assert_string_equal(PQgetvalue(res, 0, 1), "was-null");
	assert_string_equal(PQgetvalue(res, 0, 2), "x");
	PQclear(res);
	values[0] = "a";
	values[1] = "b";
	values[2] = NULL;
	res = db_exec(fx->a, &stmt_nulls, values, NULL, NULL);
	assert_non_null(res);
	assert_string_equal(PQgetvalue(res, 0, 0), "f");
	assert_string_equal(PQgetvalue(res, 0, 1), "b");
	assert_true(PQgetisnull(res, 0, 2));
	PQclear(res);
	assert_string_equal(db_last_sqlstate(fx->a), "");
}

static void
test_failures_sqlstate(void **state)
{
	struct fixture *fx = *state;
	const char *zero[1] = { "0" };
	const char *one[1] = { "1" };
	const char *dup[2] = { "dup", "1" };
	PGresult *res;

	db_unavailable_clear();
	assert_null(db_exec(fx->a, &stmt_div0, zero, NULL, NULL));
	assert_string_equal(db_last_sqlstate(fx->a), "22012");
	/* A success clears it. */
	res = db_exec(fx->a, &stmt_div0, one, NULL, NULL);
	assert_non_null(res);
	PQclear(res);
	assert_string_equal(db_last_sqlstate(fx->a), "");
	/* Failure at prepare time. */
	assert_null(db_exec(fx->a, &stmt_syntax, NULL, NULL, NULL));
	assert_string_equal(db_last_sqlstate(fx->a), "42601");
	assert_int_equal(db_exec_ok(fx->a, &fx->ins, dup), 0);
	assert_int_equal(db_exec_ok(fx->a, &fx->ins, dup), -1);
	assert_string_equal(db_last_sqlstate(fx->a), "23505");
	/* Missing parameters are refused before reaching the server. */
	assert_null(db_exec(fx->a, &fx->ins, NULL, NULL, NULL));
	/* None of these says the database is unavailable (a 503). */
	assert_int_equal(db_unavailable(), 0);
}

struct txn_arg {
	struct fixture	*fx;
	const char	*key;
	int		 result;	/* what fn returns */
	int		 calls;
	int		 interfere;	/* attempts on which b updates first */
	char		 first_state[6];
};

static int
txn_insert(struct db *db, void *varg)
{
	struct txn_arg *ta = varg;
	const char *values[2] = { ta->key, "7" };

	ta->calls++;
	if (db_exec_ok(db, &ta->fx->ins, values) == -1)
		return -1;
	return ta->result;
}

static void
test_transaction_commit_rollback(void **state)
{
	struct fixture *fx = *state;
	struct txn_arg ta;

	memset(&ta, 0, sizeof(ta));
	ta.fx = fx;
	ta.key = "committed";
	assert_int_equal(db_transaction(fx->a, NULL, 3, txn_insert, &ta), 0);
	assert_int_equal(ta.calls, 1);
	assert_int_equal(query_long(fx->b, &fx->count, "committed"), 1);

	memset(&ta, 0, sizeof(ta));
	ta.fx = fx;
	ta.key = "rolled-back";
	ta.result = -1;
	assert_int_equal(db_transaction(fx->a, "REPEATABLE READ", 3,
	    txn_insert, &ta), -1);
	/* -1 without a retryable SQLSTATE: no retry. */
	assert_int_equal(ta.calls, 1);
	assert_int_equal(query_long(fx->b, &fx->count, "rolled-back"), 0);
	assert_int_equal(PQtransactionStatus(db_conn(fx->a)), PQTRANS_IDLE);

	/* A failing statement inside: rolled back, SQLSTATE kept. */
	memset(&ta, 0, sizeof(ta));
	ta.fx = fx;
	ta.key = "committed";
	assert_int_equal(db_transaction(fx->a, NULL, 3, txn_insert, &ta), -1);
	assert_int_equal(ta.calls, 1);
	assert_string_equal(db_last_sqlstate(fx->a), "23505");
	assert_int_equal(PQtransactionStatus(db_conn(fx->a)), PQTRANS_IDLE);

	/* Unknown isolation levels never reach the server. */
	assert_int_equal(db_transaction(fx->a, "SERIALIZABLE; DROP TABLE x",
	    3, txn_insert, &ta), -1);
	assert_int_equal(ta.calls, 1);
}

static void
test_begin_commit_rollback(void **state)
{
	struct fixture *fx = *state;
	const char *values[2] = { "manual", "1" };
	const char *zero[1] = { "0" };

	assert_int_equal(db_begin(fx->a, "serializable"), 0);
	assert_int_equal(db_exec_ok(fx->a, &fx->ins, values), 0);
	assert_int_equal(db_rollback(fx->a), 0);
	assert_int_equal(query_long(fx->b, &fx->count, "manual"), 0);

	assert_int_equal(db_begin(fx->a, NULL), 0);
	assert_int_equal(db_exec_ok(fx->a, &fx->ins, values), 0);
	assert_int_equal(db_commit(fx->a), 0);
	assert_int_equal(query_long(fx->b, &fx->count, "manual"), 1);

	/* COMMIT of a failed transaction reports failure, not success. */
	assert_int_equal(db_begin(fx->a, NULL), 0);
	values[0] = "manual-2";
	assert_int_equal(db_exec_ok(fx->a, &fx->ins, values), 0);
	assert_null(db_exec(fx->a, &stmt_div0, zero, NULL, NULL));
	assert_int_equal(db_commit(fx->a), -1);
	assert_string_equal(db_last_sqlstate(fx->a), "22012");
	assert_int_equal(PQtransactionStatus(db_conn(fx->a)), PQTRANS_IDLE);
	assert_int_equal(query_long(fx->b, &fx->count, "manual-2"), 0);

	/* No nesting. */
	assert_int_equal(db_begin(fx->a, NULL), 0);
	assert_int_equal(db_transaction(fx->a, NULL, 1, txn_insert, NULL), -1);
	assert_int_equal(db_rollback(fx->a), 0);
}

/*
 * Reads the counter, lets connection b update and commit the same row,
 * then updates it: under SERIALIZABLE the second update fails with 40001.
 */
static int
txn_increment(struct db *db, void *varg)
{
	struct txn_arg *ta = varg;
	const char *values[1] = { ta->key };

	ta->calls++;
	if (query_long(db, &ta->fx->sel_v, ta->key) < 0)
		return -1;
	if (ta->calls <= ta->interfere)
		assert_int_equal(db_exec_ok(ta->fx->b, &ta->fx->upd_v, values),
		    0);
	if (db_exec_ok(db, &ta->fx->upd_v, values) == -1) {
		if (ta->first_state[0] == '\0')
			snprintf(ta->first_state, sizeof(ta->first_state),
			    "%s", db_last_sqlstate(db));
		return -1;
	}
	return 0;
}

static void
test_serialization_retry(void **state)
{
	struct fixture *fx = *state;
	const char *values[2] = { "counter", "0" };
	struct txn_arg ta;

	assert_int_equal(db_exec_ok(fx->a, &fx->ins, values), 0);

	memset(&ta, 0, sizeof(ta));
	ta.fx = fx;
	ta.key = "counter";
	ta.interfere = 1;
	assert_int_equal(db_transaction(fx->a, "SERIALIZABLE", 3,
	    txn_increment, &ta), 0);
	assert_string_equal(ta.first_state, "40001");
	assert_int_equal(ta.calls, 2);
	/* b's increment and our retried one. */
	assert_int_equal(query_long(fx->b, &fx->sel_v, "counter"), 2);

	/* Out of attempts: -1, the SQLSTATE says why. */
	memset(&ta, 0, sizeof(ta));
	ta.fx = fx;
	ta.key = "counter";
	ta.interfere = 5;
	assert_int_equal(db_transaction(fx->a, "SERIALIZABLE", 2,
	    txn_increment, &ta), -1);
	assert_int_equal(ta.calls, 2);
	assert_string_equal(db_last_sqlstate(fx->a), "40001");
	assert_int_equal(query_long(fx->b, &fx->sel_v, "counter"), 4);
	assert_int_equal(PQtransactionStatus(db_conn(fx->a)), PQTRANS_IDLE);
}

/*
 * db_copy_bytea: a value of several chunks (every byte value, odd length)
 * arrives intact, also through a temporary table as crlgen uses it; COPY to
 * a missing table fails with its SQLSTATE and leaves the connection usable.
 */
static void
test_copy_bytea(void **state)
{
	static const struct db_stmt stmt_check = { "test_db_copy_check",
		"SELECT length(der), encode(sha256(der), 'hex') FROM "
		"test_db_stage", 0 };
	struct fixture *fx = *state;
	size_t len = DB_COPY_CHUNK * 3 + 7, i;
	unsigned char *data = malloc(len), md[32];
	char hex[65], lenstr[24];
	PGresult *res;

	assert_non_null(data);
	for (i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 131 + i / 256);
	SHA256(data, len, md);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(lenstr, sizeof(lenstr), "%zu", len);
	assert_int_equal(db_begin(fx->a, NULL), 0);
	assert_int_equal(db_run(fx->a, "CREATE TEMP TABLE test_db_stage "
	    "(der bytea) ON COMMIT DROP"), 0);
	assert_int_equal(db_copy_bytea(fx->a, "COPY test_db_stage (der) FROM "
	    "STDIN (FORMAT binary)", data, len), 0);
	res = db_exec(fx->a, &stmt_check, NULL, NULL, NULL);
	assert_non_null(res);
	assert_int_equal(PQntuples(res), 1);
	assert_string_equal(PQgetvalue(res, 0, 0), lenstr);
	assert_string_equal(PQgetvalue(res, 0, 1), hex);
	PQclear(res);
	assert_int_equal(db_commit(fx->a), 0);
	/* The table went with the transaction; COPY into it now fails. */
	assert_int_equal(db_copy_bytea(fx->a, "COPY test_db_stage (der) FROM "
	    "STDIN (FORMAT binary)", data, 10), -1);
	assert_string_equal(db_last_sqlstate(fx->a), "42P01");
	assert_int_equal(db_run(fx->a, "SELECT 1"), -1);	/* not a command */
	assert_int_equal(db_run(fx->a, "SET application_name = 'test_db'"),
	    0);
	free(data);
}

/* What test_copy_rows' callback saw; it stops at stop_at (0: never). */
struct copy_seen {
	long	rows;
	long	stop_at;
	int	bad;
};

/* Rows of (i::text, NULL, i-byte bytea of 'x'): checks each one against i. */
static int
copy_check_row(void *arg, const struct db_row *row)
{
	struct copy_seen *seen = arg;
	char want[24];
	long i = seen->rows + 1;
	int k;

	snprintf(want, sizeof(want), "%ld", i);
	if (row->nfields != 3 || row->length[0] != (int)strlen(want) ||
	    memcmp(row->value[0], want, strlen(want)) != 0 ||
	    row->length[1] != -1 || row->value[1] != NULL ||
	    row->length[2] != (int)(i % 300))
		seen->bad++;
	for (k = 0; k < row->length[2] && k < (int)(i % 300); k++)
		if (row->value[2][k] != 'x')
			seen->bad++;
	seen->rows++;
	return seen->stop_at != 0 && seen->rows == seen->stop_at ? -1 : 0;
}

/*
 * db_copy_rows: 20,000 rows of a binary COPY arrive in order with their
 * values, NULLs and empty values; a callback that stops, a query that fails
 * midway (division by zero at row 15,000) and one that does not parse each
 * give -1, the last two with their SQLSTATE, and the connection stays usable.
 */
static void
test_copy_rows(void **state)
{
	/* Ordered by the number: "ORDER BY i" would sort the text column i. */
	static const char rows_sql[] = "COPY (SELECT i::text AS t, NULL::int, "
	    "convert_to(repeat('x', i %% 300), 'UTF8') FROM generate_series(1, "
	    "%d) AS g(i) ORDER BY g.i) TO STDOUT (FORMAT binary)";
	struct fixture *fx = *state;
	struct copy_seen seen = { 0, 0, 0 };
	char sql[256];

	snprintf(sql, sizeof(sql), rows_sql, 20000);
	assert_int_equal(db_copy_rows(fx->a, sql, copy_check_row, &seen), 0);
	assert_int_equal(seen.rows, 20000);
	assert_int_equal(seen.bad, 0);

	memset(&seen, 0, sizeof(seen));
	seen.stop_at = 10;
	assert_int_equal(db_copy_rows(fx->a, sql, copy_check_row, &seen), -1);
	assert_int_equal(seen.rows, 10);
	assert_int_equal(db_run(fx->a, "SET application_name = 'test_db'"),
	    0);

	memset(&seen, 0, sizeof(seen));
	/* No ORDER BY: a sort would compute every row (and fail) before the first is sent. */
	assert_int_equal(db_copy_rows(fx->a, "COPY (SELECT i::text AS t, "
	    "NULL::int, convert_to(repeat('x', (i / (15000 - i)) * 0 + "
	    "i % 300), 'UTF8') FROM generate_series(1, 20000) AS g(i)) "
	    "TO STDOUT (FORMAT binary)", copy_check_row, &seen), -1);
	assert_string_equal(db_last_sqlstate(fx->a), "22012");
	assert_true(seen.rows > 0 && seen.rows < 15000);
	assert_int_equal(seen.bad, 0);
	assert_int_equal(db_run(fx->a, "SET application_name = 'test_db'"),
	    0);

	assert_int_equal(db_copy_rows(fx->a, "COPY (SELEC 1) TO STDOUT "
	    "(FORMAT binary)", copy_check_row, &seen), -1);
	assert_string_equal(db_last_sqlstate(fx->a), "42601");
	/* A text COPY is not what the parser reads. */
	assert_int_equal(db_copy_rows(fx->a, "COPY (SELECT 1) TO STDOUT",
	    copy_check_row, &seen), -1);
	assert_int_equal(db_run(fx->a, "SET application_name = 'test_db'"),
	    0);
}

static int
copy_count_row(void *arg, const struct db_row *row)
{
	(*(int *)arg)++;
	return row->nfields >= 0 ? 0 : -1;
}

/* db_copy_parse of one message with a fresh state, past the header or not. */
static int
parse_one(const unsigned char *m, size_t len, int header_seen)
{
	struct db_copy_state st;
	int n = 0;

	memset(&st, 0, sizeof(st));
	st.header_seen = header_seen;
	return db_copy_parse(&st, m, len, copy_count_row, &n);
}

/* db_copy_parse on bytes PostgreSQL would never send. */
static void
test_copy_parse(void **state)
{
	static const unsigned char hdr[] = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n',
	    0xff, '\r', '\n', 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	/* One row of two fields: "ab" and NULL; then the trailer. */
	static const unsigned char row[] = { 0, 2, 0, 0, 0, 2, 'a', 'b',
	    0xff, 0xff, 0xff, 0xff };
	static const unsigned char trailer[] = { 0xff, 0xff };
	unsigned char m[128];
	struct db_copy_state st;
	int n;

	(void)state;
	/* The good stream: header with the first row, a row, the trailer. */
	memset(&st, 0, sizeof(st));
	n = 0;
	memcpy(m, hdr, sizeof(hdr));
	memcpy(m + sizeof(hdr), row, sizeof(row));
	assert_int_equal(db_copy_parse(&st, m, sizeof(hdr) + sizeof(row),
	    copy_count_row, &n), 0);
	assert_int_equal(db_copy_parse(&st, row, sizeof(row), copy_count_row,
	    &n), 0);
	assert_int_equal(db_copy_parse(&st, trailer, sizeof(trailer),
	    copy_count_row, &n), 1);
	assert_int_equal(n, 2);
	/* Nothing may follow the trailer. */
	assert_int_equal(db_copy_parse(&st, row, sizeof(row), copy_count_row,
	    &n), -1);

	/*
	 * A wrong signature, a critical flag (bit 16: OIDs), an extension
	 * longer than the message, a short header; a non-critical flag (bit
	 * 0) is ignored.
	 */
	memcpy(m, hdr, sizeof(hdr));
	m[0] = 'X';
	assert_int_equal(parse_one(m, sizeof(hdr), 0), -1);
	memcpy(m, hdr, sizeof(hdr));
	m[12] = 1;	/* bit 16 */
	assert_int_equal(parse_one(m, sizeof(hdr), 0), -1);
	memcpy(m, hdr, sizeof(hdr));
	m[18] = 9;
	assert_int_equal(parse_one(m, sizeof(hdr), 0), -1);
	assert_int_equal(parse_one(hdr, 10, 0), -1);
	memcpy(m, hdr, sizeof(hdr));
	m[14] = 1;
	assert_int_equal(parse_one(m, sizeof(hdr), 0), 0);

	/* After the header: a row cut short, a field longer than the rest. */
	assert_int_equal(parse_one(row, sizeof(row) - 1, 1), -1);
	memcpy(m, row, sizeof(row));
	m[5] = 200;
	assert_int_equal(parse_one(m, sizeof(row), 1), -1);
	/* More fields than a db_row holds, a negative count other than -1. */
	m[0] = 0;
	m[1] = DB_ROW_FIELDS + 1;
	assert_int_equal(parse_one(m, sizeof(row), 1), -1);
	m[0] = 0xff;
	m[1] = 0xfe;
	assert_int_equal(parse_one(m, sizeof(row), 1), -1);
	/* Bytes after the trailer in the same message. */
	m[0] = 0xff;
	m[1] = 0xff;
	m[2] = 0;
	assert_int_equal(parse_one(m, 3, 1), -1);
}

/* b ends a's backend, as a server restart or pg_terminate_backend would. */
static void
kill_backend(struct fixture *fx, struct db *victim)
{
	char sql[96];
	int pid = PQbackendPID(db_conn(victim)), i;
	PGresult *res;

	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
	exec_plain(fx->b, sql);
	/* Until the backend is gone: the test must not race its exit. */
	for (i = 0; i < 100; i++) {
		snprintf(sql, sizeof(sql), "SELECT 1 FROM pg_stat_activity "
		    "WHERE pid = %d", pid);
		res = PQexec(db_conn(fx->b), sql);
		if (PQresultStatus(res) == PGRES_TUPLES_OK &&
		    PQntuples(res) == 0) {
			PQclear(res);
			return;
		}
		PQclear(res);
		usleep(20000);
	}
	fail_msg("backend %d did not end", pid);
}

/*
 * A connection the server closed is made again before the next statement:
 * the statement succeeds, prepared anew, and the LISTEN is made again.
 */
static void
test_reconnect(void **state)
{
	struct fixture *fx = *state;
	const char *v[2] = { "r1", "7" };
	char notify[64];
	int pid, i, got = 0;

	assert_int_equal(db_exec_ok(fx->a, &fx->ins, v), 0);
	assert_int_equal(db_listen(fx->a, "LISTEN test_db_reconnect"), 0);
	pid = PQbackendPID(db_conn(fx->a));
	kill_backend(fx, fx->a);
	/* The first statement after it works: no failed request. */
	assert_int_equal(query_long(fx->a, &fx->count, "r1"), 1);
	assert_int_not_equal(PQbackendPID(db_conn(fx->a)), pid);
	assert_string_equal(db_last_sqlstate(fx->a), "");
	/* A transaction right after a loss begins on the new connection. */
	kill_backend(fx, fx->a);
	assert_int_equal(db_begin(fx->a, NULL), 0);
	assert_int_equal(query_long(fx->a, &fx->sel_v, "r1"), 7);
	assert_int_equal(db_commit(fx->a), 0);
	/* Still LISTENing after two reconnections. */
	snprintf(notify, sizeof(notify), "NOTIFY test_db_reconnect");
	exec_plain(fx->b, notify);
	for (i = 0; i < 100 && got == 0; i++) {
		assert_int_equal(PQconsumeInput(db_conn(fx->a)), 1);
		got = db_notified(fx->a);
		if (got == 0)
			usleep(20000);
	}
	assert_true(got > 0);
}

/* Milliseconds on the monotonic clock. */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * db_exec_bounded returns within its bound whatever the server does: with
 * a's backend stopped (SIGSTOP: no statement_timeout can fire), a
 * statement not yet prepared and one prepared each give up in ~300 ms
 * with 57014, and the next call connects anew (another backend) and
 * answers; a backend the server ended is replaced the same way; a
 * failing statement keeps the connection.
 */
static void
test_exec_bounded(void **state)
{
	struct fixture *fx = *state;
	const char *v[2] = { "b1", "41" };
	const char *k[1] = { "b1" };
	PGresult *res;
	long long t0, took;
	int pid, pass;

	assert_int_equal(db_exec_ok(fx->a, &fx->ins, v), 0);
	for (pass = 0; pass < 2; pass++) {
		/* pass 0: sel_v not yet prepared on a; pass 1: prepared. */
		pid = PQbackendPID(db_conn(fx->a));
		assert_int_equal(kill(pid, SIGSTOP), 0);
		t0 = now_ms();
		res = db_exec_bounded(fx->a, &fx->sel_v, k, 300);
		took = now_ms() - t0;
		assert_int_equal(kill(pid, SIGCONT), 0);
		assert_null(res);
		assert_string_equal(db_last_sqlstate(fx->a), "57014");
		assert_true(took >= 250 && took < 1500);
		/* The next call: a new connection, the answer. */
		res = db_exec_bounded(fx->a, &fx->sel_v, k, 2000);
		assert_non_null(res);
		assert_string_equal(PQgetvalue(res, 0, 0), "41");
		PQclear(res);
		assert_int_not_equal(PQbackendPID(db_conn(fx->a)), pid);
		assert_string_equal(db_last_sqlstate(fx->a), "");
	}
	/* Ended by the server: made again within the call. */
	pid = PQbackendPID(db_conn(fx->a));
	kill_backend(fx, fx->a);
	res = db_exec_bounded(fx->a, &fx->sel_v, k, 2000);
	assert_non_null(res);
	assert_string_equal(PQgetvalue(res, 0, 0), "41");
	PQclear(res);
	assert_int_not_equal(PQbackendPID(db_conn(fx->a)), pid);
	/* A statement that fails: its SQLSTATE, the connection kept. */
	pid = PQbackendPID(db_conn(fx->a));
	k[0] = "0";
	assert_null(db_exec_bounded(fx->a, &stmt_div0, k, 2000));
	assert_string_equal(db_last_sqlstate(fx->a), "22012");
	assert_int_equal(PQbackendPID(db_conn(fx->a)), pid);
	/* Plain db_exec still works on it (prepared statements known). */
	k[0] = "b1";
	assert_int_equal(query_long(fx->a, &fx->sel_v, "b1"), 41);
}

/*
 * db_listen_bounded returns within its bound whatever the server does:
 * with a's backend stopped right at the LISTEN (SIGSTOP: the server
 * accepted the connection and stalls), the call gives up in ~300 ms with
 * 57014 where db_listen's PQexec waited for ever; the next call connects
 * anew (another backend) and LISTENs there, and notifications arrive. A
 * backend the server ended is replaced within the call, a LISTEN the
 * server refuses fails with its SQLSTATE, and after db_exec_bounded
 * connected anew past a deadline, the caller LISTENs there again.
 */
static void
test_listen_bounded(void **state)
{
	struct fixture *fx = *state;
	const char *k[1] = { "l1" };
	const char *v[2] = { "l1", "5" };
	PGresult *res;
	long long t0, took;
	int pid, i, got = 0;

	assert_int_equal(db_exec_ok(fx->a, &fx->ins, v), 0);
	pid = PQbackendPID(db_conn(fx->a));
	assert_int_equal(kill(pid, SIGSTOP), 0);
	t0 = now_ms();
	i = db_listen_bounded(fx->a, "LISTEN test_db_lb", 300);
	took = now_ms() - t0;
	assert_int_equal(kill(pid, SIGCONT), 0);
	assert_int_equal(i, -1);
	assert_string_equal(db_last_sqlstate(fx->a), "57014");
	assert_true(took >= 250 && took < 5000);
	/* The next call: a new connection, LISTENing. */
	assert_int_equal(db_listen_bounded(fx->a, "LISTEN test_db_lb", 2000),
	    0);
	assert_int_not_equal(PQbackendPID(db_conn(fx->a)), pid);
	assert_string_equal(db_last_sqlstate(fx->a), "");
	exec_plain(fx->b, "NOTIFY test_db_lb");
	for (i = 0; i < 100 && got == 0; i++) {
		assert_int_equal(PQconsumeInput(db_conn(fx->a)), 1);
		got = db_notified(fx->a);
		if (got == 0)
			usleep(20000);
	}
	assert_int_equal(got, 1);
	/* Ended by the server: made again within the call. */
	pid = PQbackendPID(db_conn(fx->a));
	kill_backend(fx, fx->a);
	assert_int_equal(db_listen_bounded(fx->a, "LISTEN test_db_lb; "
	    "LISTEN test_db_lb2", 2000), 0);
	assert_int_not_equal(PQbackendPID(db_conn(fx->a)), pid);
	exec_plain(fx->b, "NOTIFY test_db_lb2");
	for (i = 0, got = 0; i < 100 && got == 0; i++) {
		assert_int_equal(PQconsumeInput(db_conn(fx->a)), 1);
		got = db_notified(fx->a);
		if (got == 0)
			usleep(20000);
	}
	assert_int_equal(got, 1);
	/* A refused LISTEN: its SQLSTATE, the connection kept. */
	pid = PQbackendPID(db_conn(fx->a));
	assert_int_equal(db_listen_bounded(fx->a, "LISTEN \"\"", 2000), -1);
	assert_string_not_equal(db_last_sqlstate(fx->a), "");
	assert_string_not_equal(db_last_sqlstate(fx->a), "57014");
	assert_int_equal(PQbackendPID(db_conn(fx->a)), pid);
	/* Still to be made (as db_listen's): replaced by a good one. */
	assert_int_equal(db_listen_bounded(fx->a, "LISTEN test_db_lb", 2000),
	    0);
	/* Not in a transaction. */
	assert_int_equal(db_begin(fx->a, NULL), 0);
	assert_int_equal(db_listen_bounded(fx->a, "LISTEN test_db_lb", 2000),
	    -1);
	assert_int_equal(db_rollback(fx->a), 0);
	assert_int_equal(db_listen_bounded(fx->a, "LISTEN test_db_lb", 2000),
	    0);
	/* db_exec_bounded's new connection after a deadline, LISTENed again. */
	pid = PQbackendPID(db_conn(fx->a));
	assert_int_equal(kill(pid, SIGSTOP), 0);
	res = db_exec_bounded(fx->a, &fx->sel_v, k, 300);
	assert_int_equal(kill(pid, SIGCONT), 0);
	assert_null(res);
	res = db_exec_bounded(fx->a, &fx->sel_v, k, 2000);
	assert_non_null(res);
	assert_string_equal(PQgetvalue(res, 0, 0), "5");
	PQclear(res);
	assert_int_not_equal(PQbackendPID(db_conn(fx->a)), pid);
	assert_int_equal(db_listen_bounded(fx->a, "LISTEN test_db_lb", 2000),
	    0);
	exec_plain(fx->b, "NOTIFY test_db_lb");
	for (i = 0, got = 0; i < 100 && got == 0; i++) {
		assert_int_equal(PQconsumeInput(db_conn(fx->a)), 1);
		got = db_notified(fx->a);
		if (got == 0)
			usleep(20000);
	}
	assert_int_equal(got, 1);
	exec_plain(fx->a, "UNLISTEN *");
}

/* A db_copy_rows callback that counts rows. */
static int
count_copy_row(void *arg, const struct db_row *row)
{
	(void)row;
	(*(int *)arg)++;
	return 0;
}

/* A db_exec_rows callback that counts rows. */
static int
count_row(void *arg, const PGresult *row)
{
	(void)row;
	(*(int *)arg)++;
	return 0;
}

/*
 * db_set_timeout bounds every command of a's, whatever the server does:
 * with a's backend stopped (SIGSTOP: no statement_timeout can fire, and
 * until 2026-12-07 db_exec waited for ever), db_exec, db_exec_rows,
 * db_copy_rows, db_run and BEGIN give up in ~300 ms with 57014, and the
 * next call connects anew (another backend), LISTENs there again and
 * answers. Inside a transaction the statement gives up the same way, the
 * transaction's later commands fail at once (08006) and COMMIT commits
 * nothing; the next transaction begins on a new connection.
 */
static void
test_timeout(void **state)
{
	struct fixture *fx = *state;
	const char *v[2] = { "to1", "9" };
	const char *k[1] = { "to1" };
	char copy[160];
	PGresult *res;
	long long t0, took;
	int pid, step, rc, n, i, got = 0;

	assert_int_equal(db_set_timeout(fx->a, -1), -1);
	assert_int_equal(db_exec_ok(fx->a, &fx->ins, v), 0);
	assert_int_equal(db_listen(fx->a, "LISTEN test_db_timeout"), 0);
	/*
	 * 1 s: the next call reconnects and asks within it, which under
	 * make check's load (two lanes a build, the fuzzers) 300 ms was not
	 * always enough for (a failed run, 2026-12-07).
	 */
	assert_int_equal(db_set_timeout(fx->a, 1000), 0);
	snprintf(copy, sizeof(copy), "COPY (SELECT v FROM %s) TO STDOUT "
	    "(FORMAT binary)", fx->table);
	for (step = 0; step < 5; step++) {
		pid = PQbackendPID(db_conn(fx->a));
		assert_int_equal(kill(pid, SIGSTOP), 0);
		t0 = now_ms();
		n = 0;
		switch (step) {
		case 0:
			res = db_exec(fx->a, &fx->sel_v, k, NULL, NULL);
			rc = res == NULL ? -1 : 0;
			PQclear(res);
			break;
		case 1:
			rc = db_exec_rows(fx->a, &fx->sel_v, k, 0, count_row,
			    &n);
			break;
		case 2:
			rc = db_copy_rows(fx->a, copy, count_copy_row, &n);
			break;
		case 3:
			rc = db_run(fx->a, "SELECT 1");
			break;
		default:
			rc = db_begin(fx->a, NULL);
			break;
		}
		took = now_ms() - t0;
		assert_int_equal(kill(pid, SIGCONT), 0);
		assert_int_equal(rc, -1);
		assert_string_equal(db_last_sqlstate(fx->a), "57014");
		assert_true(took >= 950 && took < 3000);
		/* The next call: a new connection, the answer. */
		assert_int_equal(query_long(fx->a, &fx->sel_v, "to1"), 9);
		assert_int_not_equal(PQbackendPID(db_conn(fx->a)), pid);
		assert_string_equal(db_last_sqlstate(fx->a), "");
	}
	/* Still LISTENing, on the last connection made. */
	exec_plain(fx->b, "NOTIFY test_db_timeout");
	for (i = 0; i < 100 && got == 0; i++) {
		assert_int_equal(PQconsumeInput(db_conn(fx->a)), 1);
		got = db_notified(fx->a);
		if (got == 0)
			usleep(20000);
	}
	assert_int_equal(got, 1);
	/* Inside a transaction: given up, and the transaction with it. */
	assert_int_equal(db_begin(fx->a, NULL), 0);
	assert_int_equal(db_exec_ok(fx->a, &fx->upd_v, k), 0);
	pid = PQbackendPID(db_conn(fx->a));
	assert_int_equal(kill(pid, SIGSTOP), 0);
	t0 = now_ms();
	res = db_exec(fx->a, &fx->sel_v, k, NULL, NULL);
	took = now_ms() - t0;
	assert_null(res);
	assert_string_equal(db_last_sqlstate(fx->a), "57014");
	assert_true(took >= 950 && took < 3000);
	t0 = now_ms();
	assert_int_equal(db_exec_ok(fx->a, &fx->upd_v, k), -1);
	assert_string_equal(db_last_sqlstate(fx->a), "08006");
	assert_int_equal(db_commit(fx->a), -1);
	assert_true(now_ms() - t0 < 250);
	assert_int_equal(kill(pid, SIGCONT), 0);
	assert_int_equal(db_begin(fx->a, NULL), 0);
	assert_int_not_equal(PQbackendPID(db_conn(fx->a)), pid);
	/* The update was not committed: no COMMIT went to its backend. */
	assert_int_equal(query_long(fx->a, &fx->sel_v, "to1"), 9);
	assert_int_equal(db_commit(fx->a), 0);
	/* No timeout: as before. */
	assert_int_equal(db_set_timeout(fx->a, 0), 0);
	assert_int_equal(query_long(fx->a, &fx->sel_v, "to1"), 9);
	exec_plain(fx->a, "UNLISTEN *");
}

/*
 * db_schema_check_bounded: the version read like db_schema_check's, and
 * within its bound with the backend stopped (57014 in the message), the
 * next call on a new connection.
 */
static void
test_schema_check_bounded(void **state)
{
	struct fixture *fx = *state;
	char err[256];
	long long t0, took;
	int pid, rc;

	assert_int_equal(db_schema_check_bounded(fx->a, 1, "test needs",
	    "anything", 2000, err, sizeof(err)), 0);
	assert_int_equal(db_schema_check_bounded(fx->a, 1000000, "test needs",
	    "the future", 2000, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "test needs 1000000 (the future)"));
	pid = PQbackendPID(db_conn(fx->a));
	assert_int_equal(kill(pid, SIGSTOP), 0);
	t0 = now_ms();
	rc = db_schema_check_bounded(fx->a, 1, "test needs", "anything", 300,
	    err, sizeof(err));
	took = now_ms() - t0;
	assert_int_equal(kill(pid, SIGCONT), 0);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "57014"));
	assert_true(took >= 250 && took < 5000);
	assert_int_equal(db_schema_check_bounded(fx->a, 1, "test needs",
	    "anything", 2000, err, sizeof(err)), 0);
	assert_int_not_equal(PQbackendPID(db_conn(fx->a)), pid);
}

/* What db_notifications gave its callback, in order. */
struct notes {
	int	n;
	char	channel[4][64];
	char	payload[4][64];
};

static void
note_one(void *arg, const char *channel, const char *payload)
{
	struct notes *nt = arg;

	if (nt->n < 4) {
		snprintf(nt->channel[nt->n], sizeof(nt->channel[0]), "%s",
		    channel);
		snprintf(nt->payload[nt->n], sizeof(nt->payload[0]), "%s",
		    payload);
	}
	nt->n++;
}

/*
 * db_notifications hands each notification's channel and payload ("" for
 * none) to its callback, in the order sent, then drops it; db_notified
 * (cad, rad) still counts and drops them.
 */
static void
test_notifications(void **state)
{
	struct fixture *fx = *state;
	struct notes nt;
	int i, got = 0;

	memset(&nt, 0, sizeof(nt));
	assert_int_equal(db_listen(fx->a, "LISTEN test_db_pay; "
	    "LISTEN test_db_other"), 0);
	exec_plain(fx->b, "SELECT pg_notify('test_db_pay', '7:1A2B')");
	exec_plain(fx->b, "NOTIFY test_db_other");
	exec_plain(fx->b, "SELECT pg_notify('test_db_pay', '9:FF')");
	for (i = 0; i < 100 && got < 3; i++) {
		assert_int_equal(PQconsumeInput(db_conn(fx->a)), 1);
		got += db_notifications(fx->a, note_one, &nt);
		if (got < 3)
			usleep(20000);
	}
	assert_int_equal(got, 3);
	assert_int_equal(nt.n, 3);
	assert_string_equal(nt.channel[0], "test_db_pay");
	assert_string_equal(nt.payload[0], "7:1A2B");
	assert_string_equal(nt.channel[1], "test_db_other");
	assert_string_equal(nt.payload[1], "");
	assert_string_equal(nt.payload[2], "9:FF");
	/* Dropped: nothing more; db_notified counts without a callback. */
	assert_int_equal(db_notifications(fx->a, note_one, &nt), 0);
	exec_plain(fx->b, "SELECT pg_notify('test_db_pay', 'x')");
	for (i = 0, got = 0; i < 100 && got == 0; i++) {
		assert_int_equal(PQconsumeInput(db_conn(fx->a)), 1);
		got = db_notified(fx->a);
		if (got == 0)
			usleep(20000);
	}
	assert_int_equal(got, 1);
	assert_int_equal(nt.n, 3);
	exec_plain(fx->a, "UNLISTEN *");
}

/*
 * Inside a transaction a lost connection is not made again: the rest of the
 * transaction must fail, never run on its own outside it.
 */
static void
test_no_reconnect_in_transaction(void **state)
{
	struct fixture *fx = *state;
	const char *v1[2] = { "t1", "1" }, *v2[2] = { "t2", "2" };

	assert_int_equal(db_begin(fx->a, NULL), 0);
	assert_int_equal(db_exec_ok(fx->a, &fx->ins, v1), 0);
	kill_backend(fx, fx->a);
	db_unavailable_clear();
	assert_int_equal(db_exec_ok(fx->a, &fx->ins, v2), -1);
	assert_string_equal(db_last_sqlstate(fx->a), "08006");
	/* lib/http answers such a request with 503 and Retry-After. */
	assert_int_equal(db_unavailable(), 1);
	db_unavailable_clear();
	assert_int_equal(db_unavailable(), 0);
	assert_int_equal(db_commit(fx->a), -1);
	(void)db_rollback(fx->a);
	assert_int_equal(query_long(fx->b, &fx->count, "t1"), 0);
	assert_int_equal(query_long(fx->b, &fx->count, "t2"), 0);
	/* Outside the transaction again, the connection is made anew. */
	assert_int_equal(db_exec_ok(fx->a, &fx->ins, v2), 0);
	assert_int_equal(query_long(fx->b, &fx->count, "t2"), 1);
}

/* The option named key of db's connection, as libpq uses it. */
static void
assert_conn_option(struct db *db, const char *key, const char *want)
{
	PQconninfoOption *o, *opts = PQconninfo(db_conn(db));

	assert_non_null(opts);
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, key) == 0)
			break;
	assert_non_null(o->keyword);
	if (o->val == NULL || strcmp(o->val, want) != 0)
		fail_msg("%s: %s, want %s", key, o->val != NULL ? o->val :
		    "(unset)", want);
	PQconninfoFree(opts);
}

/* Keepalives and a TCP user time-out by default; the conninfo's own win. */
static void
test_connect_keepalives(void **state)
{
	struct fixture *fx = *state;
	struct db *db;
	char uri[1024], err[512];

	assert_conn_option(fx->a, "keepalives", "1");
	assert_conn_option(fx->a, "keepalives_idle", "10");
	assert_conn_option(fx->a, "keepalives_interval", "5");
	assert_conn_option(fx->a, "keepalives_count", "3");
	assert_conn_option(fx->a, "tcp_user_timeout", "30000");
	snprintf(uri, sizeof(uri), "%s keepalives_idle=7 tcp_user_timeout=0",
	    getenv("PKI_TEST_PG_URI"));
	db = db_connect(uri, err, sizeof(err));
	if (db == NULL)
		fail_msg("db_connect: %s", err);
	assert_conn_option(db, "keepalives_idle", "7");
	assert_conn_option(db, "tcp_user_timeout", "0");
	assert_conn_option(db, "keepalives_count", "3");
	db_close(db);
}

/*
 * A host given by name is resolved once, before the sandbox, and GSSAPI is
 * off: a reconnect (PQreset) and a new connection with the same string,
 * both inside the seccomp filter that forbids opening files, reach the
 * server by TCP instead of ending the process in getaddrinfo's open of
 * /etc/hosts or Kerberos's of its keytab.
 */
static const char *tcp_uri;

static void
child_reconnect_by_name(void)
{
	struct db *db, *db2;
	char err[512];

	if ((db = db_connect(tcp_uri, err, sizeof(err))) == NULL) {
		fprintf(stderr, "db_connect: %s\n", err);
		_exit(10);
	}
	if (sandbox_seccomp(SANDBOX_NET_WORKER, err, sizeof(err)) == -1)
		_exit(11);
	/* The server closes the connection: the next statement reconnects. */
	(void)db_run(db, "SELECT pg_terminate_backend(pg_backend_pid())");
	if (db_run(db, "SET application_name = 'test_db'") == -1)
		_exit(12);
	if ((db2 = db_connect(tcp_uri, err, sizeof(err))) == NULL) {
		fprintf(stderr, "db_connect in the sandbox: %s\n", err);
		_exit(13);
	}
	if (db_run(db2, "SET application_name = 'test_db'") == -1)
		_exit(14);
	_exit(0);
}

static void
test_connect_by_name(void **state)
{
	struct fixture *fx = *state;
	PQconninfoOption *opts, *o;
	const char *port = NULL;
	char role[64], pw[33], sql[256], uri[512];
	unsigned char rnd[16];
	FILE *f;
	pid_t pid;
	int status, i;

	opts = PQconninfoParse(getenv("PKI_TEST_PG_URI"), NULL);
	assert_non_null(opts);
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "port") == 0 && o->val != NULL)
			port = o->val;
	assert_non_null(port);
	/* TCP on 127.0.0.1 needs a SCRAM password (deploy/stack.sh). */
	f = fopen("/dev/urandom", "rb");
	assert_non_null(f);
	assert_int_equal(fread(rnd, 1, sizeof(rnd), f), sizeof(rnd));
	fclose(f);
	for (i = 0; i < 16; i++)
		snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
	snprintf(role, sizeof(role), "test_db_tcp_%ld", (long)getpid());
	snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN PASSWORD '%s'", role,
	    pw);
	exec_plain(fx->a, sql);
	snprintf(uri, sizeof(uri), "host=localhost port=%s dbname=pki "
	    "user=%s password=%s connect_timeout=5", port, role, pw);
	PQconninfoFree(opts);
	tcp_uri = uri;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_reconnect_by_name();
	assert_int_equal(waitpid(pid, &status, 0), pid);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM "
	    "pg_stat_activity WHERE usename = '%s'", role);
	exec_plain(fx->a, sql);
	for (i = 0; i < 50; i++) {
		PGresult *res;

		snprintf(sql, sizeof(sql), "DROP ROLE %s", role);
		res = PQexec(db_conn(fx->a), sql);
		if (PQresultStatus(res) == PGRES_COMMAND_OK) {
			PQclear(res);
			break;
		}
		PQclear(res);
		usleep(100000);
	}
	if (WIFSIGNALED(status))
		fail_msg("the child died of signal %d: a (re)connection "
		    "opened a file inside the sandbox (/etc/hosts to resolve "
		    "the name, Kerberos's keytab)",
		    WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_connect_failure(void **state)
{
	char err[512];
	struct db *db;

	db = db_connect("postgresql:///nonexistent_db_x?host=/nonexistent",
	    err, sizeof(err));
	assert_null(db);
	assert_non_null(strstr(err, "PQconnectdb"));
	assert_null(db_connect(NULL, err, sizeof(err)));
	db_close(NULL);
}

/* db_conninfo_files: what exists of what libpq would read, and only that. */
static void
touch(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fclose(f);
}

static int
listed(char **paths, int n, const char *path)
{
	int i, found = 0;

	for (i = 0; i < n; i++)
		found += strcmp(paths[i], path) == 0;
	return found;
}

static void
free_paths(char **paths, int n)
{
	while (n > 0)
		free(paths[--n]);
}

static void
test_conninfo_files(void **state)
{
	char dir[] = "/tmp/test_db_files.XXXXXX", ci[1024], err[256];
	char pass[256], root[256], crt[256], home[256], *paths[8];
	const char *old_home = getenv("HOME");
	char *saved = old_home != NULL ? strdup(old_home) : NULL;
	int n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(pass, sizeof(pass), "%s/pgpass", dir);
	snprintf(root, sizeof(root), "%s/root.pem", dir);
	snprintf(home, sizeof(home), "%s/.postgresql", dir);
	snprintf(crt, sizeof(crt), "%s/.postgresql/postgresql.crt", dir);
	touch(pass);
	touch(root);
	assert_int_equal(mkdir(home, 0700), 0);
	touch(crt);
	unsetenv("PGPASSFILE");
	unsetenv("PGSSLROOTCERT");
	unsetenv("PGSSLMODE");
	unsetenv("PGPASSWORD");
	unsetenv("PGSSLCERT");
	/* Named files that exist, and the client certificate under $HOME. */
	setenv("HOME", dir, 1);
	snprintf(ci, sizeof(ci), "host=db.example sslmode=verify-full "
	    "sslrootcert=%s passfile=%s sslcrl=%s/missing.crl", root, pass, dir);
	n = db_conninfo_files(ci, paths, 8, err, sizeof(err));
	assert_int_equal(n, 3);
	assert_true(listed(paths, n, root) && listed(paths, n, pass) &&
	    listed(paths, n, crt));
	free_paths(paths, n);
	/* A password in the string: no password file; no TLS: no TLS files. */
	snprintf(ci, sizeof(ci), "host=db.example sslmode=disable password=x "
	    "sslrootcert=%s passfile=%s", root, pass);
	assert_int_equal(db_conninfo_files(ci, paths, 8, err, sizeof(err)), 0);
	/* The environment's names count as libpq's do. */
	setenv("PGPASSFILE", pass, 1);
	setenv("PGSSLMODE", "disable", 1);
	n = db_conninfo_files("host=db.example", paths, 8, err, sizeof(err));
	assert_int_equal(n, 1);
	assert_string_equal(paths[0], pass);
	free_paths(paths, n);
	unsetenv("PGPASSFILE");
	unsetenv("PGSSLMODE");
	/* A HOME without them: nothing to read. */
	setenv("HOME", "/nonexistent", 1);
	assert_int_equal(db_conninfo_files("host=/run/pg", paths, 8, err,
	    sizeof(err)), 0);
	/* Too many for the room given, and a string that does not parse. */
	snprintf(ci, sizeof(ci), "sslrootcert=%s passfile=%s", root, pass);
	assert_int_equal(db_conninfo_files(ci, paths, 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many"));
	assert_int_equal(db_conninfo_files("host='unterminated", paths, 8, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "connection string"));
	/*
	 * libpq's message quotes what it could not read, here the password:
	 * not passed on, by db_connect either (until 2026-12-06 it was).
	 */
	assert_int_equal(db_conninfo_files("postgresql://u:Tr0ub4dor%2G3@h/db",
	    paths, 8, err, sizeof(err)), -1);
	assert_null(strstr(err, "Tr0ub4dor"));
	assert_non_null(strstr(err, "does not parse"));
	assert_null(db_connect("host=h password=horse battery staple", err,
	    sizeof(err)));
	assert_null(strstr(err, "horse"));
	assert_null(strstr(err, "battery"));
	assert_non_null(strstr(err, "does not parse"));
	if (saved != NULL)
		setenv("HOME", saved, 1);
	else
		unsetenv("HOME");
	free(saved);
	unlink(crt);
	rmdir(home);
	unlink(root);
	unlink(pass);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prepared_once),
		cmocka_unit_test(test_null_params),
		cmocka_unit_test(test_failures_sqlstate),
		cmocka_unit_test(test_transaction_commit_rollback),
		cmocka_unit_test(test_begin_commit_rollback),
		cmocka_unit_test(test_serialization_retry),
		cmocka_unit_test(test_copy_bytea),
		cmocka_unit_test(test_copy_rows),
		cmocka_unit_test(test_copy_parse),
		cmocka_unit_test(test_connect_failure),
		cmocka_unit_test(test_connect_keepalives),
		cmocka_unit_test(test_connect_by_name),
		cmocka_unit_test(test_reconnect),
		cmocka_unit_test(test_notifications),
		cmocka_unit_test(test_exec_bounded),
		cmocka_unit_test(test_listen_bounded),
		cmocka_unit_test(test_schema_check_bounded),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_no_reconnect_in_transaction),
		cmocka_unit_test(test_conninfo_files),
	};

	if (getenv("PKI_TEST_PG_URI") == NULL) {
		fprintf(stderr, "test_db: FAIL: PKI_TEST_PG_URI is not set; "
		    "run through tests/run.sh, which starts PostgreSQL and "
		    "applies schema/\n");
		return 1;
	}
	log_init("test_db", LOGL_ERR, NULL);
	return cmocka_run_group_tests(tests, setup, teardown);
}
