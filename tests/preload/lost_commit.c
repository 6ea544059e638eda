/*
 * LD_PRELOAD shim for tests: the first COMMIT that PostgreSQL accepts has
 * its answer lost, as when the connection breaks after the server
 * committed and before the client read the reply. The socket is shut down
 * and PQexec returns NULL (libpq's "no result": PGRES_FATAL_ERROR).
 * LOST_COMMIT_SKIP=N lets the first N accepted COMMITs through.
 * Built without sanitizers: it is loaded before everything else.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libpq-fe.h>

PGresult	*PQexec(PGconn *, const char *);

PGresult *
PQexec(PGconn *conn, const char *query)
{
	static PGresult *(*real)(PGconn *, const char *);
	static long seen;
	const char *skip = getenv("LOST_COMMIT_SKIP");
	PGresult *res;

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "PQexec");
	if (real == NULL)
		abort();
	res = real(conn, query);
	if (strcmp(query, "COMMIT") != 0 ||
	    PQresultStatus(res) != PGRES_COMMAND_OK ||
	    seen++ != (skip != NULL ? atol(skip) : 0))
		return res;
	PQclear(res);
	(void)shutdown(PQsocket(conn), SHUT_RDWR);
	return NULL;
}
