/*
 * PostgreSQL helpers over libpq: named prepared statements prepared once per
 * connection on first use, transactions, and retry on serialization failure
 * or deadlock (SQLSTATE 40001, 40P01). A connection the server closed (a
 * restart, a failover) is made again before the next statement outside a
 * transaction (db_listen's LISTENs with it); inside one it fails (08006).
 * Making it again is bounded whatever the server does (10 s to connect,
 * 10 s for the LISTENs, or the connection's timeout if shorter); the
 * statements themselves wait as long as the server takes unless
 * db_set_timeout says otherwise.
 */
#ifndef PKI_DB_H
#define PKI_DB_H

#include <stddef.h>
#include <libpq-fe.h>

struct db;

/*
 * A statement is defined once, statically, by its caller:
 *	static const struct db_stmt stmt_cert_insert = {
 *	    "ca_certstore_insert", "INSERT INTO ...", 3 };
 * The name says who uses it (component_function_purpose).
 */
struct db_stmt {
	const char	*name;
	const char	*sql;
	int		 nparams;
};

/* Connects with a libpq conninfo/URI. NULL with a message in err. */
struct db	*db_connect(const char *conninfo, char *err, size_t errlen);
void		 db_close(struct db *);
/*
 * The files libpq opens at each connection made with conninfo, those that
 * exist: the password file (unless the string holds a password), and
 * unless sslmode is disable the TLS root certificate, CRL (file and
 * directory), client certificate and key; each as the string names it, or
 * libpq's environment variable (PGPASSFILE, PGSSLROOTCERT, ...), or its
 * default place under $HOME. A daemon's sandbox must let it read them
 * (daemon_limit_files(), lib/daemon.h): libpq opens them again when it
 * reconnects. Up to max paths (malloc'd; the caller frees them) into
 * paths; returns how many, or -1 with err when conninfo does not parse or
 * names more than max.
 */
int		 db_conninfo_files(const char *conninfo, char **paths, size_t max,
		    char *err, size_t errlen);
/*
 * PQconninfoParse() whose error names no part of the string (libpq's may
 * quote a password). Free with PQconninfoFree(); NULL with err.
 */
PQconninfoOption *db_conninfo_parse(const char *conninfo, char *err,
		    size_t errlen);
/*
 * Bounds every later command on this connection to timeout_ms (0: none,
 * the default): each statement, BEGIN, COMMIT, ROLLBACK, LISTEN and each
 * message of a COPY is awaited that long at most, whatever the server
 * does. A server that stops answering (a stopped or hung backend, a
 * proxy or network that drops what it is sent while the kernel keeps the
 * connection) lets no statement_timeout fire, and keepalives see nothing
 * wrong: without a timeout the caller waits for ever. Past it: SQLSTATE
 * 57014 (db_unavailable() set), the transaction lost, and the connection
 * made anew by the next call outside a transaction (db_exec_bounded's
 * rules: the server may still be at the command; a COMMIT given up may
 * have committed). Choose it above the role's statement_timeout and
 * lock_timeout (schema/058), so that the server's bounds fire first and
 * keep the connection. The data of db_copy_bytea is still sent in
 * libpq's blocking way. 0, or -1 on a NULL db or a negative timeout.
 */
int		 db_set_timeout(struct db *, long timeout_ms);
PGconn		*db_conn(struct db *);
/*
 * Drops the notifications libpq has already received, during any query or
 * PQconsumeInput, and returns how many there were. A LISTENing loop calls it
 * before it sleeps: those notifications are no longer on the socket.
 */
int		 db_notified(struct db *);
/*
 * db_notified, giving each notification to fn(arg, channel, payload)
 * first (both strings valid during the call only; payload "" when none
 * was sent). A LISTENing loop that acts on payloads calls it instead.
 * The payload is whatever the NOTIFY said: any role that may connect
 * may NOTIFY any channel, so fn checks it like any other input.
 */
typedef void	 (*db_notify_fn)(void *arg, const char *channel,
		    const char *payload);
int		 db_notifications(struct db *, db_notify_fn fn, void *arg);

/*
 * Executes stmt (preparing it on this connection first if needed) with text
 * parameters; values may contain NULL for SQL NULL. lengths/formats may be
 * NULL (all text). Returns the result when its status is COMMAND_OK or
 * TUPLES_OK; otherwise logs, clears and returns NULL, leaving the SQLSTATE
 * readable through db_last_sqlstate(). Caller PQclear()s the result.
 */
PGresult	*db_exec(struct db *, const struct db_stmt *stmt,
		    const char *const *values, const int *lengths,
		    const int *formats);
