/*
 * libcurl wrapper for the signer: see net.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/crypto.h>

#include "sign/net.h"

struct net_sink {
	unsigned char	*buf;
	size_t		 len;
	size_t		 cap;
	size_t		 max;
	int		 over;
};

/* CURLOPT_WRITEFUNCTION: appends, refusing more than sink->max bytes. */
static size_t
net_write(char *p, size_t size, size_t n, void *arg)
{
	struct net_sink *s = arg;
	size_t add = size * n, ncap;
	unsigned char *nb;

	if (add > s->max - s->len) {
		s->over = 1;
		return 0;
	}
	if (s->len + add + 1 > s->cap) {
		ncap = s->cap ? s->cap : 4096;
		while (ncap < s->len + add + 1)
			ncap *= 2;
		if ((nb = realloc(s->buf, ncap)) == NULL)
			return 0;
		s->buf = nb;
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, p, add);
	s->len += add;
	s->buf[s->len] = '\0';
	return add;
}

/* "scheme://host" of url for messages (no path, query or user info). */
static void
net_where(const char *url, char *out, size_t outlen)
{
	const char *h, *e;

	if ((h = strstr(url, "://")) == NULL) {
		snprintf(out, outlen, "(not a URL)");
		return;
	}
	h += 3;
	if ((e = strchr(h, '@')) != NULL && e < h + strcspn(h, "/?#"))
		h = e + 1;
	e = h + strcspn(h, "/?#");
	snprintf(out, outlen, "%.*s%.*s", (int)(h - url), url,
	    (int)(e - h > 200 ? 200 : e - h), h);
}

int
net_send(const struct net_req *req, struct net_resp *resp, char *err,
    size_t errlen)
{
	CURL *c = NULL;
	CURLcode cc;
	struct curl_slist *hdr = NULL;
	struct net_sink sink = { .max = req->max };
	char ebuf[CURL_ERROR_SIZE] = "", where[256], line[256];
	char *auth = NULL, *ct = NULL;
	size_t alen;
	int rc = -1;

	memset(resp, 0, sizeof(*resp));
	net_where(req->url, where, sizeof(where));
	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "curl_easy_init failed");
		goto out;
	}
	if (req->content_type != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s",
		    req->content_type);
		if ((hdr = curl_slist_append(hdr, line)) == NULL)
			goto nomem;
	}
	if (req->bearer != NULL) {
		alen = strlen(req->bearer) + sizeof("Authorization: Bearer ");
		if ((auth = malloc(alen)) == NULL)
			goto nomem;
		snprintf(auth, alen, "Authorization: Bearer %s", req->bearer);
		if ((hdr = curl_slist_append(hdr, auth)) == NULL)
			goto nomem;
	}
	/* No "Expect: 100-continue" round trip. */
	if ((hdr = curl_slist_append(hdr, "Expect:")) == NULL)
		goto nomem;
	if ((cc = curl_easy_setopt(c, CURLOPT_URL, req->url)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https")) !=
	    CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
	    NET_CONNECT_TIMEOUT)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_TIMEOUT, NET_TIMEOUT)) !=
	    CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)req->max)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, net_write)) !=
	    CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf)) != CURLE_OK) {
		snprintf(err, errlen, "curl_easy_setopt: %s",
		    curl_easy_strerror(cc));
		goto out;
	}
	if (req->content_type != NULL &&
	    ((cc = curl_easy_setopt(c, CURLOPT_POST, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body)) !=
	    CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)req->bodylen)) != CURLE_OK)) {
		snprintf(err, errlen, "curl_easy_setopt: %s",
		    curl_easy_strerror(cc));
		goto out;
	}
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		if (sink.over || cc == CURLE_FILESIZE_EXCEEDED)
			snprintf(err, errlen, "%s: answer larger than %zu "
			    "bytes", where, req->max);
		else
			snprintf(err, errlen, "%s: %s", where,
			    curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL)
		snprintf(resp->content_type, sizeof(resp->content_type), "%s",
		    ct);
	if (sink.buf == NULL && (sink.buf = calloc(1, 1)) == NULL)
		goto nomem;
	resp->body = sink.buf;
	resp->len = sink.len;
	sink.buf = NULL;
	rc = 0;
	goto out;
 nomem:
	snprintf(err, errlen, "out of memory");
 out:
	if (auth != NULL) {
		OPENSSL_cleanse(auth, strlen(auth));
		free(auth);
	}
	curl_slist_free_all(hdr);
	if (c != NULL)
		curl_easy_cleanup(c);
	free(sink.buf);
	return rc;
}

void
net_resp_clear(struct net_resp *r)
{
	if (r->body != NULL) {
		OPENSSL_cleanse(r->body, r->len);
		free(r->body);
	}
	memset(r, 0, sizeof(*r));
}

void
net_openssl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_error();
	char buf[256] = "";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s%s%s", what, e != 0 ? ": " : "", buf);
	ERR_clear_error();
}
