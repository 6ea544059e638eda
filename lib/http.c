/*
 * A thin libmicrohttpd wrapper: bounded requests, one handler callback,
 * RFC 9457 problem responses. See lib/http.h.
 *
 * Request life cycle in the access callback:
 *  1. first call (headers parsed, no body yet): allocate the small per-
 *     request state; a Content-Length above max_body is answered 413 now,
 *     so the body is never read (and "Expect: 100-continue" never gets its
 *     100);
 *  2. body calls: bytes are appended up to max_body; once a body without
 *     Content-Length (chunked) passes the limit we stop storing, drain at
 *     most HTTP_DRAIN_MAX more bytes and answer 413, or drop the connection
 *     if the client keeps sending;
 *  3. final call: the handler runs once with the whole body.
 *
 * Deadlines (lim.header_deadline_s, lim.body_deadline_s): MHD's own
 * time-out restarts at every byte, so it never ends a request sent one
 * byte at a time. Each connection is tracked from MHD's
 * NOTIFY_CONNECTION (struct http_conn) with the phase its current request
 * is in and since when; a sweep once a second (a thread of ours, or
 * http_run() for lim.external) shuts down the socket of one whose headers
 * or body are late, or whose client takes its answer too slowly, and
 * MHD, reading its end, closes it. The access callback also drops a late
 * body at its next bytes.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <microhttpd.h>

#include "lib/clientkey.h"
#include "lib/daemon.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/proxy.h"

/* Defaults for zero fields of struct http_limits (Taler caps at 1 MiB). */
#define HTTP_DEF_MAX_BODY	(1024 * 1024)
#define HTTP_DEF_CONN_MEMORY	(32 * 1024)
/* Since 2026-12-07; 256 let ~300 idle sockets from 9 addresses stall rad. */
#define HTTP_DEF_MAX_CONNS	1024
/* Descriptors a daemon holds besides its connections (logs, database). */
#define HTTP_NOFILE_SPARE	128
#define HTTP_DEF_MAX_PER_IP	32
#define HTTP_DEF_TIMEOUT_S	30
/*
 * Headers: a client sends them at once (nginx too), 10 s is plenty on any
 * link. Bodies: 120 s takes 1 MiB at 70 kbit/s; daemons set their own.
 * 1 KiB a second (8 kbit/s) is below any link still in use.
 */
#define HTTP_DEF_HEADER_DEADLINE_S	10
#define HTTP_DEF_BODY_DEADLINE_S	120
#define HTTP_DEF_BODY_MIN_RATE		1024
/* Answers: 8 KiB a second (64 kbit/s) is below any link still in use. */
#define HTTP_DEF_ANSWER_MIN_RATE	8192
/* How often the deadlines are checked: a late request lives this longer. */
#define HTTP_SWEEPER_STACK	(256 * 1024)	/* its own logging, shutdown() */
#define HTTP_SWEEP_MS		1000
/* How long http_stop lets resumed answers be written before it stops. */
#define HTTP_STOP_SEND_MS	1000
/* Bytes past max_body read and discarded so a chunked sender sees 413. */
#define HTTP_DRAIN_MAX		(64 * 1024)

struct http_server {
	struct MHD_Daemon	*daemon;
	http_handler		 handler;
	void			*arg;
	struct http_limits	 lim;
	struct proxy_set	*proxies;	/* trusted reverse proxies */
	uint16_t		 port;
	int			 on_unix;	/* a unix socket: every peer a proxy */
	char			 where[192];	/* http_where(): a unix path and more */
	int			 inflight;	/* requests begun, not completed */
	int			 deferred;	/* http_defer()ed, not resumed */
	int			 resumed;	/* external: resumed since http_run() */
	int			 quiesced;	/* http_quiesce() */
	/*
	 * The listening socket while it is ours: from http_listen until
	 * http_serve hands it to MHD, and again once quiesced.
	 */
	MHD_socket		 lfd;
	int			 family;	/* its address family */
	int			 passed;	/* by the service manager */
	/*
	 * Open connections (http_conn_notify), for the deadlines' sweep.
	 * conns_lock is held from a socket's shutdown by the sweep to the
	 * end of its NOTIFY_CLOSED, which MHD calls before it closes the
	 * socket: no descriptor is shut down after MHD closed it (and
	 * perhaps accept() reused its number).
	 */
	pthread_mutex_t		 conns_lock;
	pthread_cond_t		 sweep_cv;	/* wakes the sweeper to stop */
	struct http_conn	*conns;
	int			 sweeper_on;	/* its thread runs (internal) */
	int			 sweep_stop;
	pthread_t		 sweeper;
	long long		 next_sweep_ms;	/* lim.external: in http_run */
};

/* What a connection's current request is waiting for (http_conn). */
enum http_phase {
	HTTP_PHASE_HEADERS = 0,	/* its headers (or, idle, a next request) */
	HTTP_PHASE_BODY,	/* its body */
	HTTP_PHASE_ANSWER,	/* the handler, a deferral */
	HTTP_PHASE_SEND		/* its answer, queued, being taken */
};

/* One open connection: MHD's socket_context, under srv->conns_lock. */
struct http_conn {
	struct http_conn	*prev, *next;
	MHD_socket		 fd;
	enum http_phase		 phase;
	long long		 since_ms;	/* the phase began (monotonic) */
	unsigned long long	 received;	/* body bytes of this request */
	unsigned long long	 answer_len;	/* HTTP_PHASE_SEND: its bytes */
	int			 shut;		/* shut down by the sweep */
	struct http_server	*srv;		/* whose conns_lock guards it */
	char			 key[CLIENT_KEY_MAX];	/* its client_key() */
};

/* How many connections a sweep closed, by what was late. */
struct http_swept {
	int	headers, body, answer;
};


/* The listening socket a service manager passed, or -1 (http_start). */
static int	http_inherited_fd = -1;

/* Per-request state, MHD's *req_cls; freed in http_completed(). */
struct http_req_state {
	unsigned char	*body;
	size_t		 len;
	size_t		 cap;
	size_t		 drained;	/* bytes discarded after overflow */
	int		 too_large;
	int		 answered;	/* by lim.admit, before the body */
	int		 refused;	/* by lim.admit: body dropped, then its answer */
	/* http_defer(): suspended until http_resume() sets answer. */
	struct http_server *srv;
	struct MHD_Connection *conn;
	int		 deferred;
	struct http_response answer;
	long long	 headers_ms;	/* its headers were in (monotonic) */
	unsigned long long received;	/* body bytes so far */
};

static void	http_body_free(struct http_req_state *);

/*
 * Response bodies carry SADs, access tokens and TOTP secrets: wiped before
 * free, as request bodies are (http_body_free). Frees p.
 */
static void
http_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
	free(p);
}

/* A copied body handed to MHD: wiped and freed once sent or dropped. */
struct http_owned_body {
	unsigned char	*p;
	size_t		 len;
};

static void
http_owned_body_free(void *arg)
{
	struct http_owned_body *b = arg;

	http_wipe(b->p, b->len);
	free(b);
}

/*
 * libmicrohttpd's messages, at most HTTP_MHD_LOG_PER_S a second (every
 * server of the process together); past them only counted, and the count
 * logged with the next message of a later second. A flood wrote one line
 * per connection refused at max_conns or closed mid-request (773 lines in
 * 30 s in a review's test, 2026-12-07).
 */
#define HTTP_MHD_LOG_PER_S	10
static pthread_mutex_t	http_mhd_log_lock = PTHREAD_MUTEX_INITIALIZER;
static long long	http_mhd_log_second;
static unsigned int	http_mhd_log_count, http_mhd_log_dropped;

__attribute__((format(printf, 2, 0)))
static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t len;
	long long second = daemon_now_ms() / 1000;
	unsigned int dropped = 0;
	int emit;

	pthread_mutex_lock(&http_mhd_log_lock);
	if (second != http_mhd_log_second) {
		dropped = http_mhd_log_dropped;
		http_mhd_log_second = second;
		http_mhd_log_count = 0;
		http_mhd_log_dropped = 0;
	}
	if ((emit = http_mhd_log_count < HTTP_MHD_LOG_PER_S))
		http_mhd_log_count++;
	else
		http_mhd_log_dropped++;
	pthread_mutex_unlock(&http_mhd_log_lock);
	if (dropped > 0)
		log_warn("http: libmicrohttpd: %u more message(s) in an earlier "
		    "second not logged (over %d a second)", dropped,
		    HTTP_MHD_LOG_PER_S);
	if (!emit)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len > 0 && msg[len - 1] == '\n')
		msg[--len] = '\0';
	log_warn("http: libmicrohttpd: %s", msg);
}

/* The path is handed over undecoded: callers decode what they expect. */
static size_t
http_unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

/*
 * Raises the soft limit of open files to hold conns connections and the
 * daemon's own descriptors (HTTP_NOFILE_SPARE), as far as the hard limit
 * allows: Debian's soft limit of 1024 would stop accept() short of
 * max_conns. Before the sandbox (http_listen), which may not allow it.
 */
