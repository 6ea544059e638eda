/*
 * The mail sender adapters (ra/README.md "Mail senders"):
 *
 * - the LOCAL FILE SINK: each message becomes one file (mode 0600) in
 *   ra.mail_sink_dir, for the local stack and the tests to read. Nothing is
 *   delivered to anybody.
 * - SMTP through libcurl (ra.mail = smtp): one connection per message to
 *   ra.smtp_url (smtp:// or smtps://), STARTTLS required unless configured
 *   otherwise, optional AUTH with a password from a 0600 file, bounded
 *   time-outs. A failure is -1 and the caller answers 503 and stores nothing.
 *
 * Both build the same RFC 5322 message (ra_mail_format). It may carry a
 * one-time token: every buffer holding it is wiped after the send, and the
 * log names neither the body nor the recipient.
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
#include <openssl/rand.h>

#include <libpq-fe.h>

#include "lib/db.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "ra/extern.h"

#define RA_SMTP_CONNECT_TIMEOUT_S	10
#define RA_SMTP_TOTAL_TIMEOUT_S		30
#define RA_SMTP_PASSWORD_MAX		256

enum ra_mailer_kind {
	RA_MAILER_FILE_SINK = 1,
	RA_MAILER_SMTP = 2,
};

struct ra_mailer {
	enum ra_mailer_kind	 kind;
	char			 dir[PATH_MAX];		/* file sink */
	char			 url[1024];		/* smtp */
	char			 from[RA_EMAIL_MAX + 1];
	char			 user[256];
	char			 password[RA_SMTP_PASSWORD_MAX];	/* wiped */
	int			 starttls;
	char			 ca_file[PATH_MAX];	/* "": the system's */
};

/* The upload state of libcurl's read callback. */
struct ra_smtp_upload {
	const char	*buf;
	size_t		 len;
	size_t		 off;
};

int
ra_mail_header_ok(const char *s)
{
	const unsigned char *p;

	if (s == NULL || *s == '\0')
		return -1;
	/* Printable US-ASCII only: no CR, LF or other control (RFC 5322 §2.2). */
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e)
			return -1;
	}
	return 0;
}

/* An address for a header or the envelope: as above, and no <>, no space. */
int
ra_mail_addr_ok(const char *s)
{
	if (ra_mail_header_ok(s) == -1 || strlen(s) > RA_EMAIL_MAX ||
	    strpbrk(s, "<>\" ,;()") != NULL || strchr(s, '@') == NULL)
		return -1;
	return 0;
}

int
ra_mail_format(char **out, const char *from, const char *to,
    const char *subject, const char *body, time_t now)
{
	char date[64], msgid[64], *hdr = NULL, *msg = NULL, *q;
	const char *domain, *p;
	unsigned char rnd[16];
	struct tm tm;
	size_t hlen, blen, i;
	int rc = -1;

	*out = NULL;
	if ((from != NULL && ra_mail_addr_ok(from) == -1) ||
	    ra_mail_addr_ok(to) == -1 || ra_mail_header_ok(subject) == -1 ||
	    body == NULL)
		goto out;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto out;
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(msgid + 2 * i, sizeof(msgid) - 2 * i, "%02x", rnd[i]);
	domain = from != NULL ? strchr(from, '@') + 1 : "ra.invalid";
	if (gmtime_r(&now, &tm) == NULL)
		goto out;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	/* RFC 5322 §3.6; RFC 2045 for the MIME fields. */
	if (asprintf(&hdr, "Date: %s\r\n%s%s%sTo: <%s>\r\nSubject: %s\r\n"
	    "Message-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n%s\r\n", date,
	    from != NULL ? "From: <" : "", from != NULL ? from : "",
	    from != NULL ? ">\r\n" : "", to, subject, msgid, domain,
	    from != NULL ? "" : "X-PKI-Mail-Sink: local file sink, "
	    "not delivered\r\n") == -1) {
		hdr = NULL;
		goto out;
	}
	/* Every line of the body ends in CRLF (RFC 5322 §2.3): at most twice as long. */
	hlen = strlen(hdr);
	blen = strlen(body);
	if (blen > (SIZE_MAX - hlen - 3) / 2 ||
	    (msg = malloc(hlen + 2 * blen + 3)) == NULL)
		goto out;
	memcpy(msg, hdr, hlen);
	q = msg + hlen;
	for (p = body; *p != '\0'; p++) {
		if (*p == '\r' && p[1] == '\n') {
			*q++ = *p++;
			*q++ = *p;
		} else if (*p == '\r' || *p == '\n') {
			*q++ = '\r';
			*q++ = '\n';
		} else
			*q++ = *p;
	}
	if (q == msg + hlen || q[-1] != '\n') {
		*q++ = '\r';
		*q++ = '\n';
	}
	*q = '\0';
	*out = msg;
	msg = NULL;
	rc = 0;
out:
	free(hdr);	/* no secret in the header fields */
	free(msg);
	return rc;
}

