/*
 * lib/http: a real server on 127.0.0.1 (and ::1), port 0, driven by libcurl
 * and, where curl would be too polite, by a raw socket.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "lib/http.h"
#include "lib/log.h"
#include "lib/sandbox.h"

#define MAX_BODY 1024
#define BIG_ANSWER (32 * 1024 * 1024)	/* more than loopback's buffers hold */

struct fixture {
	struct http_server	*srv;
	char			 base[64];
	int			 calls;		/* handler invocations */
	int			 released;	/* /shared bodies released */
	int			 slow_started;	/* /slow's handler entered */
};

static const char shared_doc[] = "one copy for every client";

/* http_respond_shared's release: counts, from an MHD thread. */
static void
count_release(void *arg)
{
	__atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
}

/*
 * Echo handler. /fail returns -1 with no status; /fail-status returns -1
 * after setting 503; /nostatus returns 0 without a status; /headers sets
 * custom headers; anything else echoes "METHOD PATH\n" + body.
 */
static int
handler(void *arg, const struct http_request *req, struct http_response *resp)
{
	struct fixture *fx = arg;
	const char *h;
	char *out;
	size_t plen;
	int rc;

	__atomic_add_fetch(&fx->calls, 1, __ATOMIC_SEQ_CST);
	if (strcmp(req->path, "/fail") == 0)
		return -1;
	if (strcmp(req->path, "/fail-status") == 0) {
		/* No cmocka asserts here: this runs on an MHD thread. */
		if (http_problem(resp, 503, "urn:test:busy", "Busy",
		    "try later") == -1)
			http_response_clear(resp);
		return -1;
	}
	if (strcmp(req->path, "/nostatus") == 0)
		return 0;
	if (strcmp(req->path, "/slow") == 0) {
		__atomic_store_n(&fx->slow_started, 1, __ATOMIC_SEQ_CST);
		usleep(1000 * 1000);
		return http_respond(resp, 200, "text/plain", "slow", 4);
	}
	if (strcmp(req->path, "/headers") == 0) {
		h = http_header(req, "X-Req");
		if (http_add_header(resp, "X-Echo", h != NULL ? h : "none") ||
		    http_add_header(resp, "Cache-Control", "max-age=60") ||
		    http_add_header(resp, "X-Remote", req->remote_addr))
			return -1;
		return http_respond(resp, 204, NULL, NULL, 0);
	}
	if (strcmp(req->path, "/query") == 0 ||
	    strcmp(req->path, "/query-short") == 0) {
		char q[64];

		if (http_query(req, q, strcmp(req->path, "/query") == 0 ?
		    sizeof(q) : 8) == -1)
			return http_respond(resp, 414, "text/plain", "long", 4);
		return http_respond(resp, 200, "text/plain", q, strlen(q));
	}
	if (strcmp(req->path, "/shared") == 0)
		return http_respond_shared(resp, 200, "text/plain", shared_doc,
		    sizeof(shared_doc) - 1, count_release, &fx->released);
	if (strcmp(req->path, "/json") == 0) {
		json_t *o = json_pack("{s:s}", "ok", "yes");

		rc = http_respond_json(resp, 201, o);
		json_decref(o);
		return rc;
	}
	plen = strlen(req->method) + 1 + strlen(req->path) + 1;
	if ((out = malloc(plen + req->body_len + 1)) == NULL)
		return -1;
	snprintf(out, plen + 1, "%s %s\n", req->method, req->path);
	if (req->body_len > 0)
		memcpy(out + plen, req->body, req->body_len);
	rc = http_respond(resp, 200, "application/octet-stream", out,
	    plen + req->body_len);
	free(out);
	return rc;
}

struct buf {
	char	*data;
	size_t	 len;
};

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	char *nd;

	nd = realloc(b->data, b->len + size * n + 1);
	assert_non_null(nd);
	memcpy(nd + b->len, p, size * n);
	b->data = nd;
	b->len += size * n;
	b->data[b->len] = '\0';
	return size * n;
}

/* Upload source for chunked bodies. */
struct src {
	const char	*data;
	size_t		 len;
	size_t		 off;
};

static size_t
feed(char *p, size_t size, size_t n, void *arg)
{
	struct src *s = arg;
	size_t k = size * n;

	if (k > 100)
		k = 100;	/* many small chunks */
	if (k > s->len - s->off)
		k = s->len - s->off;
	memcpy(p, s->data + s->off, k);
	s->off += k;
	return k;
}

struct reply {
	long		 status;
	char		 ctype[128];
	struct buf	 body;
	struct buf	 headers;
};

/*
 * One request. body NULL: GET. chunked: send body with Transfer-Encoding:
 * chunked. hdr: one extra request header or NULL.
 */
static void
request(const struct fixture *fx, const char *path, const char *body,
    size_t len, int chunked, const char *hdr, struct reply *r)
{
	CURL *c;
	struct curl_slist *hl = NULL;
	struct src s = { body, len, 0 };
	char url[256];
	char *ct = NULL;
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", fx->base, path);
	c = curl_easy_init();
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (hdr != NULL)
		hl = curl_slist_append(hl, hdr);
	if (body != NULL && chunked) {
		hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "POST");
		curl_easy_setopt(c, CURLOPT_READFUNCTION, feed);
		curl_easy_setopt(c, CURLOPT_READDATA, &s);
	} else if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	if (hl != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK)
		fail_msg("curl %s: %s", url, curl_easy_strerror(cc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	if (ct != NULL)
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
}

static void
reply_free(struct reply *r)
{
	free(r->body.data);
	free(r->headers.data);
}

/* The reply is RFC 9457 problem JSON with this status. */
static void
assert_problem(const struct reply *r, long status)
{
	json_error_t err;
	json_t *o;
	json_int_t st = 0;
	const char *type = NULL, *title = NULL;

	assert_int_equal(r->status, status);
	assert_string_equal(r->ctype, "application/problem+json");
	o = json_loadb(r->body.data, r->body.len, 0, &err);
	assert_non_null(o);
	assert_int_equal(json_unpack(o, "{s:s, s:s, s:I}", "type", &type,
	    "title", &title, "status", &st), 0);
	assert_int_equal(st, status);
	assert_true(strlen(title) > 0);
	json_decref(o);
}

static int
setup(void **state)
{
	struct fixture *fx;
	struct http_limits lim = { MAX_BODY, 16384, 16, 8, 5, 2, 0, NULL, NULL,
	    0, 0, 0, 0, 0, 0 };
	char err[256];

	fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	fx->srv = http_start("127.0.0.1", 0, &lim, handler, fx, err,
	    sizeof(err));
	if (fx->srv == NULL)
		fail_msg("http_start: %s", err);
	assert_int_not_equal(http_port(fx->srv), 0);
	snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%u",
	    (unsigned int)http_port(fx->srv));
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	http_stop(fx->srv);
	free(fx);
	return 0;
}

static void
test_get(void **state)
{
	struct fixture *fx = *state;
	struct reply r;

	request(fx, "/ocsp/MEow%2FQ?x=1", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "application/octet-stream");
	/* The path is passed undecoded and without the query. */
	assert_string_equal(r.body.data, "GET /ocsp/MEow%2FQ\n");
	reply_free(&r);
}

/* http_query: the arguments in order, undecoded but for '+'. */
static void
test_query(void **state)
{
	struct fixture *fx = *state;
	struct reply r;

	request(fx, "/query?status=submitted&q=a%20b+c&flag&page=2", NULL, 0,
	    0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "status=submitted&q=a%20b c&flag&page=2");
	reply_free(&r);
	request(fx, "/query", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(r.body.data == NULL || r.body.data[0] == '\0');
	reply_free(&r);
	request(fx, "/query-short?abcdefgh=1", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 414);
	reply_free(&r);
}

static void
test_post_exact_body(void **state)
{
	struct fixture *fx = *state;
	struct reply r;
	char body[MAX_BODY];
	size_t i;

	for (i = 0; i < sizeof(body); i++)
		body[i] = (char)(i * 7);	/* includes NUL bytes */
	/* Exactly max_body bytes is accepted, with Content-Length... */
	request(fx, "/echo", body, sizeof(body), 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, strlen("POST /echo\n") + sizeof(body));
	assert_memory_equal(r.body.data, "POST /echo\n", 11);
	assert_memory_equal(r.body.data + 11, body, sizeof(body));
	reply_free(&r);
	/* ...and chunked. */
	request(fx, "/echo", body, sizeof(body), 1, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 11 + sizeof(body));
	assert_memory_equal(r.body.data + 11, body, sizeof(body));
	reply_free(&r);
	/* Empty POST. */
	request(fx, "/echo", "", 0, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "POST /echo\n");
	reply_free(&r);
}

static void
test_body_too_large(void **state)
{
	struct fixture *fx = *state;
	struct reply r;
	char *body;
	int before;

	body = malloc(MAX_BODY * 8);
	assert_non_null(body);
	memset(body, 'a', MAX_BODY * 8);
	before = __atomic_load_n(&fx->calls, __ATOMIC_SEQ_CST);
	request(fx, "/echo", body, MAX_BODY + 1, 0, NULL, &r);
	assert_problem(&r, 413);
	reply_free(&r);
	/* Chunked: no Content-Length, the body grows past the limit. */
	request(fx, "/echo", body, MAX_BODY * 8, 1, NULL, &r);
	assert_problem(&r, 413);
	reply_free(&r);
	assert_int_equal(__atomic_load_n(&fx->calls, __ATOMIC_SEQ_CST),
	    before);
	free(body);
}

/* A chunked sender that never stops is cut off; the server carries on. */
static void
test_endless_chunked_dropped(void **state)
{
	struct fixture *fx = *state;
	struct src s;
	struct buf b = { NULL, 0 };
	struct curl_slist *hl;
	struct reply r;
	char url[128];
	char *body;
	CURL *c;
	long status = 0;
	size_t len = 4 * 1024 * 1024;
	CURLcode cc;

	body = calloc(1, len);
	assert_non_null(body);
	s.data = body;
	s.len = len;
	s.off = 0;
	snprintf(url, sizeof(url), "%s/echo", fx->base);
	c = curl_easy_init();
	assert_non_null(c);
	hl = curl_slist_append(NULL, "Transfer-Encoding: chunked");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "POST");
	curl_easy_setopt(c, CURLOPT_READFUNCTION, feed);
	curl_easy_setopt(c, CURLOPT_READDATA, &s);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	/* Either the 413 made it back before the drop, or the drop itself. */
	assert_true(cc != CURLE_OK || status == 413);
	assert_true(s.off < len);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	free(b.data);
	free(body);

	request(fx, "/after", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
}

/* Writes a raw request to the server and reads the answer (5 s at most). */
static void
raw_request(const struct fixture *fx, const char *req, char *resp,
    size_t len)
{
	struct sockaddr_in sin;
	struct timeval tv = { 5, 0 };
	ssize_t n;
	size_t off = 0;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd != -1);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(http_port(fx->srv));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (off < len - 1 && (n = read(fd, resp + off, len - 1 - off)) > 0)
		off += (size_t)n;
	resp[off] = '\0';
	close(fd);
}

