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
