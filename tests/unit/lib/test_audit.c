/*
 * lib/audit against a real PostgreSQL with the project's audit_event table
 * and audit_append() function (PKI_TEST_PG_URI, set by tests/run.sh).
 * Without it the test fails: tests never skip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "lib/audit.h"
#include "lib/db.h"
#include "lib/log.h"

struct fixture {
	struct db	*db;
	struct db	*other;		/* a second session, to see commits */
	char		 actor[64];	/* unique per run */
};

static const struct db_stmt stmt_event = {
	"test_audit_event",
	"SELECT actor, action, object_type, object_id, jsonb_typeof(details), "
	"details::text, details->>'serial' FROM audit_event WHERE id = $1",
	1
};

static const struct db_stmt stmt_count = {
	"test_audit_count",
	"SELECT count(*) FROM audit_event WHERE actor = $1",
	1
};

static int
setup(void **state)
{
	struct fixture *fx;
	const char *uri = getenv("PKI_TEST_PG_URI");
	char err[512];

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	if ((fx->db = db_connect(uri, err, sizeof(err))) == NULL)
		fail_msg("db_connect: %s", err);
	if ((fx->other = db_connect(uri, err, sizeof(err))) == NULL)
		fail_msg("db_connect (second): %s", err);
	snprintf(fx->actor, sizeof(fx->actor), "test_audit:%ld",
	    (long)getpid());
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	db_close(fx->db);
	db_close(fx->other);
	free(fx);
	return 0;
}

static long
count_events(struct fixture *fx)
{
	const char *values[1] = { fx->actor };
	PGresult *res;
	long n;

	res = db_exec(fx->other, &stmt_count, values, NULL, NULL);
	assert_non_null(res);
	n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

/* The event as seen from the other session, or NULL when absent. */
static PGresult *
fetch_event(struct fixture *fx, int64_t id)
{
	char idbuf[32];
	const char *values[1] = { idbuf };
	PGresult *res;

	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	res = db_exec(fx->other, &stmt_event, values, NULL, NULL);
	assert_non_null(res);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return NULL;
	}
	return res;
}

static void
test_refused_outside_transaction(void **state)
{
	struct fixture *fx = *state;
	PGresult *res;
	int64_t id = 99;

	assert_int_equal(audit_append(fx->db, fx->actor, "test.outside",
	    "test", "1", NULL, &id), -1);
	assert_int_equal(id, 0);
	assert_int_equal(count_events(fx), 0);

	/* Nor inside a failed transaction. */
	assert_int_equal(db_begin(fx->db, NULL), 0);
	res = PQexec(db_conn(fx->db), "SELECT 1/0");
	assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	PQclear(res);
	assert_int_equal(PQtransactionStatus(db_conn(fx->db)),
	    PQTRANS_INERROR);
	assert_int_equal(audit_append(fx->db, fx->actor, "test.failed",
	    "test", "1", NULL, &id), -1);
	assert_int_equal(db_rollback(fx->db), 0);
	assert_int_equal(count_events(fx), 0);
}

static void
test_commit_visible(void **state)
{
	struct fixture *fx = *state;
	json_t *details;
	PGresult *res;
	int64_t id = 0, id2 = 0;
	json_t *stored;

	details = json_pack("{s:s, s:i, s:{s:b}}", "serial", "0a1b2c",
	    "n", 3, "nested", "ok", 1);
	assert_non_null(details);
	assert_int_equal(db_begin(fx->db, NULL), 0);
	assert_int_equal(audit_append(fx->db, fx->actor, "cert.issue",
	    "certificate", "0a1b2c", details, &id), 0);
	assert_true(id > 0);
	/* Not visible to others before commit. */
	assert_null(fetch_event(fx, id));
	assert_int_equal(audit_append(fx->db, fx->actor, "cert.publish",
	    "certificate", NULL, NULL, &id2), 0);
	assert_true(id2 > id);
	assert_int_equal(db_commit(fx->db), 0);
	json_decref(details);

	res = fetch_event(fx, id);
	assert_non_null(res);
	assert_string_equal(PQgetvalue(res, 0, 0), fx->actor);
	assert_string_equal(PQgetvalue(res, 0, 1), "cert.issue");
	assert_string_equal(PQgetvalue(res, 0, 2), "certificate");
	assert_string_equal(PQgetvalue(res, 0, 3), "0a1b2c");
	/* Stored as jsonb, not as a string holding JSON. */
	assert_string_equal(PQgetvalue(res, 0, 4), "object");
	assert_string_equal(PQgetvalue(res, 0, 6), "0a1b2c");
	stored = json_loads(PQgetvalue(res, 0, 5), 0, NULL);
	assert_non_null(stored);
	assert_true(json_is_true(json_object_get(json_object_get(stored,
	    "nested"), "ok")));
	assert_int_equal(json_integer_value(json_object_get(stored, "n")), 3);
	json_decref(stored);
	PQclear(res);

	/* details NULL: '{}'; object_id NULL: SQL NULL. */
	res = fetch_event(fx, id2);
	assert_non_null(res);
	assert_true(PQgetisnull(res, 0, 3));
	assert_string_equal(PQgetvalue(res, 0, 5), "{}");
	PQclear(res);
	assert_int_equal(count_events(fx), 2);
}

