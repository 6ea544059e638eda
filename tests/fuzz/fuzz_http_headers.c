/*
 * libFuzzer harness for lib/http.c's reading of a request's head, which
 * anyone who reaches a daemon's port sends: libmicrohttpd through
 * lib/http's own checks (http_framing_bad: Content-Length and
 * Transfer-Encoding, http_content_length, the 100-continue logic) and the
 * helpers a handler calls (http_bearer, http_query, http_media_type_is,
 * http_header). One server on 127.0.0.1 (a free port, MHD's own thread);
 * each input is one connection. Input: its first line is the request
 * target's query string, every other line a header line (a body after an
 * empty line is sent as it is); the request line, Host and "Connection:
 * close" are ours.
 * Invariants: a handler sees a Bearer token without leading spaces, a
 * query that fits (or "" with -1), a media type test that agrees with the
 * Content-Type; every answer begins with an HTTP/1.1 status line.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/http.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct http_server *srv;
static uint16_t port;

static int
fuzz_handler(void *arg, const struct http_request *req,
    struct http_response *resp)
{
	const char *b, *ct;
	char q[256];
	int is;

	(void)arg;
	if ((b = http_bearer(req)) != NULL && *b == ' ')
		abort();
	if (http_query(req, q, sizeof(q)) == -1 ? q[0] != '\0' :
	    strlen(q) >= sizeof(q))
		abort();
	is = http_media_type_is(req, "application/json");
	ct = req->content_type;
	if (is && (ct == NULL || strncasecmp(ct, "application/json", 16) != 0))
		abort();
	(void)http_header(req, "X-Fuzz");
	return http_respond(resp, 200, "text/plain", "ok\n", 3);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct http_limits lim;
	char err[256];

	(void)argc;
	(void)argv;
	memset(&lim, 0, sizeof(lim));
	lim.max_body = 4096;
	lim.timeout_s = 1;
	lim.body_deadline_s = 1;
	lim.threads = 1;
	if ((srv = http_start("127.0.0.1", 0, &lim, fuzz_handler, NULL, err,
	    sizeof(err))) == NULL)
		abort();
	port = http_port(srv);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in sin;
	struct timeval tv = { 1, 500000 };
	char *req, resp[64], sink[4096];
	size_t i, n = 0, got = 0;
	ssize_t r;
	int s, head = 1;

	if (size > 8192 || (req = malloc(2 * size + 80)) == NULL)
		return 0;
	memcpy(req, "GET /f?", 7);
	n = 7;
	for (i = 0; i < size && data[i] != '\n'; i++)
		req[n++] = (char)data[i];
	/* Closed after the answer: no wait for a next request. */
	memcpy(req + n, " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n", 39);
	n += 39;
	for (i++; i < size; i++) {
		if (head && data[i] == '\n') {
			req[n++] = '\r';
			if (i > 0 && data[i - 1] == '\n')
				head = 0;
		}
		req[n++] = (char)data[i];
	}
	if (head) {
		memcpy(req + n, "\r\n\r\n", 4);
		n += 4;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		abort();
	(void)setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		abort();
	(void)send(s, req, n, MSG_NOSIGNAL);
	(void)shutdown(s, SHUT_WR);
	while (got < sizeof(resp) &&
	    (r = recv(s, resp + got, sizeof(resp) - got, 0)) > 0)
		got += (size_t)r;
	while ((r = recv(s, sink, sizeof(sink), 0)) > 0)
		;
	if (got > 0 && (got < 9 || memcmp(resp, "HTTP/1.", 7) != 0))
		abort();
	close(s);
	free(req);
	return 0;
}
