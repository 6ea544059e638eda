/*
 * The SMS sender adapter. Its only implementation in this slice is the
 * LOCAL FILE SINK, like ra/mail.c: each message becomes one file (mode
 * 0600) in ra.sms_sink_dir, marked not delivered, for the local stack and
 * the tests to read. Nothing is sent to any phone. A gateway adapter (an
 * SMS provider's HTTPS API over libcurl) is later work (issue 3).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ra/extern.h"

enum ra_sms_kind {
	RA_SMS_FILE_SINK = 1,
};

struct ra_sms {
	enum ra_sms_kind	 kind;
	char			 dir[PATH_MAX];
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

void
ra_sms_free(struct ra_sms *s)
{
	free(s);
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
	}
	return -1;
}
