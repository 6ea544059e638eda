/* Whole files of bounded size: lib/file.h. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/file.h"

int
file_read_capped(const char *path, size_t max, unsigned char **out,
    size_t *len, char *err, size_t errlen)
{
	FILE *f;
	unsigned char *buf = NULL, *nb;
	size_t cap = 0, n = 0, r;
	int rc = -1;

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
