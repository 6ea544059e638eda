/*
 * signd: the remote-signing service, a CSC API v2 server (RSSP) that
 * document-signing services call to sign with subscribers' HSM-held keys
 * (hsm/README.md "signd", docs/csc.md).
 *
 * Processes:
 *  - the worker (this file, csc.c, csc_request.c): reads pki.conf ([sign],
 *    [pg] sign_uri, [urls] sign), opens one PostgreSQL connection as
 *    pki_sign per HTTP thread, binds its port, demotes to sign.user
 *    (pki-sign) and enters the SANDBOX_NET_WORKER seccomp profile, then
 *    serves HTTP/JSON on sign.threads (2) libmicrohttpd threads (bounded
 *    bodies, time-outs), each thread keeping to its own connection and its
 *    own SAM. It may: check access tokens
 *    (sign_token), have the database issue one to a client that presents
 *    its secret (sign_token_issue()), read credentials and certificates,
 *    forward authorize and signHash requests, with the request's token,
 *    to the SAM. It may not: read a wrapped key (pki_sign has no SELECT
 *    on subscriber_key.wrapped) or a client secret's digest, insert a
 *    token, name the calling service to the SAM (the SAM finds it by the
 *    token), create or consume a SAD, verify a factor, sign, or open the
 *    HSM token.
 *  - the SAMs (samproc.c), sign.sams of them (default sign.threads, at
 *    most that: SoftHSM2 scales with processes, not threads), forked
 *    first: each alone loads the PKCS#11 module and logs in to the wrap
 *    token, holds its own pki_sam connection and the OTP key; finds the
 *    calling service by the request's access token, verifies
 *    factors, makes and consumes SADs, checks the certificate, unwraps,
 *    signs, verifies, audits. Then SANDBOX_SAM. None parses HTTP or
 *    JSON.
 *  - the supervisor (this file): the first process, which forks the SAMs
 *    and the worker and then only waits. It keeps the privileges a SAM
 *    needs to start (the wrap token's PIN file, or PKI_WRAP_PIN, which
 *    the worker forgets first thing after its fork; pki_sam's password), so
 *    when a SAM dies it starts another and hands the worker the new
 *    socket (SCM_RIGHTS over a control socketpair); the threads of the
 *    dead one answer 503 meanwhile (a few tens of milliseconds), the
 *    others go on. More than DAEMON_RESTARTS_MAX SAM deaths within
 *    DAEMON_RESTART_WINDOW_S, or the worker's death, stop signd.
 *
 * Stops on SIGTERM or SIGINT (to the supervisor); in-flight requests finish.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hsm/signd/extern.h"
#include "hsm/signer.h"
#include "lib/config.h"
#include "lib/daemon.h"
#include "lib/db.h"
#include "lib/json.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/sandbox.h"

#define SIGND_TIMEOUT_S		10
/*
 * A CSC request's body (SIGND_MAX_BODY, 64 KiB at most; 100 hashes take
 * 9 KiB): 10 s takes 64 KiB at 56 kbit/s.
 */
#define SIGND_BODY_DEADLINE_S	10

static void
usage(void)
{
	fprintf(stderr, "usage: signd [--config FILE]\n");
	exit(2);
}

/* --- handing a new SAM to the worker ------------------------------------------------ */

/* What the supervisor sends with the SAM's socket: which slot, which pid. */
struct sam_handoff {
	uint32_t	index;
	int32_t		pid;
};

/* A message of one struct sam_handoff with room for one descriptor. */
union handoff_cmsg {
	struct cmsghdr	hdr;
	char		buf[CMSG_SPACE(sizeof(int))];
};

static void
handoff_msg(struct msghdr *msg, struct iovec *iov, struct sam_handoff *h,
    union handoff_cmsg *u)
{
	memset(msg, 0, sizeof(*msg));
	memset(u, 0, sizeof(*u));
	iov->iov_base = h;
	iov->iov_len = sizeof(*h);
	msg->msg_iov = iov;
	msg->msg_iovlen = 1;
	msg->msg_control = u->buf;
	msg->msg_controllen = sizeof(u->buf);
}

