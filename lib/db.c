/*
 * PostgreSQL helpers over libpq. See lib/db.h.
 *
 * Each struct db owns one connection and remembers which statement names it
 * has prepared there, so a statement is parsed and planned once per
 * connection however often it runs.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sys/socket.h>
#include <sys/stat.h>

#include <libpq-fe.h>

#include "lib/db.h"
#include "lib/log.h"

/* Back-off before retrying a serialization failure: doubles, capped. */
#define DB_RETRY_BASE_MS	5
#define DB_RETRY_MAX_MS		250
/*
 * How long a bounded reconnection (db_reset_until) is gone on with over
 * several calls before it is started again: libpq's connect_timeout
 * (db_conn_values), which only its blocking calls apply.
 */
#define DB_RESET_MAX_MS		10000
/*
 * How long db_ready waits at most for the LISTEN it makes again after a
 * reconnection, when the connection has no shorter timeout
 * (db_set_timeout): a LISTEN takes no lock worth waiting for, so a server
 * that has not answered it by then is not going to.
 */
#define DB_LISTEN_MS		10000

struct db {
	PGconn	 *conn;
	char	  sqlstate[6];	/* last failure, "" after success */
	int	  retryable;	/* 40001/40P01 seen since the last BEGIN */
	char	**prepared;	/* statement names prepared on conn */
	size_t	  nprepared;
	size_t	  capprepared;
	int	  in_txn;	/* between db_begin and db_commit/db_rollback */
	char	 *listen;	/* db_listen's commands, run again on a reconnect */
	int	  relisten;	/* reconnected, listen not yet run again */
	int	  closing;	/* the server said FATAL: it closes the connection */
	/*
	 * A bounded reconnection (db_reset_until) not done by its deadline:
	 * the next bounded call goes on with it (reset_st, PQresetPoll's
	 * last word) rather than start it again, until DB_RESET_MAX_MS
	 * after reset_at.
	 */
	int	  resetting;
	int	  reset_st;
	int64_t	  reset_at;
	long	  timeout_ms;	/* db_set_timeout; 0: none */
};

/* This thread met an unreachable database since db_unavailable_clear(). */
static __thread int db_thread_unavailable;

int
db_unavailable(void)
{
	return db_thread_unavailable;
}

void
db_unavailable_clear(void)
{
	db_thread_unavailable = 0;
}

/*
 * Connection exceptions (class 08), the server shutting down or starting
 * (57P01-57P03), and a write refused by a standby (25006): states in which
 * the same request can succeed shortly, on a server back or promoted.
 */
static int
db_state_unavailable(const char *sqlstate)
{
	return strncmp(sqlstate, "08", 2) == 0 ||
	    strcmp(sqlstate, "57P01") == 0 || strcmp(sqlstate, "57P02") == 0 ||
	    strcmp(sqlstate, "57P03") == 0 || strcmp(sqlstate, "25006") == 0;
}

/* The connection is gone: SQLSTATE 08006. */
static void
db_lost(struct db *db)
{
	snprintf(db->sqlstate, sizeof(db->sqlstate), "08006");
	db_thread_unavailable = 1;
}

static void	db_fail(struct db *, const char *, const PGresult *);
static int64_t	db_mono_ms(void);
static int	db_reset_until(struct db *, int64_t);
static int	db_results_until(struct db *, int64_t, PGresult **);
static void	db_late(struct db *, const char *, long);
static void	db_send_lost(struct db *, const char *);
static PGresult	*db_await(struct db *, int, const char *);

/*
 * Notices (e.g. from RAISE NOTICE) go to our log, not raw to stderr. A
 * FATAL received while idle comes this way too (pg_terminate_backend, a
 * shutdown): the server closes the connection after it.
 */
static void
db_notice(void *arg, const PGresult *res)
{
	struct db *db = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	char buf[1024];
	size_t len;

	if (sev != NULL && (strcmp(sev, "FATAL") == 0 ||
	    strcmp(sev, "PANIC") == 0))
		db->closing = 1;
	snprintf(buf, sizeof(buf), "%s", PQresultErrorMessage(res));
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	log_info("db: server notice: %s", buf);
}

/*
 * Host names, resolved once per connection string. libpq resolves them at
 * every connection attempt, PQreset's too, with getaddrinfo, which opens
 * /etc/hosts and friends: after the seccomp filter (lib/sandbox.c) that
 * ends a daemon on its first reconnect. Every daemon connects at start-up,
 * before its sandbox, so the first db_connect with a string resolves it and
 * every later connection with that string (and every PQreset) gets the
 * addresses as hostaddr, the names kept as host (for TLS and .pgpass). A
 * name that moves to another address is followed after a restart
 * (deploy/README.md "PostgreSQL high availability").
 */
struct db_pin {
	char		*conninfo;
	char		*host;		/* NULL: nothing to resolve */
	char		*hostaddr;
	char		*port;		/* NULL: the conninfo's own */
	struct db_pin	*next;
};
static pthread_mutex_t db_pin_lock = PTHREAD_MUTEX_INITIALIZER;
static struct db_pin *db_pins;

/* Growing comma-separated lists of host, hostaddr and port. */
struct db_pin_lists {
	char	*list[3];
	size_t	 len[3];
	size_t	 n;
};

static int
db_pin_add(struct db_pin_lists *l, const char *host, const char *addr,
    const char *port)
{
	const char *v[3] = { host, addr, port };
	size_t i, add;
	char *p;

	for (i = 0; i < 3; i++) {
		add = strlen(v[i]) + (l->n > 0) + 1;
		if ((p = realloc(l->list[i], l->len[i] + add)) == NULL)
			return -1;
		l->list[i] = p;
		l->len[i] += (size_t)snprintf(p + l->len[i], add, "%s%s",
		    l->n > 0 ? "," : "", v[i]);
	}
	l->n++;
	return 0;
}

/* The n-th (0-based) item of a comma-separated list, copied into buf. */
static const char *
db_pin_item(const char *list, size_t n, char *buf, size_t buflen)
{
	size_t len;

	while (n-- > 0 && list != NULL)
		list = (list = strchr(list, ',')) != NULL ? list + 1 : NULL;
	if (list == NULL)
		return NULL;
	len = strcspn(list, ",");
	if (len >= buflen)
		len = buflen - 1;
	memcpy(buf, list, len);
	buf[len] = '\0';
	return buf;
}

static size_t
db_pin_count(const char *list)
{
	size_t n = 1;

	for (; *list != '\0'; list++)
		n += *list == ',';
	return n;
}

/*
 * PQconninfoParse() without its message: libpq quotes the part it could
 * not read, which may be a password ("invalid percent-encoded token:
 * \"Tr0ub4dor%2G3\"" for a URI with one mistyped escape), and the
 * daemons log err. Until 2026-12-06 it was passed on. NULL with err.
 */
