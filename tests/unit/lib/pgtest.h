/*
 * Shared by the lib unit tests that need PostgreSQL (included after
 * <cmocka.h>, not compiled alone): a database of the test's own on the
 * cluster of PKI_TEST_PG_URI (set by tests/run.sh; without it the test
 * fails, tests never skip), migrated from schema/ by deploy/migrate.sh and
 * dropped afterwards, with connections to it; and helpers that run one
 * statement.
 *
 * The functions are static inline: a test that uses only some of them
 * compiles without -Wunused-function.
 */
#ifndef PKI_TEST_PGTEST_H
#define PKI_TEST_PGTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "lib/db.h"

struct pgtest {
	char	dbname[64];
	char	admin_uri[1024];	/* the cluster's postgres database */
	char	db_uri[1024];		/* ours */
};

/* Runs sql on conn; the first value of its result, malloc'd ("" if none). */
static inline char *
sql1(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	char *v;

	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(conn));
	v = strdup(PQntuples(res) > 0 && PQnfields(res) > 0 ?
	    PQgetvalue(res, 0, 0) : "");
	assert_non_null(v);
	PQclear(res);
	return v;
}

static inline void
sql0(PGconn *conn, const char *sql)
{
	free(sql1(conn, sql));
}

static inline long
sql_long(PGconn *conn, const char *sql)
{
	char *v = sql1(conn, sql);
	long n = strtol(v, NULL, 10);

	free(v);
	return n;
}

static inline long long
sql_ll(PGconn *conn, const char *sql)
{
	char *v = sql1(conn, sql);
	long long n = strtoll(v, NULL, 10);

	free(v);
	return n;
}

/*
 * Creates the database <prefix>_<pid> and migrates it; fails the test
 * otherwise. Undone by pgtest_drop().
 */
static inline void
pgtest_create(struct pgtest *pg, const char *prefix)
{
	const char *uri = getenv("PKI_TEST_PG_URI");
	char cmd[2300], sql[128];
	PGconn *admin;

	if (uri == NULL)
		fail_msg("PKI_TEST_PG_URI is not set (run through tests/run.sh)");
	memset(pg, 0, sizeof(*pg));
	snprintf(pg->dbname, sizeof(pg->dbname), "%s_%ld", prefix,
	    (long)getpid());
	/* A conninfo's last dbname wins. */
	snprintf(pg->admin_uri, sizeof(pg->admin_uri), "%s dbname=postgres",
	    uri);
	snprintf(pg->db_uri, sizeof(pg->db_uri), "%s dbname=%s", uri,
	    pg->dbname);
	admin = PQconnectdb(pg->admin_uri);
	if (PQstatus(admin) != CONNECTION_OK)
		fail_msg("%s: %s", pg->admin_uri, PQerrorMessage(admin));
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", pg->dbname);
	sql0(admin, sql);
	PQfinish(admin);
	snprintf(cmd, sizeof(cmd), "deploy/migrate.sh '%s' schema >/dev/null",
	    pg->db_uri);
	if (system(cmd) != 0)
		fail_msg("%s failed", cmd);
}

/*
 * Connects to the database twice: *sql as PKI_TEST_PG_URI's user, for the
 * test's own statements and checks; *db through lib/db, then SET ROLE role,
 * as the daemon under test. Fails the test otherwise. The caller closes
 * both (PQfinish, db_close) before pgtest_drop().
 */
static inline void
pgtest_connect(const struct pgtest *pg, const char *role, PGconn **sql,
    struct db **db)
{
	char err[512], set[128];

	*sql = PQconnectdb(pg->db_uri);
	assert_int_equal(PQstatus(*sql), CONNECTION_OK);
	if ((*db = db_connect(pg->db_uri, err, sizeof(err))) == NULL)
		fail_msg("db_connect: %s", err);
	snprintf(set, sizeof(set), "SET ROLE %s", role);
	assert_int_equal(db_run(*db, set), 0);
}

/* Drops the database, closing whatever is still connected to it. */
static inline void
pgtest_drop(const struct pgtest *pg)
{
	char sql[128];
	PGconn *admin;

	admin = PQconnectdb(pg->admin_uri);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
	    pg->dbname);
	PQclear(PQexec(admin, sql));
	PQfinish(admin);
}

#endif
