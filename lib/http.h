/*
 * A thin libmicrohttpd wrapper: bounded requests, one handler callback,
 * RFC 9457 problem responses. Limits are set before any allocation: a body
 * whose Content-Length exceeds max_body is refused with 413 unread. A body
 * without Content-Length (chunked) that grows past max_body is discarded
 * and answered 413; past a further 64 KiB the connection is dropped. A
 * body framed two ways is refused unread and the connection closed (RFC
 * 9112 §6.1, §6.3; since 2026-12-06): two Content-Length fields (even
 * equal), or one with Transfer-Encoding, or two Transfer-Encodings, 400;
 * a Transfer-Encoding other than "chunked" alone, 501. Slow requests end
 * at the deadlines below (struct http_limits).
 */
#ifndef PKI_HTTP_H
#define PKI_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

struct http_request;
struct http_response;

/* A zero field takes the default given in its comment. */
struct http_limits {
	size_t		max_body;	/* bytes; larger → 413 (1 MiB) */
	size_t		conn_memory;	/* per-connection memory (32 KiB) */
	/* Concurrent connections; more wait in the listen backlog (256). */
	unsigned int	max_conns;
	/* From one address; more are closed unanswered (32). */
	unsigned int	max_conns_per_ip;
	/* Idle time-out, restarted by every byte received (30). */
	unsigned int	timeout_s;
	unsigned int	threads;	/* worker threads (1) */
	int		reuse_port;	/* SO_REUSEPORT: several processes share the port */
	/*
	 * Reverse proxies whose X-Forwarded-For names the client (lib/proxy.h;
	 * <section>.trusted_proxies): NULL or "" for none. With any, the
	 * per-address connection limit is off (every connection comes from a
	 * proxy, which limits its clients itself).
	 */
	const char	*trusted_proxies;
	/*
	 * Called with the arg of http_listen() once a request's headers are in
	 * (body NULL): an answer it makes (a status set, or -1), e.g. 401 to a
	 * caller without credentials, is sent instead of the handler's and the
	 * body is never stored: at once when no body is on its way (none, or
	 * the client waits for "100 Continue"), otherwise once the body has
	 * been read and dropped (so the client reads the answer, not a reset).
	 * A 411 or 413 (a body refused for its framing or its size: a route
	 * with a smaller limit than max_body) is sent at once in either case,
	 * as lib/http's own 413, and the connection closed after it: the body
	 * is never read. NULL: every request is read whole.
	 */
	int		(*admit)(void *arg, const struct http_request *,
			    struct http_response *);
	/* The handler may answer later: http_defer() (below). */
	int		deferrable;
	/*
	 * No thread of its own (threads ignored): the caller's loop waits
	 * for http_poll_fd() and calls http_run() (below).
	 */
	int		external;
	/*
	 * Whole-request deadlines, which timeout_s alone does not give: MHD
	 * restarts timeout_s at every byte, so a client sending one byte
	 * just within it held its connection for ever, and max_conns such
	 * clients shut every other out (2026-12-06). Past either deadline
	 * (checked once a second) the connection is closed, unanswered.
	 * header_deadline_s: a request's headers are all in within it of
	 * the connection's opening, or of the previous answer on a
	 * keep-alive connection, which therefore never idles longer either
	 * (10). body_deadline_s: its body is all in within it of its headers
	 * (120; a daemon whose bodies are large or slow sets its own), and
	 * body_min_rate (bytes a second, 1024) keeps it coming: t seconds
	 * after the headers, at least (t - header_deadline_s) *
	 * body_min_rate bytes of it are in (Apache's mod_reqtimeout MinRate),
	 * so that a client cannot hold a connection for all of
	 * body_deadline_s with a few bytes. The handler's time and a
	 * deferral do not count. answer_min_rate (bytes a second, 8192):
	 * an answer of n bytes is taken by the client within
	 * header_deadline_s + n / answer_min_rate s of its queueing, or the
	 * connection is closed: a client reading a large CRL a segment at a
	 * time held its connection for hours (2026-12-06).
	 */
	unsigned int	header_deadline_s;
	unsigned int	body_deadline_s;
	unsigned int	body_min_rate;
	unsigned int	answer_min_rate;
};