static void
http_nofile_for(unsigned int conns)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)conns + HTTP_NOFILE_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		want = rl.rlim_max;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || want < (rlim_t)conns +
	    HTTP_NOFILE_SPARE)
		log_warn("http: open files limited to %llu (hard limit): fewer "
		    "than %u connections and the daemon's own files",
		    (unsigned long long)want, conns);
}

static void	http_remote_addr(struct MHD_Connection *, char *, size_t);

/*
 * Whether the new connection hc (its key set, not yet listed) is one too
 * many from its client, counted by client_key(): an IPv6 address by its
 * /64. MHD's own per-address limit counts each IPv6 address apart, and a
 * host holds a whole /64: 2^64 addresses, max_conns connections from one
 * machine (a review's finding, 2026-12-07). Off behind a trusted proxy or
 * on a unix socket (every peer the proxy), as MHD's is. Called with
 * conns_lock held: a walk of the open connections, at most max_conns.
 */
static int
http_conn_over_limit(const struct http_server *srv,
    const struct http_conn *hc)
{
	const struct http_conn *o;
	unsigned int n = 0;

	if (proxy_set_count(srv->proxies) > 0 || srv->on_unix)
		return 0;
	for (o = srv->conns; o != NULL; o = o->next)
		if (strcmp(o->key, hc->key) == 0 && ++n >= srv->lim.max_conns_per_ip)
			return 1;
	return 0;
}

/*
 * MHD_OPTION_NOTIFY_CONNECTION: a connection opened (tracked, its headers
 * awaited from now) or closed (forgotten, before MHD closes its socket).
 */
static void
http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *srv = cls;
	struct http_conn *hc = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (hc == NULL)
			return;
		pthread_mutex_lock(&srv->conns_lock);
		if (hc->prev != NULL)
			hc->prev->next = hc->next;
		else
			srv->conns = hc->next;
		if (hc->next != NULL)
			hc->next->prev = hc->prev;
		pthread_mutex_unlock(&srv->conns_lock);
		free(hc);
		*socket_context = NULL;
		return;
	}
	if (toe != MHD_CONNECTION_NOTIFY_STARTED ||
	    (ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_CONNECTION_FD)) == NULL)
		return;
	if ((hc = calloc(1, sizeof(*hc))) == NULL) {
		/* Untracked, it would have no deadline: not served. */
		log_err("http: calloc: %s", strerror(errno));
		(void)shutdown(ci->connect_fd, SHUT_RDWR);
		return;
	}
	hc->fd = ci->connect_fd;
	hc->srv = srv;
	hc->phase = HTTP_PHASE_HEADERS;
	hc->since_ms = daemon_now_ms();
	if (proxy_set_count(srv->proxies) == 0 && !srv->on_unix) {
		char addr[NI_MAXHOST];

		http_remote_addr(c, addr, sizeof(addr));
		client_key(addr, hc->key);
	}
	pthread_mutex_lock(&srv->conns_lock);
	if (http_conn_over_limit(srv, hc)) {
		pthread_mutex_unlock(&srv->conns_lock);
		free(hc);
		/* MHD reads the shut socket's end and closes it. */
		(void)shutdown(ci->connect_fd, SHUT_RDWR);
		return;
	}
	hc->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = hc;
	srv->conns = hc;
	pthread_mutex_unlock(&srv->conns_lock);
	*socket_context = hc;
}

/* The deadlines' record of c (http_conn_notify); NULL if none. */
static struct http_conn *
http_conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

/* c's request enters phase at now_ms (its deadline, if any, from then). */
static void
http_conn_phase(struct http_server *srv, struct MHD_Connection *c,
    enum http_phase phase, long long now_ms)
{
	struct http_conn *hc;

	if ((hc = http_conn_of(c)) == NULL)
		return;
	pthread_mutex_lock(&srv->conns_lock);
	hc->phase = phase;
	hc->since_ms = now_ms;
	hc->received = 0;
	pthread_mutex_unlock(&srv->conns_lock);
}

/* c's request body has received bytes so far (its minimum rate). */
static void
http_conn_received(struct http_server *srv, struct MHD_Connection *c,
    unsigned long long received)
{
	struct http_conn *hc;

	if ((hc = http_conn_of(c)) == NULL)
		return;
	pthread_mutex_lock(&srv->conns_lock);
	hc->received = received;
	pthread_mutex_unlock(&srv->conns_lock);
}

/*
 * c's answer of len bytes is queued: from now the client must take it
 * (http_answer_late). From the handler's thread, or the one resuming it.
 */
static void
http_conn_answer_queued(struct MHD_Connection *c, size_t len)
{
	struct http_conn *hc;

	if ((hc = http_conn_of(c)) == NULL)
		return;
	pthread_mutex_lock(&hc->srv->conns_lock);
	hc->phase = HTTP_PHASE_SEND;
	hc->since_ms = daemon_now_ms();
	hc->answer_len = len;
	pthread_mutex_unlock(&hc->srv->conns_lock);
}

/*
 * 1 when an answer of len bytes queued ms ago is late: not taken within
 * header_deadline_s plus its length at answer_min_rate.
 */
static int
http_answer_late(const struct http_server *srv, long long ms,
    unsigned long long len)
{
	return ms >= (long long)srv->lim.header_deadline_s * 1000 +
	    (long long)(len * 1000 / srv->lim.answer_min_rate);
}

/*
 * 1 when a body that has received bytes ms after its headers is late:
 * past body_deadline_s, or slower than body_min_rate once
 * header_deadline_s has passed (each byte buys 1/body_min_rate s more).
 */
static int
http_body_late(const struct http_server *srv, long long ms,
    unsigned long long received)
{
	long long grace = (long long)srv->lim.header_deadline_s * 1000;

	if (ms >= (long long)srv->lim.body_deadline_s * 1000)
		return 1;
	return ms > grace && (unsigned long long)(ms - grace) *
	    srv->lim.body_min_rate / 1000 > received;
}

/*
 * Shuts down the sockets of the connections past a deadline at now_ms;
 * MHD, reading their end, closes them (the socket stays MHD's to close).
 * Called with srv->conns_lock held; *n: how many were late with their
 * headers, their body, taking their answer (http_sweep_log, once
 * unlocked).
 */
static void
http_sweep_locked(struct http_server *srv, long long now_ms,
    struct http_swept *n)
{
	struct http_conn *hc;
	long long hd = (long long)srv->lim.header_deadline_s * 1000;

	memset(n, 0, sizeof(*n));
	for (hc = srv->conns; hc != NULL; hc = hc->next) {
		if (hc->shut)
			continue;
		if (hc->phase == HTTP_PHASE_HEADERS && now_ms - hc->since_ms >=
		    hd)
			n->headers++;
		else if (hc->phase == HTTP_PHASE_BODY && http_body_late(srv,
		    now_ms - hc->since_ms, hc->received))
			n->body++;
		else if (hc->phase == HTTP_PHASE_SEND && http_answer_late(srv,
		    now_ms - hc->since_ms, hc->answer_len))
			n->answer++;
		else
			continue;
		(void)shutdown(hc->fd, SHUT_RDWR);
		hc->shut = 1;
	}
}

/* A line a sweep, not one per connection of a flood. */
static void
http_sweep_log(const struct http_server *srv, const struct http_swept *n)
{
	if (n->headers > 0)
		log_warn("http: %s: closed %d connection(s) whose request "
		    "headers were not in within %u s", srv->where, n->headers,
		    srv->lim.header_deadline_s);
	if (n->body > 0)
		log_warn("http: %s: closed %d connection(s) whose request "
		    "body was not in within %u s, or came slower than %u "
		    "bytes/s", srv->where, n->body, srv->lim.body_deadline_s,
		    srv->lim.body_min_rate);
	if (n->answer > 0)
		log_warn("http: %s: closed %d connection(s) whose client "
		    "took its answer slower than %u bytes/s (after %u s)",
		    srv->where, n->answer, srv->lim.answer_min_rate,
		    srv->lim.header_deadline_s);
}

/* The sweeper thread of a server with threads of its own. */
static void *
http_sweeper(void *arg)
{
	struct http_server *srv = arg;
	struct timespec ts;
	struct http_swept n;

	pthread_mutex_lock(&srv->conns_lock);
	while (!srv->sweep_stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (HTTP_SWEEP_MS % 1000) * 1000000L;
		ts.tv_sec += HTTP_SWEEP_MS / 1000 + ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		(void)pthread_cond_timedwait(&srv->sweep_cv, &srv->conns_lock,
		    &ts);
		if (srv->sweep_stop)
			break;
		http_sweep_locked(srv, daemon_now_ms(), &n);
		if (n.headers > 0 || n.body > 0 || n.answer > 0) {
			pthread_mutex_unlock(&srv->conns_lock);
			http_sweep_log(srv, &n);
			pthread_mutex_lock(&srv->conns_lock);
		}
	}
	pthread_mutex_unlock(&srv->conns_lock);
	return NULL;
}

