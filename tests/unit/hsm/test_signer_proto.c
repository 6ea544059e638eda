/*
 * hsm/signer_proto.c: encoding and strict decoding of the signer's wire
 * format (caps, lengths, trailing bytes), framing over partial I/O, the
 * reader's "a whole frame is buffered" and the writer that batches
 * replies (what goes out in which write).
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hsm/signer_proto.h"

static void
test_sign_roundtrip(void **state)
{
	struct signer_sign_req req;
	unsigned char *body = NULL, tbs[5] = { 0x30, 3, 2, 1, 7 };
	unsigned char tst[3] = { 0x30, 1, 0 };
	size_t len;

	assert_int_equal(signer_proto_sign_encode(SIGNER_KIND_CRL, "crl-1",
	    "SHA384", NULL, 0, tbs, sizeof(tbs), &body, &len), 0);
	assert_int_equal(len, 4 + 4 + 5 + 4 + 6 + 4 + 4 + 5);
	assert_int_equal(signer_proto_sign_decode(body, len, &req), 0);
	assert_int_equal(req.kind, SIGNER_KIND_CRL);
	assert_string_equal(req.label, "crl-1");
	assert_string_equal(req.mdname, "SHA384");
	assert_int_equal(req.contentlen, 0);
	assert_int_equal(req.tbslen, 5);
	assert_memory_equal(req.tbs, tbs, 5);
	free(body);
	/* A time-stamp's TSTInfo goes before the TBS, which goes out in place. */
	assert_int_equal(signer_proto_sign_encode(SIGNER_KIND_TIMESTAMP, "tsa",
	    "SHA256", tst, sizeof(tst), tbs, sizeof(tbs), &body, &len), 0);
	assert_int_equal(len, 4 + 4 + 3 + 4 + 6 + 4 + 3 + 4 + 5);
	assert_int_equal(signer_proto_sign_decode(body, len, &req), 0);
	assert_int_equal(req.contentlen, 3);
	assert_memory_equal(req.content, tst, 3);
	assert_int_equal(req.tbslen, 5);
	assert_memory_equal(req.tbs, tbs, 5);
	{
		unsigned char *head = NULL;
		size_t headlen;

		assert_int_equal(signer_proto_sign_head_encode(
		    SIGNER_KIND_TIMESTAMP, "tsa", "SHA256", tst, sizeof(tst),
		    sizeof(tbs), &head, &headlen), 0);
		assert_int_equal(headlen, len - sizeof(tbs));
		assert_memory_equal(head, body, headlen);
		free(head);
	}
	/* Every truncation and one trailing byte are refused. */
	for (size_t i = 0; i < len; i++)
		assert_int_equal(signer_proto_sign_decode(body, i, &req), -1);
	body = realloc(body, len + 1);
	body[len] = 0;
	assert_int_equal(signer_proto_sign_decode(body, len + 1, &req), -1);
	free(body);
}