struct http_request {
	const char	*method;	/* "GET", "POST", ... */
	const char	*path;		/* URL path, not decoded */
	const char	*content_type;	/* may be NULL */
	const unsigned char *body;	/* may be NULL when body_len is 0 */
	size_t		 body_len;
	const char	*remote_addr;	/* the client: the peer, or behind a trusted proxy its X-Forwarded-For */
	void		*conn;		/* struct MHD_Connection *, for headers */
	void		*state;		/* lib/http's own (http_defer) */
};

#define HTTP_MAX_HEADERS 12	/* a response's own headers, at most */
struct http_response {
	int		 status;
	char		*content_type;	/* owned */
	unsigned char	*body;		/* owned, malloc'd */
	size_t		 body_len;
	int		 nheaders;
	char		*header_name[HTTP_MAX_HEADERS];	/* owned */
	char		*header_value[HTTP_MAX_HEADERS];	/* owned */
	size_t		 full_len;	/* 304: the 200's length (http_not_modified) */
	/* http_respond_shared(): a body not copied, released when sent. */
	const void	*shared;
	void		(*release)(void *);
	void		*release_arg;
};

/*
 * Called once per complete request, from an MHD thread. Fill resp and return
 * 0; return -1 for an internal failure (the wrapper answers 500 problem JSON
 * when resp->status is still 0).
 */
typedef int	(*http_handler)(void *arg, const struct http_request *,
		    struct http_response *);

struct http_server;

/*
 * Takes the listening socket a service manager passed: systemd's socket
 * activation protocol (sd_listen_fds(3): LISTEN_PID is this process,
 * LISTEN_FDS is 1, the socket is descriptor 3). It unsets LISTEN_PID,
 * LISTEN_FDS and LISTEN_FDNAMES, so that no child takes them for its own;
 * the children a daemon forks (tsad's workers, signd's worker) inherit the
 * socket, and http_listen() takes it instead of binding addr and port. On
 * a unix socket, whose permissions admit only the reverse proxy, every
 * peer counts as a trusted proxy (lib/proxy.h: the client is the one
 * X-Forwarded-For names; "unix" without it). Call it once, before any
 * fork and thread: daemon_load_config() does. 1 when a socket was taken,
 * 0 when none was passed (or not to this process), -1 with err when the
 * variables name more than one socket or descriptor 3 is not a listening
 * stream socket, or a unix socket every user may write (every peer of
 * one is trusted) or without a path.
 */
int	http_take_inherited_socket(char *err, size_t errlen);
/* 1 when http_take_inherited_socket() took a socket not yet served. */
int	http_socket_passed(void);
/*
 * <section>.listen = systemd: serve only a passed socket; http_listen()
 * fails when none was, rather than bind 127.0.0.1 where the proxy does
 * not look (a .socket unit stopped or not yet enabled).
 */
#define HTTP_LISTEN_PASSED	"systemd"

/*
 * A daemon starts its server in two steps around its sandbox (STYLE.md
 * §2): http_listen() binds and listens (as root, for a port below 1024),
 * starting no thread and answering nobody (connections wait in the
 * kernel's backlog); then sandbox_enter() (demotion, seccomp); then
 * http_serve() starts libmicrohttpd on that socket, so that no thread of
 * MHD's ever runs, let alone parses a request, as root or without the
 * filter. Between the two, http_port() and http_where() answer; a server
 * not yet served is stopped (its socket closed) by http_stop().
 *
 * http_listen: on addr:port only (or on the socket
 * http_take_inherited_socket() took). addr is a numeric address
 * ("127.0.0.1", "::1"); host names are refused. port 0 picks a free port.
 * limits NULL: defaults. Returns NULL with a message in err.
 */