/* 413 must come back without the client sending a single body byte. */
static void
test_413_without_body(void **state)
{
	struct fixture *fx = *state;
	char resp[2048];

	raw_request(fx, "POST /echo HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 1000000000\r\n\r\n", resp, sizeof(resp));
	assert_int_equal(strncmp(resp, "HTTP/1.1 413 ", 13), 0);
	assert_non_null(strcasestr(resp,
	    "Content-Type: application/problem+json"));
	/* A cache in front must not keep the library's own errors. */
	assert_non_null(strcasestr(resp, "Cache-Control: no-store"));
}

/*
 * A request target in absolute form reaches the handler as its path
 * (RFC 9112 §3.2.2: a server must accept it); until 2026-12-07 the
 * handlers saw "http://x/echo" and answered 404.
 */
static void
test_absolute_form(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char	*target;
		const char	*path;	/* as the handler sees it */
	} t[] = {
		{ "http://x:8080/echo", "/echo" },
		{ "HTTPS://x/a/b", "/a/b" },
		{ "http://x", "/" },
		{ "/plain", "/plain" },
	};
	char req[256], want[64], resp[2048];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(req, sizeof(req), "POST %s HTTP/1.1\r\nHost: x\r\n"
		    "Content-Type: application/json\r\nContent-Length: 5\r\n"
		    "Connection: close\r\n\r\nhello", t[i].target);
		raw_request(fx, req, resp, sizeof(resp));
		assert_int_equal(strncmp(resp, "HTTP/1.1 200 ", 13), 0);
		/* The echo handler answers "METHOD PATH\n" and the body. */
		snprintf(want, sizeof(want), "\r\n\r\nPOST %s\nhello",
		    t[i].path);
		if (strstr(resp, want) == NULL)
			fail_msg("%s: %s", t[i].target, resp);
	}
}

/* lim.admit: X-Key: ok gets in; anything else 401, before the body. */
static int
admit_key(void *arg, const struct http_request *req,
    struct http_response *resp)
{
	const char *k = http_header(req, "X-Key");

	(void)arg;
	if (req->body != NULL || req->body_len != 0)
		return http_problem(resp, 500, NULL, NULL, "a body at admit");
	if (k != NULL && strcmp(k, "ok") == 0)
		return 0;
	return http_problem(resp, 401, NULL, NULL, "no key");
}

/* fx: a server of lim on 127.0.0.1 with handler (the admit tests). */
static void
admit_start(struct fixture *fx, const struct http_limits *lim)
{
	char err[256];

	memset(fx, 0, sizeof(*fx));
	fx->srv = http_start("127.0.0.1", 0, lim, handler, fx, err,
	    sizeof(err));
	if (fx->srv == NULL)
		fail_msg("http_start: %s", err);
	snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%u",
	    (unsigned int)http_port(fx->srv));
}

/* lim.admit answers on the headers alone; an admitted request runs whole. */
static void
test_admit(void **state)
{
	struct fixture fx;
	struct http_limits lim = { MAX_BODY, 16384, 16, 8, 5, 1, 0, NULL,
	    admit_key, 0, 0, 0, 0, 0, 0 };
	struct reply r;
	char resp[2048];

	(void)state;
	admit_start(&fx, &lim);
	/* A client waiting for "100 Continue": refused, it never sends it. */
	raw_request(&fx, "POST /echo HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/json\r\nContent-Length: 500\r\n"
	    "Expect: 100-continue\r\nConnection: close\r\n\r\n", resp,
	    sizeof(resp));
	assert_int_equal(strncmp(resp, "HTTP/1.1 401 ", 13), 0);
	assert_null(strstr(resp, "100 Continue"));
	/* One sending at once: the answer after the body, not a reset. */
	raw_request(&fx, "POST /echo HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/json\r\nContent-Length: 5\r\n"
	    "Connection: close\r\n\r\nhello", resp, sizeof(resp));
	assert_int_equal(strncmp(resp, "HTTP/1.1 401 ", 13), 0);
	assert_int_equal(__atomic_load_n(&fx.calls, __ATOMIC_SEQ_CST), 0);
	/* A wrong key, with its body: 401, the handler never runs. */
	request(&fx, "/echo", "hello", 5, 0, "X-Key: no", &r);
	assert_problem(&r, 401);
	reply_free(&r);
	assert_int_equal(__atomic_load_n(&fx.calls, __ATOMIC_SEQ_CST), 0);
	/* Admitted: the handler sees the whole body, plain or chunked. */
	request(&fx, "/echo", "hello", 5, 0, "X-Key: ok", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 16);
	assert_memory_equal(r.body.data, "POST /echo\nhello", 16);
	reply_free(&r);
	request(&fx, "/echo", "chunky", 6, 1, "X-Key: ok", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 17);
	assert_memory_equal(r.body.data, "POST /echo\nchunky", 17);
	reply_free(&r);
	assert_int_equal(__atomic_load_n(&fx.calls, __ATOMIC_SEQ_CST), 2);
	http_stop(fx.srv);
}

/*
 * lim.admit with a smaller limit than max_body: 413 above 100 bytes, 411
 * for a chunked body, else in.
 */
static int
admit_small(void *arg, const struct http_request *req,
    struct http_response *resp)
{
	const char *cl = http_header(req, "Content-Length");

	(void)arg;
	if (cl != NULL && strtoull(cl, NULL, 10) > 100)
		return http_problem(resp, 413, NULL, NULL, "too large here");
	if (http_header(req, "Transfer-Encoding") != NULL)
		return http_problem(resp, 411, NULL, NULL, "length required");
	return 0;
}

/*
 * An admit's 413 and 411 are sent at once, with no body byte sent, not
 * held until a body that never comes (or comes at max_body's size) is
 * read; until 2026-12-07 every refusal of admit waited for the body.
 */
static void
test_admit_413_at_once(void **state)
{
	struct fixture fx;
	struct http_limits lim = { MAX_BODY, 16384, 16, 8, 5, 1, 0, NULL,
	    admit_small, 0, 0, 0, 0, 0, 0 };
	struct reply r;
	char resp[2048];

	(void)state;
	admit_start(&fx, &lim);
	raw_request(&fx, "POST /echo HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/json\r\nContent-Length: 1000\r\n"
	    "\r\n", resp, sizeof(resp));
	assert_int_equal(strncmp(resp, "HTTP/1.1 413 ", 13), 0);
	assert_non_null(strstr(resp, "too large here"));
	raw_request(&fx, "POST /echo HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/json\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", resp, sizeof(resp));
	assert_int_equal(strncmp(resp, "HTTP/1.1 411 ", 13), 0);
	assert_int_equal(__atomic_load_n(&fx.calls, __ATOMIC_SEQ_CST), 0);
	/* Within the limit: in, whole. */
	request(&fx, "/echo", "hello", 5, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	http_stop(fx.srv);
}

static void
test_handler_failure_500(void **state)
{
	struct fixture *fx = *state;
	struct reply r;
	json_t *o;

	request(fx, "/fail", "x", 1, 0, NULL, &r);
	assert_problem(&r, 500);
	reply_free(&r);
	request(fx, "/nostatus", NULL, 0, 0, NULL, &r);
	assert_problem(&r, 500);
	reply_free(&r);
	/* -1 with a status already set: that answer is sent. */
	request(fx, "/fail-status", NULL, 0, 0, NULL, &r);
	assert_problem(&r, 503);
	o = json_loadb(r.body.data, r.body.len, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "type")),
	    "urn:test:busy");
	assert_string_equal(json_string_value(json_object_get(o, "detail")),
	    "try later");
	json_decref(o);
	reply_free(&r);
}

static void
test_custom_headers(void **state)
{
	struct fixture *fx = *state;
	struct reply r;

	request(fx, "/headers", NULL, 0, 0, "X-Req: hello", &r);
	assert_int_equal(r.status, 204);
	assert_non_null(strcasestr(r.headers.data, "X-Echo: hello\r\n"));
	assert_non_null(strcasestr(r.headers.data,
	    "Cache-Control: max-age=60\r\n"));
	assert_non_null(strcasestr(r.headers.data, "X-Remote: 127.0.0.1\r\n"));
	reply_free(&r);

	request(fx, "/json", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.ctype, "application/json");
	assert_string_equal(r.body.data, "{\"ok\":\"yes\"}");
	reply_free(&r);
}

/* A shared body is sent as is and released once per response, after it. */
static void
test_shared_body(void **state)
{
	struct fixture *fx = *state;
	struct http_response resp;
	struct reply r;
	int i, released = 0;

	for (i = 1; i <= 3; i++) {
		request(fx, "/shared", NULL, 0, 0, NULL, &r);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body.data, shared_doc);
		reply_free(&r);
	}
	/* MHD releases the response once done with it: allow it a moment. */
	for (i = 0; i < 100 && __atomic_load_n(&fx->released,
	    __ATOMIC_SEQ_CST) < 3; i++)
		usleep(10000);
	assert_int_equal(__atomic_load_n(&fx->released, __ATOMIC_SEQ_CST), 3);

	/* Never queued: released by a later body or by the clear. */
	memset(&resp, 0, sizeof(resp));
	assert_int_equal(http_respond_shared(&resp, 200, NULL, shared_doc, 3,
	    count_release, &released), 0);
	assert_int_equal(http_respond(&resp, 200, NULL, "x", 1), 0);
	assert_int_equal(released, 1);
	assert_int_equal(http_respond_shared(&resp, 200, NULL, shared_doc, 3,
	    count_release, &released), 0);
	http_response_clear(&resp);
	assert_int_equal(released, 2);
	/* Refused: released at once, nothing held. */
	assert_int_equal(http_respond_shared(&resp, 99, NULL, shared_doc, 3,
	    count_release, &released), -1);
	assert_int_equal(released, 3);
	assert_null(resp.release);
}

static void
test_response_helpers(void **state)
{
	struct http_response resp;
	int i;

	memset(&resp, 0, sizeof(resp));
	assert_int_equal(http_add_header(&resp, "X-Bad", "a\r\nSet-Cookie: x"),
	    -1);
	assert_int_equal(http_add_header(&resp, "Bad Name", "v"), -1);
	assert_int_equal(http_add_header(&resp, "", "v"), -1);
	for (i = 0; i < HTTP_MAX_HEADERS; i++)
		assert_int_equal(http_add_header(&resp, "X-N", "v"), 0);
	assert_int_equal(http_add_header(&resp, "X-N", "v"), -1);
	assert_int_equal(http_respond(&resp, 99, NULL, NULL, 0), -1);
	assert_int_equal(http_respond(&resp, 600, NULL, NULL, 0), -1);
	assert_int_equal(http_respond(&resp, 200, "text/plain", NULL, 3), -1);
	assert_int_equal(http_respond(&resp, 200, "text/plain", "abc", 3), 0);
	assert_int_equal(http_respond(&resp, 200, "text/plain", "de", 2), 0);
	assert_int_equal(resp.body_len, 2);
	assert_memory_equal(resp.body, "de", 2);
	assert_int_equal(http_problem(&resp, 404, NULL, NULL, NULL), 0);
	assert_string_equal(resp.content_type, "application/problem+json");
	/* The body is not NUL-terminated. */
	assert_non_null(memmem(resp.body, resp.body_len, "\"about:blank\"",
	    13));
	assert_non_null(memmem(resp.body, resp.body_len, "\"Not Found\"", 11));
	assert_null(memmem(resp.body, resp.body_len, "detail", 6));
	http_response_clear(&resp);
	assert_int_equal(resp.nheaders, 0);
	assert_null(resp.body);
	http_response_clear(NULL);
}