static void
test_caps(void **state)
{
	char label[SIGNER_LABEL_MAX + 2];
	unsigned char *body = NULL;
	size_t len;
	struct signer_keygen_req kg;
	char out[SIGNER_LABEL_MAX + 1];

	memset(label, 'k', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	assert_int_equal(signer_proto_pubkey_encode(label, &body, &len), -1);
	assert_null(body);
	label[SIGNER_LABEL_MAX] = '\0';
	assert_int_equal(signer_proto_pubkey_encode(label, &body, &len), 0);
	assert_int_equal(signer_proto_pubkey_decode(body, len, out), 0);
	assert_string_equal(out, label);
	free(body);
	assert_int_equal(signer_proto_sign_encode(1, "k", "SHA256", NULL, 0,
	    (const unsigned char *)"", SIGNER_TBS_MAX + 1ul, &body, &len), -1);
	assert_int_equal(signer_proto_sign_encode(4, "k", "SHA256",
	    (const unsigned char *)"", SIGNER_CONTENT_MAX + 1ul,
	    (const unsigned char *)"", 0, &body, &len), -1);
	/* Empty strings and embedded NULs are not labels. */
	assert_int_equal(signer_proto_pubkey_encode("", &body, &len), 0);
	assert_int_equal(signer_proto_pubkey_decode(body, len, out), -1);
	free(body);
	assert_int_equal(signer_proto_keygen_encode("tok", "key", "ec-p256",
	    &body, &len), 0);
	assert_int_equal(signer_proto_keygen_decode(body, len, &kg), 0);
	assert_string_equal(kg.token, "tok");
	assert_string_equal(kg.keytype, "ec-p256");
	body[4 + 1] = '\0';	/* "t\0k" */
	assert_int_equal(signer_proto_keygen_decode(body, len, &kg), -1);
	free(body);
}

/*
 * WRAPGEN (cad's subscriber keys): round trip; every truncation, a trailing
 * byte, an empty or over-long string, a NUL in one, a length past the end
 * refused; the caps are the wrapping key's label and the key type.
 */
static void
test_wrapgen(void **state)
{
	struct signer_wrapgen_req req;
	unsigned char *body = NULL, *longer;
	char label[SIGNER_LABEL_MAX + 2], kt[SIGNER_KEYTYPE_MAX + 2];
	size_t len, i;

	assert_int_equal(signer_proto_wrapgen_encode("subscriber-wrap",
	    "ec-p256", &body, &len), 0);
	assert_int_equal(len, 4 + 15 + 4 + 7);
	assert_memory_equal(body, "\0\0\0\x0fsubscriber-wrap\0\0\0\x07"
	    "ec-p256", len);
	memset(&req, 0xee, sizeof(req));
	assert_int_equal(signer_proto_wrapgen_decode(body, len, &req), 0);
	assert_string_equal(req.label, "subscriber-wrap");
	assert_string_equal(req.keytype, "ec-p256");
	for (i = 0; i < len; i++)
		assert_int_equal(signer_proto_wrapgen_decode(body, i, &req),
		    -1);
	assert_non_null(longer = malloc(len + 1));
	memcpy(longer, body, len);
	longer[len] = 0;
	assert_int_equal(signer_proto_wrapgen_decode(longer, len + 1, &req),
	    -1);
	free(longer);
	/* A NUL inside the label; then a key type's length past the end. */
	body[4 + 3] = '\0';
	assert_int_equal(signer_proto_wrapgen_decode(body, len, &req), -1);
	body[4 + 3] = 's';
	body[4 + 15 + 3] = 8;
	assert_int_equal(signer_proto_wrapgen_decode(body, len, &req), -1);
	/* Empty strings are not names (the signer exits on them). */
	free(body);
	assert_int_equal(signer_proto_wrapgen_encode("", "ec-p256", &body,
	    &len), 0);
	assert_int_equal(signer_proto_wrapgen_decode(body, len, &req), -1);
	free(body);
	assert_int_equal(signer_proto_wrapgen_encode("w", "", &body, &len),
	    0);
	assert_int_equal(signer_proto_wrapgen_decode(body, len, &req), -1);
	free(body);

	/* Caps: 64 and 16 bytes encode and decode, one more does not. */
	memset(label, 'w', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	memset(kt, 'k', sizeof(kt) - 1);
	kt[sizeof(kt) - 1] = '\0';
	body = NULL;
	assert_int_equal(signer_proto_wrapgen_encode(label, "ec-p256", &body,
	    &len), -1);
	assert_null(body);
	label[SIGNER_LABEL_MAX] = '\0';
	assert_int_equal(signer_proto_wrapgen_encode(label, kt, &body, &len),
	    -1);
	assert_null(body);
	kt[SIGNER_KEYTYPE_MAX] = '\0';
	assert_int_equal(signer_proto_wrapgen_encode(label, kt, &body, &len),
	    0);
	assert_int_equal(signer_proto_wrapgen_decode(body, len, &req), 0);
	assert_string_equal(req.label, label);
	assert_string_equal(req.keytype, kt);
	free(body);
	/* The decoder's own caps, on a body built by hand: 65-byte label. */
	assert_non_null(body = malloc(4 + SIGNER_LABEL_MAX + 1 + 4 + 1));
	memcpy(body, "\0\0\0\x41", 4);
	memset(body + 4, 'w', SIGNER_LABEL_MAX + 1);
	memcpy(body + 4 + SIGNER_LABEL_MAX + 1, "\0\0\0\x01k", 5);
	assert_int_equal(signer_proto_wrapgen_decode(body, 4 +
	    SIGNER_LABEL_MAX + 1 + 5, &req), -1);
	free(body);
}

static void
test_framing_partial(void **state)
{
	int sv[2], status;
	pid_t pid;
	unsigned char frame[8 + 300], *body = NULL;
	uint32_t type;
	size_t len, i;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(frame, 0xee, sizeof(frame));
	memcpy(frame, "\0\0\0\2\0\0\1\54", 8);	/* type 2, 300 bytes */
	if ((pid = fork()) == 0) {
		close(sv[0]);
		for (i = 0; i < sizeof(frame); i++)	/* one byte at a time */
			if (signer_proto_write(sv[1], frame + i, 1) == -1)
				_exit(1);
		/* Then a header promising more than the reader allows. */
		signer_proto_write(sv[1], "\0\0\0\1\0\1\0\0", 8);
		_exit(0);
	}
	close(sv[1]);
	assert_int_equal(signer_proto_recv(sv[0], 1024, &type, &body, &len),
	    0);
	assert_int_equal(type, 2);
	assert_int_equal(len, 300);
	assert_memory_equal(body, frame + 8, 300);
	free(body);
	assert_int_equal(signer_proto_recv(sv[0], 1024, &type, &body, &len),
	    -1);
	assert_null(body);
	assert_int_equal(signer_proto_recv(sv[0], 1024, &type, &body, &len),
	    1);
	close(sv[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A frame: type, then len bytes of fill. */
static size_t
put_frame(unsigned char *p, uint32_t type, uint32_t len, unsigned char fill)
{
	unsigned char h[8] = { type >> 24, type >> 16, type >> 8, type,
	    len >> 24, len >> 16, len >> 8, len };

	memcpy(p, h, 8);
	memset(p + 8, fill, len);
	return 8 + len;
}

static void
expect_frame(struct signer_proto_reader *rd, uint32_t want_type,
    size_t want_len, unsigned char fill, long long deadline)
{
	unsigned char *body = NULL;
	uint32_t type;
	size_t len, i;

	assert_int_equal(signer_proto_recv_from(rd, 1u << 20, &type, &body,
	    &len, deadline), 0);
	assert_int_equal(type, want_type);
	assert_int_equal(len, want_len);
	for (i = 0; i < len; i++)
		if (body[i] != fill)
			fail_msg("frame %u: byte %zu is %02x", want_type, i,
			    body[i]);
	free(body);
}

/*
 * The reader keeps what a read brought past its frame for the next call:
 * three frames in one write (one larger than its buffer), a frame dribbled
 * in pieces, then one cut short by EOF; and a deadline that passes.
 */
static void
test_reader(void **state)
{
	static unsigned char buf[3 * 8 + 10 + 10000];
	struct signer_proto_reader rd;
	unsigned char *body = NULL;
	uint32_t type;
	size_t n = 0, len, i;
	int sv[2], go[2], status;
	long long t0;
	struct timespec ts;
	pid_t pid;
	char c;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(go), 0);
	n += put_frame(buf + n, 1, 10, 0x11);
	n += put_frame(buf + n, 2, 0, 0);
	n += put_frame(buf + n, 3, 10000, 0x33);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		if (signer_proto_write(sv[1], buf, n) == -1)
			_exit(1);
		/* A frame in pieces: 3 header bytes, 5, then its body. */
		n = put_frame(buf, 4, 20, 0x44);
		for (i = 0; i < n; i += i == 0 ? 3 : i == 3 ? 5 : 20) {
			usleep(20000);
			if (signer_proto_write(sv[1], buf + i, i == 0 ? 3 :
			    i == 3 ? 5 : 20) == -1)
				_exit(1);
		}
		/* After the parent's time-out: a frame cut short, then EOF. */
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		n = put_frame(buf, 5, 20, 0x55);
		signer_proto_write(sv[1], buf, 8 + 10);
		_exit(0);
	}
	close(sv[1]);
	close(go[0]);
	signer_proto_reader_init(&rd, sv[0]);
	expect_frame(&rd, 1, 10, 0x11, -1);
	expect_frame(&rd, 2, 0, 0, -1);
	expect_frame(&rd, 3, 10000, 0x33, -1);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	expect_frame(&rd, 4, 20, 0x44, t0 + 5000);
	/* Nothing more until told: the deadline passes. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	errno = 0;
	assert_int_equal(signer_proto_recv_from(&rd, 1024, &type, &body, &len,
	    t0 + 200), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(write(go[1], "g", 1), 1);
	errno = 0;
	assert_int_equal(signer_proto_recv_from(&rd, 1024, &type, &body, &len,
	    -1), -1);
	assert_int_equal(errno, EPROTO);
	assert_null(body);
	close(sv[0]);
	close(go[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);

	/* Clean EOF before a frame; an oversized header. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	signer_proto_reader_init(&rd, sv[0]);
	put_frame(buf, 6, 2000, 0x66);
	assert_int_equal(signer_proto_write(sv[1], buf, 8 + 2000), 0);
	errno = 0;
	assert_int_equal(signer_proto_recv_from(&rd, 1999, &type, &body, &len,
	    -1), -1);
	assert_int_equal(errno, EMSGSIZE);
	close(sv[1]);
	close(sv[0]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	signer_proto_reader_init(&rd, sv[0]);
	close(sv[1]);
	assert_int_equal(signer_proto_recv_from(&rd, 1024, &type, &body, &len,
	    -1), 1);
	close(sv[0]);
}

/*
 * What one write (send) put on a SOCK_SEQPACKET socket: each send is one
 * record there, so the count of records is the count of writes. The
 * record's length, or 0 when nothing is waiting.
 */
static size_t
take_record(int fd, unsigned char *buf, size_t cap)
{
	ssize_t n;

	n = recv(fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	assert_true(n > 0);
	assert_true((size_t)n <= cap);	/* not cut by our buffer */
	return (size_t)n;
}

/* The next record on fd is exactly want (wantlen bytes). */
static void
expect_record(int fd, const unsigned char *want, size_t wantlen)
{
	static unsigned char got[3 * SIGNER_PROTO_WRBUF];
	size_t n;

	n = take_record(fd, got, sizeof(got));
	if (n != wantlen)
		fail_msg("a write of %zu bytes, expected %zu", n, wantlen);
	assert_memory_equal(got, want, wantlen);
}

/* Nothing was written to the other end of fd. */
static void
expect_nothing(int fd)
{
	unsigned char got[16];

	assert_int_equal(take_record(fd, got, sizeof(got)), 0);
}

/* Queues a frame of put_frame's shape: type, len bytes of fill. */
static void
queue_frame(struct signer_proto_writer *wr, uint32_t type, size_t len,
    unsigned char fill)
{
	static unsigned char body[2 * SIGNER_PROTO_WRBUF];

	assert_true(len <= sizeof(body));
	memset(body, fill, len);
	assert_int_equal(signer_proto_queue(wr, type, len > 0 ? body : NULL,
	    len), 0);
}

/*
 * The reply writer (signerproc answers a pipelined batch with one write):
 * frames queued come out byte-exact and in order, in one write at the
 * flush, not before; a frame that does not fit in what is left of the
 * buffer sends what is queued first (one write) and is queued itself,
 * while one that just fits sends nothing; a frame larger than the buffer
 * goes out at once, after what was queued, in a write of its own;
 * flushing an empty queue writes nothing (not even to descriptor -1); a
 * failed write is reported. Counted on a SOCK_SEQPACKET pair, where each
 * send is one record.
 */
static void
test_writer(void **state)
{
	static unsigned char want[3 * SIGNER_PROTO_WRBUF];
	struct signer_proto_writer wr;
	size_t n, fit;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	signer_proto_writer_init(&wr, sv[1]);

	/* Flushing nothing writes nothing. */
	assert_int_equal(signer_proto_flush(&wr), 0);
	expect_nothing(sv[0]);

	/* Three frames (one empty) queued: nothing out until the flush. */
	queue_frame(&wr, 1, 10, 0x11);
	queue_frame(&wr, SIGNER_OK, 0, 0);
	queue_frame(&wr, SIGNER_REFUSED, 100, 0x33);
	expect_nothing(sv[0]);
	n = put_frame(want, 1, 10, 0x11);
	n += put_frame(want + n, SIGNER_OK, 0, 0);
	n += put_frame(want + n, SIGNER_REFUSED, 100, 0x33);
	assert_int_equal(signer_proto_flush(&wr), 0);
	expect_record(sv[0], want, n);
	expect_nothing(sv[0]);
	/* Sent once: a second flush has nothing left. */
	assert_int_equal(signer_proto_flush(&wr), 0);
	expect_nothing(sv[0]);

	/*
	 * 1008 bytes queued; a frame that fills the buffer to its last byte
	 * is queued with them; one more frame, even empty, does not fit: the
	 * full buffer goes out first, in one write, and the new frame waits.
	 */
	queue_frame(&wr, 4, 1000, 0x44);
	fit = SIGNER_PROTO_WRBUF - (8 + 1000) - 8;
	queue_frame(&wr, 5, fit, 0x55);
	expect_nothing(sv[0]);
	queue_frame(&wr, 6, 0, 0);
	n = put_frame(want, 4, 1000, 0x44);
	n += put_frame(want + n, 5, (uint32_t)fit, 0x55);
	assert_int_equal(n, SIGNER_PROTO_WRBUF);
	expect_record(sv[0], want, n);
	expect_nothing(sv[0]);
	/* A frame that fits the buffer alone but not after frame 6: 6 first. */
	queue_frame(&wr, 7, SIGNER_PROTO_WRBUF - 8, 0x77);
	n = put_frame(want, 6, 0, 0);
	expect_record(sv[0], want, n);
	expect_nothing(sv[0]);
	assert_int_equal(signer_proto_flush(&wr), 0);
	n = put_frame(want, 7, SIGNER_PROTO_WRBUF - 8, 0x77);
	expect_record(sv[0], want, n);
	expect_nothing(sv[0]);

	/*
	 * Larger than the buffer, by one byte or by a lot: out at once, after
	 * what was queued (its own write), and nothing stays queued.
	 */
	queue_frame(&wr, 8, 20, 0x88);
	queue_frame(&wr, 9, SIGNER_PROTO_WRBUF - 7, 0x99);
	n = put_frame(want, 8, 20, 0x88);
	expect_record(sv[0], want, n);
	n = put_frame(want, 9, SIGNER_PROTO_WRBUF - 7, 0x99);
	expect_record(sv[0], want, n);
	expect_nothing(sv[0]);
	/* With none queued. */
	queue_frame(&wr, 10, 2 * SIGNER_PROTO_WRBUF, 0xaa);
	n = put_frame(want, 10, 2 * SIGNER_PROTO_WRBUF, 0xaa);
	expect_record(sv[0], want, n);
	assert_int_equal(signer_proto_flush(&wr), 0);
	expect_nothing(sv[0]);

	/* Over SIGNER_FRAME_MAX: refused, and what was queued stays so. */
	queue_frame(&wr, 11, 5, 0xbb);
	errno = 0;
	assert_int_equal(signer_proto_queue(&wr, 12, want,
	    (size_t)SIGNER_FRAME_MAX + 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	expect_nothing(sv[0]);
	assert_int_equal(signer_proto_flush(&wr), 0);
	n = put_frame(want, 11, 5, 0xbb);
	expect_record(sv[0], want, n);

	/* The peer gone: the flush, and a queue that must flush, say so. */
	queue_frame(&wr, 13, 5, 0xcc);
	close(sv[0]);
	errno = 0;
	assert_int_equal(signer_proto_flush(&wr), -1);
	assert_int_equal(errno, EPIPE);
	queue_frame(&wr, 14, 2000, 0xdd);
	assert_int_equal(signer_proto_queue(&wr, 15, want, 3000), -1);
	close(sv[1]);

	/* A descriptor that is none: an empty flush does not touch it. */
	signer_proto_writer_init(&wr, -1);
	assert_int_equal(signer_proto_flush(&wr), 0);
}

/*
 * The writer's frames, read back by the reader across a stream pair: in
 * order, each whole, also the one that went past the buffer.
 */
static void
test_writer_to_reader(void **state)
{
	struct signer_proto_writer wr;
	struct signer_proto_reader rd;
	static const size_t lens[] = { 72, 0, 300, 3000, 5000, 72, 1 };
	size_t i;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	signer_proto_writer_init(&wr, sv[1]);
	signer_proto_reader_init(&rd, sv[0]);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		queue_frame(&wr, 100 + (uint32_t)i, lens[i],
		    (unsigned char)(0x10 + i));
	assert_int_equal(signer_proto_flush(&wr), 0);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		expect_frame(&rd, 100 + (uint32_t)i, lens[i],
		    (unsigned char)(0x10 + i), -1);
	assert_false(signer_proto_reader_ready(&rd));
	close(sv[1]);
	close(sv[0]);
}

/* Appends len bytes to what rd holds, as a read would. */
static void
rd_append(struct signer_proto_reader *rd, const unsigned char *p, size_t len)
{
	assert_true(rd->len + len <= sizeof(rd->buf));
	memcpy(rd->buf + rd->len, p, len);
	rd->len += len;
}

/* Milliseconds of CLOCK_MONOTONIC, from now. */
static long long
ms_from_now(long long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + ms;
}

/*
 * signer_proto_reader_ready: whether a whole frame is buffered. Byte by
 * byte on the buffer itself (an empty one, a partial header, a header
 * whose body is not all there, the last byte of it, an empty body, a
 * frame after one taken); then through reads on a socket: a partial
 * header left by a read that timed out, two frames and the start of a
 * third in one read (the second ready, the third not), and bytes still in
 * the socket, which it does not see.
 */
static void
test_reader_ready(void **state)
{
	static unsigned char buf[2 * SIGNER_PROTO_RDBUF];
	struct signer_proto_reader rd;
	unsigned char *body = NULL;
	uint32_t type;
	size_t n, i, len;
	int sv[2];

	signer_proto_reader_init(&rd, -1);
	assert_false(signer_proto_reader_ready(&rd));
	n = put_frame(buf, 1, 20, 0x11);
	for (i = 0; i < n; i++) {
		assert_false(signer_proto_reader_ready(&rd));
		rd_append(&rd, buf + i, 1);
	}
	assert_true(signer_proto_reader_ready(&rd));
	/* An empty frame is whole with its header. */
	n = put_frame(buf, 2, 0, 0);
	rd_append(&rd, buf, 7);
	rd.off = 8 + 20;	/* the first one taken */
	assert_false(signer_proto_reader_ready(&rd));
	rd_append(&rd, buf + 7, 1);
	assert_true(signer_proto_reader_ready(&rd));
	rd.off = rd.len;
	assert_false(signer_proto_reader_ready(&rd));
	/* A header claiming more than the buffer can hold: never ready. */
	signer_proto_reader_init(&rd, -1);
	n = put_frame(buf, 3, SIGNER_PROTO_RDBUF, 0x33);
	rd_append(&rd, buf, SIGNER_PROTO_RDBUF);
	assert_false(signer_proto_reader_ready(&rd));
	/* A length near 2^32 must not wrap around into "ready". */
	signer_proto_reader_init(&rd, -1);
	rd_append(&rd, (const unsigned char *)"\0\0\0\1\377\377\377\377", 8);
	rd_append(&rd, buf + 8, 100);
	assert_false(signer_proto_reader_ready(&rd));

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	signer_proto_reader_init(&rd, sv[0]);
	assert_false(signer_proto_reader_ready(&rd));
	/* 5 bytes of a header: read, kept past the time-out, not ready. */
	n = put_frame(buf, 4, 10, 0x44);
	assert_int_equal(signer_proto_write(sv[1], buf, 5), 0);
	errno = 0;
	assert_int_equal(signer_proto_recv_from(&rd, 1024, &type, &body, &len,
	    ms_from_now(100)), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(rd.len - rd.off, 5);
	assert_false(signer_proto_reader_ready(&rd));
	/*
	 * The rest of frame 4, frame 5 and half of frame 6 in one write, so
	 * one read takes them all: 4 comes out, 5 is ready, then 6 is not.
	 */
	n += put_frame(buf + n, 5, 30, 0x55);
	i = put_frame(buf + n, 6, 40, 0x66);
	assert_int_equal(signer_proto_write(sv[1], buf + 5, n + 8 + 20 - 5),
	    0);
	expect_frame(&rd, 4, 10, 0x44, ms_from_now(5000));
	assert_true(signer_proto_reader_ready(&rd));
	expect_frame(&rd, 5, 30, 0x55, ms_from_now(5000));
	assert_false(signer_proto_reader_ready(&rd));
	assert_int_equal(rd.len - rd.off, 8 + 20);
	/* Its last bytes in the socket, not read yet: still not ready. */
	assert_int_equal(signer_proto_write(sv[1], buf + n + 8 + 20, i - 8 -
	    20), 0);
	assert_false(signer_proto_reader_ready(&rd));
	expect_frame(&rd, 6, 40, 0x66, ms_from_now(5000));
	assert_false(signer_proto_reader_ready(&rd));
	close(sv[1]);
	close(sv[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_roundtrip),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_wrapgen),
		cmocka_unit_test(test_framing_partial),
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_writer_to_reader),
		cmocka_unit_test(test_reader_ready),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
