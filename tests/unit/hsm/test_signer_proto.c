/*
 * hsm/signer_proto.c: encoding and strict decoding of the signer's wire
 * format (caps, lengths, trailing bytes) and framing over partial I/O.
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
	size_t len;

	assert_int_equal(signer_proto_sign_encode(SIGNER_KIND_CRL, "crl-1",
	    "SHA384", tbs, sizeof(tbs), &body, &len), 0);
	assert_int_equal(len, 4 + 4 + 5 + 4 + 6 + 4 + 5);
	assert_int_equal(signer_proto_sign_decode(body, len, &req), 0);
	assert_int_equal(req.kind, SIGNER_KIND_CRL);
	assert_string_equal(req.label, "crl-1");
	assert_string_equal(req.mdname, "SHA384");
	assert_int_equal(req.tbslen, 5);
	assert_memory_equal(req.tbs, tbs, 5);
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
	assert_int_equal(signer_proto_sign_encode(1, "k", "SHA256",
	    (const unsigned char *)"", SIGNER_TBS_MAX + 1ul, &body, &len), -1);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_roundtrip),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_framing_partial),
		cmocka_unit_test(test_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