static void
test_rollback_gone(void **state)
{
	struct fixture *fx = *state;
	int64_t id = 0;
	long before = count_events(fx);

	assert_int_equal(db_begin(fx->db, "SERIALIZABLE"), 0);
	assert_int_equal(audit_append(fx->db, fx->actor, "cert.revoke",
	    "certificate", "ff", NULL, &id), 0);
	assert_true(id > 0);
	assert_int_equal(db_rollback(fx->db), 0);
	assert_null(fetch_event(fx, id));
	assert_int_equal(count_events(fx), before);
}

/* A batch: one event per element, in order, all or nothing. */
static void
test_append_many(void **state)
{
	struct fixture *fx = *state;
	static const struct db_stmt stmt_batch = {
		"test_audit_batch",
		"SELECT string_agg(details->>'hash', ',' ORDER BY id) FROM "
		"audit_event WHERE actor = $1 AND action = 'sign.hash'",
		1
	};
	const char *values[1] = { fx->actor };
	json_t *arr, *bad;
	PGresult *res;
	long before = count_events(fx);

	arr = json_pack("[{s:s}, {s:s}, {s:s}]", "hash", "aa", "hash", "bb",
	    "hash", "cc");
	bad = json_pack("[{s:s}, s]", "hash", "dd", "not an object");
	assert_non_null(arr);
	assert_non_null(bad);
	/* Outside a transaction: refused. */
	assert_int_equal(audit_append_many(fx->db, fx->actor, "sign.hash",
	    "sign_credential", "7", arr), -1);
	assert_int_equal(db_begin(fx->db, NULL), 0);
	assert_int_equal(audit_append_many(fx->db, fx->actor, "sign.hash",
	    "sign_credential", "7", bad), -1);
	assert_int_equal(audit_append_many(fx->db, fx->actor, "sign.hash",
	    "sign_credential", "7", arr), 0);
	assert_int_equal(db_commit(fx->db), 0);
	assert_int_equal(count_events(fx), before + 3);
	res = db_exec(fx->other, &stmt_batch, values, NULL, NULL);
	assert_non_null(res);
	assert_string_equal(PQgetvalue(res, 0, 0), "aa,bb,cc");
	PQclear(res);
	/* Rolled back with its transaction. */
	assert_int_equal(db_begin(fx->db, NULL), 0);
	assert_int_equal(audit_append_many(fx->db, fx->actor, "sign.hash",
	    "sign_credential", "7", arr), 0);
	assert_int_equal(db_rollback(fx->db), 0);
	assert_int_equal(count_events(fx), before + 3);
	json_decref(arr);
	json_decref(bad);
}

static void
test_bad_arguments(void **state)
{
	struct fixture *fx = *state;
	json_t *arr = json_array();
	int64_t id;

	assert_int_equal(db_begin(fx->db, NULL), 0);
	assert_int_equal(audit_append(fx->db, NULL, "a", "t", NULL, NULL,
	    &id), -1);
	assert_int_equal(audit_append(fx->db, fx->actor, NULL, "t", NULL,
	    NULL, &id), -1);
	assert_int_equal(audit_append(fx->db, fx->actor, "a", NULL, NULL,
	    NULL, &id), -1);
	/* Details are key/value: a bare array is refused. */
	assert_int_equal(audit_append(fx->db, fx->actor, "a", "t", NULL, arr,
	    &id), -1);
	/* id_out may be NULL. */
	assert_int_equal(audit_append(fx->db, fx->actor, "a", "t", NULL, NULL,
	    NULL), 0);
	assert_int_equal(db_rollback(fx->db), 0);
	assert_int_equal(audit_append(NULL, fx->actor, "a", "t", NULL, NULL,
	    &id), -1);
	json_decref(arr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_outside_transaction),
		cmocka_unit_test(test_commit_visible),
		cmocka_unit_test(test_rollback_gone),
		cmocka_unit_test(test_append_many),
		cmocka_unit_test(test_bad_arguments),
	};

	if (getenv("PKI_TEST_PG_URI") == NULL) {
		fprintf(stderr, "test_audit: FAIL: PKI_TEST_PG_URI is not set; "
		    "run through tests/run.sh, which starts PostgreSQL and "
		    "applies schema/\n");
		return 1;
	}
	log_init("test_audit", LOGL_ERR, NULL);
	return cmocka_run_group_tests(tests, setup, teardown);
}