PQconninfoOption *
db_conninfo_parse(const char *conninfo, char *err, size_t errlen)
{
	PQconninfoOption *opts;
	char *perr = NULL;

	if ((opts = PQconninfoParse(conninfo, &perr)) == NULL)
		snprintf(err, errlen, "connection string: %s", perr != NULL ?
		    "does not parse (check its quoting and %-escapes; libpq's "
		    "message is not shown: it may quote a password)" :
		    "out of memory");
	PQfreemem(perr);
	return opts;
}

/* Fills pin's lists from conninfo's host names; 0, or -1 with err. */
static int
db_pin_resolve(const char *conninfo, struct db_pin *pin, char *err,
    size_t errlen)
{
	struct db_pin_lists l = { { NULL, NULL, NULL }, { 0, 0, 0 }, 0 };
	PQconninfoOption *opts = NULL, *o;
	const char *host = NULL, *hostaddr = NULL, *port = NULL, *h, *pt;
	struct addrinfo hints, *res = NULL, *ai;
	char hbuf[256], pbuf[32], abuf[NI_MAXHOST];
	size_t i, nhosts, nports, before;
	int rc = -1, named = 0, grc;

	if ((opts = db_conninfo_parse(conninfo, err, errlen)) == NULL)
		return -1;
	for (o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
	}
	/* A socket directory, or addresses given: libpq reads no file. */
	if (host == NULL || *host == '\0' || (hostaddr != NULL &&
	    *hostaddr != '\0')) {
		rc = 0;
		goto out;
	}
	nhosts = db_pin_count(host);
	nports = port != NULL && *port != '\0' ? db_pin_count(port) : 0;
	if (nports > 1 && nports != nhosts) {
		rc = 0;		/* libpq says what is wrong */
		goto out;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	for (i = 0; i < nhosts; i++) {
		h = db_pin_item(host, i, hbuf, sizeof(hbuf));
		pt = nports > 1 ? db_pin_item(port, i, pbuf, sizeof(pbuf)) :
		    "";
		if (h == NULL || pt == NULL)
			goto nomem;
		/* An empty item, a socket directory or an abstract socket. */
		if (*h == '\0' || *h == '/' || *h == '@') {
			if (db_pin_add(&l, h, "", pt) == -1)
				goto nomem;
			continue;
		}
		if ((grc = getaddrinfo(h, NULL, &hints, &res)) != 0) {
			snprintf(err, errlen, "database host %s: %s", h,
			    gai_strerror(grc));
			goto out;
		}
		before = l.n;
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			if (getnameinfo(ai->ai_addr, ai->ai_addrlen, abuf,
			    sizeof(abuf), NULL, 0, NI_NUMERICHOST) != 0)
				continue;
			/* One entry per address: libpq tries them in turn. */
			if (db_pin_add(&l, h, abuf, pt) == -1)
				goto nomem;
		}
		freeaddrinfo(res);
		res = NULL;
		if (l.n == before) {
			snprintf(err, errlen, "database host %s: no address",
			    h);
			goto out;
		}
		named = 1;
	}
	if (named) {
		log_info("db: database hosts %s resolved once: %s", host,
		    l.list[1]);
		pin->host = l.list[0];
		pin->hostaddr = l.list[1];
		if (nports > 1)
			pin->port = l.list[2];
		else
			free(l.list[2]);
		memset(&l, 0, sizeof(l));
	}
	rc = 0;
	goto out;
nomem:
	snprintf(err, errlen, "resolving database hosts: out of memory");
out:
	if (res != NULL)
		freeaddrinfo(res);
	for (i = 0; i < 3; i++)
		free(l.list[i]);
	PQconninfoFree(opts);
	return rc;
}

/* conninfo's pin, made on first use; NULL with err. */
static const struct db_pin *
db_pin_get(const char *conninfo, char *err, size_t errlen)
{
	struct db_pin *pin;

	pthread_mutex_lock(&db_pin_lock);
	for (pin = db_pins; pin != NULL; pin = pin->next)
		if (strcmp(pin->conninfo, conninfo) == 0)
			goto out;
	if ((pin = calloc(1, sizeof(*pin))) == NULL ||
	    (pin->conninfo = strdup(conninfo)) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		free(pin);
		pin = NULL;
		goto out;
	}
	if (db_pin_resolve(conninfo, pin, err, errlen) == -1) {
		free(pin->conninfo);
		free(pin);
		pin = NULL;
		goto out;
	}
	/* Kept for the life of the process, as the strings it names. */
	pin->next = db_pins;
	db_pins = pin;
out:
	pthread_mutex_unlock(&db_pin_lock);
	return pin;
}

/*
 * TCP keepalives and a user time-out, unless the conninfo sets its own
 * (it comes after them, expanded as a connection string, so its values
 * win): a server that vanished (a failover's old host, a cut link) is
 * noticed in about 30 s instead of after TCP's ~15 min of retransmissions,
 * during which a query, and the thread that runs it (ocspd's sync), would
 * hang. PQreset keeps them. Unix sockets ignore them. No GSSAPI
 * encryption unless asked for: libpq's default (prefer) makes Kerberos read
 * its keytab at every TCP connection, which the sandbox forbids. The
 * client encoding (UTF8) is a parameter of the connection too, so that a
 * connection made anew without blocking (db_exec_bounded) has it. A
 * connection attempt gives up after 10 s (connect_timeout; libpq waits
 * for ever by default, and db_ready's PQreset then held its caller against
 * a server that accepts TCP but never answers). The resolved hosts come
 * last and replace the conninfo's (libpq ignores NULL values).
 */
#define DB_CONN_NKEYS	12
static const char *const db_conn_keys[DB_CONN_NKEYS + 1] = { "keepalives",
	"keepalives_idle", "keepalives_interval", "keepalives_count",
	"tcp_user_timeout", "gssencmode", "client_encoding", "connect_timeout",
	"dbname", "host", "hostaddr", "port", NULL };

static const char *const *
db_conn_values(const char *conninfo, const struct db_pin *pin,
    const char *values[DB_CONN_NKEYS + 1])
{
	values[0] = "1";
	values[1] = "10";
	values[2] = "5";
	values[3] = "3";
	values[4] = "30000";
	values[5] = "disable";
	values[6] = "UTF8";
	values[7] = "10";
	values[8] = conninfo;
	values[9] = pin->host;
	values[10] = pin->hostaddr;
	values[11] = pin->port;
	values[12] = NULL;
	return values;
}

/* What libpq reads at a connection: conninfo keyword, variable, default. */
static const struct {
	const char	*keyword;
	const char	*env;
	const char	*home;	/* below $HOME; NULL: no default */
	int		 tls;	/* not read with sslmode=disable */
} db_files[] = {
	{ "passfile", "PGPASSFILE", ".pgpass", 0 },
	{ "sslrootcert", "PGSSLROOTCERT", ".postgresql/root.crt", 1 },
	{ "sslcrl", "PGSSLCRL", ".postgresql/root.crl", 1 },
	{ "sslcrldir", "PGSSLCRLDIR", NULL, 1 },
	{ "sslcert", "PGSSLCERT", ".postgresql/postgresql.crt", 1 },
	{ "sslkey", "PGSSLKEY", ".postgresql/postgresql.key", 1 },
};

