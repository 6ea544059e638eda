/*
 * Start-up glue every daemon shares (lib/daemon.h).
 */
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/daemon.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/sandbox.h"

void
daemon_block_signals(sigset_t *set)
{
	sigset_t chld;

	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * What one signal of daemon_wait()'s means: -1 go on (SIGHUP, handled; a
 * child that only stopped), else the exit status.
 */
static int
daemon_signal_verdict(int sig, void (*hup)(void *), void *arg)
{
	siginfo_t info;

	if (sig == SIGHUP) {
		if (hup != NULL)
			hup(arg);
		return -1;
	}
	if (sig != SIGCHLD) {
		log_info("signal %d: stopping", sig);
		return 0;
	}
	/* A child that only stopped (SIGSTOP) is no reason to go. */
	memset(&info, 0, sizeof(info));
	if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	    info.si_pid != 0) {
		log_err("child process %d (the signer) ended: stopping, "
		    "so that a restart brings a new one", (int)info.si_pid);
		return 1;
	}
	return -1;
}

int
daemon_wait(const sigset_t *set, void (*hup)(void *), void *arg)
{
	sigset_t w = *set;
	int sig, v;

	sigaddset(&w, SIGCHLD);
	for (;;) {
		if (sigwait(&w, &sig) != 0)
			return 1;
		if ((v = daemon_signal_verdict(sig, hup, arg)) != -1)
			return v;
	}
}

int
daemon_signal_fd(const sigset_t *set)
{
	sigset_t w = *set;

	sigaddset(&w, SIGCHLD);
	return signalfd(-1, &w, SFD_NONBLOCK | SFD_CLOEXEC);
}

int
daemon_signal_take(int fd, void (*hup)(void *), void *arg)
{
	struct signalfd_siginfo si;
	ssize_t n;
	int v;

	while ((n = read(fd, &si, sizeof(si))) == (ssize_t)sizeof(si))
		if ((v = daemon_signal_verdict((int)si.ssi_signo, hup, arg)) !=
		    -1)
			return v;
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		log_err("signalfd: %s", strerror(errno));
		return 1;
	}
	return -1;
}

void
daemon_reap(pid_t pid)
{
	if (pid > 0)
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
}

long long
daemon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
daemon_sigwait_until(const sigset_t *set, long long deadline_ms)
{
	struct timespec wait;
	long long left = deadline_ms - daemon_now_ms();

	wait.tv_sec = left > 0 ? left / 1000 : 0;
	wait.tv_nsec = left > 0 ? (left % 1000) * 1000000 : 0;
	return sigtimedwait(set, NULL, &wait);
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

struct config *
daemon_load_config(int argc, char **argv, const char *logname,
    void (*usage)(void))
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = getenv("PKI_CONFIG"), *s;
	struct config *cfg;
	char err[512];
	int ch;

	optind = 1;	/* pkisign serve calls this after its own parsing */
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (ch != 'c')
			usage();
		path = optarg;
	}
	if (optind != argc)
		usage();
	log_init(logname, LOGL_INFO, stderr);
	/* Before any PIN or secret is read, any child forked. */
	if (sandbox_no_dumps(err, sizeof(err)) == -1) {
		log_err("%s", err);
		return NULL;
	}
	/* Before any thread: setenv and tzset are not thread-safe. */
	sandbox_prepare();
	/* Also before any fork: the children inherit the socket, not its claim. */
	if (http_take_inherited_socket(err, sizeof(err)) == -1) {
		log_err("%s", err);
		return NULL;
	}
	if ((cfg = config_load(path, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		return NULL;
	}
	if (log_init_level(logname, config_get(cfg, "log.level", NULL)) ==
	    -1) {
		config_free(cfg);
		return NULL;
	}
	/*
	 * SoftHSM2 finds its tokens through the environment, which a service
	 * manager does not set: from the configuration, before any thread.
	 */
	if ((s = config_get(cfg, "hsm.softhsm2_conf", NULL)) != NULL &&
	    setenv("SOFTHSM2_CONF", s, 1) == -1) {
		log_err("setenv SOFTHSM2_CONF: %s", strerror(errno));
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

#define DAEMON_DB_FILES_MAX	8
#define DAEMON_READS_MAX	16

int
daemon_limit_files(const struct config *cfg, const char *section,
    const char *who, const char *const *dirs, size_t ndirs,
    const char *const *reads, size_t nreads, const char *conninfo)
{
	char *files[DAEMON_DB_FILES_MAX], key[64], err[256];
	const char *all[DAEMON_READS_MAX];
	size_t i, nall = 0;
	int n = 0, rc;

	if (sandbox_set_home(cfg, section, SANDBOX_NET_WORKER) == -1)
		return -1;
	if (conninfo != NULL && (n = db_conninfo_files(conninfo, files,
	    DAEMON_DB_FILES_MAX, err, sizeof(err))) == -1) {
		log_err("%s: %s", who, err);
		return -1;
	}
	snprintf(key, sizeof(key), "%s.read_paths", section);
	if (reads == NULL && n == 0 && config_get(cfg, key, NULL) == NULL)
		return sandbox_limit_writes(cfg, section, who, dirs, ndirs);
	for (i = 0; reads != NULL && i < nreads && nall < DAEMON_READS_MAX; i++)
		all[nall++] = reads[i];
	for (i = 0; i < (size_t)n && nall < DAEMON_READS_MAX; i++)
		all[nall++] = files[i];
	rc = sandbox_limit_files(cfg, section, who, dirs, ndirs, all, nall);
	for (i = 0; i < (size_t)n; i++)
		free(files[i]);
	return rc;
}