static int
handoff_send(int ctl, unsigned int index, pid_t pid, int fd)
{
	struct sam_handoff h = { index, (int32_t)pid };
	union handoff_cmsg u;
	struct iovec iov;
	struct msghdr msg;
	struct cmsghdr *cm;
	ssize_t n;

	handoff_msg(&msg, &iov, &h, &u);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	while ((n = sendmsg(ctl, &msg, MSG_NOSIGNAL)) == -1 && errno == EINTR)
		;
	return n == (ssize_t)sizeof(h) ? 0 : -1;
}

/*
 * 1 with a SAM's socket in *fd, 0 when the channel is closed (or broken),
 * -1 on a message that is not a hand-off (any descriptor it carried is
 * closed).
 */
static int
handoff_recv(int ctl, struct sam_handoff *h, int *fd)
{
	union handoff_cmsg u;
	struct iovec iov;
	struct msghdr msg;
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	handoff_msg(&msg, &iov, h, &u);
	while ((n = recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC)) == -1 && errno == EINTR)
		;
	if (n == -1)
		log_err("control: recvmsg: %s", strerror(errno));
	if (n <= 0)
		return 0;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	if (n != (ssize_t)sizeof(*h) || *fd == -1 ||
	    (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
		if (*fd != -1)
			close(*fd);
		*fd = -1;
		return -1;
	}
	return 1;
}

struct signd_control {
	struct signd	*sd;
	int		 ctl;
};

/* The worker's thread that puts each new SAM in its slot. */
static void *
signd_control_loop(void *arg)
{
	struct signd_control *c = arg;
	struct signd_sam *sam;
	struct sam_handoff h;
	int fd, r;

	while ((r = handoff_recv(c->ctl, &h, &fd)) != 0) {
		if (r == -1 || h.index >= c->sd->nsams) {
			log_err("control: a message that is not a SAM hand-off");
			if (fd != -1)
				close(fd);
			continue;
		}
		sam = &c->sd->sams[h.index];
		pthread_mutex_lock(&sam->lock);
		if (sam->fd != -1)
			close(sam->fd);
		sam->fd = fd;
		sam->pid = (pid_t)h.pid;
		sam->dead = 0;
		sam->signhashes = 0;
		pthread_cond_broadcast(&sam->ready);
		pthread_mutex_unlock(&sam->lock);
		log_info("sam %u: process %d serves again", h.index, (int)h.pid);
	}
	return NULL;
}

/* --- the worker ------------------------------------------------------------------- */

static int
signd_worker(const struct config *cfg, struct signd *sd, int ctl,
    sigset_t *sigs)
{
	struct http_server *srv = NULL;
	struct http_limits lim;
	struct signd_control control = { sd, ctl };
	pthread_t thread;
	const char *uri;
	char err[512];
	unsigned char warm[32], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	long port;
	int rc = 1, have_thread = 0;

	/* The supervisor's death stops the worker as SIGTERM would. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() == 1) {
		log_err("worker: the supervisor is gone");
		return 1;
	}
	if (config_get_long(cfg, "sign.port", 18084, 0, 65535, &port) == -1)
		goto out;
	if ((uri = config_get(cfg, "pg.sign_uri", NULL)) == NULL) {
		log_err("config: pg.sign_uri missing");
		goto out;
	}
	for (i = 0; i < sd->nthreads; i++) {
		if ((sd->db[i] = db_connect(uri, err, sizeof(err))) == NULL) {
			log_err("database: %s", err);
			goto out;
		}
		/*
		 * Until 2026-12-07 nothing bounded them: a stopped backend
		 * held the HTTP thread, and every request on it, for ever.
		 */
		(void)db_set_timeout(sd->db[i], sd->db_timeout_s * 1000);
	}
	if (daemon_limit_files(cfg, "sign", "signd", NULL, 0, NULL, 0,
	    uri) == -1)
		goto out;
	if (pthread_create(&thread, NULL, signd_control_loop, &control) != 0) {
		log_err("pthread_create failed");
		goto out;
	}
	have_thread = 1;
	memset(&lim, 0, sizeof(lim));
	/* Behind a reverse proxy: the client from X-Forwarded-For (lib/proxy.h). */
	lim.trusted_proxies = config_get(cfg, "sign.trusted_proxies", NULL);
	lim.max_body = SIGND_MAX_BODY;
	lim.timeout_s = SIGND_TIMEOUT_S;
	lim.body_deadline_s = SIGND_BODY_DEADLINE_S;
	lim.threads = sd->nthreads;	/* each with its connection and SAM */
	/* Bound as root, served once demoted and filtered (lib/http.h). */
	if ((srv = http_listen(config_get(cfg, "sign.listen", "127.0.0.1"),
	    (uint16_t)port, &lim, csc_handle, sd, err, sizeof(err))) == NULL) {
		log_err("http: %s", err);
		goto out;
	}
	/*
	 * OpenSSL reads its configuration and loads the default provider on
	 * first use: do it now, as the sandbox forbids opening files.
	 */
	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1 ||
	    RAND_bytes(warm, sizeof(warm)) != 1 ||
	    EVP_Digest(warm, sizeof(warm), md, &mdlen, EVP_sha256(), NULL) != 1) {
		log_openssl(LOGL_ERR, "OpenSSL start-up");
		goto out;
	}
	if (sandbox_enter(cfg, "sign", SANDBOX_NET_WORKER) == -1)
		goto out;
	if (http_serve(srv, err, sizeof(err)) == -1) {
		log_err("http: %s", err);
		goto out;
	}
	log_info("serving the CSC API v2 on %s (%u thread(s), %u SAM(s), "
	    "first SAM pid %d)", http_where(srv), sd->nthreads, sd->nsams, (int)sd->sams[0].pid);
	rc = daemon_wait(sigs, NULL, NULL);
