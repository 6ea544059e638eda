/*
 * lib/http: a real server on 127.0.0.1 (and ::1), port 0, driven by libcurl
 * and, where curl would be too polite, by a raw socket.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "lib/http.h"
#include "lib/log.h"

#define MAX_BODY 1024

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
	struct http_limits lim = { MAX_BODY, 16384, 16, 8, 5, 2, 0, NULL, NULL, 0, 0 };
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

/* lim.admit answers on the headers alone; an admitted request runs whole. */
static void
test_admit(void **state)
{
	struct fixture fx;
	struct http_limits lim = { MAX_BODY, 16384, 16, 8, 5, 1, 0, NULL,
	    admit_key, 0, 0 };
	struct reply r;
	char err[256], resp[2048];

	(void)state;
	memset(&fx, 0, sizeof(fx));
	fx.srv = http_start("127.0.0.1", 0, &lim, handler, &fx, err,
	    sizeof(err));
	if (fx.srv == NULL)
		fail_msg("http_start: %s", err);
	snprintf(fx.base, sizeof(fx.base), "http://127.0.0.1:%u",
	    (unsigned int)http_port(fx.srv));
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
	    "10.0.0.0/8, 127.0.0.1", NULL, 0, 0 };
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

/* A client of test_stop_lets_requests_finish, on its own thread. */
struct slow_client {
	char		 url[128];
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
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
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
	struct http_limits lim = { MAX_BODY, 16384, 16, 8, 5, 2, 0, NULL, NULL, 0, 0 };
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
		cmocka_unit_test(test_admit),
		cmocka_unit_test(test_handler_failure_500),
		cmocka_unit_test(test_custom_headers),
		cmocka_unit_test(test_shared_body),
		cmocka_unit_test(test_response_helpers),
		cmocka_unit_test(test_conditional),
		cmocka_unit_test(test_start_errors_and_ipv6),
		cmocka_unit_test(test_trusted_proxy),
		cmocka_unit_test(test_stop_lets_requests_finish),
	};
	int rc;

	log_init("test_http", LOGL_WARN, NULL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
