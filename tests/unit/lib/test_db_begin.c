/*
 * lib/db: db_begin() while the last transaction is still open. Against a
 * real PostgreSQL (PKI_TEST_PG_URI, set by tests/run.sh), in a TEMP table
 * only, so that it may run against any database, a live one included.
 * Without PKI_TEST_PG_URI the test fails: tests never skip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "lib/db.h"
#include "lib/log.h"

static const struct db_stmt stmt_insert = {
	"test_db_begin_insert",
	"INSERT INTO test_db_begin_t (k) VALUES ($1)", 1
};

static const struct db_stmt stmt_count = {
	"test_db_begin_count",
	"SELECT count(*) FROM test_db_begin_t WHERE k = $1", 1
};

static const struct db_stmt stmt_div0 = {
	"test_db_begin_div0", "SELECT 1 / $1::int", 1
};

static int
setup(void **state)
{
	struct db *db;
	char err[512];

	/* A connection per test: one's failure leaves nothing to the next. */
	db = db_connect(getenv("PKI_TEST_PG_URI"), err, sizeof(err));
	if (db == NULL)
		fail_msg("db_connect: %s", err);
	/* Outside any transaction: a rollback must not take the table. */
	assert_int_equal(db_run(db, "CREATE TEMP TABLE test_db_begin_t "
	    "(k text NOT NULL)"), 0);
	*state = db;
	return 0;
}

static int
teardown(void **state)
{
	db_close(*state);
	return 0;
}

static long
count_rows(struct db *db, const char *k)
{
	const char *v[1] = { k };
	PGresult *res;
	long n;

	res = db_exec(db, &stmt_count, v, NULL, NULL);
	assert_non_null(res);
	n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

static void
insert(struct db *db, const char *k)
{
	const char *v[1] = { k };

	assert_int_equal(db_exec_ok(db, &stmt_insert, v), 0);
}

/*
 * An open transaction begun again: its changes never commit. (A bare BEGIN
 * inside it would only warn, and both inserts would commit together.)
 */
static void
test_begin_abandons_open(void **state)
{
	struct db *db = *state;

	assert_int_equal(db_begin(db, NULL), 0);
	insert(db, "abandoned");
	assert_int_equal(db_begin(db, NULL), 0);
	insert(db, "kept");
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(PQtransactionStatus(db_conn(db)), PQTRANS_IDLE);
	assert_int_equal(count_rows(db, "kept"), 1);
	assert_int_equal(count_rows(db, "abandoned"), 0);

	/* Another isolation level: a fresh transaction, not 25001. */
	assert_int_equal(db_begin(db, NULL), 0);
	insert(db, "abandoned-2");
	assert_int_equal(db_begin(db, "SERIALIZABLE"), 0);
	insert(db, "kept-2");
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(count_rows(db, "kept-2"), 1);
	assert_int_equal(count_rows(db, "abandoned-2"), 0);
}

/* A failed transaction begun again: the new BEGIN works (no 25P02). */
static void
test_begin_after_failure(void **state)
{
	struct db *db = *state;
	const char *zero[1] = { "0" };

	assert_int_equal(db_begin(db, NULL), 0);
	insert(db, "before-failure");
	assert_null(db_exec(db, &stmt_div0, zero, NULL, NULL));
	assert_string_equal(db_last_sqlstate(db), "22012");
	assert_int_equal(PQtransactionStatus(db_conn(db)), PQTRANS_INERROR);
	assert_int_equal(db_begin(db, NULL), 0);
	assert_string_equal(db_last_sqlstate(db), "");
	insert(db, "after-failure");
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(count_rows(db, "after-failure"), 1);
	assert_int_equal(count_rows(db, "before-failure"), 0);
}

/* After COMMIT or ROLLBACK nothing is rolled back by the next BEGIN. */
static void
test_begin_after_end(void **state)
{
	struct db *db = *state;

	assert_int_equal(db_begin(db, NULL), 0);
	insert(db, "committed");
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(db_begin(db, NULL), 0);
	assert_int_equal(db_rollback(db), 0);
	assert_int_equal(db_begin(db, NULL), 0);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(count_rows(db, "committed"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_begin_abandons_open,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_begin_after_failure,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_begin_after_end,
		    setup, teardown),
	};

	if (getenv("PKI_TEST_PG_URI") == NULL) {
		fprintf(stderr, "test_db_begin: FAIL: PKI_TEST_PG_URI is not "
		    "set; run through tests/run.sh, which starts PostgreSQL "
		    "and applies schema/\n");
		return 1;
	}
	log_init("test_db_begin", LOGL_ERR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