out:
	http_stop(srv);
	/* The control thread ends when the supervisor closes its end. */
	shutdown(ctl, SHUT_RDWR);
	if (have_thread)
		pthread_join(thread, NULL);
	close(ctl);
	for (i = 0; i < SIGND_THREADS_MAX; i++)
		db_close(sd->db[i]);
	/* Each SAM sees the end of its socket and exits. */
	for (i = 0; i < sd->nsams; i++)
		if (sd->sams[i].fd != -1)
			close(sd->sams[i].fd);
	return rc;
}

/* --- the supervisor ----------------------------------------------------------------- */

/* Logs how a child ended: "sam 1 (pid 42) was killed by signal 9: …". */
static void
signd_log_end(const char *who, pid_t pid, int st, const char *then)
{
	log_err("%s (pid %d) %s %d: %s", who, (int)pid, WIFSIGNALED(st) ?
	    "was killed by signal" : "exited with status", WIFSIGNALED(st) ?
	    WTERMSIG(st) : WEXITSTATUS(st), then);
}

/*
 * Starts a SAM in every empty slot and hands it to the worker. A slot whose
 * SAM was recycled (free[i]) is refilled without counting; any other start
 * counts against the restart budget: -1 when it is spent. A start that
 * fails leaves the slot empty for the next call (its threads answer 503).
 */
static int
signd_fill(const struct config *cfg, pid_t *pids, int *free_restart,
    unsigned int nsams, int ctl, struct daemon_restarts *restarts,
    int *failed)
{
	char err[512];
	unsigned int i;
	int fd;

	for (i = 0; i < nsams; i++) {
		if (pids[i] != -1)
			continue;
		if (!free_restart[i] && !daemon_restart_allowed(restarts)) {
			log_err("%d SAM restarts within %d s: stopping",
			    DAEMON_RESTARTS_MAX, DAEMON_RESTART_WINDOW_S);
			return -1;
		}
		free_restart[i] = 0;
		if ((fd = sam_spawn(cfg, &pids[i], err, sizeof(err))) == -1) {
			log_err("sam %u: %s (trying again in a second)", i, err);
			*failed = 1;
			continue;
		}
		if (handoff_send(ctl, i, pids[i], fd) == -1)
			log_err("sam %u: handing it to the worker: %s", i,
			    strerror(errno));
		close(fd);	/* the worker's copy is the one that counts */
	}
	return 0;
}

/*
 * Waits for the worker and restarts each SAM that dies; returns signd's
 * exit status. pids[i] is SAM i; the worker holds every SAM's socket. While
 * a slot is empty (a start failed) it tries again a second later: not
 * sooner, whatever wakes it (the failed SAM's own SIGCHLD did, and five
 * immediate retries spent the restart budget in 0.1 s).
 */