static void
test_conditional(void **state)
{
	const char *etag = "\"0123abcd\"";
	struct http_response resp;

	assert_true(http_etag_matches("\"0123abcd\"", etag));
	assert_true(http_etag_matches("W/\"0123abcd\"", etag));
	assert_true(http_etag_matches("\"x\", \"0123abcd\"", etag));
	assert_true(http_etag_matches("\"x\",W/\"0123abcd\"", etag));
	assert_true(http_etag_matches("*", etag));
	assert_true(http_etag_matches("\"0123abcd\"", "W/\"0123abcd\""));
	assert_false(http_etag_matches("\"0123abc\"", etag));
	assert_false(http_etag_matches("\"0123abcde\"", etag));
	assert_false(http_etag_matches("0123abcd", etag));
	assert_false(http_etag_matches("\"0123abcd", etag));
	assert_false(http_etag_matches("", etag));
	/* Not an If-None-Match (§13.1.2): "*" only alone, nothing after a tag. */
	assert_false(http_etag_matches("\"x\", *", etag));
	assert_false(http_etag_matches("\"0123abcd\" junk", etag));
	assert_false(http_etag_matches("\"0123abcd\";x", etag));
	assert_false(http_etag_matches(NULL, etag));

	/* 2001-09-09T01:46:40Z = 1000000000 */
	assert_true(http_unmodified_since("Sun, 09 Sep 2001 01:46:40 GMT",
	    1000000000));
	assert_true(http_unmodified_since("Sun, 09 Sep 2001 01:46:41 GMT",
	    1000000000));
	assert_false(http_unmodified_since("Sun, 09 Sep 2001 01:46:39 GMT",
	    1000000000));
	/* The obsolete forms a recipient MUST accept (RFC 9110 §5.6.7). */
	assert_true(http_unmodified_since("Sunday, 09-Sep-01 01:46:40 GMT",
	    1000000000));
	assert_true(http_unmodified_since("Sun Sep  9 01:46:40 2001",
	    1000000000));
	/* What strptime alone would take: no space, the wrong weekday. */
	assert_false(http_unmodified_since("Sun,09 Sep 2001 01:46:40GMT",
	    1000000000));
	assert_false(http_unmodified_since("Mon, 09 Sep 2001 01:46:40 GMT",
	    1000000000));
	assert_false(http_unmodified_since("Sun, 31 Sep 2001 01:46:40 GMT",
	    1000000000));
	assert_false(http_unmodified_since("Sun, 09 Sep 2001 01:46:40 GMT x",
	    1000000000));
	assert_false(http_unmodified_since(NULL, 1000000000));

	memset(&resp, 0, sizeof(resp));
	assert_int_equal(http_not_modified(&resp, 1088), 0);
	assert_int_equal(resp.status, 304);
	assert_int_equal(resp.full_len, 1088);
	assert_int_equal(resp.body_len, 0);
	http_response_clear(&resp);
}

/* The X-Remote the /headers route answers with, X-Forwarded-For xff sent. */
static void
assert_client(const struct fixture *fx, const char *xff, const char *want)
{
	struct reply r;
	char hdr[256], line[128];

	if (xff != NULL)
		snprintf(hdr, sizeof(hdr), "X-Forwarded-For: %s", xff);
	request(fx, "/headers", NULL, 0, 0, xff != NULL ? hdr : NULL, &r);
	assert_int_equal(r.status, 204);
	snprintf(line, sizeof(line), "X-Remote: %s\r\n", want);
	if (strstr(r.headers.data, line) == NULL)
		fail_msg("X-Forwarded-For %s: want %s, got %s", xff != NULL ?
		    xff : "(none)", want, r.headers.data);
	reply_free(&r);
}

/* Behind a trusted proxy the client comes from X-Forwarded-For; else never. */
static void
test_trusted_proxy(void **state)
{
	struct fixture *fx = *state, behind;
	struct http_limits lim = { MAX_BODY, 16384, 16, 1, 5, 1, 0,
	    "10.0.0.0/8, 127.0.0.1", NULL, 0, 0, 0, 0, 0, 0 };
	char err[256];

	/* Not a trusted proxy: the header is the client's own word. */
	assert_client(fx, "198.51.100.7", "127.0.0.1");
	memset(&behind, 0, sizeof(behind));
	behind.srv = http_start("127.0.0.1", 0, &lim, handler, &behind, err,
	    sizeof(err));
	if (behind.srv == NULL)
		fail_msg("http_start: %s", err);
	snprintf(behind.base, sizeof(behind.base), "http://127.0.0.1:%u",
	    (unsigned int)http_port(behind.srv));
	assert_client(&behind, NULL, "127.0.0.1");
	assert_client(&behind, "198.51.100.7", "198.51.100.7");
	/* A client's own X-Forwarded-For: only what the proxies appended counts. */
	assert_client(&behind, "203.0.113.1, 198.51.100.7, 10.1.2.3",
	    "198.51.100.7");
	assert_client(&behind, " 2001:db8::1 ", "2001:db8::1");
	assert_client(&behind, "::ffff:198.51.100.9", "198.51.100.9");
	/* Not an address: the walk stops at the last one read. */
	assert_client(&behind, "198.51.100.7, unknown", "127.0.0.1");
	assert_client(&behind, "garbage, 10.9.9.9", "10.9.9.9");
	assert_client(&behind, "198.51.100.7,", "127.0.0.1");
	/* Every entry trusted: the leftmost. */
	assert_client(&behind, "10.0.0.1, 10.0.0.2", "10.0.0.1");
	http_stop(behind.srv);
	/* A bad list is refused at start. */
	lim.trusted_proxies = "127.0.0.1 proxy.example";
	assert_null(http_start("127.0.0.1", 0, &lim, handler, NULL, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "proxy.example"));
	lim.trusted_proxies = "10.0.0.0/33";
	assert_null(http_start("127.0.0.1", 0, &lim, handler, NULL, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "prefix"));
}

static void
test_start_errors_and_ipv6(void **state)
{
	struct http_server *srv, *srv2;
	struct fixture fx;
	struct reply r;
	char err[256];

	assert_null(http_start("localhost", 0, NULL, handler, NULL, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "localhost"));
	assert_null(http_start("127.0.0.1", 0, NULL, NULL, NULL, err,
	    sizeof(err)));

	memset(&fx, 0, sizeof(fx));
	srv = http_start("::1", 0, NULL, handler, &fx, err, sizeof(err));
	if (srv == NULL)
		fail_msg("http_start ::1: %s", err);
	fx.srv = srv;
	snprintf(fx.base, sizeof(fx.base), "http://[::1]:%u",
	    (unsigned int)http_port(srv));
	request(&fx, "/v6", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "GET /v6\n");
	reply_free(&r);

	/* The port is taken now: a second server on it fails cleanly. */
	srv2 = http_start("::1", http_port(srv), NULL, handler, &fx, err,
	    sizeof(err));
	assert_null(srv2);
	assert_true(strlen(err) > 0);
	http_stop(srv);
	http_stop(NULL);
}

/* A client on its own thread: test_stop_lets_requests_finish, deferrals. */
struct slow_client {
	char		 url[128];
	long		 timeout_ms;	/* 0: 10 s */
	CURLcode	 cc;
	long		 status;
	struct buf	 body;
};

static void *
slow_get(void *arg)
{
	struct slow_client *sc = arg;
	CURL *c = curl_easy_init();

	if (c == NULL) {
		sc->cc = CURLE_FAILED_INIT;
		return NULL;
	}
	curl_easy_setopt(c, CURLOPT_URL, sc->url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sc->body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, sc->timeout_ms > 0 ?
	    sc->timeout_ms : 10000L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	sc->cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &sc->status);
	curl_easy_cleanup(c);
	return NULL;
}

/*
 * http_stop while a request is being answered: the client gets its whole
 * answer (it got an empty reply when MHD_stop_daemon closed every
 * connection at once), and the server accepts nothing new meanwhile.
 */
static void
test_stop_lets_requests_finish(void **state)
{
	struct fixture fx2;
	struct http_limits lim = { MAX_BODY, 16384, 16, 8, 5, 2, 0, NULL, NULL,
	    0, 0, 0, 0, 0, 0 };
	struct slow_client sc;
	pthread_t th;
	char err[256];
	int i;

	(void)state;
	memset(&fx2, 0, sizeof(fx2));
	memset(&sc, 0, sizeof(sc));
	fx2.srv = http_start("127.0.0.1", 0, &lim, handler, &fx2, err,
	    sizeof(err));
	if (fx2.srv == NULL)
		fail_msg("http_start: %s", err);
	snprintf(sc.url, sizeof(sc.url), "http://127.0.0.1:%u/slow",
	    (unsigned int)http_port(fx2.srv));
	assert_int_equal(pthread_create(&th, NULL, slow_get, &sc), 0);
	for (i = 0; i < 500 && !__atomic_load_n(&fx2.slow_started,
	    __ATOMIC_SEQ_CST); i++)
		usleep(10000);
	assert_true(fx2.slow_started);
	http_stop(fx2.srv);
	assert_int_equal(pthread_join(th, NULL), 0);
	if (sc.cc != CURLE_OK)
		fail_msg("the request in flight at http_stop: %s",
		    curl_easy_strerror(sc.cc));
	assert_int_equal(sc.status, 200);
	assert_int_equal(sc.body.len, 4);
	assert_memory_equal(sc.body.data, "slow", 4);
	free(sc.body.data);
}

/*
 * Deferred answers (http_defer, http_resume). defer_handler parks each
 * /later/... request; the test answers it later, from a thread of its own
 * or, in external mode, from the loop that runs the server.
 */
#define NPARK	8

struct parked {
	struct http_deferred	*d;	/* NULL once resumed */
	char			 path[64];
	int			 iter;	/* the external loop's turn, when parked */
};

struct dfx {
	struct fixture		 fx;	/* srv and base, for request() */
	pthread_mutex_t		 mu;	/* park, nparked */
	pthread_cond_t		 cv;	/* one more parked */
	struct parked		 park[NPARK];
	int			 nparked;
	int			 now;	/* http_defer() gave NULL: answered at once */
	int			 twice;	/* a second http_defer() did not give NULL */
	int			 admit_calls;
	int			 admit_deferred;	/* http_defer() at admit did not give NULL */
	/* The external loop (ext_loop). */
	int			 iter;
	int			 stopping;	/* set by the test */
	int			 release;	/* set by the test: answer /later/hold */
	int			 quiesced;	/* set by the loop */
	int			 wake[2];	/* a pipe: stopping or release was set */
	int			 busy_at_exit;
	int			 drain_timed_out;
	int			 loop_errno;
};

/*
 * /later/...: deferred when the server allows it, else "now <path>".
 * /bare returns HTTP_DEFERRED without http_defer(). Anything else is
 * answered "now <path>". Runs on an MHD thread, or in http_run(): no
 * cmocka asserts.
 */
static int
defer_handler(void *arg, const struct http_request *req,
    struct http_response *resp)
{
	struct dfx *dx = arg;
	struct http_deferred *d = NULL;
	struct http_response none;
	char now[96];
	int later = strncmp(req->path, "/later/", 7) == 0;