/* The conninfo's value of keyword, else the environment's; NULL if neither. */
static const char *
db_conninfo_value(const PQconninfoOption *opts, const char *keyword,
    const char *env)
{
	const PQconninfoOption *o;
	const char *v;

	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, keyword) == 0 && o->val != NULL &&
		    *o->val != '\0')
			return o->val;
	v = env != NULL ? getenv(env) : NULL;
	return v != NULL && *v != '\0' ? v : NULL;
}

int
db_conninfo_files(const char *conninfo, char **paths, size_t max, char *err,
    size_t errlen)
{
	PQconninfoOption *opts;
	struct stat st;
	const char *v, *home = getenv("HOME"), *mode;
	char path[4096];
	size_t i, n = 0;

	if ((opts = db_conninfo_parse(conninfo, err, errlen)) == NULL)
		return -1;
	mode = db_conninfo_value(opts, "sslmode", "PGSSLMODE");
	for (i = 0; i < sizeof(db_files) / sizeof(db_files[0]); i++) {
		if (db_files[i].tls && mode != NULL &&
		    strcmp(mode, "disable") == 0)
			continue;
		if (!db_files[i].tls &&
		    db_conninfo_value(opts, "password", "PGPASSWORD") != NULL)
			continue;
		if ((v = db_conninfo_value(opts, db_files[i].keyword,
		    db_files[i].env)) == NULL) {
			if (db_files[i].home == NULL || home == NULL ||
			    *home == '\0')
				continue;
			snprintf(path, sizeof(path), "%s/%s", home,
			    db_files[i].home);
			v = path;
		}
		if (stat(v, &st) == -1)
			continue;	/* libpq does without it */
		if (n == max || (paths[n] = strdup(v)) == NULL) {
			snprintf(err, errlen, "connection string: %s",
			    n == max ? "too many files to read" :
			    "out of memory");
			while (n > 0)
				free(paths[--n]);
			PQconninfoFree(opts);
			return -1;
		}
		n++;
	}
	PQconninfoFree(opts);
	return (int)n;
}

struct db *
db_connect(const char *conninfo, char *err, size_t errlen)
{
	struct db *db = NULL;
	const struct db_pin *pin;
	const char *values[DB_CONN_NKEYS + 1];
	char msg[512];
	size_t len;
	int rc = -1;

	if (errlen > 0)
		err[0] = '\0';
	if (conninfo == NULL) {
		snprintf(err, errlen, "db_connect: no connection string");
		goto out;
	}
	if ((pin = db_pin_get(conninfo, err, errlen)) == NULL)
		goto out;
	if ((db = calloc(1, sizeof(*db))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		goto out;
	}
	db->conn = PQconnectdbParams(db_conn_keys, db_conn_values(conninfo,
	    pin, values), 1);
	if (db->conn == NULL) {
		snprintf(err, errlen, "PQconnectdb: out of memory");
		goto out;
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(db->conn));
		len = strlen(msg);
		while (len > 0 && msg[len - 1] == '\n')
			msg[--len] = '\0';
		snprintf(err, errlen, "PQconnectdb: %s", msg);
		goto out;
	}
	/*
	 * client_encoding came with the start-up packet (db_conn_values): the
	 * server's answer is checked, not set again by a query, which no limit
	 * bounded (a server stalling after log-in held db_connect).
	 */
	if (strcmp(pg_encoding_to_char(PQclientEncoding(db->conn)),
	    "UTF8") != 0) {
		snprintf(err, errlen, "client_encoding is %s, not UTF8",
		    pg_encoding_to_char(PQclientEncoding(db->conn)));
		goto out;
	}
	PQsetNoticeReceiver(db->conn, db_notice, db);
	rc = 0;
out:
	if (rc == -1) {
		db_close(db);
		db = NULL;
	}
	return db;
}

void
db_close(struct db *db)
{
	size_t i;

	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	for (i = 0; i < db->nprepared; i++)
		free(db->prepared[i]);
	free(db->prepared);
	free(db->listen);
	free(db);
}

/*
 * The server's last words while we were idle (FATAL, given to db_notice)
 * come first and the end of the stream only on a further read (or not
 * yet: the backend may still be exiting): reads while readable, without
 * waiting. Notifications read here wait in libpq for PQnotifies.
 */
static void
db_read_idle(struct db *db)
{
	struct pollfd pfd;
	int i;

	for (i = 0; i < 4 && PQstatus(db->conn) == CONNECTION_OK; i++) {
		pfd.fd = PQsocket(db->conn);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (pfd.fd < 0 || poll(&pfd, 1, 0) <= 0)
			break;
		/* PQisBusy parses what was read (a FATAL goes to db_notice). */
		if (PQconsumeInput(db->conn) == 1)
			(void)PQisBusy(db->conn);
	}
}

/*
 * After a reset: the new session knows none of our prepared statements and
 * listens to nothing, so both are made again on their next use.
 */
static void
db_reconnected(struct db *db)
{
	size_t i;

	for (i = 0; i < db->nprepared; i++)
		free(db->prepared[i]);
	db->nprepared = 0;
	db->relisten = db->listen != NULL;
	log_info("db: connected to PostgreSQL again");
}

/*
 * Runs the LISTEN commands (db->listen) and awaits them until deadline
 * (timeout_ms: for the log). 0; or -1 with the failure recorded: refused
 * (the server's SQLSTATE), the connection lost (08006) or no answer in
 * time (57014, the connection made anew at the next call). After a
 * failure they are still to be run (db->relisten), by the next call.
 */
static int
db_listen_run(struct db *db, int64_t deadline, long timeout_ms)
{
	PGresult *res = NULL;
	int w;

	if (PQsendQuery(db->conn, db->listen) != 1 ||
	    (w = db_results_until(db, deadline, &res)) == -1) {
		db_send_lost(db, db->listen);
		return -1;
	}
	if (w == -2) {
		db_late(db, db->listen, timeout_ms);
		return -1;
	}
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_fail(db, db->listen, res);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	db->relisten = 0;
	return 0;
}

/* The smaller of a bound and the connection's timeout (db_set_timeout). */
static long
db_bound_ms(const struct db *db, long ms)
{
	return db->timeout_ms > 0 && db->timeout_ms < ms ? db->timeout_ms : ms;
}

/*
 * Makes sure a statement outside a transaction finds a live connection: one
 * the server has closed (a restart, a failover, pg_terminate_backend) or
 * one a command was given up on (db_late) is connected again with the same
 * parameters, its prepared statements forgotten and its LISTENs
 * (db_listen) made again, so a daemon recovers without being restarted.
 * Both are bounded whatever the server does: the connection is made
 * without blocking (db_reset_until) within DB_RESET_MAX_MS, the LISTENs
 * awaited DB_LISTEN_MS, or the connection's shorter timeout. Until
 * 2026-12-07 they were PQreset and PQexec: a server that accepted the
 * connection and then stalled held crld, cad and rad's notifier there for
 * ever. The server's FATAL message or the end of the stream makes the
 * socket readable while we are idle: one poll() notices it before the
 * statement is sent, not after. Inside a transaction nothing is made
 * again: the transaction is lost with the connection and fails, at once
 * when the connection is being given up. 0 when the connection is
 * usable, -1 (SQLSTATE 08006, 57014, or the LISTEN's) when not.
 */
