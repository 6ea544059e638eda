/*
 * The worker's side of the signer: spawning it and the request round trips.
 *
 * Thread safety: one struct signer may be shared by threads, and their
 * requests are pipelined: a thread writes its request as soon as it has
 * the lock (one frame at a time), then waits for its turn to read, since
 * the signer answers in order. A signer that finishes one request finds
 * the next already queued instead of sleeping until the next thread gets
 * a mutex held across the whole round trip, as it did until 2026-12-06.
 * The signer still signs one request at a time: to sign in parallel,
 * spawn several signers (SoftHSM2 scales with processes, not threads:
 * HSM-NOTES.md). signer_spawn() forks: call it before starting threads.
 *
 * Time-outs: each request has a deadline (signer_proto_timeout()) counted
 * from when the signer can start on it (its turn), so a hung HSM costs a
 * caller at most that long, and the threads whose requests wait behind
 * it fail at once; the signer is then broken and ends (hsm/README.md,
 * "Time-outs").
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
#endif

#include "hsm/extern.h"
#include "hsm/signer.h"
#include "hsm/signer_proto.h"
#include "lib/cpu.h"
#include "lib/daemon.h"
#include "lib/log.h"

#define SIGNER_TURNS	16

struct signer {
	int		 fd;
	pid_t		 pid;
	int		 broken;	/* the connection failed: no more requests */
	int		 reaped;	/* pid waited for already */
	/*
	 * The signer runs as this process's user and under no filter of its
	 * own (no sandbox_section): kill() reaches it. A daemon's signer
	 * runs as hsm.user and the daemon's worker may not call kill()
	 * under its seccomp filter: such a signer ends by its own alarm.
	 */
	int		 may_kill;
	unsigned int	 hung_s;	/* the bound of a request left unanswered */
	struct signer_config bounds;	/* only timeout_s, keygen_timeout_s */
	pthread_mutex_t	 mtx;		/* writes, and the fields below */
	/*
	 * A reply was taken: the next ticket's owner reads. One condition
	 * per ticket modulo SIGNER_TURNS, so that a turn wakes its owner,
	 * not every waiting thread (and rarely one more SIGNER_TURNS on).
	 */
	pthread_cond_t	 turn[SIGNER_TURNS];
	unsigned long	 sent;		/* requests written (tickets) */
	unsigned long	 taken;		/* replies read: whose turn it is */
	unsigned long	 queued_s;	/* bounds of those sent, not taken */
	struct signer_proto_reader rd;	/* of fd, read by the turn's owner */
	pthread_mutex_t	 provmtx;	/* guards the provider's creation */
	OSSL_LIB_CTX	*libctx;	/* the provider's, made by signer_pkey() */
	OSSL_PROVIDER	*prov;
	OSSL_PROVIDER	*dflt;
	void		(*on_sync)(void *);	/* signer_on_sync */
	void		*on_sync_arg;
};

