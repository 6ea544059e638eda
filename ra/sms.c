/*
 * The SMS sender adapter. Its only implementation in this slice is the
 * LOCAL FILE SINK, like ra/mail.c: each message becomes one file (mode
 * 0600) in ra.sms_sink_dir, marked not delivered, for the local stack and
 * the tests to read. Nothing is sent to any phone. A gateway adapter (an
 * SMS provider's HTTPS API over libcurl) is later work (issue 3).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "lib/log.h"
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

	if (dir == NULL || dir[0] != '/' || strlen(dir) >= PATH_MAX - 64) {
		snprintf(err, errlen, "SMS sink directory must be an absolute "
		    "path");
		return NULL;
	}
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
ra_sms_write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
ra_sms_file_sink_send(struct ra_sms *s, const char *to, const char *text)
{
	unsigned char rnd[8];
	char tmp[PATH_MAX], final[PATH_MAX], date[64], *msg = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int fd = -1, rc = -1, n;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		log_openssl(LOGL_ERR, "SMS sink: RAND_bytes");
		goto out;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(final, sizeof(final),
	    "%s/%lld-%02x%02x%02x%02x%02x%02x%02x%02x.sms", s->dir,
	    (long long)now, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
	    rnd[6], rnd[7]);
	if (n < 0 || (size_t)n >= sizeof(final) - 8)
		goto out;
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", final);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		goto out;
	if (asprintf(&msg, "Date: %s\r\nTo: %s\r\n"
	    "X-PKI-SMS-Sink: local file sink, not delivered\r\n\r\n%s\r\n",
	    date, to, text) == -1) {
		msg = NULL;
		goto out;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		log_err("SMS sink: open %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (ra_sms_write_all(fd, msg, strlen(msg)) == -1 || fsync(fd) == -1) {
		log_err("SMS sink: write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		log_err("SMS sink: close %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, final) == -1) {
		log_err("SMS sink: rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	log_info("SMS sink: message for an account written to %s", final);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (msg != NULL) {
		ra_wipe(msg, strlen(msg));	/* it carries a one-time code */
		free(msg);
	}
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