static int
db_ready(struct db *db)
{
	long ms;

	if (db->in_txn) {
		if (db->closing)
			db_lost(db);
		return db->closing ? -1 : 0;
	}
	db_read_idle(db);
	if ((PQstatus(db->conn) != CONNECTION_OK || db->closing) &&
	    db_reset_until(db, db_mono_ms() + db_bound_ms(db,
	    DB_RESET_MAX_MS)) == -1)
		return -1;
	if (!db->relisten)
		return 0;
	ms = db_bound_ms(db, DB_LISTEN_MS);
	return db_listen_run(db, db_mono_ms() + ms, ms);
}

/*
 * Keeps sql as the connection's LISTEN commands, to be run (again) before
 * the next statement and after each reconnection. 0, or -1 (logged: who).
 */
static int
db_listen_set(struct db *db, const char *sql, const char *who)
{
	char *copy;

	if (db == NULL || sql == NULL || db->in_txn) {
		log_err("%s: invalid arguments", who);
		if (db != NULL)
			db->sqlstate[0] = '\0';
		return -1;
	}
	if ((copy = strdup(sql)) == NULL) {
		log_err("%s: out of memory", who);
		return -1;
	}
	free(db->listen);
	db->listen = copy;
	db->relisten = 1;
	db->sqlstate[0] = '\0';
	return 0;
}

int
db_listen(struct db *db, const char *sql)
{
	if (db_listen_set(db, sql, "db_listen") == -1)
		return -1;
	return db_ready(db);
}

int
db_notified(struct db *db)
{
	return db_notifications(db, NULL, NULL);
}

int
db_notifications(struct db *db, db_notify_fn fn, void *arg)
{
	PGnotify *n;
	int count = 0;

	while ((n = PQnotifies(db->conn)) != NULL) {
		if (fn != NULL)
			fn(arg, n->relname != NULL ? n->relname : "",
			    n->extra != NULL ? n->extra : "");
		PQfreemem(n);
		count++;
	}
	return count;
}

PGconn *
db_conn(struct db *db)
{
	return db != NULL ? db->conn : NULL;
}

const char *
db_last_sqlstate(const struct db *db)
{
	return db != NULL ? db->sqlstate : "";
}

static int
db_is_retryable(const char *sqlstate)
{
	return strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0;
}

/*
 * Records and logs a failed command. res may be NULL (out of memory or
 * connection lost). what names the statement or command. Only the primary
 * message is logged: DETAIL may quote row values.
 */
static void
db_fail(struct db *db, const char *what, const PGresult *res)
{
	const char *state = NULL, *msg = NULL;
	char buf[512];
	size_t len;

	if (res != NULL) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	}
	if (state == NULL || strlen(state) != 5)
		state = PQstatus(db->conn) == CONNECTION_BAD ? "08006" : "";
	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state);
	if (msg == NULL) {
		snprintf(buf, sizeof(buf), "%s", PQerrorMessage(db->conn));
		len = strlen(buf);
		while (len > 0 && buf[len - 1] == '\n')
			buf[--len] = '\0';
		msg = buf;
	}
	if (db_is_retryable(db->sqlstate)) {
		db->retryable = 1;
		log_warn("db: %s: %s (SQLSTATE %s)", what, msg, db->sqlstate);
	} else if (db_state_unavailable(db->sqlstate)) {
		/* Operations, not a fault of ours: a restart or failover. */
		db_thread_unavailable = 1;
		log_warn("db: %s: %s (SQLSTATE %s)", what, msg, db->sqlstate);
	} else if (strcmp(db->sqlstate, "55P03") == 0 ||
	    strcmp(db->sqlstate, "57014") == 0) {
		/*
		 * lock_timeout, statement_timeout (the role's, schema/058):
		 * a bound we set, met. Busy for now, as during a restart:
		 * the client may try again (503 with Retry-After).
		 */
		db_thread_unavailable = 1;
		log_warn("db: %s: %s (SQLSTATE %s)", what, msg, db->sqlstate);
	} else
		log_err("db: %s: %s (SQLSTATE %s)", what, msg,
		    db->sqlstate[0] != '\0' ? db->sqlstate : "none");
}

static int
db_is_prepared(const struct db *db, const char *name)
{
	size_t i;

	for (i = 0; i < db->nprepared; i++) {
		if (strcmp(db->prepared[i], name) == 0)
			return 1;
	}
	return 0;
}

static void
db_forget(struct db *db, const char *name)
{
	size_t i;

	for (i = 0; i < db->nprepared; i++) {
		if (strcmp(db->prepared[i], name) == 0) {
			free(db->prepared[i]);
			db->prepared[i] = db->prepared[--db->nprepared];
			return;
		}
	}
}

/*
 * Room for one more prepared name, and a copy of stmt's (*name, malloc'd),
 * made before the statement is prepared: once the server has it, it is
 * recorded (db->prepared[db->nprepared++] = *name) without an allocation
 * that could fail. 0 or -1 (logged).
 */
