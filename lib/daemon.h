/*
 * Start-up glue every daemon shares.
 */
#ifndef PKI_DAEMON_H
#define PKI_DAEMON_H

#include <signal.h>
#include <sys/types.h>
#include <time.h>

/*
 * Blocks SIGTERM, SIGINT and SIGHUP (returned in *set for sigwait()) in the
 * calling thread, so threads and processes started afterwards inherit the
 * mask, and ignores SIGPIPE (a client closing its connection is no reason to
 * die). SIGCHLD is blocked too (not in *set), for daemon_wait(). Call
 * before any thread or child exists.
 */
void	daemon_block_signals(sigset_t *set);

/*
 * Waits for SIGTERM or SIGINT, or for a child process to end (the
 * daemon's signer: a daemon whose signer is gone can no longer sign, so it
 * stops, and whatever supervises it — tsad's and signd's supervisors, the
 * stack's `make up`, a service manager — starts it again with a new one).
 * SIGHUP calls hup(arg) when hup is not NULL and goes on waiting. Returns
 * the exit status: 0 after SIGTERM or SIGINT, 1 when a child ended. `set`
 * is daemon_block_signals()'s (which also blocks SIGCHLD for this).
 */
int	daemon_wait(const sigset_t *set, void (*hup)(void *), void *arg);

/*
 * daemon_wait() for a daemon that runs its own event loop (tsad): a
 * signalfd, readable when one of set or SIGCHLD is pending, and what the
 * pending ones mean: -1 go on, else the exit status daemon_wait() would
 * return.
 */
int	daemon_signal_fd(const sigset_t *set);
int	daemon_signal_take(int fd, void (*hup)(void *), void *arg);

/* Waits for child pid to end, whatever signals arrive; nothing for pid <= 0. */
void	daemon_reap(pid_t pid);

/*
 * How often a supervisor may restart a child that died: at most
 * DAEMON_RESTARTS_MAX times within DAEMON_RESTART_WINDOW_S seconds, after
 * which it gives up (a child that cannot start — a missing token, a wrong
 * PIN file — would otherwise be restarted forever). Zero-initialize.
 */
#define DAEMON_RESTARTS_MAX	5
#define DAEMON_RESTART_WINDOW_S	60
struct daemon_restarts {
	time_t		at[DAEMON_RESTARTS_MAX];
	unsigned int	n;
};
/* 1 and counts the restart when one more is allowed now, else 0. */
int	daemon_restart_allowed(struct daemon_restarts *);

/* Milliseconds of CLOCK_MONOTONIC: deadlines of the supervisors' retries. */
long long daemon_now_ms(void);
/*
 * A supervisor's wait: the next signal of set (blocked) or, at deadline_ms
 * (daemon_now_ms()), -1 with errno EAGAIN; -1 with EINTR when interrupted.
 */
int	daemon_sigwait_until(const sigset_t *set, long long deadline_ms);

/*
 * The start-up the daemons share: parses `[--config FILE]` (default
 * $PKI_CONFIG; anything else calls usage, which must exit), makes the
 * process leave no core file and not dumpable (sandbox_no_dumps), logs as
 * logname to stderr at the configuration's log.level and returns the
 * configuration, or NULL after logging why it cannot be loaded.
 */
struct config;
struct config	*daemon_load_config(int argc, char **argv, const char *logname,
		    void (*usage)(void));

/*
 * A daemon process's Landlock rules (lib/sandbox.h), before its first
 * thread: it writes only beneath dirs. Its reading is limited to the
 * system's files, dirs, reads (NULL entries skipped), <section>.read_paths
 * and the files libpq opens at each connection with conninfo
 * (db_conninfo_files(): a TLS root certificate, a client certificate, a
 * password file) when any of these names something; then
 * SANDBOX_NET_WORKER may open files read-only. Otherwise (reads NULL,
 * nothing else named) reading is not limited and a SANDBOX_NET_WORKER
 * process opens no file at all. Run as root, it first sets HOME to the
 * home of the user the process will demote to (sandbox_user()), where
 * libpq looks for its default files. conninfo may be NULL. 0, or -1
 * logged.
 */
int	daemon_limit_files(const struct config *, const char *section,
	    const char *who, const char *const *dirs, size_t ndirs,
	    const char *const *reads, size_t nreads, const char *conninfo);

#endif