static int
signd_supervise(const struct config *cfg, pid_t *pids, unsigned int nsams,
    pid_t worker, int ctl, sigset_t *sigs)
{
	long long retry_at = 0;
	struct daemon_restarts restarts;
	int free_restart[SIGND_THREADS_MAX] = { 0 };
	char who[32];
	unsigned int i;
	pid_t pid;
	int sig, st, empty, failed, rc = 0, stopping = 0;

	memset(&restarts, 0, sizeof(restarts));
	while (worker > 0) {
		for (empty = 0, i = 0; i < nsams; i++)
			empty |= pids[i] == -1;
		if (empty && !stopping) {
			sig = daemon_sigwait_until(sigs, retry_at);
		} else if (sigwait(sigs, &sig) != 0)
			break;
		if (sig == SIGHUP || (sig == -1 && errno == EINTR))
			continue;
		if (sig != SIGCHLD && sig != -1) {
			log_info("signal %d: stopping", sig);
			stopping = 1;
			kill(worker, SIGTERM);
			continue;
		}
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			if (pid == worker) {
				worker = -1;
				if (!stopping || !WIFEXITED(st) ||
				    WEXITSTATUS(st) != 0) {
					signd_log_end("worker", pid, st,
					    "stopping");
					rc = 1;
				}
				break;
			}
			for (i = 0; i < nsams && pids[i] != pid; i++)
				;
			if (i == nsams)
				continue;
			pids[i] = -1;
			if (stopping)
				continue;
			/* Status 0: the worker closed its socket to recycle it. */
			free_restart[i] = WIFEXITED(st) && WEXITSTATUS(st) == 0;
			if (free_restart[i])
				log_info("sam %u (pid %d) recycled: starting "
				    "another", i, (int)pid);
			else {
				snprintf(who, sizeof(who), "sam %u", i);
				signd_log_end(who, pid, st, "starting another");
			}
		}
		if (worker <= 0 || stopping || daemon_now_ms() < retry_at)
			continue;
		failed = 0;
		if (signd_fill(cfg, pids, free_restart, nsams, ctl, &restarts,
		    &failed) == -1) {
			stopping = 1;
			rc = 1;
			kill(worker, SIGTERM);
		} else if (failed)
			retry_at = daemon_now_ms() + 1000;
	}
	if (worker > 0) {
		kill(worker, SIGTERM);
		daemon_reap(worker);
	}
	close(ctl);
	/* With the worker gone, each SAM reads the end of its socket. */
	for (i = 0; i < nsams; i++)
		daemon_reap(pids[i]);
	return rc;
}