static int
db_prepare_reserve(struct db *db, const struct db_stmt *stmt, char **name)
{
	char **np;
	size_t ncap;

	*name = NULL;
	if (db->nprepared == db->capprepared) {
		ncap = db->capprepared == 0 ? 16 : db->capprepared * 2;
		np = reallocarray(db->prepared, ncap, sizeof(*np));
		if (np == NULL) {
			log_err("db: %s: reallocarray: %s", stmt->name,
			    strerror(errno));
			return -1;
		}
		db->prepared = np;
		db->capprepared = ncap;
	}
	if ((*name = strdup(stmt->name)) == NULL) {
		log_err("db: %s: strdup: %s", stmt->name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Prepares stmt on this connection unless done already. 0 or -1. */
static int
db_prepare(struct db *db, const struct db_stmt *stmt)
{
	PGresult *res = NULL;
	char *name = NULL;
	int rc = -1;

	if (db_is_prepared(db, stmt->name))
		return 0;
	if (db_prepare_reserve(db, stmt, &name) == -1)
		goto out;
	if ((res = db_await(db, PQsendPrepare(db->conn, stmt->name, stmt->sql,
	    stmt->nparams, NULL), stmt->name)) == NULL)
		goto out;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_fail(db, stmt->name, res);
		goto out;
	}
	db->prepared[db->nprepared++] = name;
	name = NULL;
	rc = 0;
out:
	PQclear(res);
	free(name);
	return rc;
}

PGresult *
db_exec(struct db *db, const struct db_stmt *stmt, const char *const *values,
    const int *lengths, const int *formats)
{
	PGresult *res = NULL;
	ExecStatusType st;
	int again = 1;

	if (db == NULL || stmt == NULL || stmt->name == NULL ||
	    stmt->sql == NULL || stmt->nparams < 0 ||
	    (stmt->nparams > 0 && values == NULL)) {
		log_err("db_exec: invalid arguments");
		if (db != NULL)
			db->sqlstate[0] = '\0';
		return NULL;
	}
	db->sqlstate[0] = '\0';
	if (db_ready(db) == -1)
		return NULL;
	for (;;) {
		if (db_prepare(db, stmt) == -1)
			return NULL;
		if ((res = db_await(db, PQsendQueryPrepared(db->conn,
		    stmt->name, stmt->nparams, values, lengths, formats, 0),
		    stmt->name)) == NULL)
			return NULL;
		st = PQresultStatus(res);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
			return res;
		db_fail(db, stmt->name, res);
		PQclear(res);
		/*
		 * 26000: the server no longer knows the name (DISCARD ALL, a
		 * pooler). Outside a transaction it is safe to prepare again.
		 */
		if (again && strcmp(db->sqlstate, "26000") == 0 &&
		    PQtransactionStatus(db->conn) == PQTRANS_IDLE) {
			db_forget(db, stmt->name);
			again = 0;
			continue;
		}
		return NULL;
	}
}

static int64_t
db_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waits until the connection's socket is ready for events (POLLIN or
 * POLLOUT), or deadline (db_mono_ms) passes: 1 ready, 0 past the
 * deadline, -1 no socket or poll() failed.
 */
static int
db_wait_until(struct db *db, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int n;

	for (;;) {
		if ((left = deadline - db_mono_ms()) <= 0)
			return 0;
		pfd.fd = PQsocket(db->conn);
		pfd.events = events;
		pfd.revents = 0;
		if (pfd.fd < 0)
			return -1;
		n = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 1;
		if (n == -1 && errno != EINTR)
			return -1;
	}
}

/*
 * Connects again (PQresetStart, PQresetPoll: never blocking), until
 * deadline. The client encoding comes with the connection's parameters
 * (db_conn_keys), so no blocking SET follows. A connection not made by
 * the deadline is gone on with by the next call (db->resetting), for
 * DB_RESET_MAX_MS in all: until 2026-12-06 each call started it again,
 * so one whose set-up (TCP, TLS, SCRAM: several round trips) took longer
 * than a call's deadline, ocspd's lookups' 500 ms, was never made. 0, or
 * -1 with the connection left to the next call.
 */
static int
db_reset_until(struct db *db, int64_t deadline)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	int w;

	if (db->resetting && db_mono_ms() - db->reset_at < DB_RESET_MAX_MS)
		st = (PostgresPollingStatusType)db->reset_st;
	else {
		log_warn("db: the connection to PostgreSQL was lost: "
		    "connecting again");
		db->closing = 0;
		db->resetting = 1;
		db->reset_at = db_mono_ms();
		if (PQresetStart(db->conn) != 1)
			st = PGRES_POLLING_FAILED;
	}
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		if ((w = db_wait_until(db, st == PGRES_POLLING_READING ?
		    POLLIN : POLLOUT, deadline)) != 1) {
			log_warn("db: connecting again: %s", w == 0 ?
			    "not done in time: going on at the next call" :
			    "poll failed");
			db->reset_st = (int)st;
			if (w != 0) {
				db->resetting = 0;
				db->closing = 1;
			}
			db_lost(db);
			return -1;
		}
		st = PQresetPoll(db->conn);
	}
	db->resetting = 0;
	if (st == PGRES_POLLING_FAILED) {
		db_fail(db, "reconnecting", NULL);
		db_lost(db);
		return -1;
	}
	db_reconnected(db);
	return 0;
}

/* Whether a result is a success or a COPY's start (not a failure). */
static int
db_result_ok(const PGresult *res)
{
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
	case PGRES_COMMAND_OK:
	case PGRES_COPY_IN:
	case PGRES_COPY_OUT:
	case PGRES_COPY_BOTH:
		return 1;
	default:
		return 0;
	}
}

/*
 * The next result of the command sent (*r, NULL after the last one),
 * waiting for it until deadline. 0; -2 past the deadline, -1 on a lost
 * connection (both with *r NULL).
 */
static int
db_next_until(struct db *db, int64_t deadline, PGresult **r)
{
	int w;

	*r = NULL;
	while (PQisBusy(db->conn)) {
		if ((w = db_wait_until(db, POLLIN, deadline)) != 1)
			return w == 0 ? -2 : -1;
		if (PQconsumeInput(db->conn) != 1)
			return -1;
	}
	*r = PQgetResult(db->conn);
	return 0;
}

/*
 * Reads every result of the command sent, until deadline, as PQexec
 * does: the last one into *res (the first failure's, if any; a COPY's
 * start ends the command's results). 0; -2 past the deadline, -1 on a
 * lost connection (both with *res NULL).
 */
static int
db_results_until(struct db *db, int64_t deadline, PGresult **res)
{
	PGresult *r;
	int w;

	*res = NULL;
	for (;;) {
		if ((w = db_next_until(db, deadline, &r)) != 0) {
			PQclear(*res);
			*res = NULL;
			return w;
		}
		if (r == NULL)
			return 0;
		if (*res == NULL || db_result_ok(*res)) {
			PQclear(*res);
			*res = r;
		} else
			PQclear(r);
		switch (PQresultStatus(r)) {
		case PGRES_COPY_IN:
		case PGRES_COPY_OUT:
		case PGRES_COPY_BOTH:
			return 0;	/* its data comes next, not a result */
		default:
			break;
		}
	}
}

/* The deadline of a command sent now: db->timeout_ms away, or none. */
static int64_t
db_deadline(const struct db *db)
{
	return db->timeout_ms > 0 ? db_mono_ms() + db->timeout_ms : INT64_MAX;
}

/*
 * Awaits the command just sent (sent: the PQsend* call's return) as
 * PQexec would, within the connection's timeout (db_set_timeout; none:
 * for ever): its result (the first failure's or the last, or a COPY's
 * start) for the caller to PQclear; or NULL with the failure recorded and
 * logged (what names the statement or command): the connection lost
 * (08006), or no answer in time (57014; the connection is made anew by
 * the next call outside a transaction).
 */
static PGresult *
db_await(struct db *db, int sent, const char *what)
{
	PGresult *res = NULL;
	int w;

	if (sent != 1 ||
	    (w = db_results_until(db, db_deadline(db), &res)) == -1 ||
	    (w == 0 && res == NULL)) {
		db_send_lost(db, what);
		return NULL;
	}
	if (w == -2) {
		db_late(db, what, db->timeout_ms);
		return NULL;
	}
	return res;
}

int
db_set_timeout(struct db *db, long timeout_ms)
{
	if (db == NULL || timeout_ms < 0) {
		log_err("db_set_timeout: invalid arguments");
		return -1;
	}
	db->timeout_ms = timeout_ms;
	return 0;
}

/*
 * A command sent with a deadline got no answer in time (what: the
 * statement's name or the command): the server may still be at it, or
 * stopped, so this connection is dropped (PQresetStart closes it) at the
 * next call, not waited for. SQLSTATE 57014, as for statement_timeout.
 */
