/* Whole files of bounded size: lib/file.h. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lib/file.h"

/* Reads f whole (file_read_capped's contract); closes it unless stdin. */
static int
file_read_stream(FILE *f, const char *path, size_t max, unsigned char **out,
    size_t *len, char *err, size_t errlen)
{
	unsigned char *buf = NULL, *nb;
	size_t cap = 0, n = 0, r;
	int rc = -1;

	/* Grows 64 KiB, 128 KiB, ... up to max + 1: a byte past max is enough. */
	for (;;) {
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 65536;
			if (cap > max + 1)
				cap = max + 1;
			if (n == cap)
				break;
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
		}
		if ((r = fread(buf + n, 1, cap - n, f)) == 0)
			break;
		n += r;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	if (n > max) {
		snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
		goto out;
	}
	if (buf == NULL && (buf = malloc(1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, cap);
		free(buf);
	}
	if (f != stdin)
		fclose(f);
	return rc;
}

int
file_read_capped(const char *path, size_t max, unsigned char **out,
    size_t *len, char *err, size_t errlen)
{
	FILE *f;

	*out = NULL;
	*len = 0;
	if (max > SIZE_MAX / 2) {
		snprintf(err, errlen, "%s: no sensible size limit", path);
		return -1;
	}
	if (strcmp(path, "-") == 0)
		f = stdin;
	else if ((f = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return file_read_stream(f, path, max, out, len, err, errlen);
}

int
file_open_regular(const char *path, struct stat *st, char *err, size_t errlen)
{
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		snprintf(err, errlen, "%s: open: %s%s", path, strerror(errno),
		    errno == ELOOP ? " (a symbolic link: refused)" : "");
		return -1;
	}
	if (fstat(fd, st) == -1) {
		snprintf(err, errlen, "%s: fstat: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	return fd;
}

int
file_read_regular(const char *path, size_t max, unsigned char **out,
    size_t *len, char *err, size_t errlen)
{
	struct stat st;
	FILE *f;
	int fd, fl;

	*out = NULL;
	*len = 0;
	if (max > SIZE_MAX / 2) {
		snprintf(err, errlen, "%s: no sensible size limit", path);
		return -1;
	}
	if ((fd = file_open_regular(path, &st, err, errlen)) == -1)
		return -1;
	if (st.st_size < 0 || (uintmax_t)st.st_size > max) {
		snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
		goto fail;
	}
	/* A regular file: reads never wait; clear it all the same. */
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
		snprintf(err, errlen, "%s: fcntl: %s", path, strerror(errno));
		goto fail;
	}
	if ((f = fdopen(fd, "rb")) == NULL) {
		snprintf(err, errlen, "%s: fdopen: %s", path, strerror(errno));
		goto fail;
	}
	/* Still bounded by max: the file may grow after the fstat. */
	return file_read_stream(f, path, max, out, len, err, errlen);
fail:
	close(fd);
	return -1;
}