/* Stops and joins the sweeper thread, if it runs. */
static void
http_sweeper_stop(struct http_server *srv)
{
	if (!srv->sweeper_on)
		return;
	pthread_mutex_lock(&srv->conns_lock);
	srv->sweep_stop = 1;
	pthread_cond_signal(&srv->sweep_cv);
	pthread_mutex_unlock(&srv->conns_lock);
	pthread_join(srv->sweeper, NULL);
	srv->sweeper_on = 0;
	srv->sweep_stop = 0;
}

/*
 * The connection's current request is complete (answered, or ended):
 * a keep-alive connection awaits the next one's headers from now.
 */
static void
http_completed(void *cls, struct MHD_Connection *c, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct http_req_state *st = *req_cls;

	http_conn_phase(srv, c, HTTP_PHASE_HEADERS, daemon_now_ms());
	if (st == NULL)
		return;
	__atomic_sub_fetch(&srv->inflight, 1, __ATOMIC_RELEASE);
	http_body_free(st);
	http_response_clear(&st->answer);
	free(st);
	*req_cls = NULL;
}

void
http_response_clear(struct http_response *resp)
{
	int i;

	if (resp == NULL)
		return;
	free(resp->content_type);
	http_wipe(resp->body, resp->body_len);
	if (resp->release != NULL)
		resp->release(resp->release_arg);
	for (i = 0; i < resp->nheaders && i < HTTP_MAX_HEADERS; i++) {
		free(resp->header_name[i]);
		free(resp->header_value[i]);
	}
	memset(resp, 0, sizeof(*resp));
}

/* Drops the body resp holds, copied or shared. */
static void
http_response_drop_body(struct http_response *resp)
{
	http_wipe(resp->body, resp->body_len);
	resp->body = NULL;
	if (resp->release != NULL)
		resp->release(resp->release_arg);
	resp->shared = NULL;
	resp->release = NULL;
	resp->release_arg = NULL;
	resp->body_len = 0;
}

int
http_respond(struct http_response *resp, int status,
    const char *content_type, const void *body, size_t len)
{
	unsigned char *b = NULL;
	char *ct = NULL;
	int rc = -1;

	if (status < 100 || status > 599 || (body == NULL && len > 0))
		goto out;
	if (content_type != NULL && (ct = strdup(content_type)) == NULL)
		goto out;
	if (len > 0) {
		if ((b = malloc(len)) == NULL)
			goto out;
		memcpy(b, body, len);
	}
	free(resp->content_type);
	http_response_drop_body(resp);
	resp->status = status;
	resp->content_type = ct;
	resp->body = b;
	resp->body_len = len;
	ct = NULL;
	b = NULL;
	rc = 0;
out:
	free(ct);
	free(b);
	return rc;
}

int
http_respond_shared(struct http_response *resp, int status,
    const char *content_type, const void *body, size_t len,
    void (*release)(void *), void *release_arg)
{
	char *ct = NULL;

	if (release == NULL || status < 100 || status > 599 || body == NULL ||
	    len == 0 || (content_type != NULL &&
	    (ct = strdup(content_type)) == NULL)) {
		if (release != NULL)
			release(release_arg);
		return -1;
	}
	free(resp->content_type);
	http_response_drop_body(resp);
	resp->status = status;
	resp->content_type = ct;
	resp->shared = body;
	resp->body_len = len;
	resp->release = release;
	resp->release_arg = release_arg;
	return 0;
}

/* Serializes v into resp with the given content type. 0 or -1. */
static int
http_respond_json_as(struct http_response *resp, int status,
    const char *content_type, json_t *v)
{
	char *s = NULL;
	int rc = -1;

	if (v == NULL)
		goto out;
	if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		goto out;
	if (http_respond(resp, status, content_type, s, strlen(s)) == -1)
		goto out;
	rc = 0;
out:
	if (s != NULL)
		http_wipe(s, strlen(s));
	return rc;
}

int
http_respond_json(struct http_response *resp, int status, json_t *v)
{
	return http_respond_json_as(resp, status, "application/json", v);
}

int
http_problem(struct http_response *resp, int status, const char *type,
    const char *title, const char *detail)
{
	json_t *o = NULL;
	const char *reason;
	int rc = -1;

	if (title == NULL) {
		reason = MHD_get_reason_phrase_for((unsigned int)status);
		title = reason != NULL && *reason != '\0' ? reason : "Error";
	}
	o = json_pack("{s:s, s:s, s:i, s:s*}",
	    "type", type != NULL ? type : "about:blank",
	    "title", title,
	    "status", status,
	    "detail", detail);
	if (o == NULL)
		goto out;
	if (http_respond_json_as(resp, status, "application/problem+json",
	    o) == -1)
		goto out;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* RFC 9110 section 5.6.2 token characters. */
static int
http_token_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)
		    != NULL)
			continue;
		return 0;
	}
	return 1;
}

const char *
http_bearer(const struct http_request *req)
{
	const char *h = http_header(req, "Authorization");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return h;
}

/*
 * RFC 9110 §5.6.7: IMF-fixdate, then the obsolete rfc850-date and
 * asctime-date. Each is read by strptime() and written back by strftime()
 * with the same format (literals, for -Wformat=2).
 */
#define HTTP_DATE_IMF		"%a, %d %b %Y %H:%M:%S GMT"
#define HTTP_DATE_RFC850	"%A, %d-%b-%y %H:%M:%S GMT"
#define HTTP_DATE_ASCTIME	"%a %b %e %H:%M:%S %Y"
enum { HTTP_IMF = 0, HTTP_RFC850, HTTP_ASCTIME, HTTP_NDATE };
#define HTTP_DATE_MAX	40	/* "Wednesday, 09-Sep-26 01:46:40 GMT": 33 */

/* Reads s in form f into tm; the end of what it read, or NULL. */
static const char *
http_date_read(int f, const char *s, struct tm *tm)
{
	switch (f) {
	case HTTP_IMF:
		return strptime(s, HTTP_DATE_IMF, tm);
	case HTTP_RFC850:
		return strptime(s, HTTP_DATE_RFC850, tm);
	default:
		return strptime(s, HTTP_DATE_ASCTIME, tm);
	}
}

/* Writes tm in form f; the length written, 0 when it does not fit. */
static size_t
http_date_write(int f, char *buf, size_t len, const struct tm *tm)
{
	size_t n, m;

	switch (f) {
	case HTTP_IMF:
		return strftime(buf, len, HTTP_DATE_IMF, tm);
	case HTTP_RFC850:
		/* %y, without -Wformat-y2k's complaint. */
		if ((n = strftime(buf, len, "%A, %d-%b-", tm)) == 0 ||
		    len - n < 3)
			return 0;
		snprintf(buf + n, len - n, "%02d", (tm->tm_year + 1900) % 100);
		if ((m = strftime(buf + n + 2, len - n - 2, " %H:%M:%S GMT",
		    tm)) == 0)
			return 0;
		return n + 2 + m;
	default:
		return strftime(buf, len, HTTP_DATE_ASCTIME, tm);
	}
}

int
http_date_parse(const char *s, time_t now, time_t *t)
{
	struct tm tm, back, nowtm;
	const char *end;
	char again[HTTP_DATE_MAX + 1];
	time_t v;
	int f, lo;

	*t = 0;
	if (s == NULL || strlen(s) > HTTP_DATE_MAX)
		return -1;
	for (f = 0; f < HTTP_NDATE; f++) {
		memset(&tm, 0, sizeof(tm));
		if ((end = http_date_read(f, s, &tm)) == NULL || *end != '\0')
			continue;
		if (f == HTTP_RFC850) {
			/*
			 * RFC 9110 §5.6.7: a two-digit year more than 50 years
			 * ahead is the latest past year with those digits
			 * (strptime's %y says 1969-2068 whatever the date).
			 */
			if (gmtime_r(&now, &nowtm) == NULL)
				return -1;
			lo = nowtm.tm_year + 1900 - 49;
			tm.tm_year = lo + (((tm.tm_year + 1900) % 100 -
			    lo % 100) % 100 + 100) % 100 - 1900;
		}
		v = timegm(&tm);
		if (gmtime_r(&v, &back) == NULL ||
		    http_date_write(f, again, sizeof(again), &back) == 0 ||
		    strcmp(again, s) != 0)
			continue;
		*t = v;
		return 0;
	}
	return -1;
}

/*
 * RFC 9110 §13.1.2: If-None-Match = "*" / #entity-tag, a list (§5.6.1:
 * elements separated by OWS "," OWS, empty ones allowed) of entity-tags
 * (§8.8.3: [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E /
 * %x80-FF). 1 when s is one, 0 when not.
 */
static int
http_etag_list_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '*') {
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		return *p == '\0';
	}
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return 1;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p++ != '"')
			return 0;
		while (*p == 0x21 || (*p >= 0x23 && *p <= 0x7e) || *p >= 0x80)
			p++;
		if (*p++ != '"')
			return 0;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return 1;
		if (*p != ',')
			return 0;
	}
}

