/*
 * The event loop of a worker that answers HTTP requests whose signatures
 * its signer process makes (hsm/signloop.c): tsad's workers and ocspd's
 * loops. One thread runs a libmicrohttpd server in external mode
 * (lib/http.h: lim.external, lim.deferrable), the signer's socket and a
 * descriptor that says when to stop. A request that needs a signature
 * asks for it (signer_sign_begin) and defers its answer (http_defer); the
 * loop reads other requests meanwhile, and answers each when its reply
 * comes, in the order asked, a batch at a time: the worker and its signer
 * wake once per batch, not twice per signature.
 */
#ifndef PKI_HSM_SIGNLOOP_H
#define PKI_HSM_SIGNLOOP_H

#include <stddef.h>

struct http_server;
struct signer;

/* What the oldest request in flight is (signloop_ops.oldest). */
enum {
	SIGNLOOP_NONE = 0,	/* none in flight */
	SIGNLOOP_SENT,		/* its signature was asked: a reply will come */
	SIGNLOOP_UNSENT,	/* asking failed: answered without a reply */
};

struct signloop_ops {
	int	(*oldest)(void *arg);
	/*
	 * Answers the oldest request in flight (signer_sign_end for a SENT
	 * one: it waits for the reply when not yet read) and resumes its
	 * connection (http_resume).
	 */
	void	(*answer_oldest)(void *arg);
	/*
	 * stop_fd is readable: -1 to go on, else the status signloop_run
	 * returns once it has stopped.
	 */
	int	(*stop)(void *arg, int stop_fd);
};

struct signloop;

/*
 * The epoll set of srv, signer's socket and stop_fd (none is taken). NULL
 * with err.
 */
struct signloop	*signloop_open(struct http_server *srv, struct signer *signer,
		    int stop_fd, char *err, size_t errlen);
/*
 * Runs until ops->stop says to stop; then stops accepting (http_quiesce),
 * answers every request in flight (each signature is bounded by
 * hsm.signer_timeout_seconds) and gives requests still being read
 * HTTP_STOP_DRAIN_MS. Returns the status ops->stop gave, or 1 when the
 * loop itself failed (logged), after answering what is in flight.
 */
int		 signloop_run(struct signloop *, const struct signloop_ops *,
		    void *arg);
/*
 * Watches fd too (not taken): when it is readable, fn(arg) is called on
 * the loop's thread, before http_run, also while stopping (a worker's own
 * wake-up: ocspd's lookups answered on another thread). fn reads fd
 * itself; it may answer requests (http_resume) or ask signatures of the
 * signer. One such descriptor per loop. 0, or -1 with err.
 */
int		 signloop_watch(struct signloop *, int fd, void (*fn)(void *),
		    void *arg, char *err, size_t errlen);
void		 signloop_close(struct signloop *);

#endif