	if (strcmp(req->path, "/bare") == 0)
		return HTTP_DEFERRED;
	if (later && (d = http_defer(req)) == NULL)
		__atomic_add_fetch(&dx->now, 1, __ATOMIC_SEQ_CST);
	if (d == NULL) {
		snprintf(now, sizeof(now), "now %s", req->path);
		return http_respond(resp, 200, "text/plain", now, strlen(now));
	}
	/* Once per request: a second would suspend it twice. */
	if (http_defer(req) != NULL)
		__atomic_add_fetch(&dx->twice, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&dx->mu);
	if (dx->nparked == NPARK) {
		pthread_mutex_unlock(&dx->mu);
		memset(&none, 0, sizeof(none));
		http_resume(d, &none);	/* a 500 */
		return HTTP_DEFERRED;
	}
	dx->park[dx->nparked].d = d;
	snprintf(dx->park[dx->nparked].path, sizeof(dx->park[0].path), "%s",
	    req->path);
	dx->park[dx->nparked].iter = __atomic_load_n(&dx->iter,
	    __ATOMIC_SEQ_CST);
	dx->nparked++;
	pthread_cond_broadcast(&dx->cv);
	pthread_mutex_unlock(&dx->mu);
	return HTTP_DEFERRED;
}

/* lim.admit that tries to defer (it must get NULL) and lets all in. */
static int
admit_defer(void *arg, const struct http_request *req,
    struct http_response *resp)
{
	struct dfx *dx = arg;

	(void)resp;
	__atomic_add_fetch(&dx->admit_calls, 1, __ATOMIC_SEQ_CST);
	if (http_defer(req) != NULL)
		__atomic_add_fetch(&dx->admit_deferred, 1, __ATOMIC_SEQ_CST);
	return 0;
}

/* One MHD thread: a deferred request must not hold it. */
static void
dfx_start(struct dfx *dx, int deferrable, int external,
    int (*admit)(void *, const struct http_request *, struct http_response *))
{
	struct http_limits lim = { MAX_BODY, 16384, 16, 8, 5, 1, 0, NULL,
	    admit, deferrable, external, 0, 0, 0, 0 };
	char err[256];

	memset(dx, 0, sizeof(*dx));
	dx->wake[0] = dx->wake[1] = -1;
	assert_int_equal(pthread_mutex_init(&dx->mu, NULL), 0);
	assert_int_equal(pthread_cond_init(&dx->cv, NULL), 0);
	dx->fx.srv = http_start("127.0.0.1", 0, &lim, defer_handler, dx, err,
	    sizeof(err));
	if (dx->fx.srv == NULL)
		fail_msg("http_start: %s", err);
	snprintf(dx->fx.base, sizeof(dx->fx.base), "http://127.0.0.1:%u",
	    (unsigned int)http_port(dx->fx.srv));
}

static void
dfx_stop(struct dfx *dx)
{
	http_stop(dx->fx.srv);
	dx->fx.srv = NULL;
	pthread_cond_destroy(&dx->cv);
	pthread_mutex_destroy(&dx->mu);
}

/* Waits (5 s at most) until n requests have been parked. */
static void
park_wait(struct dfx *dx, int n)
{
	struct timespec ts;
	int got, rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&dx->mu);
	while (dx->nparked < n && rc == 0)
		rc = pthread_cond_timedwait(&dx->cv, &dx->mu, &ts);
	got = dx->nparked;
	pthread_mutex_unlock(&dx->mu);
	if (got < n)
		fail_msg("%d request(s) deferred, %d expected", got, n);
}

/*
 * Answers parked request i with "later <path>" and status: 0 or 600 make
 * an invalid answer that still carries a body (it must be freed). Any
 * thread. 0, or -1 when it was answered already or http_resume() left
 * resp's contents behind.
 */
static int
park_resume(struct dfx *dx, int i, int status)
{
	struct http_response resp;
	struct http_deferred *d;
	char body[96];

	pthread_mutex_lock(&dx->mu);
	d = dx->park[i].d;
	dx->park[i].d = NULL;
	snprintf(body, sizeof(body), "later %s", dx->park[i].path);
	pthread_mutex_unlock(&dx->mu);
	memset(&resp, 0, sizeof(resp));
	if (d == NULL || http_respond(&resp, 200, "text/plain", body,
	    strlen(body)) == -1)
		return -1;
	resp.status = status;
	http_resume(d, &resp);
	if (resp.body != NULL || resp.content_type != NULL || resp.status != 0)
		return -1;
	return 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A thread that answers parked requests in a given order, after a delay. */
struct resumer {
	struct dfx	*dx;
	int		 order[NPARK];	/* park indexes */
	int		 n;
	int		 status;
	long		 delay_ms;	/* before each answer */
	int		 started;	/* set just before the first http_resume */
	int		 failed;
};

static void *
resumer_run(void *arg)
{
	struct resumer *rs = arg;
	int i;

	for (i = 0; i < rs->n; i++) {
		sleep_ms(rs->delay_ms);
		__atomic_store_n(&rs->started, 1, __ATOMIC_SEQ_CST);
		if (park_resume(rs->dx, rs->order[i], rs->status) == -1)
			rs->failed = 1;
	}
	return NULL;
}

/* GET path on a thread of its own (slow_get). */
static void
get_start(const struct fixture *fx, const char *path, long timeout_ms,
    struct slow_client *sc, pthread_t *th)
{
	memset(sc, 0, sizeof(*sc));
	snprintf(sc->url, sizeof(sc->url), "%s%s", fx->base, path);
	sc->timeout_ms = timeout_ms;
	assert_int_equal(pthread_create(th, NULL, slow_get, sc), 0);
}

/* Joins a get_start() client: it got status and exactly body. */
static void
get_check(pthread_t th, struct slow_client *sc, long status,
    const char *body)
{
	assert_int_equal(pthread_join(th, NULL), 0);
	if (sc->cc != CURLE_OK)
		fail_msg("%s: %s", sc->url, curl_easy_strerror(sc->cc));
	assert_int_equal(sc->status, status);
	if (body != NULL) {
		assert_int_equal(sc->body.len, strlen(body));
		assert_memory_equal(sc->body.data, body, strlen(body));
	}
	free(sc->body.data);
	sc->body.data = NULL;
}

/*
 * A raw connection to the server from the loopback address from (any of
 * 127.0.0.0/8 is the machine's own); reads time out after 5 s. rcvbuf:
 * the receive buffer, set before connect() so that the window advertised
 * stays that small; 0 for the system's.
 */
static int
raw_connect_buf(const struct fixture *fx, const char *from, int rcvbuf)
{
	struct sockaddr_in sin;
	struct timeval tv = { 5, 0 };
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd != -1);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	if (rcvbuf > 0)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF,
		    &rcvbuf, sizeof(rcvbuf)), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, from, &sin.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	sin.sin_port = htons(http_port(fx->srv));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

static int
raw_connect_from(const struct fixture *fx, const char *from)
{
	return raw_connect_buf(fx, from, 0);
}

/* A raw connection to the server (reads time out after 5 s). */
static int
raw_connect(const struct fixture *fx)
{
	return raw_connect_from(fx, "127.0.0.1");
}

/* Sends GET path on a raw keep-alive connection. */
static void
raw_get(int fd, const char *path)
{
	char req[256];
	int n;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
	    path);
	assert_true(n > 0 && (size_t)n < sizeof(req));
	assert_int_equal(write(fd, req, (size_t)n), n);
}

/* Sends GET path on a raw connection, asking for its close after the answer. */
static void
raw_get_close(int fd, const char *path)
{
	char req[256];
	int n;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", path);
	assert_true(n > 0 && (size_t)n < sizeof(req));
	assert_int_equal(write(fd, req, (size_t)n), n);
}

/*
 * Reads one answer from fd: a 200 whose body is exactly body (Content-
 * Length says so; the answer ends with it).
 */
static void
raw_expect(int fd, const char *body)
{
	char buf[1024], want[128];
	size_t off = 0, blen = strlen(body);
	ssize_t n;

	buf[0] = '\0';
	while ((off < blen || strcmp(buf + off - blen, body) != 0) &&
	    off < sizeof(buf) - 1 && (n = read(fd, buf + off,
	    sizeof(buf) - 1 - off)) > 0) {
		off += (size_t)n;
		buf[off] = '\0';
	}
	if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0 || off < blen ||
	    strcmp(buf + off - blen, body) != 0)
		fail_msg("want 200 \"%s\", got \"%s\"", body, buf);
	snprintf(want, sizeof(want), "Content-Length: %zu\r\n", blen);
	assert_non_null(strcasestr(buf, want));
}

/* A keep-alive connection left idle after one answer: its descriptor. */
static int
idle_connection(const struct fixture *fx)
{
	int fd;

	fd = raw_connect(fx);
	raw_get(fd, "/idle");
	raw_expect(fd, "now /idle");
	return fd;
}

/*
 * A deferred request is answered from another thread with what it gave;
 * meanwhile the server's one thread serves others, and afterwards its
 * keep-alive connection serves the next request as usual.
 */
static void
test_defer_resume_from_thread(void **state)
{
	struct dfx dx;
	struct resumer rs;
	struct slow_client sc;
	struct reply r;
	pthread_t th, rth;
	int fd;

	(void)state;
	dfx_start(&dx, 1, 0, NULL);
	get_start(&dx.fx, "/later/one", 0, &sc, &th);
	park_wait(&dx, 1);
	request(&dx.fx, "/plain", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "now /plain");
	reply_free(&r);
	memset(&rs, 0, sizeof(rs));
	rs.dx = &dx;
	rs.n = 1;
	rs.status = 200;
	rs.delay_ms = 100;
	assert_int_equal(pthread_create(&rth, NULL, resumer_run, &rs), 0);
	get_check(th, &sc, 200, "later /later/one");
	assert_int_equal(pthread_join(rth, NULL), 0);
	assert_false(rs.failed);

	fd = raw_connect(&dx.fx);
	raw_get(fd, "/later/two");
	park_wait(&dx, 2);
	rs.order[0] = 1;
	rs.started = 0;
	assert_int_equal(pthread_create(&rth, NULL, resumer_run, &rs), 0);
	raw_expect(fd, "later /later/two");
	assert_int_equal(pthread_join(rth, NULL), 0);
	assert_false(rs.failed);
	raw_get(fd, "/after");
	raw_expect(fd, "now /after");
	close(fd);
	assert_int_equal(dx.twice, 0);
	assert_int_equal(dx.now, 0);
	dfx_stop(&dx);
}

/*
 * Several deferred at once, on their own connections, answered in the
 * reverse of their arrival: each client gets its own answer.
 */
static void
test_defer_many_out_of_order(void **state)
{
	struct dfx dx;
	struct resumer rs;
	struct slow_client sc[4];
	pthread_t th[4], rth;
	char path[4][32], body[64];
	int i, j;

	(void)state;
	dfx_start(&dx, 1, 0, NULL);
	for (i = 0; i < 4; i++) {
		snprintf(path[i], sizeof(path[i]), "/later/%d", i);
		get_start(&dx.fx, path[i], 0, &sc[i], &th[i]);
	}
	park_wait(&dx, 4);
	memset(&rs, 0, sizeof(rs));
	rs.dx = &dx;
	rs.n = 4;
	for (i = 0; i < 4; i++)
		rs.order[i] = 3 - i;
	rs.status = 200;
	rs.delay_ms = 20;
	assert_int_equal(pthread_create(&rth, NULL, resumer_run, &rs), 0);
	for (i = 0; i < 4; i++) {
		snprintf(body, sizeof(body), "later %s", path[i]);
		get_check(th[i], &sc[i], 200, body);
	}
	assert_int_equal(pthread_join(rth, NULL), 0);
	assert_false(rs.failed);
	/* Each path was parked once. */
	for (i = 0; i < 4; i++)
		for (j = i + 1; j < 4; j++)
			assert_string_not_equal(dx.park[i].path,
			    dx.park[j].path);
	dfx_stop(&dx);
}