int
http_etag_matches(const char *inm, const char *etag)
{
	const char *p = inm, *q;
	size_t n;

	if (inm == NULL || etag == NULL || !http_etag_list_ok(inm))
		return 0;
	if (strncmp(etag, "W/", 2) == 0)
		etag += 2;
	n = strlen(etag);
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (*p != '"' || (q = strchr(p + 1, '"')) == NULL)
			return 0;	/* not an entity-tag: no match */
		if ((size_t)(q + 1 - p) == n && memcmp(p, etag, n) == 0)
			return 1;
		p = q + 1;
	}
	return 0;
}

int
http_unmodified_since(const char *ims, time_t lastmod)
{
	time_t t;

	return ims != NULL && http_date_parse(ims, time(NULL), &t) == 0 &&
	    lastmod <= t;
}

int
http_not_modified(struct http_response *resp, size_t full_len)
{
	if (http_respond(resp, 304, NULL, NULL, 0) == -1)
		return -1;
	resp->full_len = full_len;
	return 0;
}

int
http_media_type_is(const struct http_request *req, const char *type)
{
	const char *ct = req->content_type;
	size_t n = strlen(type);

	if (ct == NULL || strncasecmp(ct, type, n) != 0)
		return 0;
	for (ct += n; *ct == ' ' || *ct == '\t'; ct++)
		;
	return *ct == '\0' || *ct == ';';
}

int
http_add_header(struct http_response *resp, const char *name,
    const char *value)
{
	char *n = NULL, *v = NULL;
	int rc = -1;

	if (resp->nheaders < 0 || resp->nheaders >= HTTP_MAX_HEADERS)
		goto out;
	/* No header injection: a CR or LF in the value would split it. */
	if (name == NULL || value == NULL || !http_token_ok(name) ||
	    strpbrk(value, "\r\n") != NULL)
		goto out;
	if ((n = strdup(name)) == NULL || (v = strdup(value)) == NULL)
		goto out;
	resp->header_name[resp->nheaders] = n;
	resp->header_value[resp->nheaders] = v;
	resp->nheaders++;
	n = v = NULL;
	rc = 0;
out:
	free(n);
	free(v);
	return rc;
}

const char *
http_header(const struct http_request *req, const char *name)
{
	if (req == NULL || req->conn == NULL || name == NULL)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct http_query_buf {
	char	*out;
	size_t	 len, cap;
	int	 overflow;
};

static enum MHD_Result
http_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct http_query_buf *b = cls;
	int n;

	(void)kind;
	n = snprintf(b->out + b->len, b->cap - b->len, "%s%s%s%s",
	    b->len > 0 ? "&" : "", key, value != NULL ? "=" : "",
	    value != NULL ? value : "");
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->overflow = 1;
		return MHD_NO;
	}
	b->len += (size_t)n;
	return MHD_YES;
}

int
http_query(const struct http_request *req, char *out, size_t outlen)
{
	struct http_query_buf b;

	if (out == NULL || outlen == 0)
		return -1;
	out[0] = '\0';
	if (req == NULL || req->conn == NULL)
		return 0;
	b.out = out;
	b.len = 0;
	b.cap = outlen;
	b.overflow = 0;
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND,
	    http_query_arg, &b);
	if (b.overflow) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

static ssize_t
http_no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	(void)pos;
	(void)buf;
	(void)max;
	return MHD_CONTENT_READER_END_OF_STREAM;
}

/*
 * Queues resp on c, taking its body. Falls back to a bare 500 when the
 * response cannot be built. Returns MHD's verdict.
 */
static enum MHD_Result
http_queue(struct MHD_Connection *c, struct http_response *resp)
{
	struct MHD_Response *r = NULL;
	struct http_owned_body *owned = NULL;
	enum MHD_Result ret = MHD_NO;
	size_t len = resp->status == 304 ? 0 : resp->body_len;
	int i;

	if (resp->status == 304)
		/*
		 * RFC 9110 §8.6: Content-Length, if any, is the 200's (an empty
		 * buffer would make MHD say 0); MHD sends no body with a 304.
		 */
		r = MHD_create_response_from_callback(resp->full_len, 1024,
		    http_no_body, NULL, NULL);
	else if (resp->shared != NULL) {
		/* MHD only reads the buffer; its prototype is not const. */
		r = MHD_create_response_from_buffer_with_free_callback_cls(
		    resp->body_len, (void *)(uintptr_t)resp->shared,
		    resp->release, resp->release_arg);
		if (r != NULL)
			resp->release = NULL;	/* r releases it now */
	} else if (resp->body_len > 0) {
		if ((owned = malloc(sizeof(*owned))) != NULL) {
			owned->p = resp->body;
			owned->len = resp->body_len;
			r = MHD_create_response_from_buffer_with_free_callback_cls(
			    resp->body_len, resp->body, http_owned_body_free,
			    owned);
		}
		if (r != NULL)
			resp->body = NULL;	/* owned by r now */
		else
			free(owned);
	} else
		r = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		log_err("http: MHD_create_response_from_buffer failed");
		goto out;
	}
	if (resp->content_type != NULL &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    resp->content_type) != MHD_YES) {
		log_err("http: MHD_add_response_header Content-Type failed");
		goto out;
	}
	for (i = 0; i < resp->nheaders && i < HTTP_MAX_HEADERS; i++) {
		if (MHD_add_response_header(r, resp->header_name[i],
		    resp->header_value[i]) != MHD_YES) {
			log_err("http: MHD_add_response_header %s failed",
			    resp->header_name[i]);
			goto out;
		}
	}
	if ((ret = MHD_queue_response(c, (unsigned int)resp->status, r)) ==
	    MHD_YES)
		http_conn_answer_queued(c, len);
out:
	if (r != NULL)
		MHD_destroy_response(r);
	return ret;
}

/*
 * The library's own answers (400, 413, 500, a handler's 503) say no-store:
 * a shared cache in front of a daemon must not keep an error in place of
 * the resource. close_after: the connection is closed once it is sent.
 */
static enum MHD_Result
http_queue_problem(struct MHD_Connection *c, int status, const char *detail,
    int close_after)
{
	struct http_response resp;
	enum MHD_Result ret;

	memset(&resp, 0, sizeof(resp));
	if (http_problem(&resp, status, NULL, NULL, detail) == -1 ||
	    http_add_header(&resp, "Cache-Control", "no-store") == -1 ||
	    (close_after && http_add_header(&resp, "Connection", "close") ==
	    -1)) {
		http_response_clear(&resp);
		return MHD_NO;
	}
	ret = http_queue(c, &resp);
	http_response_clear(&resp);
	return ret;
}

/*
 * 503 problem JSON with Retry-After: a handler failed because its database
 * was unavailable or busy (lib/db.h: db_unavailable), as during a restart
 * or a failover, or behind a lock held longer than the role's bound. Handlers with an error form of their own (CSC) answer it
 * themselves.
 */
static enum MHD_Result
http_queue_unavailable(struct MHD_Connection *c)
{
	struct http_response resp;
	enum MHD_Result ret = MHD_NO;
	char s[16];

	memset(&resp, 0, sizeof(resp));
	snprintf(s, sizeof(s), "%d", DB_RETRY_AFTER_S);
	if (http_problem(&resp, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, NULL,
	    "the database is unavailable or busy for now (a restart, a "
	    "failover, a lock held too long); try again shortly") == 0 &&
	    http_add_header(&resp, "Retry-After", s) == 0 &&
	    http_add_header(&resp, "Cache-Control", "no-store") == 0)
		ret = http_queue(c, &resp);
	http_response_clear(&resp);
	return ret;
}

/*
 * Content-Length as sent, when present and a plain decimal number.
 * Returns 1 with *len set, 0 when absent, -1 when malformed (MHD itself
 * answers those with 400).
 */
static int
http_content_length(struct MHD_Connection *c, unsigned long long *len)
{
	const char *v;
	char *end;

	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (v == NULL)
		return 0;
	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	*len = strtoull(v, &end, 10);
	if (*end != '\0' || errno == ERANGE)
		return -1;
	return 1;
}

/*
 * Request bodies carry PINs, OTPs, passwords, SADs and client secrets:
 * wiped before their memory goes back to the allocator, here and when the
 * buffer grows (realloc would leave the old copy behind unwiped).
 */
static void
http_body_free(struct http_req_state *st)
{
	http_wipe(st->body, st->cap);
	st->body = NULL;
	st->len = st->cap = 0;
}

