/*
 * One worker thread's event loop over HTTP, its signer's replies and a
 * stop descriptor (hsm/signloop.h). Written for tsad on 2026-12-06, then
 * shared with ocspd's loops.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsm/signer.h"
#include "hsm/signloop.h"
#include "lib/daemon.h"
#include "lib/http.h"
#include "lib/log.h"

enum { SIGNLOOP_EV_HTTP = 1, SIGNLOOP_EV_SIGNER, SIGNLOOP_EV_STOP,
	SIGNLOOP_EV_WATCH };

struct signloop {
	int			 ep;
	struct http_server	*srv;
	struct signer		*signer;
	int			 stop_fd;
	void			(*watch_fn)(void *);	/* signloop_watch */
	void			*watch_arg;
};

struct signloop *
signloop_open(struct http_server *srv, struct signer *signer, int stop_fd,
    char *err, size_t errlen)
{
	struct signloop *l;
	struct epoll_event ev;
	int fds[3], i;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->srv = srv;
	l->signer = signer;
	l->stop_fd = stop_fd;
	if ((l->ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
		free(l);
		return NULL;
	}
	fds[0] = http_poll_fd(srv);
	fds[1] = signer_fd(signer);
	fds[2] = stop_fd;
	for (i = 0; i < 3; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.u32 = SIGNLOOP_EV_HTTP + (uint32_t)i;
		if (fds[i] == -1 || epoll_ctl(l->ep, EPOLL_CTL_ADD, fds[i],
		    &ev) == -1) {
			snprintf(err, errlen, "epoll_ctl: %s", fds[i] == -1 ?
			    "no descriptor" : strerror(errno));
			signloop_close(l);
			return NULL;
		}
	}
	return l;
}

int
signloop_watch(struct signloop *l, int fd, void (*fn)(void *), void *arg,
    char *err, size_t errlen)
{
	struct epoll_event ev;

	if (l->watch_fn != NULL || fn == NULL) {
		snprintf(err, errlen, "signloop_watch: one descriptor, with a "
		    "function");
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u32 = SIGNLOOP_EV_WATCH;
	if (fd == -1 || epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
		snprintf(err, errlen, "epoll_ctl: %s", fd == -1 ?
		    "no descriptor" : strerror(errno));
		return -1;
	}
	l->watch_fn = fn;
	l->watch_arg = arg;
	return 0;
}

void
signloop_close(struct signloop *l)
{
	if (l == NULL)
		return;
	if (l->ep != -1)
		close(l->ep);
	free(l);
}

/* Answers every request in flight. */
static void
signloop_drain(const struct signloop_ops *ops, void *arg)
{
	while (ops->oldest(arg) != SIGNLOOP_NONE)
		ops->answer_oldest(arg);
}

int
signloop_run(struct signloop *l, const struct signloop_ops *ops, void *arg)
{
	struct epoll_event evs[5];
	long long timeout, deadline = 0;
	int i, n, replies, rc = -1;

	for (;;) {
		/* A request whose signature could not be asked: no reply. */
		while (ops->oldest(arg) == SIGNLOOP_UNSENT)
			ops->answer_oldest(arg);
		if (rc != -1) {
			/* Stopping: the signatures in flight are waited for. */
			signloop_drain(ops, arg);
			if (http_busy(l->srv) == 0 || daemon_now_ms() >= deadline)
				break;
		}
		timeout = http_poll_timeout_ms(l->srv);
		if (timeout < 0 || timeout > 1000)
			timeout = 1000;
		/* A reply already in the client's buffer: no wait. */
		if (ops->oldest(arg) != SIGNLOOP_NONE &&
		    signer_reply_buffered(l->signer))
			timeout = 0;
		if ((n = epoll_wait(l->ep, evs, 5, (int)timeout)) == -1) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			signloop_drain(ops, arg);
			return 1;
		}
		replies = ops->oldest(arg) != SIGNLOOP_NONE &&
		    signer_reply_buffered(l->signer);
		for (i = 0; i < n; i++) {
			if (evs[i].data.u32 == SIGNLOOP_EV_SIGNER &&
			    ops->oldest(arg) == SIGNLOOP_NONE)
				/*
				 * Nothing asked: the signer closed (its end
				 * comes as SIGCHLD). Not watched any more, or
				 * the loop would spin on it.
				 */
				(void)epoll_ctl(l->ep, EPOLL_CTL_DEL,
				    signer_fd(l->signer), NULL);
			else if (evs[i].data.u32 == SIGNLOOP_EV_SIGNER)
				replies = 1;
			else if (evs[i].data.u32 == SIGNLOOP_EV_WATCH)
				l->watch_fn(l->watch_arg);
			else if (evs[i].data.u32 == SIGNLOOP_EV_STOP &&
			    rc == -1 && (rc = ops->stop(arg, l->stop_fd)) !=
			    -1) {
				(void)epoll_ctl(l->ep, EPOLL_CTL_DEL,
				    l->stop_fd, NULL);
				http_quiesce(l->srv);
				deadline = daemon_now_ms() + HTTP_STOP_DRAIN_MS;
			}
		}
		/* What came, and what the same read brought besides. */
		if (replies && ops->oldest(arg) != SIGNLOOP_NONE) {
			ops->answer_oldest(arg);
			while (ops->oldest(arg) != SIGNLOOP_NONE &&
			    signer_reply_buffered(l->signer))
				ops->answer_oldest(arg);
		}
		http_run(l->srv);
	}
	return rc;
}