static void
db_late(struct db *db, const char *what, long timeout_ms)
{
	log_warn("db: %s: no answer within %ld ms: connecting anew next time",
	    what, timeout_ms);
	db->closing = 1;
	snprintf(db->sqlstate, sizeof(db->sqlstate), "57014");
	db_thread_unavailable = 1;
}

/* A command could not be sent or its answer read: the connection is lost. */
static void
db_send_lost(struct db *db, const char *what)
{
	db_fail(db, what, NULL);
	db_lost(db);
	db->closing = 1;
}

PGresult *
db_exec_bounded(struct db *db, const struct db_stmt *stmt,
    const char *const *values, long timeout_ms)
{
	PGresult *res = NULL;
	ExecStatusType st;
	int64_t deadline = db_mono_ms() + timeout_ms;
	char *name = NULL;
	int w = 0;

	if (db == NULL || stmt == NULL || stmt->name == NULL ||
	    stmt->sql == NULL || stmt->nparams < 0 ||
	    (stmt->nparams > 0 && values == NULL) || db->in_txn) {
		log_err("db_exec_bounded: invalid arguments");
		if (db != NULL)
			db->sqlstate[0] = '\0';
		return NULL;
	}
	db->sqlstate[0] = '\0';
	db_read_idle(db);
	if ((PQstatus(db->conn) != CONNECTION_OK || db->closing) &&
	    db_reset_until(db, deadline) == -1)
		return NULL;
	if (!db_is_prepared(db, stmt->name)) {
		if (db_prepare_reserve(db, stmt, &name) == -1)
			return NULL;
		if (PQsendPrepare(db->conn, stmt->name, stmt->sql,
		    stmt->nparams, NULL) != 1 ||
		    (w = db_results_until(db, deadline, &res)) == -1)
			goto lost;
		if (w == -2)
			goto late;
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			db_fail(db, stmt->name, res);
			PQclear(res);
			free(name);
			return NULL;
		}
		PQclear(res);
		res = NULL;
		db->prepared[db->nprepared++] = name;
		name = NULL;
	}
	if (PQsendQueryPrepared(db->conn, stmt->name, stmt->nparams, values,
	    NULL, NULL, 0) != 1 ||
	    (w = db_results_until(db, deadline, &res)) == -1)
		goto lost;
	if (w == -2)
		goto late;
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	db_fail(db, stmt->name, res);
	PQclear(res);
	/* 26000: the server forgot the name: prepared again next time. */
	if (strcmp(db->sqlstate, "26000") == 0)
		db_forget(db, stmt->name);
	return NULL;
late:
	free(name);
	db_late(db, stmt->name, timeout_ms);
	return NULL;
lost:
	free(name);
	db_send_lost(db, stmt->name);
	return NULL;
}

int
db_listen_bounded(struct db *db, const char *sql, long timeout_ms)
{
	int64_t deadline = db_mono_ms() + timeout_ms;

	if (db_listen_set(db, sql, "db_listen_bounded") == -1)
		return -1;
	db_read_idle(db);
	if ((PQstatus(db->conn) != CONNECTION_OK || db->closing) &&
	    db_reset_until(db, deadline) == -1)
		return -1;
	return db_listen_run(db, deadline, timeout_ms);
}

int
db_exec_rows(struct db *db, const struct db_stmt *stmt,
    const char *const *values, int binary, db_row_fn fn, void *arg)
{
	PGresult *res;
	ExecStatusType st;
	int failed = 0, stopped = 0, done = 0, w;

	if (db == NULL || stmt == NULL || fn == NULL ||
	    (stmt->nparams > 0 && values == NULL)) {
		log_err("db_exec_rows: invalid arguments");
		return -1;
	}
	db->sqlstate[0] = '\0';
	if (db_ready(db) == -1 || db_prepare(db, stmt) == -1)
		return -1;
	if (PQsendQueryPrepared(db->conn, stmt->name, stmt->nparams, values,
	    NULL, NULL, binary ? 1 : 0) != 1) {
		log_err("db: %s: PQsendQueryPrepared: %s", stmt->name,
		    PQerrorMessage(db->conn));
		db_lost(db);
		return -1;
	}
	if (PQsetSingleRowMode(db->conn) != 1)
		failed = 1;
	/*
	 * Every result is read, even after a failure, so the connection is
	 * usable; each awaited within the connection's timeout.
	 */
	while ((w = db_next_until(db, db_deadline(db), &res)) == 0 &&
	    res != NULL) {
		st = PQresultStatus(res);
		if (st == PGRES_SINGLE_TUPLE) {
			if (!failed && !stopped && fn(arg, res) == -1)
				stopped = 1;
		} else if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
			done = 1;
		else {
			db_fail(db, stmt->name, res);
			failed = 1;
		}
		PQclear(res);
	}
	if (w == -2) {
		db_late(db, stmt->name, db->timeout_ms);
		return -1;
	}
	if (w == -1) {
		if (db->sqlstate[0] == '\0')
			db_send_lost(db, stmt->name);
		db->closing = 1;
		return -1;
	}
	if (failed && db->sqlstate[0] == '\0' &&
	    PQstatus(db->conn) != CONNECTION_OK)
		db_lost(db);
	return failed || stopped || !done ? -1 : 0;
}

static uint32_t
db_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int
db_copy_parse_msg(struct db_copy_state *st, const unsigned char *msg,
    size_t len, db_copy_row_fn fn, void *arg)
{
	/* PostgreSQL's binary COPY signature, then flags and extension length. */
	static const unsigned char sig[11] = { 'P', 'G', 'C', 'O', 'P', 'Y',
	    '\n', 0xff, '\r', '\n', 0 };
	struct db_row row;
	size_t off = 0;
	uint32_t ext, flen;
	int i, n;

	if (!st->header_seen) {
		if (len < sizeof(sig) + 8 || memcmp(msg, sig, sizeof(sig)) != 0)
			return -1;
		/*
		 * Bits 16-31 are critical (16: OIDs included, not asked for);
		 * bits 0-15 are to be ignored (the format's definition).
		 */
		if (db_be32(msg + 11) & 0xffff0000u)
			return -1;
		ext = db_be32(msg + 15);
		if (ext > len - (sizeof(sig) + 8))
			return -1;
		off = sizeof(sig) + 8 + ext;
		st->header_seen = 1;
	}
	while (off < len) {
		if (len - off < 2)
			return -1;
		n = (int16_t)(msg[off] << 8 | msg[off + 1]);
		off += 2;
		if (n == -1) {
			st->trailer_seen = 1;
			return off == len ? 1 : -1;
		}
		if (n < 0 || n > DB_ROW_FIELDS)
			return -1;
		row.nfields = n;
		for (i = 0; i < n; i++) {
			if (len - off < 4)
				return -1;
			flen = db_be32(msg + off);
			off += 4;
			if (flen == 0xffffffffu) {
				row.value[i] = NULL;
				row.length[i] = -1;
				continue;
			}
			if (flen > INT32_MAX || flen > len - off)
				return -1;
			row.value[i] = msg + off;
			row.length[i] = (int)flen;
			off += flen;
		}
		if (fn(arg, &row) == -1) {
			st->stopped = 1;
			return -1;
		}
	}
	return 0;
}