/* Appends data to the body or, past max_body, counts it as drained. */
static int
http_body_append(struct http_req_state *st, size_t max_body,
    const char *data, size_t size)
{
	unsigned char *nb;
	size_t ncap;

	if (st->too_large || size > max_body - st->len) {
		st->too_large = 1;
		http_body_free(st);
		if (size > HTTP_DRAIN_MAX - st->drained)
			return -1;
		st->drained += size;
		return 0;
	}
	if (st->len + size > st->cap) {
		ncap = st->cap == 0 ? 4096 : st->cap;
		while (ncap < st->len + size)
			ncap = ncap > max_body / 2 ? max_body : ncap * 2;
		if ((nb = malloc(ncap)) == NULL)
			return -1;
		if (st->len > 0)
			memcpy(nb, st->body, st->len);
		http_wipe(st->body, st->cap);
		st->body = nb;
		st->cap = ncap;
	}
	memcpy(st->body + st->len, data, size);
	st->len += size;
	return 0;
}

static void
http_remote_addr(struct MHD_Connection *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci;
	socklen_t slen;

	snprintf(buf, len, "unknown");
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (ci->client_addr->sa_family == AF_UNIX) {
		snprintf(buf, len, "%s", PROXY_PEER_UNIX);
		return;
	}
	slen = ci->client_addr->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (getnameinfo(ci->client_addr, slen, buf, len, NULL, 0,
	    NI_NUMERICHOST) != 0)
		snprintf(buf, len, "unknown");
}

/* Counts the X-Forwarded-For headers, keeping the last one's value. */
struct http_xff {
	const char	*value;
	int		 n;
};

static enum MHD_Result
http_xff_count(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct http_xff *x = cls;

	if (key != NULL && strcasecmp(key, "X-Forwarded-For") == 0) {
		x->value = value;
		x->n++;
	}
	return MHD_YES;
}

/* The client's address: the peer's, or behind a trusted proxy its X-Forwarded-For. */
static void
http_client_addr(const struct http_server *srv, struct MHD_Connection *c,
    char *buf, size_t len)
{
	char peer[NI_MAXHOST];
	struct http_xff x = { NULL, 0 };

	/* No proxy trusted (the default): the peer, with no more work per request. */
	if (proxy_set_count(srv->proxies) == 0 && !srv->on_unix) {
		http_remote_addr(c, buf, len);
		return;
	}
	http_remote_addr(c, peer, sizeof(peer));
	MHD_get_connection_values(c, MHD_HEADER_KIND, http_xff_count, &x);
	proxy_client_addr(srv->proxies, peer, x.value, x.n, buf, len);
}

/*
 * Queues a handler's answer (hrc its return), taking resp's contents; one
 * that is not valid becomes a 500 problem, or a 503 when the database was
 * the cause.
 */
static enum MHD_Result
http_answer(struct MHD_Connection *c, const char *method, const char *url,
    int hrc, struct http_response *resp)
{
	enum MHD_Result ret;

	if (resp->status < 100 || resp->status > 599 ||
	    (hrc == -1 && resp->status == 0)) {
		if (hrc != -1)
			log_err("http: %s %s: handler left no valid status "
			    "(%d)", method, url, resp->status);
		http_response_clear(resp);
		/* A restart or failover under way: the client may retry. */
		if (hrc == -1 && db_unavailable())
			return http_queue_unavailable(c);
		return http_queue_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    NULL, 0);
	}
	ret = http_queue(c, resp);
	http_response_clear(resp);
	if (ret != MHD_YES)
		ret = http_queue_problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    NULL, 0);
	return ret;
}

struct http_deferred *
http_defer(const struct http_request *req)
{
	struct http_req_state *st = req->state;

	if (st == NULL || st->srv == NULL || !st->srv->lim.deferrable ||
	    st->deferred)
		return NULL;
	/* Called from within the handler, as MHD requires. */
	MHD_suspend_connection(st->conn);
	st->deferred = 1;
	__atomic_add_fetch(&st->srv->deferred, 1, __ATOMIC_ACQ_REL);
	return (struct http_deferred *)st;
}

void
http_resume(struct http_deferred *d, struct http_response *resp)
{
	struct http_req_state *st = (struct http_req_state *)d;
	struct http_server *srv = st->srv;

	/* MHD's own lock in MHD_resume_connection publishes the answer. */
	st->answer = *resp;
	memset(resp, 0, sizeof(*resp));
	MHD_resume_connection(st->conn);
	/*
	 * External: no ITC wakes the caller's loop and MHD_get_timeout()
	 * does not count a resumed connection, so http_poll_timeout_ms()
	 * says 0 until the next http_run() takes it.
	 */
	if (srv->lim.external)
		srv->resumed = 1;
	__atomic_sub_fetch(&srv->deferred, 1, __ATOMIC_ACQ_REL);
}

/*
 * Runs fn, the handler on the complete request or lim.admit on its headers
 * (no body stored), and queues its answer. An admit that answers nothing
 * (returns 0, no status) lets the body in: MHD_YES, nothing queued. With
 * hold set, an admit's refusal is not queued but noted (st->refused): the
 * body, already on its way, is read and dropped first (http_access); but
 * a 411 or 413 is queued at once whatever hold says.
 */
/*
 * The path of a request target in absolute form ("http://host:port/p"),
 * which a server must accept (RFC 9112 §3.2.2) and libmicrohttpd passes
 * on as it came: its path ("/p", or "/" when there is none); any other
 * target as it is. Only http and https are ours to serve.
 */
static const char *
http_origin_form(const char *url)
{
	const char *p;
	size_t n;

	if (strncasecmp(url, "http://", 7) == 0)
		n = 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		n = 8;
	else
		return url;
	p = strchr(url + n, '/');
	return p != NULL ? p : "/";
}

static enum MHD_Result
http_dispatch(struct http_server *srv, struct MHD_Connection *c,
    const char *url, const char *method, struct http_req_state *st,
    http_handler fn, int hold)
{
	struct http_request req;
	struct http_response resp;
	char addr[NI_MAXHOST];
	int hrc;

	http_client_addr(srv, c, addr, sizeof(addr));
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = http_origin_form(url);
	req.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	req.body = st->body;
	req.body_len = st->len;
	req.remote_addr = addr;
	req.conn = c;

	if (fn == srv->handler) {
		st->srv = srv;
		st->conn = c;
		req.state = st;
	}

	memset(&resp, 0, sizeof(resp));
	db_unavailable_clear();
	hrc = fn(srv->arg, &req, &resp);
	if (fn == srv->lim.admit) {
		/*
		 * 411 and 413 refuse the body for its framing or size: sent
		 * now, as our own 413, never waiting for a body too large to
		 * drain (MHD closes the connection after it).
		 */
		if (hold && hrc == 0 && (resp.status ==
		    MHD_HTTP_LENGTH_REQUIRED || resp.status ==
		    MHD_HTTP_CONTENT_TOO_LARGE))
			hold = 0;
		if ((hrc == 0 && resp.status == 0) || hold) {
			st->refused = !(hrc == 0 && resp.status == 0);
			http_response_clear(&resp);
			return MHD_YES;
		}
		st->answered = 1;
	}
	/* Suspended: http_resume() brings the answer (http_access). */
	if (st->deferred) {
		if (hrc != HTTP_DEFERRED)
			log_err("http: %s %s: handler deferred its answer but "
			    "returned %d", method, url, hrc);
		http_response_clear(&resp);
		return MHD_YES;
	}
	if (hrc == HTTP_DEFERRED) {
		log_err("http: %s %s: handler returned HTTP_DEFERRED without "
		    "http_defer()", method, url);
		hrc = -1;
	}
	return http_answer(c, method, url, hrc, &resp);
}

/* Counts a request's Content-Length and Transfer-Encoding field lines. */
struct http_framing {
	int		 clen;
	int		 te;
	const char	*te_value;	/* the last one's */
};