/*
 * An answer without a valid status is a 500 (its body freed: LSan), as is
 * HTTP_DEFERRED without http_defer(); the server carries on.
 */
static void
test_defer_invalid_answer(void **state)
{
	struct dfx dx;
	struct slow_client sc;
	struct reply r;
	pthread_t th;
	json_t *o;

	(void)state;
	dfx_start(&dx, 1, 0, NULL);
	get_start(&dx.fx, "/later/zero", 0, &sc, &th);
	park_wait(&dx, 1);
	assert_int_equal(park_resume(&dx, 0, 0), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(sc.cc, CURLE_OK);
	assert_int_equal(sc.status, 500);
	o = json_loadb(sc.body.data, sc.body.len, 0, NULL);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "status")), 500);
	json_decref(o);
	free(sc.body.data);

	get_start(&dx.fx, "/later/600", 0, &sc, &th);
	park_wait(&dx, 2);
	assert_int_equal(park_resume(&dx, 1, 600), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(sc.cc, CURLE_OK);
	assert_int_equal(sc.status, 500);
	free(sc.body.data);

	request(&dx.fx, "/bare", NULL, 0, 0, NULL, &r);
	assert_problem(&r, 500);
	reply_free(&r);
	request(&dx.fx, "/plain", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	dfx_stop(&dx);
}

/*
 * Not deferrable: http_defer() gives NULL and the handler answers at once.
 * Deferrable, lim.admit gets NULL too, and the handler after it defers.
 */
static void
test_defer_refused(void **state)
{
	struct dfx dx;
	struct slow_client sc;
	struct reply r;
	pthread_t th;

	(void)state;
	dfx_start(&dx, 0, 0, NULL);
	request(&dx.fx, "/later/x", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "now /later/x");
	reply_free(&r);
	assert_int_equal(dx.now, 1);
	assert_int_equal(dx.nparked, 0);
	dfx_stop(&dx);

	dfx_start(&dx, 1, 0, admit_defer);
	get_start(&dx.fx, "/later/y", 0, &sc, &th);
	park_wait(&dx, 1);
	assert_int_equal(park_resume(&dx, 0, 200), 0);
	get_check(th, &sc, 200, "later /later/y");
	assert_int_equal(dx.admit_calls, 1);
	assert_int_equal(dx.admit_deferred, 0);
	assert_int_equal(dx.now, 0);
	dfx_stop(&dx);
}

/*
 * A client that gives up while its request is deferred: the late answer
 * goes nowhere, the request completes (http_busy back to 0, its state and
 * answer freed: LSan), the server carries on.
 */
static void
test_defer_client_gone(void **state)
{
	struct dfx dx;
	struct slow_client sc;
	struct reply r;
	pthread_t th;
	int i;

	(void)state;
	dfx_start(&dx, 1, 0, NULL);
	get_start(&dx.fx, "/later/gone", 300, &sc, &th);
	park_wait(&dx, 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(sc.cc, CURLE_OPERATION_TIMEDOUT);
	free(sc.body.data);
	assert_int_equal(http_busy(dx.fx.srv), 1);
	assert_int_equal(park_resume(&dx, 0, 200), 0);
	for (i = 0; i < 200 && http_busy(dx.fx.srv) > 0; i++)
		sleep_ms(10);
	assert_int_equal(http_busy(dx.fx.srv), 0);
	request(&dx.fx, "/plain", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	reply_free(&r);
	dfx_stop(&dx);
}

/*
 * http_stop with a request deferred longer than HTTP_STOP_DRAIN_MS (a
 * shorter one ends with the requests in flight): it returns only after
 * the request was resumed (MHD_stop_daemon aborts with a connection still
 * suspended), and the client gets its answer.
 */
static void
test_stop_waits_for_deferred(void **state)
{
	struct dfx dx;
	struct resumer rs;
	struct slow_client sc;
	pthread_t th, rth;
	long long t0;

	(void)state;
	dfx_start(&dx, 1, 0, NULL);
	get_start(&dx.fx, "/later/stop", 0, &sc, &th);
	park_wait(&dx, 1);
	memset(&rs, 0, sizeof(rs));
	rs.dx = &dx;
	rs.n = 1;
	rs.status = 200;
	rs.delay_ms = HTTP_STOP_DRAIN_MS + 300;
	t0 = now_ms();
	assert_int_equal(pthread_create(&rth, NULL, resumer_run, &rs), 0);
	dfx_stop(&dx);
	assert_true(__atomic_load_n(&rs.started, __ATOMIC_SEQ_CST));
	assert_true(now_ms() - t0 >= rs.delay_ms);
	assert_int_equal(pthread_join(rth, NULL), 0);
	assert_false(rs.failed);
	get_check(th, &sc, 200, "later /later/stop");
}

/* Descriptors this process has open. */
static int
count_fds(void)
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	d = opendir("/proc/self/fd");
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/*
 * The parked requests ext_loop answers on its turn iter: those parked on
 * an earlier one, /later/hold only once released. Their count.
 */
static int
park_ready(struct dfx *dx, int iter, int ready[NPARK])
{
	int i, n = 0, release;

	release = __atomic_load_n(&dx->release, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&dx->mu);
	for (i = 0; i < dx->nparked; i++)
		if (dx->park[i].d != NULL && dx->park[i].iter < iter &&
		    (release || strncmp(dx->park[i].path, "/later/hold",
		    11) != 0))
			ready[n++] = i;
	pthread_mutex_unlock(&dx->mu);
	return n;
}

/*
 * An external loop as hsm/signloop.c runs one: wait on http_poll_fd() (and a
 * pipe the test writes to) for http_poll_timeout_ms(), capped at 3 s so a
 * lost wake-up shows as a slow answer; http_run(); then answer what the
 * handler parked on an earlier turn (park_ready). Once stopping:
 * http_quiesce(), and on until nothing is busy (5 s at most).
 */
static void *
ext_loop(void *arg)
{
	struct dfx *dx = arg;
	struct http_server *srv = dx->fx.srv;
	struct pollfd pfd[2];
	long long t, deadline = 0;
	int ready[NPARK];
	int i, iter, n, stopping = 0;
	char c;

	pfd[0].fd = http_poll_fd(srv);
	pfd[0].events = POLLIN;
	pfd[1].fd = dx->wake[0];
	pfd[1].events = POLLIN;
	for (iter = 1;; iter++) {
		if (!stopping && __atomic_load_n(&dx->stopping,
		    __ATOMIC_SEQ_CST)) {
			stopping = 1;
			http_quiesce(srv);
			__atomic_store_n(&dx->quiesced, 1, __ATOMIC_SEQ_CST);
			deadline = now_ms() + 5000;
		}
		if (stopping && http_busy(srv) == 0)
			break;
		if (stopping && now_ms() >= deadline) {
			dx->drain_timed_out = 1;
			break;
		}
		t = http_poll_timeout_ms(srv);
		if (t < 0 || t > 3000)
			t = 3000;
		/* Answers to give, as tsad's signer replies: no wait. */
		if (park_ready(dx, iter, ready) > 0)
			t = 0;
		if (poll(pfd, 2, (int)t) == -1 && errno != EINTR) {
			dx->loop_errno = errno;
			break;
		}
		if ((pfd[1].revents & POLLIN) && read(dx->wake[0], &c, 1) == -1)
			dx->loop_errno = errno;
		__atomic_store_n(&dx->iter, iter, __ATOMIC_SEQ_CST);
		http_run(srv);
		n = park_ready(dx, iter, ready);
		for (i = 0; i < n; i++)
			if (park_resume(dx, ready[i], 200) == -1)
				dx->loop_errno = -1;
	}
	dx->busy_at_exit = http_busy(srv);
	return NULL;
}

/*
 * Servers sharing one listening socket (http_start_shared), each run by
 * a loop of its own as ocspd's threads run them: the handler answers with
 * the server's name.
 */
struct shloop {
	struct fixture	 fx;
	const char	*name;
	int		 stop;	/* set by the test */
	pthread_t	 th;
};

static int
name_handler(void *arg, const struct http_request *req,
    struct http_response *resp)
{
	const struct shloop *sl = arg;
	unsigned char *big;
	int rc;

	if (strcmp(req->path, "/big") == 0) {	/* test_slow_reader */
		if ((big = malloc(BIG_ANSWER)) == NULL)
			return -1;
		memset(big, 'x', BIG_ANSWER);
		rc = http_respond(resp, 200, "application/octet-stream", big,
		    BIG_ANSWER);
		free(big);
		return rc;
	}
	return http_respond(resp, 200, "text/plain", sl->name,
	    strlen(sl->name));
}

static void *
shloop_run(void *arg)
{
	struct shloop *sl = arg;
	struct pollfd pfd;

	pfd.fd = http_poll_fd(sl->fx.srv);
	pfd.events = POLLIN;
	while (!__atomic_load_n(&sl->stop, __ATOMIC_SEQ_CST)) {
		(void)poll(&pfd, 1, 20);
		http_run(sl->fx.srv);
	}
	return NULL;
}

static void
shloop_stop(struct shloop *sl)
{
	__atomic_store_n(&sl->stop, 1, __ATOMIC_SEQ_CST);
	assert_int_equal(pthread_join(sl->th, NULL), 0);
}

/*
 * Two servers on one socket: the second serves the first's port; a server
 * at its connection limit stops accepting and the other takes the new
 * connections; once the other is stopped, the first serves again; both
 * stopped, no descriptor is left (the duplicate is closed).
 */
static void
test_start_shared(void **state)
{
	struct http_limits one_lim = { MAX_BODY, 16384, 1, 8, 5, 1, 0, NULL,
	    NULL, 0, 1, 0, 0, 0, 0 };
	struct http_limits two_lim = { MAX_BODY, 16384, 16, 8, 5, 1, 0, NULL,
	    NULL, 0, 1, 0, 0, 0, 0 };
	struct shloop one, two;
	char err[256];
	int fds, held, fd;

	(void)state;
	fds = count_fds();
	memset(&one, 0, sizeof(one));
	memset(&two, 0, sizeof(two));
	one.name = "one";
	two.name = "two";
	assert_null(http_start_shared(NULL, &two_lim, name_handler, &two, err,
	    sizeof(err)));
	one.fx.srv = http_start("127.0.0.1", 0, &one_lim, name_handler, &one,
	    err, sizeof(err));
	if (one.fx.srv == NULL)
		fail_msg("http_start: %s", err);
	two.fx.srv = http_start_shared(one.fx.srv, &two_lim, name_handler,
	    &two, err, sizeof(err));
	if (two.fx.srv == NULL)
		fail_msg("http_start_shared: %s", err);
	assert_int_equal(http_port(two.fx.srv), http_port(one.fx.srv));
	assert_string_equal(http_where(two.fx.srv), http_where(one.fx.srv));

	/* Only the first runs: it takes a connection, its one. */
	assert_int_equal(pthread_create(&one.th, NULL, shloop_run, &one), 0);
	held = raw_connect(&one.fx);
	raw_get(held, "/");
	raw_expect(held, "one");
	/* At its limit: a new connection waits for the second. */
	assert_int_equal(pthread_create(&two.th, NULL, shloop_run, &two), 0);
	fd = raw_connect(&one.fx);
	raw_get(fd, "/");
	raw_expect(fd, "two");
	close(fd);
	/* The first's connection goes, the second stops: the first again. */
	close(held);
	shloop_stop(&two);
	http_quiesce(two.fx.srv);
	sleep_ms(100);
	fd = raw_connect(&one.fx);
	raw_get(fd, "/");
	raw_expect(fd, "one");
	close(fd);
	shloop_stop(&one);
	http_stop(two.fx.srv);
	http_stop(one.fx.srv);
	assert_int_equal(count_fds(), fds);
}

/*
 * External mode, an answer resumed after the loop's last http_run: what
 * signloop_run does once its stop deadline has passed (it drains the
 * signer, then leaves the loop) and ocspd does with the lookups out when
 * its loop ends. http_stop still sends it: the client of a time-stamp
 * already recorded got a closed connection before.
 */
static void
test_external_stop_sends_resumed(void **state)
{
	struct dfx dx;
	struct slow_client sc;
	struct pollfd pfd;
	pthread_t th;
	int i;

	(void)state;
	dfx_start(&dx, 1, 1, NULL);
	get_start(&dx.fx, "/later/last", 0, &sc, &th);
	pfd.fd = http_poll_fd(dx.fx.srv);
	pfd.events = POLLIN;
	for (i = 0; i < 500 && __atomic_load_n(&dx.nparked,
	    __ATOMIC_SEQ_CST) == 0; i++) {
		(void)poll(&pfd, 1, 10);
		http_run(dx.fx.srv);
	}
	assert_int_equal(dx.nparked, 1);
	http_quiesce(dx.fx.srv);
	assert_int_equal(park_resume(&dx, 0, 200), 0);
	dfx_stop(&dx);
	get_check(th, &sc, 200, "later /later/last");
}

/*
 * External mode: the test's loop serves a plain request and deferred ones
 * it answers itself on a later turn, each in well under the loop's 3 s cap
 * (the wake-ups come). To stop, http_quiesce() and run until http_busy()
 * is 0: a client that connects after the quiesce is never served, a
 * deferred request still gets its answer, an idle keep-alive connection
 * does not count, and http_stop() closes it and leaves no descriptor
 * (and, under LSan, no memory) behind.
 */
static void
test_external_loop(void **state)
{
	struct dfx dx;
	struct slow_client sc[3];
	struct reply r;
	pthread_t loop, th[3];
	char path[3][32], body[64];
	long long t0;
	int fds, idle, late, i;
	char c;

	(void)state;
	fds = count_fds();
	dfx_start(&dx, 1, 1, NULL);
	assert_true(http_poll_fd(dx.fx.srv) >= 0);
	assert_int_equal(http_busy(dx.fx.srv), 0);
	assert_int_equal(pipe(dx.wake), 0);
	assert_int_equal(pthread_create(&loop, NULL, ext_loop, &dx), 0);

	t0 = now_ms();
	request(&dx.fx, "/plain", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "now /plain");
	reply_free(&r);
	assert_true(now_ms() - t0 < 1500);
	t0 = now_ms();
	request(&dx.fx, "/later/ext", NULL, 0, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "later /later/ext");
	reply_free(&r);
	assert_true(now_ms() - t0 < 1500);
	assert_int_equal(dx.nparked, 1);
	assert_null(dx.park[0].d);

	/* Several deferred at once. */
	t0 = now_ms();
	for (i = 0; i < 3; i++) {
		snprintf(path[i], sizeof(path[i]), "/later/%d", i);
		get_start(&dx.fx, path[i], 0, &sc[i], &th[i]);
	}
	for (i = 0; i < 3; i++) {
		snprintf(body, sizeof(body), "later %s", path[i]);
		get_check(th[i], &sc[i], 200, body);
	}
	assert_true(now_ms() - t0 < 1500);

	/* Stopping with one deferred and one idle connection. */
	idle = idle_connection(&dx.fx);
	get_start(&dx.fx, "/later/hold", 0, &sc[0], &th[0]);
	park_wait(&dx, 5);
	assert_int_equal(http_busy(dx.fx.srv), 1);
	__atomic_store_n(&dx.stopping, 1, __ATOMIC_SEQ_CST);
	assert_int_equal(write(dx.wake[1], "x", 1), 1);
	for (i = 0; i < 500 && !__atomic_load_n(&dx.quiesced,
	    __ATOMIC_SEQ_CST); i++)
		sleep_ms(10);
	assert_true(__atomic_load_n(&dx.quiesced, __ATOMIC_SEQ_CST));
	/* The kernel still takes the connection; the server never does. */
	late = raw_connect(&dx.fx);
	raw_get(late, "/late");
	sleep_ms(300);
	assert_int_equal(http_busy(dx.fx.srv), 1);
	__atomic_store_n(&dx.release, 1, __ATOMIC_SEQ_CST);
	assert_int_equal(write(dx.wake[1], "x", 1), 1);
	get_check(th[0], &sc[0], 200, "later /later/hold");
	assert_int_equal(pthread_join(loop, NULL), 0);
	assert_int_equal(dx.loop_errno, 0);
	assert_false(dx.drain_timed_out);
	assert_int_equal(dx.busy_at_exit, 0);
	assert_int_equal(dx.twice, 0);
	assert_int_equal(dx.now, 0);
	dfx_stop(&dx);
	/* The idle connection was closed, the late one never answered. */
	assert_true(read(idle, &c, 1) <= 0);
	close(idle);
	assert_true(read(late, &c, 1) <= 0);
	close(late);
	close(dx.wake[0]);
	close(dx.wake[1]);
	assert_int_equal(count_fds(), fds);
}

/*
 * Writes req on a fresh connection and reads until the server closes it
 * (3 s at most). 1 when it did, 0 when it kept the connection open.
 */
static int
raw_request_closed(const struct fixture *fx, const char *req, char *resp,
    size_t len)
{
	struct timeval tv = { 3, 0 };
	ssize_t n = -1;
	size_t off = 0;
	int fd;

	fd = raw_connect(fx);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (off < len - 1 && (n = read(fd, resp + off, len - 1 - off)) > 0)
		off += (size_t)n;
	resp[off] = '\0';
	close(fd);
	return n == 0;
}

/*
 * Writes req on a fresh connection: a 200 whose body is exactly body, and
 * the connection kept: a second request on it is answered too. (Waiting
 * for the server not to close it took 3 s a request.)
 */
static void
raw_request_kept(const struct fixture *fx, const char *req, const char *body)
{
	int fd;

	fd = raw_connect(fx);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	raw_expect(fd, body);
	raw_get(fd, "/kept");
	raw_expect(fd, "GET /kept\n");
	close(fd);
}

/*
 * RFC 9112 §6.3: two Content-Lengths (different, or the same), or one
 * with Transfer-Encoding, frame the body two ways: 400, the connection
 * closed, and what follows never read as a request of its own. §6.1:
 * two Transfer-Encodings, 400; a coding other than chunked alone, 501.
 */
static void
test_conflicting_framing(void **state)
{
	static const struct {
		const char	*req;
		const char	*status;
	} reqs[] = {
	    { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
	    "Content-Length: 30\r\n\r\nabcGET /smuggled HTTP/1.1\r\n"
	    "Host: x\r\n\r\n", "400" },
	    { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
	    "Content-Length: 3\r\n\r\nabcGET /smuggled HTTP/1.1\r\n"
	    "Host: x\r\n\r\n", "400" },
	    { "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	    "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", "400" },
	    { "POST /echo HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
	    "3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n"
	    "\r\n", "400" },
	    { "POST /echo HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n"
	    "Host: x\r\n\r\n", "400" },
	    { "POST /echo HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n"
	    "\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", "501" },
	    { "POST /echo HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: identity\r\n\r\nabcGET /smuggled HTTP/1.1\r\n"
	    "Host: x\r\n\r\n", "501" },
	};
	struct fixture *fx = *state;
	char resp[4096], want[32];
	size_t i;
	int before;

	before = __atomic_load_n(&fx->calls, __ATOMIC_SEQ_CST);
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		if (!raw_request_closed(fx, reqs[i].req, resp, sizeof(resp)))
			fail_msg("request %zu: connection kept: %s", i, resp);
		snprintf(want, sizeof(want), "HTTP/1.1 %s ", reqs[i].status);
		if (strncmp(resp, want, strlen(want)) != 0)
			fail_msg("request %zu: want %s, got %s", i,
			    reqs[i].status, resp);
		assert_non_null(strcasestr(resp, "Connection: close"));
		assert_non_null(strcasestr(resp,
		    "Content-Type: application/problem+json"));
		assert_null(strstr(resp, "smuggled"));
		/* One answer only. */
		assert_null(strstr(resp + 1, "HTTP/1.1 "));
	}
	assert_int_equal(__atomic_load_n(&fx->calls, __ATOMIC_SEQ_CST),
	    before);
	/* One Content-Length, or chunked (any case) alone: served, kept. */
	raw_request_kept(fx, "POST /echo HTTP/1.1\r\n"
	    "Host: x\r\nContent-Length: 3\r\n\r\nabc", "POST /echo\nabc");
	raw_request_kept(fx, "POST /echo HTTP/1.1\r\n"
	    "Host: x\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n"
	    "\r\n", "POST /echo\nabc");
}

/* A server on 127.0.0.1 answering "fresh", run by a loop when external. */
static void
limits_start(struct shloop *sl, const struct http_limits *lim)
{
	char err[256];

	memset(sl, 0, sizeof(*sl));
	sl->name = "fresh";
	sl->fx.srv = http_start("127.0.0.1", 0, lim, name_handler, sl, err,
	    sizeof(err));
	if (sl->fx.srv == NULL)
		fail_msg("http_start: %s", err);
	if (lim->external)
		assert_int_equal(pthread_create(&sl->th, NULL, shloop_run,
		    sl), 0);
}

static void
limits_stop(struct shloop *sl, const struct http_limits *lim)
{
	if (lim->external)
		shloop_stop(sl);
	http_stop(sl->fx.srv);
}

/* 1 when fd's peer closed it within ms, without a byte of answer. */
static int
closed_unanswered(int fd, int ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	char c;

	return poll(&pfd, 1, ms) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

/* 1 when fd got nothing within ms, and is still open. */
static int
still_waiting(int fd, int ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	return poll(&pfd, 1, ms) == 0;
}

/* timeout_s: a connection that sends nothing more is closed after it. */
static void
test_timeout(void **state)
{
	struct http_limits lim = { MAX_BODY, 16384, 16, 8, 1, 1, 0, NULL,
	    NULL, 0, 0, 30, 30, 0, 0 };
	struct shloop sl;
	long long t0;
	int fd;

	(void)state;
	limits_start(&sl, &lim);
	fd = raw_connect(&sl.fx);
	assert_int_equal(write(fd, "GET / HTTP/1.1\r\n", 16), 16);
	t0 = now_ms();
	assert_true(closed_unanswered(fd, 4000));
	assert_true(now_ms() - t0 >= 900);
	close(fd);
	/* Idle after an answer: closed too. */
	fd = raw_connect(&sl.fx);
	raw_get(fd, "/");
	raw_expect(fd, "fresh");
	t0 = now_ms();
	assert_true(closed_unanswered(fd, 4000));
	assert_true(now_ms() - t0 >= 900);
	close(fd);
	limits_stop(&sl, &lim);
}

/*
 * max_conns: two held, a third waits unanswered until one of them goes.
 * max_conns_per_ip: two held from 127.0.0.1, a third from there is
 * closed unanswered; one from 127.0.0.2 is served.
 */
static void
test_max_conns(void **state)
{
	struct http_limits lim = { MAX_BODY, 16384, 2, 8, 5, 1, 0, NULL,
	    NULL, 0, 0, 0, 0, 0, 0 };
	struct http_limits per_ip = { MAX_BODY, 16384, 16, 2, 5, 1, 0, NULL,
	    NULL, 0, 0, 0, 0, 0, 0 };
	struct shloop sl;
	int held[2], fd, i;

	(void)state;
	limits_start(&sl, &lim);
	for (i = 0; i < 2; i++) {
		held[i] = raw_connect(&sl.fx);
		raw_get(held[i], "/");
		raw_expect(held[i], "fresh");
	}
	fd = raw_connect_from(&sl.fx, "127.0.0.2");
	raw_get(fd, "/");
	assert_true(still_waiting(fd, 500));
	close(held[0]);
	raw_expect(fd, "fresh");
	close(fd);
	close(held[1]);
	limits_stop(&sl, &lim);

	limits_start(&sl, &per_ip);
	for (i = 0; i < 2; i++) {
		held[i] = raw_connect(&sl.fx);
		raw_get(held[i], "/");
		raw_expect(held[i], "fresh");
	}
	fd = raw_connect(&sl.fx);
	raw_get(fd, "/");
	assert_true(closed_unanswered(fd, 2000));
	close(fd);
	fd = raw_connect_from(&sl.fx, "127.0.0.2");
	raw_get(fd, "/");
	raw_expect(fd, "fresh");
	close(fd);
	for (i = 0; i < 2; i++)
		close(held[i]);
	limits_stop(&sl, &per_ip);
}

/*
 * v6_get FROM PORT: a connection from FROM to [fd00:64::1]:PORT that sends
 * GET /; its descriptor, or -1. For test_max_conns_per_64's child.
 */
static int
v6_get(const char *from, uint16_t port)
{
	struct sockaddr_in6 a;
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	int fd;

	if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	if (inet_pton(AF_INET6, from, &a.sin6_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1)
		goto fail;
	a.sin6_port = htons(port);
	if (inet_pton(AF_INET6, "fd00:64::1", &a.sin6_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* 1 when fd got a 200 within ms. */
static int
v6_answered(int fd, int ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	char buf[64];
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1 || (n = recv(fd, buf, sizeof(buf) - 1,
	    0)) <= 0)
		return 0;
	buf[n] = '\0';
	return strncmp(buf, "HTTP/1.1 200 ", 13) == 0;
}

/*
 * The child of test_max_conns_per_64, in a network namespace of its own
 * (unshare, as root), with fd00:64::1..3 and fd00:65::1 on its loopback:
 * two connections held from fd00:64::2, a third from fd00:64::3 (the same
 * /64, another address: MHD's own limit lets it in) is closed
 * unanswered, one from fd00:65::1 is served. Its exit status: 0, or the
 * step that failed; 77 when the namespace cannot be made.
 */
static int
per_64_child(void)
{
	struct http_limits lim = { MAX_BODY, 16384, 16, 2, 5, 1, 0, NULL,
	    NULL, 0, 0, 0, 0, 0, 0 };
	struct shloop sl;
	char err[256];
	int held[2], fd, i, rc = 0;

	if (unshare(CLONE_NEWNET) == -1 || system("PATH=/usr/sbin:/sbin:$PATH; "
	    "ip link set lo up && ip -6 addr add fd00:64::1/64 dev lo nodad && "
	    "ip -6 addr add fd00:64::2/64 dev lo nodad && "
	    "ip -6 addr add fd00:64::3/64 dev lo nodad && "
	    "ip -6 addr add fd00:65::1/64 dev lo nodad") != 0)
		return 77;
	memset(&sl, 0, sizeof(sl));
	sl.name = "fresh";
	if ((sl.fx.srv = http_start("fd00:64::1", 0, &lim, name_handler, &sl,
	    err, sizeof(err))) == NULL)
		return 1;
	for (i = 0; i < 2; i++)
		if ((held[i] = v6_get("fd00:64::2", http_port(sl.fx.srv))) ==
		    -1 || !v6_answered(held[i], 15000))
			rc = 2;
	if (rc == 0 && ((fd = v6_get("fd00:64::3", http_port(sl.fx.srv))) ==
	    -1 || !closed_unanswered(fd, 10000)))
		rc = 3;
	if (rc == 0 && ((fd = v6_get("fd00:65::1", http_port(sl.fx.srv))) ==
	    -1 || !v6_answered(fd, 15000)))
		rc = 4;
	http_stop(sl.fx.srv);
	return rc;
}

/*
 * max_conns_per_ip counts an IPv6 client by its /64 (lib/clientkey.h):
 * until 2026-12-07 each address of one host's /64 had max_conns_per_ip of
 * its own. Needs root for the network namespace; skipped without.
 */
static void
test_max_conns_per_64(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0)
		_exit(per_64_child());
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

/*
 * libmicrohttpd's messages are bounded (10 a second): 40 connections
 * refused at max_conns_per_ip within a second or two wrote 40 lines
 * before.
 */
static void
test_mhd_log_bounded(void **state)
{
	struct http_limits lim = { MAX_BODY, 16384, 64, 1, 5, 1, 0, NULL,
	    NULL, 0, 0, 0, 0, 0, 0 };
	struct shloop sl;
	char line[2048];
	FILE *f;
	int held, fd, i, lines = 0;

	(void)state;
	assert_non_null(f = tmpfile());
	log_init("test_http", LOGL_WARN, f);
	limits_start(&sl, &lim);
	held = raw_connect(&sl.fx);
	raw_get(held, "/");
	raw_expect(held, "fresh");
	for (i = 0; i < 40; i++) {
		fd = raw_connect(&sl.fx);
		assert_true(closed_unanswered(fd, 2000));
		close(fd);
	}
	close(held);
	limits_stop(&sl, &lim);
	log_init("test_http", LOGL_WARN, NULL);
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "libmicrohttpd") != NULL)
			lines++;
	fclose(f);
	/* Over at most two or three seconds: 10 each, and the counts. */
	assert_true(lines >= 1);
	assert_true(lines <= 34);
}

#define NSLOW	3	/* slow clients: every connection the server has */

enum slow { SLOW_HEADERS, SLOW_BODY, SLOW_RATE };

/*
 * NSLOW clients take every connection (max_conns) and send a byte every
 * 200 ms, which restarts MHD's time-out (5 s) each time: headers that
 * never end (SLOW_HEADERS; the first client's are its second request's,
 * on a keep-alive connection), or complete headers and then a body of 100
 * bytes. A new client waits behind them. The deadline (1 s: the headers',
 * or the body's) or the body's minimum rate (SLOW_RATE: 100 bytes/s after
 * the header deadline, 1 s) closes each slow one unanswered, within the
 * deadline and a second of sweep (timed from before the first connection,
 * where the earliest deadline can begin), and the new client is then
 * served.
 */
static void
slow_clients(enum slow kind, int external)
{
	struct http_limits lim = { MAX_BODY, 16384, NSLOW, 8, 5, 1, 0, NULL,
	    NULL, 0, external, kind == SLOW_BODY ? 30 : 1,
	    kind == SLOW_BODY ? 1 : 30, kind == SLOW_RATE ? 100 : 0, 0 };
	int body = kind != SLOW_HEADERS;
	long long lo = 1000;
	static const char hdr[] = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";
	static const char post[] = "POST / HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 100\r\n\r\n";
	struct shloop sl;
	struct pollfd pfd;
	long long t0, closed_ms[NSLOW], served_ms = 0, now;
	char buf[1024], c;
	size_t off = 0;
	ssize_t n;
	int fd[NSLOW], fresh, i, open_n;

	limits_start(&sl, &lim);
	t0 = now_ms();
	for (i = 0; i < NSLOW; i++) {
		fd[i] = raw_connect(&sl.fx);
		if (i == 0 && !body) {
			raw_get(fd[i], "/first");
			raw_expect(fd[i], "fresh");
		}
		if (body)
			assert_int_equal(write(fd[i], post, sizeof(post) - 1),
			    (ssize_t)sizeof(post) - 1);
		else
			assert_int_equal(write(fd[i], hdr, sizeof(hdr) - 1),
			    (ssize_t)sizeof(hdr) - 1);
		closed_ms[i] = 0;
	}
	sleep_ms(100);
	fresh = raw_connect(&sl.fx);
	raw_get(fresh, "/");
	for (open_n = NSLOW; (open_n > 0 || served_ms == 0) &&
	    (now = now_ms()) - t0 < 6000; sleep_ms(200)) {
		for (i = 0; i < NSLOW; i++) {
			if (fd[i] == -1)
				continue;
			pfd.fd = fd[i];
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 0) == 1) {
				/* Closed, never answered. */
				assert_true(recv(fd[i], &c, 1,
				    MSG_DONTWAIT) <= 0);
				closed_ms[i] = now - t0;
				close(fd[i]);
				fd[i] = -1;
				open_n--;
			} else
				(void)send(fd[i], "a", 1, MSG_NOSIGNAL);
		}
		pfd.fd = fresh;
		pfd.events = POLLIN;
		while (served_ms == 0 && poll(&pfd, 1, 0) == 1 &&
		    (n = recv(fresh, buf + off, sizeof(buf) - 1 - off,
		    MSG_DONTWAIT)) > 0) {
			off += (size_t)n;
			buf[off] = '\0';
			if (off >= 5 && strcmp(buf + off - 5, "fresh") == 0)
				served_ms = now - t0;
		}
	}
	for (i = 0; i < NSLOW; i++) {
		if (fd[i] != -1) {
			close(fd[i]);
			fail_msg("slow client %d (%s) still open after 6 s", i,
			    body ? "body" : "headers");
		}
		/* The first's deadline began at its first answer. */
		if (closed_ms[i] < lo || closed_ms[i] > lo + 2700)
			fail_msg("slow client %d closed after %lld ms", i,
			    closed_ms[i]);
	}
	if (served_ms == 0)
		fail_msg("new client not served: \"%s\"", off > 0 ? buf : "");
	assert_int_equal(strncmp(buf, "HTTP/1.1 200 ", 13), 0);
	close(fresh);
	limits_stop(&sl, &lim);
}

static void
test_slow_headers_dropped(void **state)
{
	(void)state;
	slow_clients(SLOW_HEADERS, 0);
	slow_clients(SLOW_HEADERS, 1);	/* external: the sweep in http_run */
}

static void
test_slow_body_dropped(void **state)
{
	(void)state;
	slow_clients(SLOW_BODY, 0);
	slow_clients(SLOW_BODY, 1);
}

/*
 * body_min_rate: a body trickling in below it is closed once the header
 * deadline has passed; one coming at 3 times the rate, for twice the
 * header deadline, is read whole and answered.
 */
static void
test_body_min_rate(void **state)
{
	struct http_limits lim = { MAX_BODY, 16384, 16, 8, 5, 1, 0, NULL,
	    NULL, 0, 0, 1, 30, 100, 0 };
	static const char post[] = "POST / HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 600\r\n\r\n";
	struct shloop sl;
	char chunk[60];
	int fd, i;

	(void)state;
	slow_clients(SLOW_RATE, 0);
	limits_start(&sl, &lim);
	memset(chunk, 'a', sizeof(chunk));
	fd = raw_connect(&sl.fx);
	assert_int_equal(write(fd, post, sizeof(post) - 1),
	    (ssize_t)sizeof(post) - 1);
	for (i = 0; i < 10; i++) {
		sleep_ms(200);
		assert_int_equal(send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL),
		    (ssize_t)sizeof(chunk));
	}
	raw_expect(fd, "fresh");
	close(fd);
	limits_stop(&sl, &lim);
}

/* Reads fd to its end within ms (EOF or reset): how many bytes came. */
static size_t
drain(int fd, int ms)
{
	static char buf[65536];
	long long end = now_ms() + ms;
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t total = 0;
	ssize_t n;

	while (now_ms() < end && poll(&pfd, 1, 1000) >= 0) {
		if ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) == 0 ||
		    (n == -1 && errno != EAGAIN))
			return total;
		if (n > 0)
			total += (size_t)n;
	}
	fail_msg("no end of the answer within %d ms (%zu bytes)", ms, total);
	return total;
}

