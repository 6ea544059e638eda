/*
 * Start-up glue every daemon shares (lib/daemon.h).
 */
#include <pthread.h>
#include <signal.h>

#include "lib/daemon.h"

void
daemon_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int
daemon_restart_allowed(struct daemon_restarts *r)
{
	time_t now = time(NULL), *oldest = &r->at[r->n % DAEMON_RESTARTS_MAX];

	if (*oldest != 0 && now - *oldest < DAEMON_RESTART_WINDOW_S)
		return 0;
	*oldest = now;
	r->n++;
	return 1;
}