static enum MHD_Result
http_framing_count(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct http_framing *f = cls;

	(void)kind;
	if (key != NULL && strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		f->clen++;
	else if (key != NULL && strcasecmp(key,
	    MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->te++;
		f->te_value = value;
	}
	return MHD_YES;
}

/*
 * 0 when the request's body is framed one way only, else the status to
 * answer (the connection then closed) with why in *why. libmicrohttpd
 * reads the first Content-Length and takes what follows for a pipelined
 * request (smuggling, when a proxy in front read another one), reads a
 * chunked body past a Content-Length, takes the first of two
 * Transfer-Encodings, and waits for ever on a coding it does not know.
 * RFC 9110 §8.6 lets a recipient refuse a repeated Content-Length, even
 * an equal one; RFC 9112 §6.3 asks for 400 and close on lengths that
 * differ, and a close after any request with both fields (§6.1: a
 * smuggling attempt); §6.1: chunked must be the final coding, applied
 * once (one field line, then), and an unknown coding gets 501.
 */
static int
http_framing_bad(struct MHD_Connection *c, const char **why)
{
	struct http_framing f = { 0, 0, NULL };

	*why = NULL;
	MHD_get_connection_values(c, MHD_HEADER_KIND, http_framing_count, &f);
	if (f.clen > 1)
		*why = "more than one Content-Length field (RFC 9110 §8.6, "
		    "RFC 9112 §6.3)";
	else if (f.clen > 0 && f.te > 0)
		*why = "both Content-Length and Transfer-Encoding (RFC 9112 "
		    "§6.1, §6.3)";
	else if (f.te > 1)
		*why = "more than one Transfer-Encoding field: chunked is "
		    "applied once, last (RFC 9112 §6.1)";
	else if (f.te == 1 && (f.te_value == NULL ||
	    strcasecmp(f.te_value, "chunked") != 0)) {
		*why = "the only transfer coding implemented is chunked, "
		    "alone (RFC 9112 §6.1)";
		return MHD_HTTP_NOT_IMPLEMENTED;
	}
	return *why != NULL ? MHD_HTTP_BAD_REQUEST : 0;
}

/*
 * 1 when the client sends its body without waiting for "100 Continue": an
 * answer before it would close a connection with unread bytes, and the
 * client would read a reset rather than the answer.
 */
static int
http_body_follows(struct MHD_Connection *c)
{
	const char *ex;
	unsigned long long clen;

	ex = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_EXPECT);
	if (ex != NULL && strcasecmp(ex, "100-continue") == 0)
		return 0;
	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
		return 1;
	return http_content_length(c, &clen) == 1 && clen > 0;
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct http_server *srv = cls;
	struct http_req_state *st = *req_cls;
	unsigned long long clen;
	const char *why;
	long long now;
	enum MHD_Result ret;
	int bad;

	if (st == NULL) {
		/* Headers only so far: decide on the body before reading it. */
		if ((st = calloc(1, sizeof(*st))) == NULL) {
			log_err("http: calloc: %s", strerror(errno));
			return MHD_NO;
		}
		*req_cls = st;
		/* Until http_completed: http_stop lets it finish. */
		__atomic_add_fetch(&srv->inflight, 1, __ATOMIC_ACQUIRE);
		st->headers_ms = daemon_now_ms();
		http_conn_phase(srv, c, HTTP_PHASE_BODY, st->headers_ms);
		if ((bad = http_framing_bad(c, &why)) != 0) {
			/* Nothing more is read: its end is unknown. */
			st->answered = 1;
			http_conn_phase(srv, c, HTTP_PHASE_ANSWER,
			    st->headers_ms);
			return http_queue_problem(c, bad, why, 1);
		}
		if (http_content_length(c, &clen) == 1 &&
		    clen > srv->lim.max_body) {
			st->too_large = 1;
			http_conn_phase(srv, c, HTTP_PHASE_ANSWER,
			    st->headers_ms);
			return http_queue_problem(c,
			    MHD_HTTP_CONTENT_TOO_LARGE,
			    "request body exceeds the size limit", 0);
		}
		if (srv->lim.admit == NULL)
			return MHD_YES;
		/*
		 * Refused (e.g. 401): answered now when no body is on its way
		 * (none, or the client waits for "100 Continue", which then
		 * never comes); otherwise the body is read and dropped, never
		 * stored, and the answer follows it.
		 */
		ret = http_dispatch(srv, c, url, method, st, srv->lim.admit,
		    http_body_follows(c));
		if (st->answered)
			http_conn_phase(srv, c, HTTP_PHASE_ANSWER,
			    st->headers_ms);
		return ret;
	}
	if (st->answered)	/* MHD sends that answer and closes */
		return MHD_NO;
	if (st->deferred) {	/* resumed: http_resume() set the answer */
		st->deferred = 0;
		return http_answer(c, method, url, 0, &st->answer);
	}
	now = daemon_now_ms();
	if (*upload_data_size == 0)	/* the body is in: no deadline now */
		http_conn_phase(srv, c, HTTP_PHASE_ANSWER, now);
	else {
		st->received += *upload_data_size;
		if (http_body_late(srv, now - st->headers_ms, st->received)) {
			log_warn("http: %s %s: body not in within %u s, or "
			    "slower than %u bytes/s: dropping the connection",
			    method, url, srv->lim.body_deadline_s,
			    srv->lim.body_min_rate);
			return MHD_NO;
		}
		http_conn_received(srv, c, st->received);
	}
	if (st->refused) {
		if (*upload_data_size == 0)
			return http_dispatch(srv, c, url, method, st,
			    srv->lim.admit, 0);
		if (*upload_data_size > srv->lim.max_body - st->drained) {
			log_warn("http: %s %s: refused body over limit, "
			    "dropping the connection", method, url);
			return MHD_NO;
		}
		st->drained += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (http_body_append(st, srv->lim.max_body, upload_data,
		    *upload_data_size) == -1) {
			log_warn("http: %s %s: body over limit, dropping the "
			    "connection", method, url);
			return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (st->too_large)
		return http_queue_problem(c, MHD_HTTP_CONTENT_TOO_LARGE,
		    "request body exceeds the size limit", 0);
	return http_dispatch(srv, c, url, method, st, srv->handler, 0);
}

/* Numeric addresses only: no resolver, and never the wildcard by accident. */
static int
http_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *slen)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*slen = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*slen = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/*
 * A unix socket's peers are all trusted as proxies (http_client_addr): its
 * file must not admit every local user (systemd's SocketMode defaults to
 * 0666), nor may it be abstract, which has no permissions at all. 0, or
 * -1 with err; other families pass.
 */
static int
http_unix_socket_private(int fd, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	struct stat st;

	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &len) == -1) {
		snprintf(err, errlen, "getsockname on the passed socket: %s",
		    strerror(errno));
		return -1;
	}
	if (sun.sun_family != AF_UNIX)
		return 0;
	if (len <= offsetof(struct sockaddr_un, sun_path) ||
	    sun.sun_path[0] == '\0') {
		snprintf(err, errlen, "the passed unix socket has no path "
		    "(abstract or unnamed): anyone could connect as the proxy");
		return -1;
	}
	sun.sun_path[sizeof(sun.sun_path) - 1] = '\0';
	if (stat(sun.sun_path, &st) == -1) {
		snprintf(err, errlen, "stat %s: %s", sun.sun_path,
		    strerror(errno));
		return -1;
	}
	if ((st.st_mode & S_IWOTH) != 0) {
		snprintf(err, errlen, "%s is writable by every user, who could "
		    "then connect as the proxy: SocketMode=0660 and the "
		    "proxy's group", sun.sun_path);
		return -1;
	}
	return 0;
}

int
http_take_inherited_socket(char *err, size_t errlen)
{
	const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
	char fds[32];
	char *end;
	long pid;
	int type = 0, accepting = 0;
	socklen_t optlen;

	if (pid_s == NULL || fds_s == NULL)
		return 0;
	errno = 0;
	pid = strtol(pid_s, &end, 10);
	if (errno != 0 || end == pid_s || *end != '\0' || pid != (long)getpid())
		return 0;	/* another process's (sd_listen_fds(3) does so) */
	snprintf(fds, sizeof(fds), "%s", fds_s);
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	if (strcmp(fds, "0") == 0)
		return 0;
	if (strcmp(fds, "1") != 0) {
		snprintf(err, errlen, "LISTEN_FDS=%s: one listening socket is "
		    "served (one ListenStream= in the .socket unit)", fds);
		return -1;
	}
	optlen = sizeof(type);
	if (getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &optlen) == -1 ||
	    type != SOCK_STREAM || (optlen = sizeof(accepting),
	    getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &optlen)) ==
	    -1 || !accepting) {
		snprintf(err, errlen, "LISTEN_FDS=1: descriptor 3 is not a "
		    "listening stream socket");
		return -1;
	}
	if (http_unix_socket_private(3, err, errlen) == -1)
		return -1;
	(void)fcntl(3, F_SETFD, FD_CLOEXEC);
	http_inherited_fd = 3;
	return 1;
}

/* srv->port and srv->where from the address the socket is bound to. */
static void
http_describe(struct http_server *srv, const struct sockaddr_storage *ss,
    socklen_t len, int passed)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)ss;
	const char *by = passed ? " (passed by the service manager)" : "";
	char host[INET6_ADDRSTRLEN];
	size_t pathlen;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		srv->port = ntohs(sin6->sin6_port);
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(srv->where, sizeof(srv->where), "[%s]:%u%s", host,
		    (unsigned int)srv->port, by);
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		srv->port = ntohs(sin->sin_port);
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(srv->where, sizeof(srv->where), "%s:%u%s", host,
		    (unsigned int)srv->port, by);
	} else if (ss->ss_family == AF_UNIX) {
		/* sun_path need not be terminated: bound it by the length. */
		pathlen = len > offsetof(struct sockaddr_un, sun_path) ?
		    len - offsetof(struct sockaddr_un, sun_path) : 0;
		pathlen = strnlen(sun->sun_path, pathlen);
		snprintf(srv->where, sizeof(srv->where), "unix:%.*s%s",
		    (int)pathlen, sun->sun_path, by);
	} else
		snprintf(srv->where, sizeof(srv->where), "address family %d%s",
		    (int)ss->ss_family, by);
}

int
http_socket_passed(void)
{
	return http_inherited_fd != -1;
}

