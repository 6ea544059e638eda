/*
 * Wire format between a worker and its signer (see signer_proto.h).
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsm/signer_proto.h"

struct proto_buf {
	unsigned char	*d;
	size_t		 len;
	size_t		 cap;
};

struct proto_rd {
	const unsigned char	*p;
	size_t			 left;
};

int
signer_proto_write(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		/* A worker must not die of SIGPIPE when its signer exits. */
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) == -1 &&
		    errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Waits until fd is ready for events or deadline_ms (CLOCK_MONOTONIC
 * milliseconds; < 0: no deadline) passes: 0 when ready (or no deadline),
 * -1 with errno ETIMEDOUT, or poll's errno.
 */
static int
proto_wait(int fd, short events, long long deadline_ms)
{
	struct pollfd pfd;
	struct timespec ts;
	long long left;
	int r;

	if (deadline_ms < 0)
		return 0;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		left = deadline_ms - ((long long)ts.tv_sec * 1000 +
		    ts.tv_nsec / 1000000);
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		/* POLLHUP and POLLERR count as ready: the read or write says. */
		if ((r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left)) > 0)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

static int
proto_read_until(int fd, void *buf, size_t len, long long deadline_ms)
{
	unsigned char *p = buf;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if (proto_wait(fd, POLLIN, deadline_ms) == -1)
			return -1;
		if ((n = read(fd, p + got, len - got)) == -1) {
			/*
			 * EAGAIN without a deadline is SO_RCVTIMEO's time-out
			 * (signd's worker bounds its SAM so): an error, not a
			 * retry. With one, poll said ready: try again, bounded.
			 */
			if (errno == EINTR || (errno == EAGAIN &&
			    deadline_ms >= 0))
				continue;
			return -1;
		}
		if (n == 0) {
			if (got == 0)
				return 1;
			errno = EPROTO;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

int
signer_proto_read(int fd, void *buf, size_t len)
{
	return proto_read_until(fd, buf, len, -1);
}

static void
proto_put32(unsigned char *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t
proto_get32p(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

int
signer_proto_send(int fd, uint32_t type, const void *body, size_t len)
{
	unsigned char *frame;
	int rc;

	if (len > SIGNER_FRAME_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((frame = malloc(8 + len)) == NULL)
		return -1;
	proto_put32(frame, type);
	proto_put32(frame + 4, (uint32_t)len);
	if (len > 0)
		memcpy(frame + 8, body, len);
	rc = signer_proto_write(fd, frame, 8 + len);
	free(frame);
	return rc;
}

/*
 * Writes the iovecs (n <= 3) with as few system calls as the socket allows:
 * one frame in one sendmsg() wakes the peer once, where a write per piece
 * woke it for the header alone and then again for the body (two extra
 * context switches per request on a busy machine).
 */
static int
signer_proto_writev(int fd, struct iovec *iov, int n, long long deadline_ms)
{
	struct msghdr msg;
	ssize_t w;
	/*
	 * With a deadline, never block in sendmsg itself: it is tried first
	 * (a request nearly always fits the socket's buffer), and poll says
	 * when to try again once it would block.
	 */
	int flags = MSG_NOSIGNAL | (deadline_ms >= 0 ? MSG_DONTWAIT : 0);

	while (n > 0) {
		if (iov->iov_len == 0) {
			iov++;
			n--;
			continue;
		}
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)n;
		/* A worker must not die of SIGPIPE when its signer exits. */
		if ((w = sendmsg(fd, &msg, flags)) == -1 &&
		    errno == ENOTSOCK) {
			if (proto_wait(fd, POLLOUT, deadline_ms) == -1)
				return -1;
			w = writev(fd, iov, n);
		}
		if (w == -1) {
			if (errno == EINTR)
				continue;
			/* As in proto_read_until: SO_SNDTIMEO's EAGAIN ends it. */
			if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
			    deadline_ms >= 0) {
				if (proto_wait(fd, POLLOUT, deadline_ms) == -1)
					return -1;
				continue;
			}
			return -1;
		}
		/* A partial write: skip what went out and go on. */
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (unsigned char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int
signer_proto_send2_until(int fd, uint32_t type, const void *head,
    size_t headlen, const void *tail, size_t taillen, long long deadline_ms)
{
	unsigned char hdr[8];
	struct iovec iov[3];

	if (headlen > SIGNER_FRAME_MAX || taillen > SIGNER_FRAME_MAX - headlen) {
		errno = EMSGSIZE;
		return -1;
	}
	proto_put32(hdr, type);
	proto_put32(hdr + 4, (uint32_t)(headlen + taillen));
	/* The TBS (tail) goes out in place, without a copy into a frame. */
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)head;
	iov[1].iov_len = headlen;
	iov[2].iov_base = (void *)tail;
	iov[2].iov_len = taillen;
	return signer_proto_writev(fd, iov, 3, deadline_ms);
}

int
signer_proto_send2(int fd, uint32_t type, const void *head, size_t headlen,
    const void *tail, size_t taillen)
{
	return signer_proto_send2_until(fd, type, head, headlen, tail, taillen,
	    -1);
}

/* Unbuffered: reads exactly one frame, so the descriptor may be shared. */
int
signer_proto_recv(int fd, size_t max, uint32_t *type, unsigned char **body,
    size_t *len)
{
	unsigned char hdr[8], *b = NULL;
	uint32_t n;
	int r;

	*body = NULL;
	*len = 0;
	if ((r = signer_proto_read(fd, hdr, sizeof(hdr))) != 0)
		return r;
	*type = proto_get32p(hdr);
	n = proto_get32p(hdr + 4);
	if (n > max) {
		errno = EMSGSIZE;
		return -1;
	}
	if (n > 0) {
		if ((b = malloc(n)) == NULL)
			return -1;
		if (signer_proto_read(fd, b, n) != 0) {
			free(b);
			errno = EPROTO;
			return -1;
		}
	}
	*body = b;
	*len = n;
	return 0;
}

void
signer_proto_reader_init(struct signer_proto_reader *rd, int fd)
{
	rd->fd = fd;
	rd->off = rd->len = 0;
}

/*
 * One read of what is there, at most cap bytes: the count, 0 at EOF, -1
 * on an error (ETIMEDOUT past the deadline). With a deadline, poll() first:
 * the peer is still working when we start to wait for its frame, so
 * trying a read first would only add a failed call.
 */
static ssize_t
proto_read_some(int fd, void *buf, size_t cap, long long deadline_ms)
{
	ssize_t n;

	for (;;) {
		if (proto_wait(fd, POLLIN, deadline_ms) == -1)
			return -1;
		if ((n = read(fd, buf, cap)) >= 0)
			return n;
		/* As in proto_read_until: only with a deadline is EAGAIN "wait". */
		if (errno == EINTR || (errno == EAGAIN && deadline_ms >= 0))
			continue;
		return -1;
	}
}

int
signer_proto_recv_from(struct signer_proto_reader *rd, size_t max,
    uint32_t *type, unsigned char **body, size_t *len, long long deadline_ms)
{
	unsigned char *b = NULL;
	size_t have, take;
	uint32_t n;
	ssize_t got;
	int r;

	*body = NULL;
	*len = 0;
	while (rd->len - rd->off < 8) {
		if (rd->off > 0) {
			memmove(rd->buf, rd->buf + rd->off, rd->len - rd->off);
			rd->len -= rd->off;
			rd->off = 0;
		}
		got = proto_read_some(rd->fd, rd->buf + rd->len,
		    sizeof(rd->buf) - rd->len, deadline_ms);
		if (got == -1)
			return -1;
		if (got == 0) {
			if (rd->len == 0)
				return 1;
			errno = EPROTO;
			return -1;
		}
		rd->len += (size_t)got;
	}
	*type = proto_get32p(rd->buf + rd->off);
	n = proto_get32p(rd->buf + rd->off + 4);
	if (n > max) {
		errno = EMSGSIZE;
		return -1;
	}
	rd->off += 8;
	if (n > 0) {
		if ((b = malloc(n)) == NULL)
			return -1;
		have = rd->len - rd->off;
		take = have < n ? have : n;
		memcpy(b, rd->buf + rd->off, take);
		rd->off += take;
		/* The rest of a large frame goes straight to its buffer. */
		if (take < n && (r = proto_read_until(rd->fd, b + take,
		    n - take, deadline_ms)) != 0) {
			free(b);
			if (r == 1 || errno != ETIMEDOUT)
				errno = EPROTO;
			return -1;
		}
	}
	if (rd->off == rd->len)
		rd->off = rd->len = 0;
	*body = b;
	*len = n;
	return 0;
}

int
signer_proto_reader_ready(const struct signer_proto_reader *rd)
{
	size_t have = rd->len - rd->off;

	return have >= 8 && proto_get32p(rd->buf + rd->off + 4) <= have - 8;
}

void
signer_proto_writer_init(struct signer_proto_writer *wr, int fd)
{
	wr->fd = fd;
	wr->len = 0;
}

int
signer_proto_flush(struct signer_proto_writer *wr)
{
	size_t len = wr->len;

	wr->len = 0;
	return len == 0 ? 0 : signer_proto_write(wr->fd, wr->buf, len);
}

int
signer_proto_queue(struct signer_proto_writer *wr, uint32_t type,
    const void *body, size_t len)
{
	if (len > SIGNER_FRAME_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (8 + len > sizeof(wr->buf) - wr->len &&
	    signer_proto_flush(wr) == -1)
		return -1;
	if (8 + len > sizeof(wr->buf))
		return signer_proto_send(wr->fd, type, body, len);
	proto_put32(wr->buf + wr->len, type);
	proto_put32(wr->buf + wr->len + 4, (uint32_t)len);
	if (len > 0)
		memcpy(wr->buf + wr->len + 8, body, len);
	wr->len += 8 + len;
	return 0;
}

unsigned int
signer_proto_timeout(const struct signer_config *cfg, uint32_t type)
{
	unsigned int t;

	switch (type) {
	case SIGNER_MSG_KEYGEN:
	case SIGNER_MSG_UNKEYGEN:
	case SIGNER_MSG_WRAPGEN:
		t = cfg->keygen_timeout_s != 0 ? cfg->keygen_timeout_s :
		    SIGNER_KEYGEN_TIMEOUT_DEFAULT_S;
		break;
	default:
		t = cfg->timeout_s != 0 ? cfg->timeout_s :
		    SIGNER_TIMEOUT_DEFAULT_S;
		break;
	}
	return t > SIGNER_TIMEOUT_MAX_S ? SIGNER_TIMEOUT_MAX_S : t;
}

static int
proto_grow(struct proto_buf *b, size_t more)
{
	unsigned char *nd;
	size_t ncap;

	if (b->len + more <= b->cap)
		return 0;
	if (more > SIGNER_FRAME_MAX || b->len > SIGNER_FRAME_MAX - more)
		return -1;
	ncap = b->len + more + 64;
	if ((nd = realloc(b->d, ncap)) == NULL)
		return -1;
	b->d = nd;
	b->cap = ncap;
	return 0;
}

static int
proto_add32(struct proto_buf *b, uint32_t v)
{
	if (proto_grow(b, 4) == -1)
		return -1;
	proto_put32(b->d + b->len, v);
	b->len += 4;
	return 0;
}

static int
proto_addstr(struct proto_buf *b, const void *s, size_t n, size_t max)
{
	if (n > max || proto_add32(b, (uint32_t)n) == -1 ||
	    proto_grow(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->d + b->len, s, n);
	b->len += n;
	return 0;
}

static int
proto_finish(struct proto_buf *b, int ok, unsigned char **body, size_t *len)
{
	if (!ok) {
		free(b->d);
		*body = NULL;
		*len = 0;
		return -1;
	}
	*body = b->d;
	*len = b->len;
	return 0;
}

int
signer_proto_sign_encode(uint32_t kind, const char *label, const char *mdname,
    const unsigned char *content, size_t contentlen, const unsigned char *tbs,
    size_t tbslen, unsigned char **body, size_t *len)
{
	struct proto_buf b = { NULL, 0, 0 };
	int ok;

	ok = proto_add32(&b, kind) == 0 &&
	    proto_addstr(&b, label, strlen(label), SIGNER_LABEL_MAX) == 0 &&
	    proto_addstr(&b, mdname, strlen(mdname), SIGNER_MDNAME_MAX) == 0 &&
	    proto_addstr(&b, content, contentlen, SIGNER_CONTENT_MAX) == 0 &&
	    proto_addstr(&b, tbs, tbslen, SIGNER_TBS_MAX) == 0;
	return proto_finish(&b, ok, body, len);
}

int
signer_proto_sign_head_encode(uint32_t kind, const char *label,
    const char *mdname, const unsigned char *content, size_t contentlen,
    size_t tbslen, unsigned char **body, size_t *len)
{
	struct proto_buf b = { NULL, 0, 0 };
	int ok;

	ok = tbslen <= SIGNER_TBS_MAX && proto_add32(&b, kind) == 0 &&
	    proto_addstr(&b, label, strlen(label), SIGNER_LABEL_MAX) == 0 &&
	    proto_addstr(&b, mdname, strlen(mdname), SIGNER_MDNAME_MAX) == 0 &&
	    proto_addstr(&b, content, contentlen, SIGNER_CONTENT_MAX) == 0 &&
	    proto_add32(&b, (uint32_t)tbslen) == 0;
	return proto_finish(&b, ok, body, len);
}

int
signer_proto_pubkey_encode(const char *label, unsigned char **body,
    size_t *len)
{
	struct proto_buf b = { NULL, 0, 0 };
	int ok;

	ok = proto_addstr(&b, label, strlen(label), SIGNER_LABEL_MAX) == 0;
	return proto_finish(&b, ok, body, len);
}

int
signer_proto_keygen_encode(const char *token, const char *label,
    const char *keytype, unsigned char **body, size_t *len)
{
	struct proto_buf b = { NULL, 0, 0 };
	int ok;

	ok = proto_addstr(&b, token, strlen(token), SIGNER_TOKLABEL_MAX) == 0 &&
	    proto_addstr(&b, label, strlen(label), SIGNER_LABEL_MAX) == 0 &&
	    proto_addstr(&b, keytype, strlen(keytype), SIGNER_KEYTYPE_MAX) == 0;
	return proto_finish(&b, ok, body, len);
}

int
signer_proto_wrapgen_encode(const char *wrap_label, const char *keytype,
    unsigned char **body, size_t *len)
{
	struct proto_buf b = { NULL, 0, 0 };
	int ok;

	ok = proto_addstr(&b, wrap_label, strlen(wrap_label),
	    SIGNER_LABEL_MAX) == 0 &&
	    proto_addstr(&b, keytype, strlen(keytype), SIGNER_KEYTYPE_MAX) == 0;
	return proto_finish(&b, ok, body, len);
}

static int
proto_get32(struct proto_rd *r, uint32_t *v)
{
	if (r->left < 4)
		return -1;
	*v = proto_get32p(r->p);
	r->p += 4;
	r->left -= 4;
	return 0;
}

/* A byte string of at most max bytes, pointing into the body. */
static int
proto_getbytes(struct proto_rd *r, size_t max, const unsigned char **p,
    size_t *n)
{
	uint32_t len;

	if (proto_get32(r, &len) == -1 || len > max || len > r->left)
		return -1;
	*p = r->p;
	*n = len;
	r->p += len;
	r->left -= len;
	return 0;
}

/* A text string: 1..max bytes, no NUL, copied NUL-terminated into out. */
static int
proto_getstr(struct proto_rd *r, size_t max, char *out)
{
	const unsigned char *p;
	size_t n;

	if (proto_getbytes(r, max, &p, &n) == -1 || n == 0 ||
	    memchr(p, '\0', n) != NULL)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int
signer_proto_sign_decode(const unsigned char *body, size_t len,
    struct signer_sign_req *req)
{
	struct proto_rd r = { body, len };

	memset(req, 0, sizeof(*req));
	if (proto_get32(&r, &req->kind) == -1 ||
	    proto_getstr(&r, SIGNER_LABEL_MAX, req->label) == -1 ||
	    proto_getstr(&r, SIGNER_MDNAME_MAX, req->mdname) == -1 ||
	    proto_getbytes(&r, SIGNER_CONTENT_MAX, &req->content,
	    &req->contentlen) == -1 ||
	    proto_getbytes(&r, SIGNER_TBS_MAX, &req->tbs, &req->tbslen) == -1 ||
	    r.left != 0)
		return -1;
	return 0;
}

int
signer_proto_pubkey_decode(const unsigned char *body, size_t len,
    char label[SIGNER_LABEL_MAX + 1])
{
	struct proto_rd r = { body, len };

	if (proto_getstr(&r, SIGNER_LABEL_MAX, label) == -1 || r.left != 0)
		return -1;
	return 0;
}

int
signer_proto_keygen_decode(const unsigned char *body, size_t len,
    struct signer_keygen_req *req)
{
	struct proto_rd r = { body, len };

	memset(req, 0, sizeof(*req));
	if (proto_getstr(&r, SIGNER_TOKLABEL_MAX, req->token) == -1 ||
	    proto_getstr(&r, SIGNER_LABEL_MAX, req->label) == -1 ||
	    proto_getstr(&r, SIGNER_KEYTYPE_MAX, req->keytype) == -1 ||
	    r.left != 0)
		return -1;
	return 0;
}

int
signer_proto_wrapgen_decode(const unsigned char *body, size_t len,
    struct signer_wrapgen_req *req)
{
	struct proto_rd r = { body, len };

	memset(req, 0, sizeof(*req));
	if (proto_getstr(&r, SIGNER_LABEL_MAX, req->label) == -1 ||
	    proto_getstr(&r, SIGNER_KEYTYPE_MAX, req->keytype) == -1 ||
	    r.left != 0)
		return -1;
	return 0;
}