struct http_server	*http_listen(const char *addr, uint16_t port,
			    const struct http_limits *, http_handler, void *arg,
			    char *err, size_t errlen);
/*
 * Starts libmicrohttpd on the socket of http_listen() (its threads, unless
 * lim.external). It opens and binds no socket: the seccomp profile of a
 * network worker allows what it calls. 0, or -1 with err (the server is
 * left as it was: http_stop() it).
 */
int			 http_serve(struct http_server *, char *err,
			    size_t errlen);
/* http_listen() and http_serve() at once (tests; no sandbox between). */
struct http_server	*http_start(const char *addr, uint16_t port,
			    const struct http_limits *, http_handler, void *arg,
			    char *err, size_t errlen);
/*
 * Another server on first's listening socket (a duplicate of it), for a
 * daemon that runs one event loop per thread (lim.external, ocspd): each
 * loop accepts what it can, and a loop at its connection limit stops
 * accepting, leaving new connections to the others. Limits are each
 * server's own. first may be served already or not. NULL with err. Serve
 * it with http_serve(), stop each with http_stop(). http_start_shared:
 * served at once.
 */
struct http_server	*http_listen_shared(const struct http_server *first,
			    const struct http_limits *, http_handler, void *arg,
			    char *err, size_t errlen);
struct http_server	*http_start_shared(const struct http_server *first,
			    const struct http_limits *, http_handler, void *arg,
			    char *err, size_t errlen);
/* The bound port (useful with port 0); 0 on a unix socket. */
uint16_t		 http_port(const struct http_server *);
/*
 * Where it listens, for start-up logs: "127.0.0.1:18080", "[::1]:443",
 * "unix:/run/pki/ra.sock", with " (passed by the service manager)".
 */
const char		*http_where(const struct http_server *);
/*
 * How long http_stop lets the requests in flight finish once it stopped
 * accepting: well within a service manager's stop time-out (deploy/'s 20
 * to 30 s), long enough for a signature or a database round trip.
 */
#define HTTP_STOP_DRAIN_MS	5000

/*
 * Stops accepting connections, lets the requests being answered finish
 * (5 s at most; in external mode the caller's loop has waited, and
 * http_stop only sends what was answered, 1 s at most), closes the rest
 * and frees the server; a server never served: closes its socket. NULL
 * is a no-op.
 */
void			 http_stop(struct http_server *);

/*
 * Answering later, on a server started with lim.deferrable: a handler
 * that would otherwise wait (tsad, for a signature in flight) calls
 * http_defer() and returns HTTP_DEFERRED, resp untouched. The connection
 * waits off MHD's thread, which serves the others meanwhile, until
 * http_resume() gives its answer: from any thread (lim.external: the
 * loop's, below), exactly once per deferral, and within a bounded time,
 * since http_stop() waits for every deferred request to be resumed. The
 * answer is judged as a handler's (no valid status: 500). http_defer()
 * returns NULL (answer now) when the server was not started deferrable,
 * or for lim.admit.
 */
#define HTTP_DEFERRED	1
struct http_deferred;
struct http_deferred	*http_defer(const struct http_request *);
/* resp's contents are taken (resp is left cleared). */
void			 http_resume(struct http_deferred *,
			    struct http_response *resp);

/*
 * A server served with lim.external is run by its caller's loop, in one
 * thread: wait until http_poll_fd() is readable or http_poll_timeout_ms()
 * (-1: none) has passed, then http_run(), which never blocks; handlers run
 * inside it. http_resume() belongs to that thread too: nothing wakes the
 * wait for it, so http_poll_timeout_ms() is 0 until http_run() takes the
 * answer. To stop: http_quiesce() (no new connections), go on running
 * until http_busy() is 0 or the caller's patience ends, with every
 * deferred request resumed, then http_stop(), which waits for nothing.
 */