/*
 * A listening socket of our own on ss (http_listen): what libmicrohttpd
 * would make (SO_REUSEADDR, and SO_REUSEPORT too for lim.reuse_port; an
 * IPv6 socket for IPv6 only; SOMAXCONN), bound and listening before MHD
 * starts, so that a daemon can bind a port below 1024 as root and demote
 * before any thread of MHD's serves it. The socket, or -1 with err.
 */
static int
http_bind(const struct sockaddr_storage *ss, socklen_t slen, int reuse_port,
    const char *addr, uint16_t port, char *err, size_t errlen)
{
	int fd, on = 1;

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on,
	    sizeof(on)) == -1) ||
	    (ss->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)) {
		snprintf(err, errlen, "setsockopt: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (const struct sockaddr *)ss, slen) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		snprintf(err, errlen, "listening on %s port %u: %s", addr,
		    (unsigned int)port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * srv->conns_lock and srv->sweep_cv, whose waits count on the monotonic
 * clock (http_sweeper). 0, or -1 with neither made.
 */
static int
http_sync_init(struct http_server *srv)
{
	pthread_condattr_t ca;
	int rc = -1;

	if (pthread_condattr_init(&ca) != 0)
		return -1;
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_mutex_init(&srv->conns_lock, NULL) != 0)
		goto out;
	if (pthread_cond_init(&srv->sweep_cv, &ca) != 0) {
		pthread_mutex_destroy(&srv->conns_lock);
		goto out;
	}
	rc = 0;
out:
	pthread_condattr_destroy(&ca);
	return rc;
}

/*
 * http_listen() on listening socket lfd when it is not -1 (taken: closed
 * by http_stop, or served by MHD once http_serve started it), described as
 * passed by the service manager when passed, and as another server's when
 * shared (http_listen_shared); otherwise on a socket of its own bound to
 * addr:port. *taken: the server took lfd.
 */
static struct http_server *
http_listen_fd(const char *addr, uint16_t port, const struct http_limits *lim,
    http_handler handler, void *arg, int lfd, int passed, int shared,
    int *taken, char *err, size_t errlen)
{
	struct http_server *srv = NULL;
	struct sockaddr_storage ss, bound;
	socklen_t slen, blen;
	int rc = -1;

	*taken = 0;
	if (errlen > 0)
		err[0] = '\0';
	if (addr == NULL || handler == NULL) {
		snprintf(err, errlen, "http_listen: address and handler needed");
		goto out;
	}
	if (lfd == -1 && strcmp(addr, HTTP_LISTEN_PASSED) == 0) {
		snprintf(err, errlen, "listen = %s, but no socket was passed "
		    "(enable the daemon's .socket unit, then restart it)",
		    HTTP_LISTEN_PASSED);
		goto out;
	}
	if (lfd != -1) {
		/* Passed by the service manager (or shared): its address. */
		slen = sizeof(ss);
		if (getsockname(lfd, (struct sockaddr *)&ss, &slen) == -1) {
			snprintf(err, errlen, "getsockname on the passed "
			    "socket: %s", strerror(errno));
			goto out;
		}
	} else if (http_sockaddr(addr, port, &ss, &slen) == -1) {
		snprintf(err, errlen, "http_listen: \"%s\" is not a numeric "
		    "IPv4 or IPv6 address", addr);
		goto out;
	}
	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		goto out;
	}
	if (http_sync_init(srv) == -1) {
		snprintf(err, errlen, "pthread_mutex_init or pthread_cond_init "
		    "failed");
		free(srv);
		srv = NULL;
		goto out;
	}
	srv->handler = handler;
	srv->arg = arg;
	srv->lfd = MHD_INVALID_SOCKET;
	srv->passed = passed;
	srv->family = ss.ss_family;
	srv->on_unix = ss.ss_family == AF_UNIX;
	if (lim != NULL)
		srv->lim = *lim;
	if (srv->lim.max_body == 0)
		srv->lim.max_body = HTTP_DEF_MAX_BODY;
	if (srv->lim.conn_memory == 0)
		srv->lim.conn_memory = HTTP_DEF_CONN_MEMORY;
	if (srv->lim.max_conns == 0)
		srv->lim.max_conns = HTTP_DEF_MAX_CONNS;
	if (srv->lim.max_conns_per_ip == 0)
		srv->lim.max_conns_per_ip = HTTP_DEF_MAX_PER_IP;
	if (srv->lim.timeout_s == 0)
		srv->lim.timeout_s = HTTP_DEF_TIMEOUT_S;
	if (srv->lim.threads == 0)
		srv->lim.threads = 1;
	if (srv->lim.header_deadline_s == 0)
		srv->lim.header_deadline_s = HTTP_DEF_HEADER_DEADLINE_S;
	if (srv->lim.body_deadline_s == 0)
		srv->lim.body_deadline_s = HTTP_DEF_BODY_DEADLINE_S;
	if (srv->lim.body_min_rate == 0)
		srv->lim.body_min_rate = HTTP_DEF_BODY_MIN_RATE;
	if (srv->lim.answer_min_rate == 0)
		srv->lim.answer_min_rate = HTTP_DEF_ANSWER_MIN_RATE;
	http_nofile_for(srv->lim.max_conns * srv->lim.threads);
	if ((srv->proxies = proxy_set_parse(srv->lim.trusted_proxies, err,
	    errlen)) == NULL)
		goto out;
	srv->lim.trusted_proxies = NULL;	/* the caller's string */
	if (proxy_set_count(srv->proxies) > 0)
		log_info("http: behind %zu trusted proxy address(es): the client "
		    "is the one their X-Forwarded-For names; no per-address "
		    "connection limit", proxy_set_count(srv->proxies));
	if (lfd != -1) {
		srv->lfd = lfd;
		*taken = 1;
		if (passed && shared)
			log_info("http: serving the socket the service manager "
			    "passed (%s), shared with another server",
			    srv->on_unix ? "unix" : "tcp");
		else if (passed)
			log_info("http: serving the socket the service manager "
			    "passed (%s), not %s port %u", srv->on_unix ?
			    "unix" : "tcp", addr, (unsigned int)port);
	} else if ((srv->lfd = http_bind(&ss, slen, srv->lim.reuse_port,
	    addr, port, err, errlen)) == -1)
		goto out;
	blen = sizeof(bound);
	if (getsockname(srv->lfd, (struct sockaddr *)&bound, &blen) == -1) {
		snprintf(err, errlen, "getsockname on the listening socket: %s",
		    strerror(errno));
		goto out;
	}
	http_describe(srv, &bound, blen, passed);
	rc = 0;
out:
	if (rc == -1) {
		http_stop(srv);
		srv = NULL;
	}
	return srv;
}

int
http_serve(struct http_server *srv, char *err, size_t errlen)
{
	struct MHD_OptionItem pool[3] = {
		{ MHD_OPTION_END, 0, NULL }, { MHD_OPTION_END, 0, NULL },
		{ MHD_OPTION_END, 0, NULL } };
	int npool = 0, r;
	unsigned int flags;

	if (errlen > 0)
		err[0] = '\0';
	if (srv == NULL || srv->daemon != NULL || srv->lfd ==
	    MHD_INVALID_SOCKET) {
		snprintf(err, errlen, "http_serve: no listening socket, or "
		    "served already");
		return -1;
	}
	/* MHD_USE_ITC: http_stop quiesces (stops accepting) before it stops. */
	flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	if (!srv->lim.external)
		flags |= MHD_USE_INTERNAL_POLLING_THREAD;
	if (srv->lim.deferrable)
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	if (srv->family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* One thread: no pool option at all (MHD warns about 0 or 1). */
	if (srv->lim.threads > 1 && !srv->lim.external) {
		pool[npool].option = MHD_OPTION_THREAD_POOL_SIZE;
		pool[npool++].value = (intptr_t)srv->lim.threads;
	}
	/* Bound by http_listen (or passed): MHD binds nothing, opens no socket. */
	pool[npool].option = MHD_OPTION_LISTEN_SOCKET;
	pool[npool++].value = srv->lfd;
	/*
	 * The deadlines' sweep: http_run() does it for lim.external; a
	 * thread of ours otherwise (seccomp allows threads: sandbox.c).
	 */
	srv->next_sweep_ms = daemon_now_ms() + HTTP_SWEEP_MS;
	if (!srv->lim.external) {
		/*
		 * A small stack: thread stacks count in RLIMIT_DATA, which
		 * pkisign caps; glibc's default 8 MiB moved its refusal of a
		 * large document from the CPU budget to the memory cap.
		 */
		pthread_attr_t attr;

		if ((r = pthread_attr_init(&attr)) == 0 &&
		    (r = pthread_attr_setstacksize(&attr,
		    HTTP_SWEEPER_STACK)) == 0)
			r = pthread_create(&srv->sweeper, &attr, http_sweeper,
			    srv);
		pthread_attr_destroy(&attr);
		if (r != 0) {
			snprintf(err, errlen, "pthread_create: %s",
			    strerror(r));
			return -1;
		}
		srv->sweeper_on = 1;
	}
	/* The logger goes first so MHD never prints on its own. */
	srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL,
	    http_access, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, NULL,
	    MHD_OPTION_CONNECTION_LIMIT, srv->lim.max_conns,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, proxy_set_count(srv->proxies) >
	    0 || srv->on_unix ? 0U : srv->lim.max_conns_per_ip,
	    MHD_OPTION_CONNECTION_TIMEOUT, srv->lim.timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, srv->lim.conn_memory,
	    MHD_OPTION_ARRAY, pool,
	    MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
	    MHD_OPTION_UNESCAPE_CALLBACK, http_unescape_none, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, srv,
	    MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify, srv,
	    MHD_OPTION_END);
	if (srv->daemon == NULL) {
		snprintf(err, errlen, "MHD_start_daemon on %s failed (limits "
		    "rejected?)", srv->where);
		http_sweeper_stop(srv);
		return -1;
	}
	/* MHD owns and closes it now (http_quiesce gives it back). */
	srv->lfd = MHD_INVALID_SOCKET;
	return 0;
}