int
db_copy_parse(struct db_copy_state *st, const unsigned char *msg, size_t len,
    db_copy_row_fn fn, void *arg)
{
	int r;

	/* Nothing may follow the trailer, a refusal or bytes that were not COPY. */
	if (st->trailer_seen || st->stopped || st->bad)
		return -1;
	if ((r = db_copy_parse_msg(st, msg, len, fn, arg)) == -1 && !st->stopped)
		st->bad = 1;
	return r;
}

int
db_copy_rows(struct db *db, const char *copy_sql, db_copy_row_fn fn,
    void *arg)
{
	struct db_copy_state st = { 0, 0, 0, 0 };
	PGresult *res;
	char *msg;
	int n, failed = 0, done = 0, w;

	if (db == NULL || copy_sql == NULL || fn == NULL) {
		log_err("db_copy_rows: invalid arguments");
		return -1;
	}
	db->sqlstate[0] = '\0';
	if (db_ready(db) == -1)
		return -1;
	/* Not copy_sql itself in the log: its literals may run to kilobytes. */
	if ((res = db_await(db, PQsendQuery(db->conn, copy_sql),
	    "COPY TO STDOUT")) == NULL)
		return -1;
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		db_fail(db, "COPY TO STDOUT", res);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	/*
	 * Every message is read, even after a failure, so the connection is
	 * usable; each awaited within the connection's timeout.
	 */
	for (;;) {
		if ((n = PQgetCopyData(db->conn, &msg, 1)) == 0) {
			if ((w = db_wait_until(db, POLLIN, db_deadline(db))) ==
			    0) {
				db_late(db, "COPY TO STDOUT", db->timeout_ms);
				return -1;
			}
			if (w == -1 || PQconsumeInput(db->conn) != 1) {
				db_send_lost(db, "COPY TO STDOUT");
				return -1;
			}
			continue;
		}
		if (n < 0)
			break;
		if (!failed && db_copy_parse(&st, (unsigned char *)msg,
		    (size_t)n, fn, arg) == -1) {
			if (!st.stopped)
				log_err("db_copy_rows: the server sent bytes "
				    "that are not a binary COPY");
			failed = 1;
		}
		PQfreemem(msg);
	}
	if (n == -2) {
		/*
		 * libpq could not read on (out of memory, a failed wait): the
		 * COPY is still open, and PQgetResult would answer COPY_OUT for
		 * ever. The next call connects afresh (db_ready).
		 */
		log_err("db: COPY TO STDOUT: %s", PQerrorMessage(db->conn));
		db->closing = 1;
		db_lost(db);
		return -1;
	}
	if ((res = db_await(db, 1, "COPY TO STDOUT")) == NULL)
		return -1;
	if (PQresultStatus(res) == PGRES_COMMAND_OK)
		done = 1;
	else {
		db_fail(db, "COPY TO STDOUT", res);
		failed = 1;
	}
	PQclear(res);
	if (failed && db->sqlstate[0] == '\0' &&
	    PQstatus(db->conn) != CONNECTION_OK)
		db_lost(db);
	return failed || !done || !st.trailer_seen ? -1 : 0;
}