/*
 * db_exec for a caller that must not wait longer than timeout_ms in all,
 * whatever the server does: one that stops answering (a stopped or hung
 * backend, a network that drops packets) lets no statement_timeout fire.
 * A connection the server closed is made again without blocking
 * (PQresetStart), and the statement is prepared, sent and awaited with
 * poll() against the deadline. A connection not made by the deadline:
 * NULL, SQLSTATE 08006, and the next bounded call goes on making it (for
 * 10 s in all, then starts again), so a server slower to reach than one
 * deadline is reached. A statement not answered by the deadline: NULL,
 * SQLSTATE 57014, and the connection is made anew at the next call
 * rather than waited for (the server may still be at the statement).
 * Outside a transaction only, text parameters. A connection made anew
 * here does not LISTEN again (the next db_exec would, within its own
 * bounds, db_listen): a caller that LISTENs notices the new connection
 * (PQbackendPID) and LISTENs again with db_listen_bounded. Not a cancel:
 * PQcancel blocks on a server that does not answer.
 */
PGresult	*db_exec_bounded(struct db *, const struct db_stmt *stmt,
		    const char *const *values, long timeout_ms);
/*
 * db_listen for a caller that must not wait longer than timeout_ms in
 * all (db_exec_bounded's rules): a connection the server closed is made
 * again without blocking, and sql is sent and awaited with poll()
 * against the deadline. A server that accepts a connection and then
 * stalls at the LISTEN held db_listen's PQexec for ever. Past the
 * deadline: -1, SQLSTATE 57014, and the connection is made anew at the
 * next call; after any failure sql is still to be run (this again, or
 * the next call outside a transaction, within db_ready's bounds: lib/db.c).
 * 0 or -1.
 */
int		 db_listen_bounded(struct db *, const char *sql,
		    long timeout_ms);
/*
 * Executes stmt in libpq's single-row mode and calls fn(arg, row) for each
 * row as it arrives (row: a one-row result, valid during the call only), so
 * a result of millions of rows is never held in memory; binary asks for
 * the binary form of every column (PQfformat 1: network byte order, see
 * the type's send function). fn returns 0 to go
 * on or -1 to stop (the rest is read and dropped). Returns 0 when every row
 * went to fn, -1 otherwise (fn's refusal, or a failure logged with its
 * SQLSTATE readable through db_last_sqlstate()).
 */
typedef int	 (*db_row_fn)(void *arg, const PGresult *row);
int		 db_exec_rows(struct db *, const struct db_stmt *stmt,
		    const char *const *values, int binary, db_row_fn fn,
		    void *arg);
/*
 * Rows of a binary COPY ("COPY (SELECT ...) TO STDOUT (FORMAT binary)"),
 * for results of millions of rows: libpq hands each row over as one
 * buffer, where single-row mode builds a PGresult per row (about half the
 * time of a 100,000-row CRL). A COPY takes no parameters: copy_sql holds
 * its values as literals, so only values the caller made or checked (numbers
 * it printed, a snapshot it validated) may go into it. fn(arg, row) per row,
 * row valid during the call only; the rest as db_exec_rows.
 */
#define DB_ROW_FIELDS	16
struct db_row {
	int			 nfields;
	const unsigned char	*value[DB_ROW_FIELDS];	/* NULL for SQL NULL */
	int			 length[DB_ROW_FIELDS];	/* -1 for SQL NULL */
};
typedef int	 (*db_copy_row_fn)(void *arg, const struct db_row *row);
int		 db_copy_rows(struct db *, const char *copy_sql,
		    db_copy_row_fn fn, void *arg);
/*
 * The binary COPY stream's parser, one CopyData message at a time (the
 * server sends the header with the first row, then a row a message, then
 * the trailer; a row split across messages is refused). st starts zeroed.
 * Returns 1 after the trailer, 0 to go on, -1 on bytes that are not binary
 * COPY (st->bad) or fn's -1 (st->stopped); after anything but 0, every
 * further message gets -1.
 */
struct db_copy_state {
	int	header_seen;
	int	trailer_seen;
	int	stopped;	/* fn said -1 */
	int	bad;		/* the bytes were not binary COPY */
};
int		 db_copy_parse(struct db_copy_state *st,
		    const unsigned char *msg, size_t len, db_copy_row_fn fn,
		    void *arg);
/* Executes stmt and returns 0 when it succeeded (result discarded). */
int		 db_exec_ok(struct db *, const struct db_stmt *stmt,
		    const char *const *values);