/*
 * Waits up to ms for the server's requests in flight to be n: 1 when they
 * are.
 */
static int
busy_becomes(const struct http_server *srv, int n, int ms)
{
	long long end = now_ms() + ms;

	while (http_busy(srv) != n) {
		if (now_ms() >= end)
			return 0;
		sleep_ms(20);
	}
	return 1;
}

/*
 * answer_min_rate: a client that asks for a 32 MiB answer and does not
 * read it is closed once the header deadline (1 s) plus the answer's
 * length at the rate (16 MiB/s: 2 s) have passed, though MHD's own
 * time-out (30 s) never came, and before it had the answer; a client
 * reading at once takes it whole.
 */
static void
slow_reader(int external)
{
	struct http_limits lim = { MAX_BODY, 16384, 16, 8, 30, 1, 0, NULL,
	    NULL, 0, external, 1, 30, 0, 16 * 1024 * 1024 };
	struct shloop sl;
	long long t0;
	int fd;
	size_t got;

	limits_start(&sl, &lim);
	fd = raw_connect_buf(&sl.fx, "127.0.0.1", 4096);
	t0 = now_ms();
	raw_get(fd, "/big");
	/*
	 * Not read until the server gave the request up (the deadline, 3 s,
	 * and a sweep; its 32 MiB cannot have been sent into 4 KiB of
	 * buffers), rather than for a fixed 5 s that a slow sweep could
	 * outlast. MHD's time-out (30 s) is not within the wait.
	 */
	if (!busy_becomes(sl.fx.srv, 1, 10000))
		fail_msg("the request for /big never began");
	if (!busy_becomes(sl.fx.srv, 0, 20000))
		fail_msg("a client not reading its answer still held its "
		    "request after 20 s");
	if (now_ms() - t0 < 2900)
		fail_msg("a client not reading its answer closed after %lld "
		    "ms, before the deadline (3 s)", now_ms() - t0);
	got = drain(fd, 10000);
	close(fd);
	if (got >= BIG_ANSWER)
		fail_msg("a client that did not read its answer until the "
		    "server gave it up still got all of it (%zu bytes)", got);
	fd = raw_connect(&sl.fx);
	/* Its end: the answer sent whole, the connection then closed. */
	raw_get_close(fd, "/big");
	got = drain(fd, 10000);
	close(fd);
	if (got <= BIG_ANSWER)
		fail_msg("a client reading at once got %zu bytes of %d", got,
		    BIG_ANSWER);
	limits_stop(&sl, &lim);
}