static void	signer_seterr(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
signer_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *
signer_kind_name(enum signer_kind kind)
{
	switch (kind) {
	case SIGNER_KIND_CERT:
		return "cert";
	case SIGNER_KIND_CRL:
		return "crl";
	case SIGNER_KIND_OCSP:
		return "ocsp";
	case SIGNER_KIND_TIMESTAMP:
		return "timestamp";
	case SIGNER_KIND_CMS:
		return "cms";
	case SIGNER_KIND_AUDIT:
		return "audit";
	}
	return "unknown";
}

/* Copies a reply's error text (not NUL-terminated on the wire): extern.h. */
void
signer_reply_text(const unsigned char *body, size_t len, char *err,
    size_t errlen)
{
	size_t i;

	if (err == NULL || errlen == 0)
		return;
	if (len >= errlen)
		len = errlen - 1;
	for (i = 0; i < len; i++)
		err[i] = (body[i] >= 0x20 && body[i] != 0x7f) ? (char)body[i] :
		    '?';
	err[len] = '\0';
}

/* The connection is lost: every thread waiting for its turn fails now. */
static void
signer_wake_all(struct signer *s)
{
	int i;

	s->broken = 1;
	for (i = 0; i < SIGNER_TURNS; i++)
		pthread_cond_broadcast(&s->turn[i]);
}

/*
 * A round trip got no reply within bound seconds: the signer is hung (an
 * HSM that stopped answering, a module stuck on a lock). No request goes
 * to it again; shutdown() makes it see EOF, and a reply it still sends
 * fail, should it ever wake up. Killed and reaped here when it may be
 * (may_kill); otherwise its own alarm ends it a second after our deadline
 * (signerproc), and the daemon, seeing its child end, stops to be started
 * again with a new signer (lib/daemon.h, daemon_wait). Called with the
 * mutex held; the requests queued behind fail at once.
 */
static void
signer_hung_locked(struct signer *s, unsigned int bound)
{
	s->hung_s = bound;
	signer_wake_all(s);	/* those queued fail at once */
	(void)shutdown(s->fd, SHUT_RDWR);
	log_err("signer process %ld: no reply within %u s: taken for hung%s",
	    (long)s->pid, bound, s->may_kill ? ", killed" : "");
	if (s->may_kill && s->pid > 0 && !s->reaped) {
		(void)kill(s->pid, SIGKILL);
		daemon_reap(s->pid);
		s->reaped = 1;
	}
}

/*
 * A round trip's first half: sends the request and takes the next ticket,
 * under the mutex. 0, or -1 with err (no ticket taken).
 */
static int
signer_call_send(struct signer *s, uint32_t type, const unsigned char *req,
    size_t reqlen, const unsigned char *tail, size_t taillen,
    unsigned long *ticket, char *err, size_t errlen)
{
	unsigned int bound = signer_proto_timeout(&s->bounds, type);
	long long deadline;
	int rc = -1;

	pthread_mutex_lock(&s->mtx);
	if (s->broken) {
		signer_seterr(err, errlen, "signer process %ld: %s earlier; "
		    "spawn a new signer", (long)s->pid, s->hung_s != 0 ?
		    "gave no reply in time" : "connection lost");
		goto out;
	}
	/*
	 * A frame larger than the socket's buffer waits for the signer to
	 * read it, after those queued before it: their bounds count too.
	 */
	deadline = daemon_now_ms() + ((long long)bound + s->queued_s) * 1000;
	if (signer_proto_send2_until(s->fd, type, req, reqlen, tail, taillen,
	    deadline) == -1) {
		if (errno == ETIMEDOUT) {
			signer_hung_locked(s, bound);
			signer_seterr(err, errlen, "signer process %ld: no "
			    "reply within %u s (request not taken)",
			    (long)s->pid, bound);
			goto out;
		}
		signer_wake_all(s);
		signer_seterr(err, errlen, "signer process %ld: write "
		    "request: %s", (long)s->pid, strerror(errno));
		goto out;
	}
	*ticket = s->sent++;
	s->queued_s += bound;
	rc = 0;
out:
	pthread_mutex_unlock(&s->mtx);
	return rc;
}

/*
 * A round trip's second half: waits for ticket's turn and takes its reply.
 * Every ticket taken must come here, in any thread, or those after it wait
 * for ever. Returns 0 with the OK payload in *out (malloc'd), or -1 with
 * the signer's refusal or the transport error in err.
 */
static int
signer_call_take(struct signer *s, uint32_t type, unsigned long ticket,
    unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
	unsigned char *body = NULL;
	size_t len = 0;
	uint32_t status;
	unsigned int bound = signer_proto_timeout(&s->bounds, type);
	int r, rc = -1;

	*out = NULL;
	*outlen = 0;
	pthread_mutex_lock(&s->mtx);
	while (s->taken != ticket && !s->broken)
		pthread_cond_wait(&s->turn[ticket % SIGNER_TURNS], &s->mtx);
	if (s->broken) {
		/* The request before ours hung or the connection broke. */
		signer_seterr(err, errlen, "signer process %ld: %s", (long)s->pid,
		    s->hung_s != 0 ? "gave no reply in time to a request "
		    "before this one" : "connection lost");
		goto out;
	}
	/* Our turn: the signer starts on it now; the wait is not counted. */
	pthread_mutex_unlock(&s->mtx);
	r = signer_proto_recv_from(&s->rd, SIGNER_REPLY_MAX, &status, &body,
	    &len, daemon_now_ms() + (long long)bound * 1000);
	pthread_mutex_lock(&s->mtx);
	s->taken++;
	s->queued_s -= bound;
	pthread_cond_broadcast(&s->turn[s->taken % SIGNER_TURNS]);
	if (r == -1 && errno == ETIMEDOUT) {
		signer_hung_locked(s, bound);
		signer_seterr(err, errlen, "signer process %ld: no reply "
		    "within %u s", (long)s->pid, bound);
		goto out;
	}
	if (r != 0) {
		/* A reset socket is a signer gone, not a bad frame. */
		if (r == -1 && errno != EPROTO && errno != EMSGSIZE)
			signer_seterr(err, errlen, "signer process %ld: read "
			    "reply: %s", (long)s->pid, strerror(errno));
		else
			signer_seterr(err, errlen, "signer process %ld: %s",
			    (long)s->pid, r == 1 ? "exited without a reply" :
			    "malformed reply");
		signer_wake_all(s);
		goto out;
	}
	if (status != SIGNER_OK) {
		signer_reply_text(body, len, err, errlen);
		goto out;
	}
	*out = body;
	*outlen = len;
	body = NULL;
	rc = 0;
out:
	pthread_mutex_unlock(&s->mtx);
	free(body);
	return rc;
}

/*
 * One round trip, pipelined with other threads' (above). Returns 0 with
 * the OK payload in *out (malloc'd), or -1 with the signer's refusal or
 * the transport error in err.
 */
static int
signer_call(struct signer *s, uint32_t type, const unsigned char *req,
    size_t reqlen, const unsigned char *tail, size_t taillen,
    unsigned char **out, size_t *outlen, char *err, size_t errlen)
{
	unsigned long ticket;

	*out = NULL;
	*outlen = 0;
	if (s->on_sync != NULL)
		s->on_sync(s->on_sync_arg);
	if (signer_call_send(s, type, req, reqlen, tail, taillen, &ticket, err,
	    errlen) == -1)
		return -1;
	return signer_call_take(s, type, ticket, out, outlen, err, errlen);
}

/*
 * Waits for the signer, its socket closed, to end: a healthy one sees EOF
 * and exits at once; a hung one ends by its alarm within its request's
 * bound and a second. Bounded, so that a signer that never ends (stopped,
 * or hung with the alarm blocked) does not hold up a daemon's shutdown:
 * past timeout_s + 2 s (hung_s + 2 s) it is killed when it may be, else
 * left to end on its own (init reaps it once we are gone).
 */
static void
signer_reap(struct signer *s)
{
	unsigned int bound = s->hung_s != 0 ? s->hung_s :
	    signer_proto_timeout(&s->bounds, SIGNER_MSG_SIGN);
	long long deadline = daemon_now_ms() + ((long long)bound + 2) * 1000;
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	pid_t r;

	if (s->pid <= 0 || s->reaped)
		return;
	while ((r = waitpid(s->pid, NULL, WNOHANG)) == 0 ||
	    (r == -1 && errno == EINTR)) {
		if (daemon_now_ms() >= deadline) {
			if (s->may_kill) {
				log_err("signer process %ld did not end "
				    "within %u s of its socket closing: "
				    "killed", (long)s->pid, bound + 2);
				(void)kill(s->pid, SIGKILL);
				daemon_reap(s->pid);
			} else
				log_err("signer process %ld did not end "
				    "within %u s of its socket closing: left "
				    "to end on its own", (long)s->pid,
				    bound + 2);
			break;
		}
		nanosleep(&ts, NULL);
	}
	s->reaped = 1;
}

struct signer *
signer_spawn(const struct signer_config *cfg, char *err, size_t errlen)
{
	struct signer *s = NULL;
	int sv[2] = { -1, -1 };
	unsigned char *body = NULL;
	size_t len;
	uint32_t status;
	unsigned int bound;
	int i, r, rc = -1, mtx = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		signer_seterr(err, errlen, "calloc: %s", strerror(errno));
		goto out;
	}
	s->fd = -1;
	s->pid = -1;
	s->bounds.timeout_s = cfg->timeout_s;
	s->bounds.keygen_timeout_s = cfg->keygen_timeout_s;
	s->may_kill = cfg->sandbox_section == NULL;
	if (pthread_mutex_init(&s->mtx, NULL) != 0 ||
	    pthread_mutex_init(&s->provmtx, NULL) != 0) {
		signer_seterr(err, errlen, "pthread_mutex_init failed");
		goto out;
	}
	for (i = 0; i < SIGNER_TURNS; i++)
		if (pthread_cond_init(&s->turn[i], NULL) != 0) {
			signer_seterr(err, errlen, "pthread_cond_init failed");
			goto out;
		}
	mtx = 1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		signer_seterr(err, errlen, "socketpair: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	if ((s->pid = fork()) == -1) {
		signer_seterr(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (s->pid == 0) {
		close(sv[0]);
		/* Best effort: on any CPU it signs, only slower (lib/cpu.h). */
		if (cfg->pin && cpu_pin_thread(cfg->cpu) == -1)
			log_warn("signer: cannot pin itself to CPU %d: %s",
			    cfg->cpu, strerror(errno));
		r = signerproc(sv[1], cfg);
#ifdef __SANITIZE_ADDRESS__
		/* _exit skips LeakSanitizer's atexit check: run it here. */
		if (__lsan_do_recoverable_leak_check() != 0)
			r = 23;
#endif
		_exit(r);
	}
	/*
	 * The child has its own copy of an environment PIN (and wipes it
	 * once read): the worker, which faces the network, keeps none.
	 */
	if (!cfg->keep_pin_env)
		signer_config_forget_pins(cfg);
	close(sv[1]);
	sv[1] = -1;
	s->fd = sv[0];
	sv[0] = -1;
	signer_proto_reader_init(&s->rd, s->fd);
	/*
	 * The child's first frame says whether it could log in, within the
	 * key generation bound (logins wait for each other's flock). Still
	 * before any sandbox of ours: a signer hung at start-up is killed.
	 */
	bound = signer_proto_timeout(&s->bounds, SIGNER_MSG_KEYGEN);
	r = signer_proto_recv_from(&s->rd, SIGNER_REPLY_MAX, &status, &body,
	    &len, daemon_now_ms() + (long long)bound * 1000);
	if (r == -1 && errno == ETIMEDOUT) {
		signer_seterr(err, errlen, "signer process %ld: no reply "
		    "within %u s of start-up", (long)s->pid, bound);
		(void)kill(s->pid, SIGKILL);
		goto out;
	}
	if (r != 0) {
		signer_seterr(err, errlen, "signer process %ld exited during "
		    "start-up", (long)s->pid);
		goto out;
	}
	if (status != SIGNER_OK) {
		signer_reply_text(body, len, err, errlen);
		goto out;
	}
	rc = 0;
out:
	free(body);
	if (sv[0] != -1)
		close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	if (rc == -1 && s != NULL) {
		if (s->fd != -1)
			close(s->fd);
		signer_reap(s);
		if (mtx) {
			pthread_mutex_destroy(&s->mtx);
			pthread_mutex_destroy(&s->provmtx);
		}
		free(s);
		s = NULL;
	}
	return s;
}

void
signer_close(struct signer *s)
{
	int i;

	if (s == NULL)
		return;
	provider_unload(s->libctx, s->prov, s->dflt);
	if (s->fd != -1)
		close(s->fd);	/* the signer sees EOF and exits */
	signer_reap(s);
	pthread_mutex_destroy(&s->mtx);
	pthread_mutex_destroy(&s->provmtx);
	for (i = 0; i < SIGNER_TURNS; i++)
		pthread_cond_destroy(&s->turn[i]);
	free(s);
}

int
signer_broken(struct signer *s)
{
	int b;

	pthread_mutex_lock(&s->mtx);
	b = s->broken;
	pthread_mutex_unlock(&s->mtx);
	return b;
}

int
signer_fd(const struct signer *s)
{
	return s->fd;
}

pid_t
signer_pid(const struct signer *s)
{
	return s->pid;
}

/*
 * Sends a SIGN request of type (SIGN or SIGN_HELD), with content (NULL
 * when contentlen is 0) before the TBS; its ticket.
 */
static int
signer_sign_send(struct signer *s, uint32_t type, enum signer_kind kind,
    const char *key_label, const char *mdname, const unsigned char *content,
    size_t contentlen, const unsigned char *tbs, size_t tbslen,
    unsigned long *ticket, char *err, size_t errlen)
{
	unsigned char *req = NULL;
	size_t reqlen;
	int rc;

	/* The TBS goes out in place: a CRL's can be tens of MiB. */
	if (signer_proto_sign_head_encode(kind, key_label, mdname, content,
	    contentlen, tbslen, &req, &reqlen) == -1) {
		signer_seterr(err, errlen, "sign request too large (label "
		    "<= %d, digest name <= %d, content <= %u, TBS <= %u "
		    "bytes)", SIGNER_LABEL_MAX, SIGNER_MDNAME_MAX,
		    SIGNER_CONTENT_MAX, SIGNER_TBS_MAX);
		return -1;
	}
	rc = signer_call_send(s, type, req, reqlen, tbs, tbslen, ticket, err,
	    errlen);
	free(req);
	return rc;
}

int
signer_sign_begin(struct signer *s, enum signer_kind kind,
    const char *key_label, const char *mdname, const unsigned char *tbs,
    size_t tbslen, unsigned long *ticket, char *err, size_t errlen)
{
	return signer_sign_send(s, SIGNER_MSG_SIGN_HELD, kind, key_label,
	    mdname, NULL, 0, tbs, tbslen, ticket, err, errlen);
}

int
signer_sign_attrs_begin(struct signer *s, enum signer_kind kind,
    const char *key_label, const char *mdname, const unsigned char *attrs,
    size_t attrslen, const unsigned char *content, size_t contentlen,
    unsigned long *ticket, char *err, size_t errlen)
{
	return signer_sign_send(s, SIGNER_MSG_SIGN_HELD, kind, key_label,
	    mdname, content, contentlen, attrs, attrslen, ticket, err, errlen);
}

int
signer_sign_end(struct signer *s, unsigned long ticket, unsigned char **sig,
    size_t *siglen, char *err, size_t errlen)
{
	return signer_call_take(s, SIGNER_MSG_SIGN, ticket, sig, siglen, err,
	    errlen);
}

int
signer_reply_buffered(struct signer *s)
{
	int r;

	pthread_mutex_lock(&s->mtx);
	r = signer_proto_reader_ready(&s->rd);
	pthread_mutex_unlock(&s->mtx);
	return r;
}

void
signer_on_sync(struct signer *s, void (*fn)(void *), void *arg)
{
	s->on_sync = fn;
	s->on_sync_arg = arg;
}

int
signer_sign_attrs(struct signer *s, enum signer_kind kind,
    const char *key_label, const char *mdname, const unsigned char *attrs,
    size_t attrslen, const unsigned char *content, size_t contentlen,
    unsigned char **sig, size_t *siglen, char *err, size_t errlen)
{
	unsigned long ticket;

	*sig = NULL;
	*siglen = 0;
	if (s->on_sync != NULL)
		s->on_sync(s->on_sync_arg);
	/* SIGN: answered at once, not held behind another thread's request. */
	if (signer_sign_send(s, SIGNER_MSG_SIGN, kind, key_label, mdname,
	    content, contentlen, attrs, attrslen, &ticket, err, errlen) == -1)
		return -1;
	return signer_sign_end(s, ticket, sig, siglen, err, errlen);
}

int
signer_sign(struct signer *s, enum signer_kind kind, const char *key_label,
    const char *mdname, const unsigned char *tbs, size_t tbslen,
    unsigned char **sig, size_t *siglen, char *err, size_t errlen)
{
	return signer_sign_attrs(s, kind, key_label, mdname, tbs, tbslen,
	    NULL, 0, sig, siglen, err, errlen);
}

/* Parses a DER SubjectPublicKeyInfo reply: extern.h. */
int
signer_spki(const unsigned char *der, size_t len, EVP_PKEY **pub, char *err,
    size_t errlen)
{
	const unsigned char *p = der;

	if ((*pub = d2i_PUBKEY(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		EVP_PKEY_free(*pub);
		*pub = NULL;
		signer_seterr(err, errlen, "signer sent an unparsable public "
		    "key");
		return -1;
	}
	return 0;
}

int
signer_pubkey(struct signer *s, const char *key_label, EVP_PKEY **pub,
    char *err, size_t errlen)
{
	unsigned char *req = NULL, *rep = NULL;
	size_t reqlen, replen;
	int rc = -1;

	*pub = NULL;
	if (signer_proto_pubkey_encode(key_label, &req, &reqlen) == -1) {
		signer_seterr(err, errlen, "key label longer than %d bytes",
		    SIGNER_LABEL_MAX);
		goto out;
	}
	if (signer_call(s, SIGNER_MSG_PUBKEY, req, reqlen, NULL, 0, &rep,
	    &replen, err, errlen) == -1)
		goto out;
	if (signer_spki(rep, replen, pub, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	free(req);
	free(rep);
	return rc;
}

/* KEYGEN and UNKEYGEN: the same request, one round trip of type. */
static int
signer_keyreq(struct signer *s, uint32_t type, const char *token_label,
    const char *key_label, const char *keytype, unsigned char **rep,
    size_t *replen, char *err, size_t errlen)
{
	unsigned char *req = NULL;
	size_t reqlen;
	int rc;

	*rep = NULL;
	*replen = 0;
	if (signer_proto_keygen_encode(token_label, key_label, keytype, &req,
	    &reqlen) == -1) {
		signer_seterr(err, errlen, "key request: token label <= %d, "
		    "key label <= %d, key type <= %d bytes", SIGNER_TOKLABEL_MAX,
		    SIGNER_LABEL_MAX, SIGNER_KEYTYPE_MAX);
		return -1;
	}
	rc = signer_call(s, type, req, reqlen, NULL, 0, rep, replen, err,
	    errlen);
	free(req);
	return rc;
}

int
signer_keygen(struct signer *s, const char *token_label,
    const char *key_label, const char *keytype, EVP_PKEY **pub, char *err,
    size_t errlen)
{
	unsigned char *rep = NULL;
	size_t replen;
	int rc = -1;

	*pub = NULL;
	if (signer_keyreq(s, SIGNER_MSG_KEYGEN, token_label, key_label, keytype,
	    &rep, &replen, err, errlen) == -1)
		goto out;
	if (signer_spki(rep, replen, pub, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	free(rep);
	return rc;
}

int
signer_unkeygen(struct signer *s, const char *token_label,
    const char *key_label, const char *keytype, char *err, size_t errlen)
{
	unsigned char *rep = NULL;
	size_t replen;
	int rc;

	rc = signer_keyreq(s, SIGNER_MSG_UNKEYGEN, token_label, key_label,
	    keytype, &rep, &replen, err, errlen);
	free(rep);
	return rc;
}

/* A WRAPGEN reply (extern.h), read apart so that it can be fuzzed. */
int
signer_wrapgen_reply(const unsigned char *rep, size_t replen,
    unsigned char **blob, size_t *bloblen, EVP_PKEY **pub, char *err,
    size_t errlen)
{
	size_t n;
	int rc = -1;

	*blob = NULL;
	*bloblen = 0;
	*pub = NULL;
	/* {u32 n, n bytes of blob, SPKI} (signer_proto.h) */
	n = replen < 4 ? 0 : (size_t)rep[0] << 24 | (size_t)rep[1] << 16 |
	    (size_t)rep[2] << 8 | rep[3];
	if (replen < 4 || n < 2 || n > replen - 4 ||
	    (*blob = malloc(n)) == NULL) {
		signer_seterr(err, errlen, "signer sent a malformed wrapped "
		    "key");
		goto out;
	}
	memcpy(*blob, rep + 4, n);
	*bloblen = n;
	if (signer_spki(rep + 4 + n, replen - 4 - n, pub, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1) {
		free(*blob);
		*blob = NULL;
		*bloblen = 0;
	}
	return rc;
}

int
signer_keygen_wrapped(struct signer *s, const char *wrap_label,
    const char *keytype, unsigned char **blob, size_t *bloblen,
    EVP_PKEY **pub, char *err, size_t errlen)
{
	unsigned char *req = NULL, *rep = NULL;
	size_t reqlen, replen;
	int rc = -1;

	*blob = NULL;
	*bloblen = 0;
	*pub = NULL;
	if (signer_proto_wrapgen_encode(wrap_label, keytype, &req,
	    &reqlen) == -1) {
		signer_seterr(err, errlen, "wrapgen request: wrapping key "
		    "label <= %d, key type <= %d bytes", SIGNER_LABEL_MAX,
		    SIGNER_KEYTYPE_MAX);
		goto out;
	}
	if (signer_call(s, SIGNER_MSG_WRAPGEN, req, reqlen, NULL, 0, &rep,
	    &replen, err, errlen) == -1)
		goto out;
	if (signer_wrapgen_reply(rep, replen, blob, bloblen, pub, err,
	    errlen) == -1)
		goto out;
	rc = 0;
out:
	free(req);
	free(rep);
	return rc;
}

EVP_PKEY *
signer_pkey(struct signer *s, enum signer_kind kind, const char *key_label,
    char *err, size_t errlen)
{
	EVP_PKEY *pub = NULL, *pkey = NULL;
	int ok;

	if (signer_pubkey(s, key_label, &pub, err, errlen) == -1)
		goto out;
	pthread_mutex_lock(&s->provmtx);
	ok = s->libctx != NULL ||
	    provider_load(&s->libctx, &s->prov, &s->dflt) == 0;
	pthread_mutex_unlock(&s->provmtx);
	if (!ok) {
		signer_seterr(err, errlen, "loading the pkisigner provider "
		    "failed");
		goto out;
	}
	if ((pkey = provider_pkey(s->libctx, s, kind, key_label, pub)) ==
	    NULL) {
		signer_seterr(err, errlen, "building the EVP_PKEY for key %s "
		    "failed", key_label);
		goto out;
	}
out:
	EVP_PKEY_free(pub);
	return pkey;
}