int		 http_poll_fd(const struct http_server *);
long long	 http_poll_timeout_ms(struct http_server *);
void		 http_run(struct http_server *);
void		 http_quiesce(struct http_server *);
/* Requests begun and not completed, deferred ones included. */
int		 http_busy(const struct http_server *);

/* Value of a request header, or NULL. */
const char	*http_header(const struct http_request *, const char *name);
/*
 * The request's query string (RFC 3986 §3.4) rebuilt from its arguments in
 * their order, undecoded but for libmicrohttpd's '+' → ' ': "a=1&b&c=x%20y".
 * "" when there is none. 0, or -1 when it does not fit in outlen bytes.
 */
int		 http_query(const struct http_request *, char *out,
		    size_t outlen);
/*
 * 1 when the request's Content-Type is the media type type (RFC 9110
 * §8.3.1: compared without regard to case, parameters allowed after
 * optional whitespace and ';'), 0 otherwise (none, another type, or type
 * followed by more characters: "application/jsonx").
 */
int		 http_media_type_is(const struct http_request *,
		    const char *type);

/* Sets body (copied), content type and status. 0 or -1. */
int	http_respond(struct http_response *, int status,
	    const char *content_type, const void *body, size_t len);
/*
 * As http_respond, without copying body: it must stay valid until
 * release(release_arg) is called — once the response was sent or
 * dropped, from an MHD thread, or by http_response_clear() if it was
 * never queued. For large shared documents (a CRL of a million entries
 * served to many slow clients at once: one copy, not one per client).
 * On failure release has been called already.
 */
int	http_respond_shared(struct http_response *, int status,
	    const char *content_type, const void *body, size_t len,
	    void (*release)(void *), void *release_arg);
/* application/json body from a jansson value (borrowed). */
int	http_respond_json(struct http_response *, int status, json_t *);
/*
 * RFC 9457 application/problem+json: {"type","title","status","detail"}.
 * type NULL means "about:blank".
 */
int	http_problem(struct http_response *, int status, const char *type,
	    const char *title, const char *detail);
/* Adds a response header (copied). 0 or -1 when full. */
int	http_add_header(struct http_response *, const char *name,
	    const char *value);
void	http_response_clear(struct http_response *);

/*
 * An HTTP-date (RFC 9110 §5.6.7) as Unix time in *t: IMF-fixdate, or the
 * obsolete RFC 850 and asctime forms, which a recipient MUST accept (an
 * RFC 850 two-digit year is the one within 50 years of now, never more
 * than 50 ahead). glibc's strptime() parses; the text is taken only when
 * strftime() of what was parsed gives it back byte for byte, so only the
 * exact form passes (strptime alone takes "Sun, 9 Sep", a Monday for a
 * Sunday, 30 February, second 60, no space before "GMT"). Needs
 * the C locale for LC_TIME (our programs never call setlocale). 0, or -1 when s
 * is none (*t is then 0).
 */
int	http_date_parse(const char *s, time_t now, time_t *t);

/*
 * Conditional GET (RFC 9110 §13.1). http_etag_matches: If-None-Match (a
 * list of entity-tags, or "*" alone, §13.1.2; anything else matches
 * nothing) matches etag by the weak comparison.
 * http_unmodified_since: If-Modified-Since (an HTTP-date, http_date_parse)
 * is not older than lastmod; an invalid date never matches. http_not_modified: a 304 whose
 * Content-Length is full_len, the 200's length (§8.6), without a body.
 */
int	http_etag_matches(const char *if_none_match, const char *etag);
int	http_unmodified_since(const char *if_modified_since, time_t lastmod);
int	http_not_modified(struct http_response *, size_t full_len);

/*
 * The token of an "Authorization: Bearer <token>" header (RFC 6750 §2.1:
 * the scheme in any case, one or more spaces), or NULL.
 */
const char	*http_bearer(const struct http_request *);

#endif