int
main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct signer_config wrap;
	struct signd sd;
	char err[512];
	sigset_t sigs, supsigs;
	pid_t pids[SIGND_THREADS_MAX], worker;
	const char *writable[2];
	pthread_condattr_t cattr;
	long threads, sams, recycle, sam_timeout_s;
	unsigned int i, nlocks = 0;
	int ctl[2] = { -1, -1 }, rc = 1;

	/* PINs and codes arrive in JSON, SADs and tokens leave in it. */
	json_wipe_on_free(NULL, NULL);
	memset(&sd, 0, sizeof(sd));
	memset(&wrap, 0, sizeof(wrap));
	for (i = 0; i < SIGND_THREADS_MAX; i++) {
		sd.sams[i].fd = -1;
		sd.sams[i].pid = -1;
		pids[i] = -1;
	}
	if ((cfg = daemon_load_config(argc, argv, "sign", usage)) == NULL)
		return 1;
	/*
	 * The wrap token's PIN, as the SAMs will read it: with
	 * hsm.wrap_pin_file set, a PKI_WRAP_PIN beside it is wiped and unset
	 * here, before any child (logged, as for the other daemons); without
	 * it the supervisor keeps the variable for the SAMs it starts later,
	 * and the worker forgets it right after its fork. Until 2026-12-07
	 * the worker, which faces the network, kept it in its environment.
	 */
	if (signer_config_add_token(&wrap, cfg, "wrap") == -1)
		goto out;
	if (config_get_long(cfg, "sign.token_ttl_seconds", 600, 60, 3600,
	    &sd.token_ttl_s) == -1 ||
	    config_get_long(cfg, "sign.threads", 2, 1, SIGND_THREADS_MAX,
	    &threads) == -1 ||
	    config_get_long(cfg, "sign.sams", threads, 1, threads, &sams) == -1)
		goto out;
	sd.nthreads = (unsigned int)threads;
	sd.base_url = config_get(cfg, "urls.sign", "http://127.0.0.1:18084/csc/v2");
	if (config_get_long(cfg, "sign.sam_recycle_after", 100000, 0,
	    1000000000L, &recycle) == -1 ||
	    config_get_long(cfg, "sign.db_timeout_seconds", SIGND_DB_TIMEOUT_S,
	    1, 3600, &sd.db_timeout_s) == -1 ||
	    config_get_long(cfg, "sign.sam_timeout_seconds", 60, 1, 3600,
	    &sam_timeout_s) == -1)
		goto out;
	if (sd.db_timeout_s >= sam_timeout_s)
		log_warn("config: sign.db_timeout_seconds (%ld) is not below "
		    "sign.sam_timeout_seconds (%ld): a SAM whose database "
		    "stopped answering is given up on (503, Retry-After: 1) "
		    "and replaced before it can answer for itself",
		    sd.db_timeout_s, sam_timeout_s);
	if (pthread_condattr_init(&cattr) != 0 ||
	    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC) != 0) {
		log_err("pthread_condattr failed");
		goto out;
	}
	for (nlocks = 0; nlocks < (unsigned int)sams; nlocks++) {
		if (pthread_mutex_init(&sd.sams[nlocks].lock, NULL) != 0)
			break;
		if (pthread_cond_init(&sd.sams[nlocks].ready, &cattr) != 0) {
			pthread_mutex_destroy(&sd.sams[nlocks].lock);
			break;
		}
		sd.sams[nlocks].recycle_after = (unsigned long)recycle;
	}
	pthread_condattr_destroy(&cattr);
	if (nlocks < (unsigned int)sams) {
		log_err("pthread_mutex_init or pthread_cond_init failed");
		goto out;
	}
	/*
	 * Signals go to sigwait(): block them before any child or thread;
	 * the supervisor also waits for SIGCHLD (its children do not).
	 */
	daemon_block_signals(&sigs);
	supsigs = sigs;
	sigaddset(&supsigs, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &supsigs, NULL);
	/*
	 * Before the first child, so that each inherits what is left: what a
	 * SAM and the worker need, and writes only where a SAM writes (the
	 * token and lock directories): uid 0 could otherwise write /proc/sys.
	 */
	writable[0] = config_get(cfg, "hsm.module_write_dir", NULL);
	writable[1] = config_get(cfg, "hsm.lock_dir", NULL);
	if (sandbox_limit_writes(cfg, "sign", "signd's supervisor", writable,
	    2) == -1 ||
	    sandbox_supervisor(cfg, "sign", "signd's supervisor") == -1)
		goto out;
	for (sd.nsams = 0; sd.nsams < (unsigned int)sams; sd.nsams++) {
		sd.sams[sd.nsams].fd = sam_spawn(cfg, &sd.sams[sd.nsams].pid,
		    err, sizeof(err));
		if (sd.sams[sd.nsams].fd == -1) {
			log_err("%s", err);
			goto out;
		}
		pids[sd.nsams] = sd.sams[sd.nsams].pid;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) == -1) {
		log_err("socketpair: %s", strerror(errno));
		goto out;
	}
	if ((worker = fork()) == -1) {
		log_err("fork: %s", strerror(errno));
		goto out;
	}
	if (worker == 0) {
		/* Before anything else: the worker never holds the PIN. */
		signer_config_forget_pins(&wrap);
		close(ctl[0]);
		rc = signd_worker(cfg, &sd, ctl[1], &sigs);
		config_free(cfg);
		_exit(rc);
	}
	/* The supervisor keeps no SAM socket: only the worker talks to them. */
	close(ctl[1]);
	ctl[1] = -1;
	for (i = 0; i < sd.nsams; i++) {
		close(sd.sams[i].fd);
		sd.sams[i].fd = -1;
	}
	rc = signd_supervise(cfg, pids, sd.nsams, worker, ctl[0], &supsigs);
	ctl[0] = -1;
out:
	for (i = 0; i < SIGND_THREADS_MAX; i++)
		if (sd.sams[i].fd != -1)
			close(sd.sams[i].fd);
	if (ctl[0] != -1)
		close(ctl[0]);
	if (ctl[1] != -1)
		close(ctl[1]);
	if (rc != 0)
		for (i = 0; i < sd.nsams; i++)
			daemon_reap(pids[i]);
	for (i = 0; i < nlocks; i++) {
		pthread_cond_destroy(&sd.sams[i].ready);
		pthread_mutex_destroy(&sd.sams[i].lock);
	}
	config_free(cfg);
	return rc;
}
