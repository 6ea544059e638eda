/*
 * LD_PRELOAD shim for tests: the first COMMIT that PostgreSQL accepts has
 * its answer lost, as when the connection breaks after the server
 * committed and before the client read the reply. The socket is shut down
 * and the caller gets libpq's "no result": PQexec returns NULL, or, for a
 * COMMIT sent with PQsendQuery (lib/db.c), PQgetResult returns NULL in
 * place of the COMMIT's result.
 * LOST_COMMIT_SKIP=N lets the first N accepted COMMITs through.
 * Built without sanitizers: it is loaded before everything else.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libpq-fe.h>

PGresult	*PQexec(PGconn *, const char *);
int		 PQsendQuery(PGconn *, const char *);
PGresult	*PQgetResult(PGconn *);

static void *
real_fn(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL)
		abort();
	return f;
}

/* Whether res is an accepted COMMIT whose answer is to be lost now. */
static int
lose(PGresult *res)
{
	static long seen;
	const char *skip = getenv("LOST_COMMIT_SKIP");

	return res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK &&
	    strcmp(PQcmdStatus(res), "COMMIT") == 0 &&
	    seen++ == (skip != NULL ? atol(skip) : 0);
}

/* Inside PQexec: libpq may call the two below itself; they pass through. */
static int in_exec;

PGresult *
PQexec(PGconn *conn, const char *query)
{
	static PGresult *(*real)(PGconn *, const char *);
	PGresult *res;

	if (real == NULL)
		*(void **)&real = real_fn("PQexec");
	in_exec = 1;
	res = real(conn, query);
	in_exec = 0;
	if (strcmp(query, "COMMIT") != 0 || !lose(res))
		return res;
	PQclear(res);
	(void)shutdown(PQsocket(conn), SHUT_RDWR);
	return NULL;
}

/* The connection whose COMMIT was sent last and not yet answered. */
static PGconn *committing;

int
PQsendQuery(PGconn *conn, const char *query)
{
	static int (*real)(PGconn *, const char *);

	if (real == NULL)
		*(void **)&real = real_fn("PQsendQuery");
	if (!in_exec)
		committing = strcmp(query, "COMMIT") == 0 ? conn : NULL;
	return real(conn, query);
}

PGresult *
PQgetResult(PGconn *conn)
{
	static PGresult *(*real)(PGconn *);
	PGresult *res;

	if (real == NULL)
		*(void **)&real = real_fn("PQgetResult");
	res = real(conn);
	if (in_exec || conn != committing || res == NULL)
		return res;
	committing = NULL;
	if (!lose(res))
		return res;
	PQclear(res);
	(void)shutdown(PQsocket(conn), SHUT_RDWR);
	return NULL;
}
