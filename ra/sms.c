/*
 * The SMS sender adapter (ra.sms):
 *
 * - the LOCAL FILE SINK (ra.sms = file_sink, the default when
 *   ra.sms_sink_dir is set), like ra/mail.c: each message becomes one file
 *   (mode 0600) in ra.sms_sink_dir, marked not delivered, for the local
 *   stack and the tests to read. Nothing is sent to any phone.
 * - an SMS gateway over HTTPS (ra.sms = gateway), through libcurl: one
 *   POST of {"to","sender","text"} as JSON to ra.sms_gateway_url with the
 *   Bearer token of ra.sms_gateway_token_file; any 2xx is sent, anything
 *   else a failure (the caller answers 503 and stores nothing). Providers
 *   whose API differs sit behind a small bridge speaking this contract.
 *   Plain http:// only to loopback (the token and the code would cross
 *   the network in clear); no redirects; time-outs 10 s to connect, 15 s
 *   in all. The body (it carries a one-time code) is wiped after the send,
 *   and neither it nor the number reaches the log.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "lib/log.h"
#include "lib/secret.h"
#include "ra/extern.h"

#define RA_SMS_CONNECT_TIMEOUT_S	10
#define RA_SMS_TIMEOUT_S		15
#define RA_SMS_SENDER_MAX		11	/* an alphanumeric sender ID */

enum ra_sms_kind {
	RA_SMS_FILE_SINK = 1,
	RA_SMS_GATEWAY,
};

struct ra_sms {
	enum ra_sms_kind	 kind;
	char			 dir[PATH_MAX];		/* file sink */
	char			 url[1024];		/* gateway */
	char			 ca_file[PATH_MAX];
	char			 sender[RA_SMS_SENDER_MAX + 1];
	char			 token[512];		/* wiped */
};

struct ra_sms *
ra_sms_file_sink(const char *dir, char *err, size_t errlen)
{
	struct ra_sms *s;

	if (ra_sink_dir_check(dir, "SMS sink", err, errlen) == -1)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		return NULL;
	}
	s->kind = RA_SMS_FILE_SINK;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	return s;
}

/*
 * 1 when url is https://, or http:// to a loopback name or address, parsed
 * as libcurl will use it: a prefix test let "http://localhost:1@sms.evil/"
 * (user "localhost", host sms.evil) send the token and codes in clear.
 * No user information in either.
 */
static int
ra_sms_url_ok(const char *url)
{
	static const char *const loopback[] = { "127.0.0.1", "localhost",
	    "[::1]" };
	CURLU *u;
	char *scheme = NULL, *host = NULL, *user = NULL;
	size_t i;
	int ok = 0;

	if ((u = curl_url()) == NULL)
		return 0;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER)
		goto out;
	if (strcasecmp(scheme, "https") == 0)
		ok = 1;
	else if (strcasecmp(scheme, "http") == 0)
		for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
			if (strcasecmp(host, loopback[i]) == 0)
				ok = 1;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return ok;
}

struct ra_sms *
ra_sms_gateway(const struct ra_sms_gateway_conf *c, char *err, size_t errlen)
{
	struct ra_sms *s = NULL;
	const char *sender = c->sender != NULL ? c->sender : "PKI RA";
	size_t i, n;
	CURLcode cc;

	if (c->url == NULL || c->token_file == NULL) {
		snprintf(err, errlen, "sms = gateway needs sms_gateway_url and "
		    "sms_gateway_token_file");
		return NULL;
	}
	if (!ra_sms_url_ok(c->url) || strlen(c->url) >= sizeof(s->url) ||
	    strpbrk(c->url, " \t\r\n") != NULL) {
		snprintf(err, errlen, "sms_gateway_url must be https://..., or "
		    "http:// to 127.0.0.1, localhost or [::1], with no user "
		    "name");
		return NULL;
	}
	n = strlen(sender);
	for (i = 0; i < n; i++)
		if (!((sender[i] >= 'A' && sender[i] <= 'Z') || (sender[i] >=
		    'a' && sender[i] <= 'z') || (sender[i] >= '0' &&
		    sender[i] <= '9') || sender[i] == ' '))
			break;
	if (n == 0 || n > RA_SMS_SENDER_MAX || i < n) {
		snprintf(err, errlen, "sms_gateway_sender: 1 to %d letters, "
		    "digits or spaces", RA_SMS_SENDER_MAX);
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		return NULL;
	}
	if (secret_read(c->token_file, NULL, s->token, sizeof(s->token), err,
	    errlen) == -1)
		goto fail;
	if (c->ca_file != NULL) {
		/* Checked now: unreadable, it would fail every send later. */
		if (access(c->ca_file, R_OK) != 0 ||
		    strlen(c->ca_file) >= sizeof(s->ca_file)) {
			snprintf(err, errlen, "sms_gateway_ca_file %s: %s",
			    c->ca_file, strlen(c->ca_file) >= sizeof(s->ca_file) ?
			    "path too long" : strerror(errno));
			goto fail;
		}
		snprintf(s->ca_file, sizeof(s->ca_file), "%s", c->ca_file);
	}
	/* Before any thread and the sandbox (reference-counted by libcurl). */
	if ((cc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init: %s",
		    curl_easy_strerror(cc));
		goto fail;
	}
	s->kind = RA_SMS_GATEWAY;
	snprintf(s->url, sizeof(s->url), "%s", c->url);
	snprintf(s->sender, sizeof(s->sender), "%s", sender);
	return s;
fail:
	ra_wipe(s->token, sizeof(s->token));
	free(s);
	return NULL;
}

