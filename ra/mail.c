/*
 * The mail sender adapter. Its only implementation in this slice is the
 * LOCAL FILE SINK: each message becomes one file (mode 0600) in
 * ra.mail_sink_dir, for the local stack and the tests to read. Nothing is
 * delivered to anybody. The SMTP adapter (libcurl) is later work (issue 3).
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

	if (dir == NULL || dir[0] != '/' || strlen(dir) >= PATH_MAX - 64) {
		snprintf(err, errlen, "mail sink directory must be an absolute "
		    "path");
		return NULL;
	}
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

/* Writes all of buf to fd. 0 or -1. */
static int
ra_write_all(int fd, const char *buf, size_t len)
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
ra_file_sink_send(struct ra_mailer *m, const char *to, const char *subject,
    const char *body)
{
	unsigned char rnd[8];
	char tmp[PATH_MAX], final[PATH_MAX], date[64], *msg = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int fd = -1, rc = -1, n;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		log_openssl(LOGL_ERR, "mail sink: RAND_bytes");
		goto out;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	n = snprintf(final, sizeof(final), "%s/%lld-%02x%02x%02x%02x%02x%02x%02x%02x.eml",
	    m->dir, (long long)now, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
	    rnd[5], rnd[6], rnd[7]);
	if (n < 0 || (size_t)n >= sizeof(final) - 8)
		goto out;
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", final);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		goto out;
	/* RFC 5322 header fields, then the body. */
	if (asprintf(&msg, "Date: %s\r\nTo: <%s>\r\nSubject: %s\r\n"
	    "X-PKI-Mail-Sink: local file sink, not delivered\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n%s", date, to,
	    subject, body) == -1) {
		msg = NULL;
		goto out;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		log_err("mail sink: open %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (ra_write_all(fd, msg, strlen(msg)) == -1 || fsync(fd) == -1) {
		log_err("mail sink: write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		log_err("mail sink: close %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, final) == -1) {
		log_err("mail sink: rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	log_info("mail sink: message for an account written to %s", final);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (msg != NULL) {
		ra_wipe(msg, strlen(msg));	/* it carries a one-time token */
		free(msg);
	}
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
