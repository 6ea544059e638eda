/*
 * Secrets (PINs, passwords) from a private file or the environment. The
 * secret itself never reaches a message, a log line or a second buffer.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lib/file.h"
#include "lib/secret.h"

#define SECRET_HEXKEY_MAX	64	/* bytes: keys up to 512 bits */

/* Reads up to len bytes, retrying on EINTR; the count, or -1. */
static ssize_t
secret_read_fd(int fd, char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = read(fd, buf + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		off += (size_t)n;
	}
	return (ssize_t)off;
}

/*
 * Reads the whole file into buf: it must be a regular file with no group or
 * other permission bits. O_NOFOLLOW refuses a symlink planted in its place.
 * *lenp receives the byte count. 0 or -1 with err.
 */
static int
secret_from_file(const char *path, char *buf, size_t buflen, size_t *lenp,
    char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	char extra[2];
	int fd = -1, rc = -1;

	/* No symbolic link, no FIFO (not waited on): a regular file. */
	if ((fd = file_open_regular(path, &st, err, errlen)) == -1)
		goto out;
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, errlen, "%s: mode %04o gives access to group or "
		    "others; must be 0600 or stricter", path,
		    (unsigned int)(st.st_mode & 07777));
		goto out;
	}
	/* Room for the secret and its NUL; one more newline may follow. */
	if ((n = secret_read_fd(fd, buf, buflen - 1)) == -1) {
		snprintf(err, errlen, "%s: read: %s", path, strerror(errno));
		goto out;
	}
	*lenp = (size_t)n;
	if ((size_t)n == buflen - 1) {
		/* Full: acceptable only if what follows is a lone "\n". */
		switch (secret_read_fd(fd, extra, sizeof(extra))) {
		case 0:
			break;
		case 1:
			if (extra[0] == '\n')
				break;
			/* FALLTHROUGH */
		default:
			snprintf(err, errlen, "%s: secret longer than %zu bytes",
			    path, buflen - 1);
			OPENSSL_cleanse(extra, sizeof(extra));
			goto out;
		}
		OPENSSL_cleanse(extra, sizeof(extra));
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	return rc;
}

/*
 * Copies the variable, wipes the environment's copy in place (so it no
 * longer shows in /proc/<pid>/environ or a core dump) and unsets it.
 */
static int
secret_from_env(const char *envname, char *buf, size_t buflen, size_t *lenp,
    char *err, size_t errlen)
{
	char *v;
	size_t len;

	if ((v = getenv(envname)) == NULL) {
		snprintf(err, errlen, "environment variable %s is not set",
		    envname);
		return -1;
	}
	len = strlen(v);
	if (len > buflen - 1) {
		OPENSSL_cleanse(v, len);
		unsetenv(envname);
		snprintf(err, errlen, "environment variable %s: secret longer "
		    "than %zu bytes", envname, buflen - 1);
		return -1;
	}
	memcpy(buf, v, len);
	*lenp = len;
	OPENSSL_cleanse(v, len);
	unsetenv(envname);
	return 0;
}

int
secret_read(const char *path, const char *envname, char *buf,
    size_t buflen, char *err, size_t errlen)
{
	const char *src = path != NULL ? path : envname;
	size_t len = 0;
	int rc = -1;

	if (errlen > 0)
		err[0] = '\0';
	if (buf == NULL || buflen < 2) {
		snprintf(err, errlen, "secret buffer too small");
		return -1;
	}
	buf[0] = '\0';
	if (path != NULL) {
		if (secret_from_file(path, buf, buflen, &len, err, errlen) == -1)
			goto out;
	} else if (envname != NULL) {
		if (secret_from_env(envname, buf, buflen, &len, err,
		    errlen) == -1)
			goto out;
	} else {
		snprintf(err, errlen, "no secret file or environment variable "
		    "given");
		goto out;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: secret contains a NUL byte", src);
		goto out;
	}
	if (len == 0) {
		snprintf(err, errlen, "%s: secret is empty", src);
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		OPENSSL_cleanse(buf, buflen);
	return rc;
}

int
secret_read_hexkey(const char *path, unsigned char *key, size_t keylen,
    char *err, size_t errlen)
{
	char buf[2 * SECRET_HEXKEY_MAX + 8];
	size_t got = 0;
	int rc = -1;

	memset(key, 0, keylen);
	if (path == NULL || keylen == 0 || keylen > SECRET_HEXKEY_MAX) {
		snprintf(err, errlen, "secret_read_hexkey: no key file or a bad "
		    "key length");
		return -1;
	}
	if (secret_read(path, NULL, buf, sizeof(buf), err, errlen) == -1)
		goto out;
	if (strlen(buf) != 2 * keylen ||
	    OPENSSL_hexstr2buf_ex(key, keylen, &got, buf, '\0') != 1 ||
	    got != keylen) {
		snprintf(err, errlen, "%s: must hold exactly %zu hex digits "
		    "(openssl rand -hex %zu)", path, 2 * keylen, keylen);
		OPENSSL_cleanse(key, keylen);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}