int
db_exec_ok(struct db *db, const struct db_stmt *stmt,
    const char *const *values)
{
	PGresult *res;

	if ((res = db_exec(db, stmt, values, NULL, NULL)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* Runs a parameterless command such as BEGIN. 0 or -1. */
static int
db_command(struct db *db, const char *sql, const char **tag)
{
	PGresult *res = NULL;
	int rc = -1;

	/* A connection given up inside a transaction (db_ready). */
	if (db->closing) {
		db_lost(db);
		goto out;
	}
	if ((res = db_await(db, PQsendQuery(db->conn, sql), sql)) == NULL)
		goto out;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_fail(db, sql, res);
		goto out;
	}
	if (tag != NULL && strcmp(PQcmdStatus(res), *tag) != 0) {
		*tag = "";
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

static int	db_command(struct db *, const char *, const char **);

int
db_run(struct db *db, const char *sql)
{
	if (db == NULL || sql == NULL)
		return -1;
	db->sqlstate[0] = '\0';
	if (db_ready(db) == -1)
		return -1;
	return db_command(db, sql, NULL);
}

/* db_schema_check; timeout_ms > 0: the read is db_exec_bounded's. */
static int
db_schema_check_ms(struct db *db, int min, const char *who_needs,
    const char *what, long timeout_ms, char *err, size_t errlen)
{
	static const struct db_stmt stmt_version = { "lib_db_schema_version",
		"SELECT coalesce(max(version), 0) FROM schema_version", 0 };
	PGresult *res;
	long long v;

	res = timeout_ms > 0 ? db_exec_bounded(db, &stmt_version, NULL,
	    timeout_ms) : db_exec(db, &stmt_version, NULL, NULL, NULL);
	if (res == NULL || PQntuples(res) != 1) {
		PQclear(res);
		snprintf(err, errlen, "reading schema_version failed (SQLSTATE "
		    "%s)", db_last_sqlstate(db));
		return -1;
	}
	v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (v < min) {
		snprintf(err, errlen, "the database is at schema version %lld; "
		    "%s %d (%s): run deploy/migrate.sh first", v, who_needs,
		    min, what);
		return -1;
	}
	return 0;
}

int
db_schema_check(struct db *db, int min, const char *who_needs,
    const char *what, char *err, size_t errlen)
{
	return db_schema_check_ms(db, min, who_needs, what, 0, err, errlen);
}

int
db_schema_check_bounded(struct db *db, int min, const char *who_needs,
    const char *what, long timeout_ms, char *err, size_t errlen)
{
	if (timeout_ms <= 0) {
		snprintf(err, errlen, "db_schema_check_bounded: invalid "
		    "arguments");
		return -1;
	}
	return db_schema_check_ms(db, min, who_needs, what, timeout_ms, err,
	    errlen);
}

int
db_copy_bytea(struct db *db, const char *copy_sql, const unsigned char *data,
    size_t len)
{
	/*
	 * Binary COPY (the format db_copy_rows reads): the signature, flags
	 * and header extension length 0, then one tuple of one field (int16
	 * count, int32 length, the bytes as they are) and the trailer (-1).
	 * Text format sent every byte as two hex digits, which the server
	 * parsed back: twice the bytes on the wire and most of the COPY's CPU.
	 */
	static const unsigned char head[] = { 'P', 'G', 'C', 'O', 'P', 'Y',
	    '\n', 0xff, '\r', '\n', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const unsigned char trailer[2] = { 0xff, 0xff };
	unsigned char hdr[sizeof(head) + 4];
	size_t off = 0, n;
	PGresult *res;
	int rc = -1;

	if (db == NULL || copy_sql == NULL || (data == NULL && len > 0) ||
	    len > INT32_MAX)
		return -1;
	db->sqlstate[0] = '\0';
	if (db_ready(db) == -1)
		return -1;
	if ((res = db_await(db, PQsendQuery(db->conn, copy_sql), copy_sql)) ==
	    NULL)
		return -1;
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		db_fail(db, copy_sql, res);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	memcpy(hdr, head, sizeof(head));
	hdr[sizeof(head)] = (unsigned char)(len >> 24);
	hdr[sizeof(head) + 1] = (unsigned char)(len >> 16);
	hdr[sizeof(head) + 2] = (unsigned char)(len >> 8);
	hdr[sizeof(head) + 3] = (unsigned char)len;
	/* libpq copies each chunk into its output buffer and sends it on. */
	if (PQputCopyData(db->conn, (const char *)hdr, (int)sizeof(hdr)) == 1) {
		while (off < len) {
			n = len - off < DB_COPY_CHUNK ? len - off :
			    DB_COPY_CHUNK;
			if (PQputCopyData(db->conn, (const char *)data + off,
			    (int)n) != 1)
				break;
			off += n;
		}
	}
	if (off == len && PQputCopyData(db->conn, (const char *)trailer,
	    (int)sizeof(trailer)) == 1 && PQputCopyEnd(db->conn, NULL) == 1)
		rc = 0;
	else
		(void)PQputCopyEnd(db->conn, "db_copy_bytea: sending failed");
	if ((res = db_await(db, 1, copy_sql)) == NULL)
		return -1;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		db_fail(db, copy_sql, res);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

int
db_begin(struct db *db, const char *isolation)
{
	static const char *const levels[] = {
		"READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"
	};
	PGTransactionStatusType ts;
	char sql[64];
	size_t i;

	if (db == NULL)
		return -1;
	if (isolation == NULL)
		isolation = "READ COMMITTED";
	/* Only known levels reach the SQL text. */
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcasecmp(isolation, levels[i]) == 0)
			break;
	}
	if (i == sizeof(levels) / sizeof(levels[0])) {
		log_err("db_begin: unknown isolation level \"%s\"", isolation);
		return -1;
	}
	db->sqlstate[0] = '\0';
	db->retryable = 0;
	/*
	 * A caller that begins again has given up the last transaction: roll
	 * it back. BEGIN inside it would only warn, and its changes would
	 * commit with the next; inside a failed one BEGIN fails (25P02) until
	 * a ROLLBACK. A lost connection (PQTRANS_UNKNOWN, or a ROLLBACK that
	 * finds it gone) holds no transaction: db_ready() connects again.
	 */
	db->in_txn = 0;
	ts = PQtransactionStatus(db->conn);
	if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
		log_warn("db_begin: the previous transaction was still open%s: "
		    "rolled back", ts == PQTRANS_INERROR ? " (failed)" : "");
		if (db_command(db, "ROLLBACK", NULL) == -1 &&
		    PQstatus(db->conn) == CONNECTION_OK && !db->closing)
			return -1;
		db->sqlstate[0] = '\0';
	}
	if (db_ready(db) == -1)
		return -1;
	snprintf(sql, sizeof(sql), "BEGIN ISOLATION LEVEL %s", levels[i]);
	if (db_command(db, sql, NULL) == -1)
		return -1;
	db->in_txn = 1;
	return 0;
}

int
db_commit(struct db *db)
{
	const char *tag = "COMMIT";

	if (db == NULL)
		return -1;
	db->in_txn = 0;
	/*
	 * COMMIT of a failed transaction "succeeds" as a ROLLBACK: roll back
	 * explicitly and keep the SQLSTATE of the failure.
	 */
	if (PQtransactionStatus(db->conn) == PQTRANS_INERROR) {
		log_warn("db: COMMIT of a failed transaction: rolled back");
		(void)db_rollback(db);
		return -1;
	}
	db->sqlstate[0] = '\0';
	if (db_command(db, "COMMIT", &tag) == -1) {
		if (tag[0] == '\0')
			log_err("db: COMMIT did not commit");
		return -1;
	}
	return 0;
}

int
db_rollback(struct db *db)
{
	if (db == NULL)
		return -1;
	db->in_txn = 0;
	/* The SQLSTATE that caused the rollback stays readable. */
	return db_command(db, "ROLLBACK", NULL);
}

static void
db_backoff(int attempt)
{
	struct timespec now, ts;
	long ms;

	ms = DB_RETRY_BASE_MS;
	while (attempt-- > 1 && ms < DB_RETRY_MAX_MS)
		ms *= 2;
	if (ms > DB_RETRY_MAX_MS)
		ms = DB_RETRY_MAX_MS;
	/* Jitter keeps two colliding workers from colliding again. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms += (now.tv_nsec / 1000) % (ms + 1);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
db_transaction(struct db *db, const char *isolation, int max_attempts,
    db_txn_fn fn, void *arg)
{
	int attempt;

	if (db == NULL || fn == NULL)
		return -1;
	if (max_attempts < 1)
		max_attempts = 1;
	if (db->in_txn) {
		log_err("db_transaction: a transaction is already open");
		return -1;
	}
	for (attempt = 1; attempt <= max_attempts; attempt++) {
		/*
		 * A BEGIN that finds the connection closed under it ran
		 * nothing: connect again and begin once more.
		 */
		if (db_begin(db, isolation) == -1 &&
		    (PQstatus(db->conn) == CONNECTION_OK ||
		    db_begin(db, isolation) == -1))
			return -1;
		if (fn(db, arg) == 0) {
			if (db_commit(db) == 0)
				return 0;
		} else if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
			(void)db_rollback(db);
		if (!db->retryable)
			return -1;
		if (attempt < max_attempts) {
			log_warn("db: transaction attempt %d/%d failed with "
			    "SQLSTATE %s, retrying", attempt, max_attempts,
			    db->sqlstate);
			db_backoff(attempt);
		}
	}
	log_err("db: transaction failed after %d attempts (SQLSTATE %s)",
	    max_attempts, db->sqlstate);
	return -1;
}

char *
db_bytea_param(const unsigned char *der, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *s;
	size_t i;

	if ((s = malloc(2 * len + 3)) == NULL)
		return NULL;
	s[0] = '\\';
	s[1] = 'x';
	for (i = 0; i < len; i++) {
		s[2 + 2 * i] = hex[der[i] >> 4];
		s[3 + 2 * i] = hex[der[i] & 0x0f];
	}
	s[2 + 2 * len] = '\0';
	return s;
}

int
db_bytea_value(const char *s, unsigned char **out, size_t *outlen)
{
	unsigned char *tmp;
	size_t n;

	*out = NULL;
	*outlen = 0;
	if ((tmp = PQunescapeBytea((const unsigned char *)s, &n)) == NULL)
		return -1;
	/* PQunescapeBytea's memory belongs to PQfreemem: hand back plain malloc. */
	if ((*out = malloc(n > 0 ? n : 1)) != NULL) {
		memcpy(*out, tmp, n);
		*outlen = n;
	}
	PQfreemem(tmp);
	return *out != NULL ? 0 : -1;
}
