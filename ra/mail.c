/*
 * The mail sender adapter. Its only implementation in this slice is the
 * LOCAL FILE SINK: each message becomes one file (mode 0600) in
 * ra.mail_sink_dir, for the local stack and the tests to read. Nothing is
 * delivered to anybody. The SMTP adapter (libcurl) is later work (issue 3).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ra/extern.h"

enum ra_mailer_kind {
	RA_MAILER_FILE_SINK = 1,
};

struct ra_mailer {
	enum ra_mailer_kind	 kind;
	char			 dir[PATH_MAX];
};

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

void
ra_mailer_free(struct ra_mailer *m)
{
	free(m);
}

static int
ra_file_sink_send(struct ra_mailer *m, const char *to, const char *subject,
    const char *body)
{
	char date[64], *msg = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int rc = -1;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	/* RFC 5322 header fields, then the body. */
	if (asprintf(&msg, "Date: %s\r\nTo: <%s>\r\nSubject: %s\r\n"
	    "X-PKI-Mail-Sink: local file sink, not delivered\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n%s", date, to,
	    subject, body) == -1)
		return -1;
	rc = ra_sink_write(m->dir, "eml", "mail sink", msg);
	ra_wipe(msg, strlen(msg));	/* it may carry a one-time token */
	free(msg);
	return rc;
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
	}
	return -1;
}
