/*
 * Start-up glue every daemon shares.
 */
#ifndef PKI_DAEMON_H
#define PKI_DAEMON_H

#include <signal.h>

/*
 * Blocks SIGTERM, SIGINT and SIGHUP (returned in *set for sigwait()) in the
 * calling thread, so threads and processes started afterwards inherit the
 * mask, and ignores SIGPIPE (a client closing its connection is no reason to
 * die). Call before any thread or child exists.
 */
void	daemon_block_signals(sigset_t *set);

#endif