static void
test_slow_reader_dropped(void **state)
{
	(void)state;
	slow_reader(0);
	slow_reader(1);	/* external: the sweep in http_run */
}

/* RFC 9110 §8.3.1: the type without regard to case, then parameters or nothing. */
static void
test_media_type_is(void **state)
{
	static const struct {
		const char	*ct;
		int		 is;
	} v[] = {
		{ "application/json", 1 },
		{ "Application/JSON", 1 },
		{ "application/json;charset=utf-8", 1 },
		{ "application/json ; charset=utf-8", 1 },
		{ "application/json\t;charset=utf-8", 1 },
		{ "application/json ", 1 },
		{ "application/jsonx", 0 },
		{ "application/json-seq", 0 },
		{ "application/jso", 0 },
		{ "text/json", 0 },
		{ "", 0 },
		{ NULL, 0 },
	};
	struct http_request req;
	size_t i;

	(void)state;
	memset(&req, 0, sizeof(req));
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		req.content_type = v[i].ct;
		if (http_media_type_is(&req, "application/json") != v[i].is)
			fail_msg("\"%s\": want %d", v[i].ct != NULL ? v[i].ct :
			    "(none)", v[i].is);
	}
}

/*
 * A daemon's order (lib/http.h): http_listen, then the sandbox, then
 * http_serve. In a child: listen, tell the parent the port, wait for its
 * go, demote (as root) and install the network worker's seccomp filter,
 * serve; then run (lim.external: the loop here) until the parent closes
 * its pipe. mode 0: MHD's one thread; 1: a pool of two; 2: external.
 */