struct ra_mailer *
ra_mailer_file_sink(const char *dir, char *err, size_t errlen)
{
	struct ra_mailer *m;

	if (ra_sink_dir_check(dir, "mail sink", err, errlen) == -1)
		return NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		return NULL;
	}
	m->kind = RA_MAILER_FILE_SINK;
	snprintf(m->dir, sizeof(m->dir), "%s", dir);
	return m;
}

struct ra_mailer *
ra_mailer_smtp(const struct ra_smtp_conf *c, char *err, size_t errlen)
{
	struct ra_mailer *m = NULL;
	CURLcode cc;
	char e[256];
	int global = 0;

	if (c->url == NULL || c->from == NULL) {
		snprintf(err, errlen, "mail = smtp needs smtp_url and smtp_from");
		goto fail;
	}
	if ((strncasecmp(c->url, "smtp://", 7) != 0 &&
	    strncasecmp(c->url, "smtps://", 8) != 0) ||
	    ra_mail_header_ok(c->url) == -1 || strlen(c->url) >= sizeof(m->url)) {
		snprintf(err, errlen, "smtp_url must be smtp://HOST[:PORT] or "
		    "smtps://HOST[:PORT]");
		goto fail;
	}
	if (ra_mail_addr_ok(c->from) == -1) {
		snprintf(err, errlen, "smtp_from must be a bare address "
		    "(local@domain, printable ASCII)");
		goto fail;
	}
	if ((c->user != NULL) != (c->password_file != NULL) ||
	    (c->user != NULL && (ra_mail_header_ok(c->user) == -1 ||
	    strlen(c->user) >= sizeof(m->user)))) {
		snprintf(err, errlen, "smtp_user and smtp_password_file go "
		    "together");
		goto fail;
	}
	if (c->user != NULL && !c->starttls &&
	    strncasecmp(c->url, "smtps://", 8) != 0) {
		snprintf(err, errlen, "smtp_user: the password would cross the "
		    "network in clear; use smtps:// or smtp_starttls = required");
		goto fail;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		goto fail;
	}
	if (c->password_file != NULL && secret_read(c->password_file, NULL,
	    m->password, sizeof(m->password), e, sizeof(e)) == -1) {
		snprintf(err, errlen, "smtp_password_file: %s", e);
		goto fail;
	}
	/* Before any thread and the sandbox: it initializes OpenSSL too. */
	if ((cc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init: %s",
		    curl_easy_strerror(cc));
		goto fail;
	}
	global = 1;
	m->kind = RA_MAILER_SMTP;
	snprintf(m->url, sizeof(m->url), "%s", c->url);
	snprintf(m->from, sizeof(m->from), "%s", c->from);
	if (c->user != NULL)
		snprintf(m->user, sizeof(m->user), "%s", c->user);
	m->starttls = c->starttls;
	if (c->ca_file != NULL) {
		/* Checked now: unreadable, it would fail every send later. */
		if (access(c->ca_file, R_OK) != 0 ||
		    strlen(c->ca_file) >= sizeof(m->ca_file)) {
			snprintf(err, errlen, "smtp_ca_file %s: %s", c->ca_file,
			    strlen(c->ca_file) >= sizeof(m->ca_file) ?
			    "path too long" : strerror(errno));
			goto fail;
		}
		snprintf(m->ca_file, sizeof(m->ca_file), "%s", c->ca_file);
	}
	return m;
fail:
	if (m != NULL)
		ra_wipe(m->password, sizeof(m->password));
	free(m);
	if (global)
		curl_global_cleanup();
	return NULL;
}

void
ra_mailer_free(struct ra_mailer *m)
{
	if (m == NULL)
		return;
	if (m->kind == RA_MAILER_SMTP) {
		ra_wipe(m->password, sizeof(m->password));
		curl_global_cleanup();
	}
	free(m);
}

static int
ra_file_sink_send(struct ra_mailer *m, const char *to, const char *subject,
    const char *body)
{
	char *msg = NULL;
	int rc = -1;

	if (ra_mail_format(&msg, NULL, to, subject, body, time(NULL)) == -1) {
		log_err("mail sink: message refused (header field or memory)");
		return -1;
	}
	rc = ra_sink_write(m->dir, "eml", "mail sink", msg);
	ra_wipe(msg, strlen(msg));	/* it may carry a one-time token */
	free(msg);
	return rc;
}

/* libcurl's CURLOPT_READFUNCTION: the next part of the message. */
static size_t
ra_smtp_read(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct ra_smtp_upload *u = arg;
	size_t n = size * nmemb;

	if (n > u->len - u->off)
		n = u->len - u->off;
	memcpy(ptr, u->buf + u->off, n);
	u->off += n;
	return n;
}