struct http_server *
http_listen(const char *addr, uint16_t port, const struct http_limits *lim,
    http_handler handler, void *arg, char *err, size_t errlen)
{
	struct http_server *srv;
	int taken;

	srv = http_listen_fd(addr, port, lim, handler, arg, http_inherited_fd,
	    http_inherited_fd != -1, 0, &taken, err, errlen);
	/* One server per passed socket (http_listen_shared for more). */
	if (taken)
		http_inherited_fd = -1;
	return srv;
}

struct http_server *
http_listen_shared(const struct http_server *first,
    const struct http_limits *lim, http_handler handler, void *arg,
    char *err, size_t errlen)
{
	const union MHD_DaemonInfo *di;
	struct http_server *srv;
	int lfd = -1, fd, taken;

	if (first != NULL && first->daemon != NULL && (di =
	    MHD_get_daemon_info(first->daemon, MHD_DAEMON_INFO_LISTEN_FD)) !=
	    NULL)
		lfd = di->listen_fd;
	else if (first != NULL && first->daemon == NULL)
		lfd = first->lfd;
	if (lfd == -1) {
		snprintf(err, errlen, "http_listen_shared: no listening socket");
		return NULL;
	}
	if ((fd = fcntl(lfd, F_DUPFD_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "dup of the listening socket: %s",
		    strerror(errno));
		return NULL;
	}
	srv = http_listen_fd("shared", 0, lim, handler, arg, fd, first->passed,
	    1, &taken, err, errlen);
	if (!taken)
		close(fd);
	return srv;
}

/* http_listen and http_serve at once: a server whose threads run now. */
static struct http_server *
http_start_now(struct http_server *srv, char *err, size_t errlen)
{
	if (srv != NULL && http_serve(srv, err, errlen) == -1) {
		http_stop(srv);
		srv = NULL;
	}
	return srv;
}

struct http_server *
http_start(const char *addr, uint16_t port, const struct http_limits *lim,
    http_handler handler, void *arg, char *err, size_t errlen)
{
	return http_start_now(http_listen(addr, port, lim, handler, arg, err,
	    errlen), err, errlen);
}

struct http_server *
http_start_shared(const struct http_server *first,
    const struct http_limits *lim, http_handler handler, void *arg,
    char *err, size_t errlen)
{
	return http_start_now(http_listen_shared(first, lim, handler, arg, err,
	    errlen), err, errlen);
}

uint16_t
http_port(const struct http_server *srv)
{
	return srv != NULL ? srv->port : 0;
}

const char *
http_where(const struct http_server *srv)
{
	return srv != NULL ? srv->where : "";
}

int
http_poll_fd(const struct http_server *srv)
{
	const union MHD_DaemonInfo *di;

	di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	return di != NULL ? di->epoll_fd : -1;
}

long long
http_poll_timeout_ms(struct http_server *srv)
{
	MHD_UNSIGNED_LONG_LONG ms;
	long long sweep = -1, t;

	if (srv->resumed)
		return 0;
	/* A connection open: the next sweep of its deadlines (http_run). */
	pthread_mutex_lock(&srv->conns_lock);
	if (srv->conns != NULL) {
		sweep = srv->next_sweep_ms - daemon_now_ms();
		if (sweep < 0)
			sweep = 0;
	}
	pthread_mutex_unlock(&srv->conns_lock);
	if (MHD_get_timeout(srv->daemon, &ms) != MHD_YES)
		return sweep;
	t = ms > (MHD_UNSIGNED_LONG_LONG)LLONG_MAX ? LLONG_MAX : (long long)ms;
	return sweep != -1 && sweep < t ? sweep : t;
}

void
http_run(struct http_server *srv)
{
	long long now = daemon_now_ms();
	struct http_swept n;

	srv->resumed = 0;
	if (now >= srv->next_sweep_ms) {
		pthread_mutex_lock(&srv->conns_lock);
		http_sweep_locked(srv, now, &n);
		pthread_mutex_unlock(&srv->conns_lock);
		http_sweep_log(srv, &n);
		srv->next_sweep_ms = now + HTTP_SWEEP_MS;
	}
	(void)MHD_run(srv->daemon);
}

void
http_quiesce(struct http_server *srv)
{
	MHD_socket lfd;

	if (srv == NULL || srv->daemon == NULL || srv->quiesced)
		return;
	lfd = MHD_quiesce_daemon(srv->daemon);
	srv->quiesced = 1;
	/* Quiesced, the listening socket is ours to close. */
	if (lfd != MHD_INVALID_SOCKET)
		srv->lfd = lfd;
}

int
http_busy(const struct http_server *srv)
{
	return __atomic_load_n(&srv->inflight, __ATOMIC_ACQUIRE);
}

/*
 * Stops accepting, lets the requests in flight finish (HTTP_STOP_DRAIN_MS
 * at most), then stops: MHD_stop_daemon alone closes every connection at
 * once, and a client whose request was being answered (a time-stamp
 * already recorded, a signature made) got an empty reply. Idle keep-alive
 * connections are closed without waiting.
 */
void
http_stop(struct http_server *srv)
{
	struct timespec ts = { 0, 10 * 1000000L };
	int waited_ms = 0, sent_ms, left, deferred;

	if (srv == NULL)
		return;
	if (srv->daemon != NULL && srv->lim.external) {
		/*
		 * Its caller's loop drained it (http_quiesce, http_busy), but
		 * the answers it resumed last (a loop's stop deadline, ocspd's
		 * lookups answered after its loop) are written only by
		 * MHD_run: without these turns their clients got a closed
		 * connection, a time-stamp already recorded among them.
		 */
		for (sent_ms = 0; http_busy(srv) > 0 &&
		    sent_ms < HTTP_STOP_SEND_MS; sent_ms += 10) {
			http_run(srv);
			if (http_busy(srv) > 0)
				nanosleep(&ts, NULL);
		}
		MHD_stop_daemon(srv->daemon);
	} else if (srv->daemon != NULL) {
		http_quiesce(srv);
		while ((left = __atomic_load_n(&srv->inflight,
		    __ATOMIC_ACQUIRE)) > 0 && waited_ms < HTTP_STOP_DRAIN_MS) {
			nanosleep(&ts, NULL);
			waited_ms += 10;
		}
		if (left > 0)
			log_warn("http: stopping with %d request(s) still in "
			    "flight after %d ms", left, HTTP_STOP_DRAIN_MS);
		/*
		 * MHD must not stop with a connection suspended: the deferred
		 * ones wait for their resumption, which their handler bounds.
		 */
		if ((deferred = __atomic_load_n(&srv->deferred,
		    __ATOMIC_ACQUIRE)) > 0) {
			while (__atomic_load_n(&srv->deferred,
			    __ATOMIC_ACQUIRE) > 0) {
				if (waited_ms % HTTP_STOP_DRAIN_MS == 0)
					log_warn("http: waiting for %d deferred "
					    "request(s) to be answered",
					    __atomic_load_n(&srv->deferred,
					    __ATOMIC_ACQUIRE));
				nanosleep(&ts, NULL);
				waited_ms += 10;
			}
			/*
			 * Resumed is not sent: MHD's thread still writes the
			 * answers (a slow machine lost one to the stop).
			 * Wait for them, not for what was stuck besides.
			 */
			for (sent_ms = 0; __atomic_load_n(&srv->inflight,
			    __ATOMIC_ACQUIRE) > left - deferred &&
			    sent_ms < HTTP_STOP_SEND_MS; sent_ms += 10)
				nanosleep(&ts, NULL);
		}
		MHD_stop_daemon(srv->daemon);
	}
	/* After MHD's stop: every connection is closed, none left to sweep. */
	http_sweeper_stop(srv);
	if (srv->lfd != MHD_INVALID_SOCKET)
		close(srv->lfd);
	proxy_set_free(srv->proxies);
	pthread_cond_destroy(&srv->sweep_cv);
	pthread_mutex_destroy(&srv->conns_lock);
	free(srv);
}