void
ra_sms_free(struct ra_sms *s)
{
	if (s == NULL)
		return;
	if (s->kind == RA_SMS_GATEWAY) {
		ra_wipe(s->token, sizeof(s->token));
		curl_global_cleanup();
	}
	free(s);
}

/* libcurl's CURLOPT_WRITEFUNCTION: the gateway's answer is not kept. */
static size_t
ra_sms_discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * nmemb;
}

static int
ra_sms_gateway_send(struct ra_sms *s, const char *to, const char *text)
{
	char ebuf[CURL_ERROR_SIZE], *body = NULL;
	const char *t;
	struct curl_slist *hdr = NULL;
	json_t *o = NULL;
	CURL *c = NULL;
	CURLcode cc;
	long status = 0;
	int rc = -1;

	ebuf[0] = '\0';
	if ((o = json_pack("{s:s, s:s, s:s}", "to", to, "sender", s->sender,
	    "text", text)) == NULL ||
	    (body = json_dumps(o, JSON_COMPACT)) == NULL ||
	    (hdr = curl_slist_append(NULL, "Content-Type: application/json")) ==
	    NULL || (c = curl_easy_init()) == NULL) {
		log_err("sms: out of memory");
		goto out;
	}
	if ((cc = curl_easy_setopt(c, CURLOPT_URL, s->url)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http")) !=
	    CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
	    (long)RA_SMS_CONNECT_TIMEOUT_S)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_TIMEOUT,
	    (long)RA_SMS_TIMEOUT_S)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_HTTPAUTH,
	    (long)CURLAUTH_BEARER)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, s->token)) !=
	    CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, body)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ra_sms_discard)) !=
	    CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf)) != CURLE_OK ||
	    (s->ca_file[0] != '\0' && (cc = curl_easy_setopt(c, CURLOPT_CAINFO,
	    s->ca_file)) != CURLE_OK)) {
		log_err("sms: curl_easy_setopt: %s", curl_easy_strerror(cc));
		goto out;
	}
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		log_err("sms: gateway: %s", ebuf[0] != '\0' ? ebuf :
		    curl_easy_strerror(cc));
		goto out;
	}
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
	    status < 200 || status > 299) {
		log_err("sms: the gateway answered HTTP %ld: not sent", status);
		goto out;
	}
	log_info("sms: sent to an account's phone through the gateway");
	rc = 0;
out:
	curl_easy_cleanup(c);	/* frees libcurl's copy of the token */
	curl_slist_free_all(hdr);
	/* Both carry a one-time code: jansson's copy of the text too. */
	if (body != NULL) {
		ra_wipe(body, strlen(body));
		free(body);
	}
	if ((t = json_string_value(json_object_get(o, "text"))) != NULL)
		ra_wipe((char *)t, strlen(t));
	json_decref(o);
	return rc;
}

static int
ra_sms_file_sink_send(struct ra_sms *s, const char *to, const char *text)
{
	char date[64], *msg = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (asprintf(&msg, "Date: %s\r\nTo: %s\r\n"
	    "X-PKI-SMS-Sink: local file sink, not delivered\r\n\r\n%s\r\n",
	    date, to, text) == -1)
		return -1;
	rc = ra_sink_write(s->dir, "sms", "SMS sink", msg);
	ra_wipe(msg, strlen(msg));	/* it carries a one-time code */
	free(msg);
	return rc;
}

int
ra_sms_send(struct ra_sms *s, const char *to, const char *text)
{
	if (s == NULL)
		return -1;
	switch (s->kind) {
	case RA_SMS_FILE_SINK:
		return ra_sms_file_sink_send(s, to, text);
	case RA_SMS_GATEWAY:
		return ra_sms_gateway_send(s, to, text);
	}
	return -1;
}