/*
 * Streams one bytea value to PostgreSQL: copy_sql is "COPY t (col) FROM
 * STDIN (FORMAT binary)" for a single bytea column; data goes as it is in
 * chunks of DB_COPY_CHUNK bytes, so libpq never holds a copy of the whole
 * value (a CRL of a million entries). At most INT32_MAX bytes. 0, or -1
 * with the SQLSTATE as db_exec sets it.
 */
#define DB_COPY_CHUNK	65536
/* A statement without parameters that cannot be prepared (CREATE, LISTEN). */
int		 db_run(struct db *, const char *sql);
/*
 * Whether the database's schema is at version min or later (schema_version,
 * deploy/migrate.sh). 0, or -1 with err naming who needs what (who_needs
 * "ocspd needs", what "certificate.issue_xid": "the database is at schema
 * version 70; ocspd needs 71 (certificate.issue_xid): run deploy/migrate.sh
 * first"), or the SQLSTATE of a failed read.
 */
int		 db_schema_check(struct db *, int min, const char *who_needs,
		    const char *what, char *err, size_t errlen);
/*
 * db_schema_check whose read waits timeout_ms at most (db_exec_bounded's
 * rules: outside a transaction; past it the SQLSTATE in err is 57014).
 */
int		 db_schema_check_bounded(struct db *, int min,
		    const char *who_needs, const char *what, long timeout_ms,
		    char *err, size_t errlen);
/*
 * Runs sql ("LISTEN a; LISTEN b") now and again whenever the connection is
 * made anew. Every call outside a transaction first makes sure the
 * connection is alive and, when the server closed it (a restart, a
 * failover) or a command was given up (db_set_timeout), connects again:
 * a daemon recovers without a restart. Connecting again and the LISTENs
 * are bounded (10 s each, or the connection's timeout if shorter): a
 * server that accepts the connection and stalls holds no caller. A LISTEN
 * refused, lost or late is still to be run: -1 now (the SQLSTATE says
 * why), and every later call outside a transaction runs it again first,
 * failing as long as it does. 0 or -1.
 */
int		 db_listen(struct db *, const char *sql);
int		 db_copy_bytea(struct db *, const char *copy_sql,
		    const unsigned char *data, size_t len);
/*
 * SQLSTATE of the most recent command on this connection if it failed, or
 * "" after a success. db_rollback() keeps the SQLSTATE that caused it;
 * "08006" stands for a lost connection.
 */
const char	*db_last_sqlstate(const struct db *);

/*
 * Whether a command of the calling thread failed since
 * db_unavailable_clear() because no usable server was there (connection
 * lost or refused, the server shutting down or starting, a write on a
 * standby) or because a lock or the statement took longer than the role's
 * bound (lock_timeout, statement_timeout: schema/058): a request that
 * failed that way may succeed a moment later, so lib/http answers it with
 * 503 and Retry-After
 * (DB_RETRY_AFTER_S) instead of 500. lib/http clears it before each request.
 */
#define DB_RETRY_AFTER_S	5
int		 db_unavailable(void);
void		 db_unavailable_clear(void);

/*
 * Plain BEGIN/COMMIT/ROLLBACK; 0 or -1. isolation: NULL ("READ COMMITTED"),
 * "REPEATABLE READ" or "SERIALIZABLE"; anything else is refused. db_commit()
 * of a transaction that already failed rolls it back and returns -1.
 * db_begin() while the last transaction is still open (never committed or
 * rolled back, failed or not) rolls it back first, with a warning: none of
 * its changes commit with the new one.
 */
int		 db_begin(struct db *, const char *isolation);
int		 db_commit(struct db *);
int		 db_rollback(struct db *);

/*
 * Runs fn(db, arg) inside BEGIN ISOLATION LEVEL <isolation> ... COMMIT,
 * retrying the whole function up to max_attempts times when the
 * transaction fails with 40001 or 40P01. fn returns 0 (commit) or -1
 * (rollback, no retry unless the SQLSTATE says so). isolation NULL means
 * "READ COMMITTED". Returns 0 once committed, -1 otherwise.
 */
typedef int	 (*db_txn_fn)(struct db *, void *arg);
int		 db_transaction(struct db *, const char *isolation, int max_attempts,
		    db_txn_fn fn, void *arg);

/*
 * bytea as text parameters and results: db_bytea_param() gives the hex input
 * form ("\x0a1b...", malloc'd); db_bytea_value() decodes a column value into
 * *out (malloc'd, caller frees). 0 or -1.
 */
char		*db_bytea_param(const unsigned char *der, size_t len);
int		 db_bytea_value(const char *s, unsigned char **out, size_t *outlen);

#endif
