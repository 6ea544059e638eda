/*
 * The LOCAL FILE SINK that the mail and SMS sender adapters share
 * (ra/mail.c, ra/sms.c): a message becomes one file of mode 0600,
 * <unix-time>-<16 hex random>.<ext>, written to a temporary name, synced and
 * renamed, so a reader never sees half a message. Nothing is delivered.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "lib/log.h"
#include "ra/extern.h"

int
ra_sink_dir_check(const char *dir, const char *what, char *err, size_t errlen)
{
	if (dir == NULL || dir[0] != '/' || strlen(dir) >= PATH_MAX - 64) {
		snprintf(err, errlen, "%s directory must be an absolute path",
		    what);
		return -1;
	}
	return 0;
}

/* Writes all of buf to fd. 0 or -1. */
static int
ra_sink_write_all(int fd, const char *buf, size_t len)
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

/*
 * A file the sink cannot write is a warning: the caller answers 503 or, for
 * a queued notice, tries again later (notifier.c); the local sinks stand in
 * for SMTP and SMS, whose refusals are the caller's to report.
 */
int
ra_sink_write(const char *dir, const char *ext, const char *what,
    const char *msg)
{
	unsigned char rnd[8];
	char tmp[PATH_MAX], final[PATH_MAX];
	time_t now = time(NULL);
	int fd = -1, rc = -1, n;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		log_openssl(LOGL_ERR, "%s: RAND_bytes", what);
		goto out;
	}
	n = snprintf(final, sizeof(final),
	    "%s/%lld-%02x%02x%02x%02x%02x%02x%02x%02x.%s", dir, (long long)now,
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], ext);
	if (n < 0 || (size_t)n >= sizeof(final) - 8)
		goto out;
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", final);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		goto out;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		log_warn("%s: open %s: %s", what, tmp, strerror(errno));
		goto out;
	}
	if (ra_sink_write_all(fd, msg, strlen(msg)) == -1 || fsync(fd) == -1) {
		log_warn("%s: write %s: %s", what, tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		log_warn("%s: close %s: %s", what, tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, final) == -1) {
		log_warn("%s: rename %s: %s", what, tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	log_info("%s: message for an account written to %s", what, final);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	return rc;
}