static int
ra_smtp_send(struct ra_mailer *m, const char *to, const char *subject,
    const char *body)
{
	struct ra_smtp_upload up;
	struct curl_slist *rcpt = NULL;
	char *msg = NULL, ebuf[CURL_ERROR_SIZE], rcptbuf[RA_EMAIL_MAX + 3];
	CURL *c = NULL;
	CURLcode cc;
	int rc = -1;

	ebuf[0] = '\0';
	/* A CR or LF in To or Subject never reaches the server. */
	if (ra_mail_format(&msg, m->from, to, subject, body, time(NULL)) == -1) {
		log_err("smtp: message refused (header field or memory)");
		goto out;
	}
	snprintf(rcptbuf, sizeof(rcptbuf), "<%s>", to);
	if ((rcpt = curl_slist_append(NULL, rcptbuf)) == NULL ||
	    (c = curl_easy_init()) == NULL) {
		log_err("smtp: curl_easy_init: out of memory");
		goto out;
	}
	up.buf = msg;
	up.len = strlen(msg);
	up.off = 0;
	if ((cc = curl_easy_setopt(c, CURLOPT_URL, m->url)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps")) !=
	    CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
	    (long)RA_SMTP_CONNECT_TIMEOUT_S)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_TIMEOUT,
	    (long)RA_SMTP_TOTAL_TIMEOUT_S)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_USE_SSL, m->starttls ?
	    (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_MAIL_FROM, m->from)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_READFUNCTION, ra_smtp_read)) !=
	    CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_READDATA, &up)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
	    (curl_off_t)up.len)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_UPLOAD, 1L)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf)) != CURLE_OK) {
		log_err("smtp: curl_easy_setopt: %s", curl_easy_strerror(cc));
		goto out;
	}
	if (m->ca_file[0] != '\0' &&
	    (cc = curl_easy_setopt(c, CURLOPT_CAINFO, m->ca_file)) != CURLE_OK) {
		log_err("smtp: curl_easy_setopt: %s", curl_easy_strerror(cc));
		goto out;
	}
	if (m->user[0] != '\0' &&
	    ((cc = curl_easy_setopt(c, CURLOPT_USERNAME, m->user)) != CURLE_OK ||
	    (cc = curl_easy_setopt(c, CURLOPT_PASSWORD, m->password)) !=
	    CURLE_OK)) {
		log_err("smtp: curl_easy_setopt: %s", curl_easy_strerror(cc));
		goto out;
	}
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		/* libcurl's text names the step (connect, RCPT, DATA), not the body. */
		log_err("smtp: sending to an account failed: %s",
		    ebuf[0] != '\0' ? ebuf : curl_easy_strerror(cc));
		goto out;
	}
	log_info("smtp: message sent to an account");
	rc = 0;
out:
	curl_easy_cleanup(c);	/* frees libcurl's copy of the password */
	curl_slist_free_all(rcpt);
	if (msg != NULL) {
		ra_wipe(msg, strlen(msg));	/* it may carry a one-time token */
		free(msg);
	}
	return rc;
}

static const struct db_stmt stmt_mail_queue = {
	"ra_mail_queue",
	"WITH m AS (INSERT INTO ra_mail_outbox (recipient, subject, body) "
	"VALUES ($1, $2, $3) RETURNING id) SELECT pg_notify('ra_mail', "
	"m.id::text) FROM m",
	3
};

/* A reset mail, bound to its token's row (schema/048). */
static const struct db_stmt stmt_mail_queue_reset = {
	"ra_mail_queue_reset",
	"WITH m AS (INSERT INTO ra_mail_outbox (recipient, subject, body, "
	"password_reset_id) VALUES ($1, $2, $3, $4) RETURNING id) "
	"SELECT pg_notify('ra_mail', m.id::text) FROM m",
	4
};

/* ra_mail_queue and ra_mail_queue_reset (reset_id NULL: unbound). */
static int
ra_mail_queue_bound(struct db *db, const char *to, const char *subject,
    const char *body, const char *reset_id)
{
	const char *v[4];
	PGresult *res;
	int rc;

	/* What the sender would refuse at each attempt, refused now. */
	if (ra_mail_addr_ok(to) == -1 || ra_mail_header_ok(subject) == -1) {
		log_err("mail: a notice not queued: bad address or subject");
		return -1;
	}
	v[0] = to;
	v[1] = subject;
	v[2] = body;
	v[3] = reset_id;
	if ((res = db_exec(db, reset_id != NULL ? &stmt_mail_queue_reset :
	    &stmt_mail_queue, v, NULL, NULL)) == NULL)
		return -1;
	rc = PQntuples(res) == 1 ? 0 : -1;
	PQclear(res);
	return rc;
}

int
ra_mail_queue(struct db *db, const char *to, const char *subject,
    const char *body)
{
	return ra_mail_queue_bound(db, to, subject, body, NULL);
}

int
ra_mail_queue_reset(struct db *db, const char *to, const char *subject,
    const char *body, const char *reset_id)
{
	if (reset_id == NULL)
		return -1;
	return ra_mail_queue_bound(db, to, subject, body, reset_id);
}

int
ra_mail_send(struct ra_mailer *m, const char *to, const char *subject,
    const char *body)
{
	if (m == NULL)
		return -1;
	switch (m->kind) {
	case RA_MAILER_FILE_SINK:
		return ra_file_sink_send(m, to, subject, body);
	case RA_MAILER_SMTP:
		return ra_smtp_send(m, to, subject, body);
	}
	return -1;
}