static void
listen_serve_child(int mode, int up, int down)
{
	struct http_limits lim;
	struct http_server *srv;
	struct fixture fx;
	struct pollfd pfd[2];
	char err[256], c;
	uint16_t port;

	memset(&lim, 0, sizeof(lim));
	lim.threads = mode == 1 ? 2 : 1;
	lim.external = mode == 2;
	memset(&fx, 0, sizeof(fx));
	if ((srv = http_listen("127.0.0.1", 0, &lim, handler, &fx, err,
	    sizeof(err))) == NULL)
		_exit(10);
	port = http_port(srv);
	if (write(up, &port, sizeof(port)) != (ssize_t)sizeof(port) ||
	    read(down, &c, 1) != 1)
		_exit(11);
	if (geteuid() == 0 && sandbox_demote("pki", NULL, err,
	    sizeof(err)) == -1)
		_exit(12);
	if (sandbox_seccomp(SANDBOX_NET_WORKER, err, sizeof(err)) == -1)
		_exit(13);
	if (http_serve(srv, err, sizeof(err)) == -1)
		_exit(14);
	if (http_serve(srv, err, sizeof(err)) != -1)	/* once only */
		_exit(15);
	if (mode == 2) {
		pfd[0].fd = http_poll_fd(srv);
		pfd[1].fd = down;
		pfd[0].events = pfd[1].events = POLLIN;
		for (;;) {
			if (poll(pfd, 2, 50) == -1)
				_exit(16);
			if (pfd[1].revents != 0)
				break;
			http_run(srv);
		}
	} else if (read(down, &c, 1) != 0)	/* 0: the parent is done */
		_exit(17);
	http_stop(srv);
	_exit(0);
}

static void
test_listen_sandbox_serve(void **state)
{
	static const char early[] = "GET /early HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n";
	struct sockaddr_in sin;
	struct fixture fx;
	struct pollfd pfd;
	struct reply r;
	char resp[1024];
	uint16_t port;
	size_t off;
	ssize_t n;
	int mode, up[2], down[2], fd, st;
	pid_t pid;

	for (mode = 0; mode < 3; mode++) {
		assert_int_equal(pipe(up), 0);
		assert_int_equal(pipe(down), 0);
		assert_true((pid = fork()) >= 0);
		if (pid == 0) {
			close(up[0]);
			close(down[1]);
			listen_serve_child(mode, up[1], down[0]);
		}
		close(up[1]);
		close(down[0]);
		assert_int_equal(read(up[0], &port, sizeof(port)),
		    (ssize_t)sizeof(port));
		assert_int_not_equal(port, 0);
		/* Bound and listening: the connection is taken, not answered. */
		assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(connect(fd, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		assert_int_equal(write(fd, early, sizeof(early) - 1),
		    (ssize_t)sizeof(early) - 1);
		pfd.fd = fd;
		pfd.events = POLLIN;
		assert_int_equal(poll(&pfd, 1, 300), 0);
		/* Served once sandboxed: the waiting request is answered. */
		assert_int_equal(write(down[1], "g", 1), 1);
		off = 0;
		while (off < sizeof(resp) - 1 && poll(&pfd, 1, 10000) == 1 &&
		    (n = read(fd, resp + off, sizeof(resp) - 1 - off)) > 0)
			off += (size_t)n;
		resp[off] = '\0';
		close(fd);
		if (strncmp(resp, "HTTP/1.1 200", 12) != 0 ||
		    strstr(resp, "GET /early\n") == NULL)
			fail_msg("mode %d: the early request got \"%.200s\"",
			    mode, resp);
		memset(&fx, 0, sizeof(fx));
		snprintf(fx.base, sizeof(fx.base), "http://127.0.0.1:%u",
		    (unsigned int)port);
		request(&fx, "/after", NULL, 0, 0, NULL, &r);
		assert_int_equal(r.status, 200);
		reply_free(&r);
		close(down[1]);
		close(up[0]);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("mode %d: the sandboxed server %s %d", mode,
			    WIFSIGNALED(st) ? "was killed by signal" :
			    "exited with", WIFSIGNALED(st) ? WTERMSIG(st) :
			    WEXITSTATUS(st));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_post_exact_body),
		cmocka_unit_test(test_body_too_large),
		cmocka_unit_test(test_endless_chunked_dropped),
		cmocka_unit_test(test_413_without_body),
		cmocka_unit_test(test_absolute_form),
		cmocka_unit_test(test_admit),
		cmocka_unit_test(test_admit_413_at_once),
		cmocka_unit_test(test_handler_failure_500),
		cmocka_unit_test(test_custom_headers),
		cmocka_unit_test(test_shared_body),
		cmocka_unit_test(test_response_helpers),
		cmocka_unit_test(test_conditional),
		cmocka_unit_test(test_start_errors_and_ipv6),
		cmocka_unit_test(test_trusted_proxy),
		cmocka_unit_test(test_stop_lets_requests_finish),
		cmocka_unit_test(test_defer_resume_from_thread),
		cmocka_unit_test(test_defer_many_out_of_order),
		cmocka_unit_test(test_defer_invalid_answer),
		cmocka_unit_test(test_defer_refused),
		cmocka_unit_test(test_defer_client_gone),
		cmocka_unit_test(test_stop_waits_for_deferred),
		cmocka_unit_test(test_external_loop),
		cmocka_unit_test(test_external_stop_sends_resumed),
		cmocka_unit_test(test_start_shared),
		cmocka_unit_test(test_listen_sandbox_serve),
		cmocka_unit_test(test_media_type_is),
		cmocka_unit_test(test_conflicting_framing),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_max_conns),
		cmocka_unit_test(test_max_conns_per_64),
		cmocka_unit_test(test_mhd_log_bounded),
		cmocka_unit_test(test_slow_headers_dropped),
		cmocka_unit_test(test_slow_body_dropped),
		cmocka_unit_test(test_body_min_rate),
		cmocka_unit_test(test_slow_reader_dropped),
	};
	int rc;

	log_init("test_http", LOGL_WARN, NULL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
