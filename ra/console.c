/*
 * The RA officers' console: a static single-page application (ra/console/)
 * that calls the officer API of this same origin. rad reads its files from
 * ra.console_dir once at start-up, before the sandbox, and serves them from
 * memory under /console/. Without ra.console_dir the console is off (404).
 *
 * The pages hold no secret and no data: everything comes from the API with
 * the officer's Bearer token, which the page keeps in a variable only (a
 * reload asks for a new log-in; leaving the page logs out). The
 * Content-Security-Policy allows scripts, styles and fetches from this
 * origin only, images from blob: (the evidence the page fetched with the
 * token), no inline script, no framing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/http.h"
#include "lib/log.h"
#include "ra/extern.h"

/* A console file larger than this is a mistake in the directory. */
#define RA_CONSOLE_FILE_MAX	(256 * 1024)

static const struct {
	const char	*path;		/* under which it is served */
	const char	*file;		/* in ra.console_dir */
	const char	*type;
} ra_console_files[RA_CONSOLE_NFILES] = {
	{ "/console/", "index.html", "text/html; charset=utf-8" },
	{ "/console/console.js", "console.js",
	    "text/javascript; charset=utf-8" },
	{ "/console/console.css", "console.css", "text/css; charset=utf-8" },
};

static int
ra_console_read(const char *dir, const char *name, char **out, size_t *outlen,
    char *err, size_t errlen)
{
	char path[4096];
	char *buf = NULL;
	ssize_t n;
	size_t len = 0;
	int fd = -1, rc = -1;

	*out = NULL;
	*outlen = 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path)) {
		snprintf(err, errlen, "console: path too long: %s", dir);
		goto out;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "console: open %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if ((buf = malloc(RA_CONSOLE_FILE_MAX)) == NULL) {
		snprintf(err, errlen, "console: out of memory");
		goto out;
	}
	while ((n = read(fd, buf + len, RA_CONSOLE_FILE_MAX - len)) > 0)
		if ((len += (size_t)n) == RA_CONSOLE_FILE_MAX)
			break;
	if (n == -1 || len == RA_CONSOLE_FILE_MAX || len == 0) {
		snprintf(err, errlen, "console: %s: %s", path, n == -1 ?
		    strerror(errno) : len == 0 ? "empty" : "larger than 256 KiB");
		goto out;
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(buf);
	return rc;
}

int
ra_console_load(struct ra *ra, const char *dir, char *err, size_t errlen)
{
	size_t i;

	if (dir == NULL || dir[0] == '\0')
		return 0;	/* off */
	for (i = 0; i < RA_CONSOLE_NFILES; i++)
		if (ra_console_read(dir, ra_console_files[i].file,
		    &ra->console[i].body, &ra->console[i].len, err,
		    errlen) == -1) {
			ra_console_free(ra);
			return -1;
		}
	ra->console_on = 1;
	return 0;
}

void
ra_console_free(struct ra *ra)
{
	size_t i;

	for (i = 0; i < RA_CONSOLE_NFILES; i++) {
		free(ra->console[i].body);
		ra->console[i].body = NULL;
		ra->console[i].len = 0;
	}
	ra->console_on = 0;
}

int
ra_console_get(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	size_t i;

	if (strcmp(req->path, "/console") == 0) {
		if (http_add_header(resp, "Location", "/console/") == -1)
			return -1;
		return http_respond(resp, 301, NULL, NULL, 0);
	}
	for (i = 0; i < RA_CONSOLE_NFILES; i++)
		if (strcmp(req->path, ra_console_files[i].path) == 0)
			break;
	if (!ra->console_on || i == RA_CONSOLE_NFILES)
		return ra_problem(resp, 404, ra->console_on ? "no such file" :
		    "the console is off (ra.console_dir is not set)");
	if (http_add_header(resp, "Content-Security-Policy", "default-src "
	    "'none'; script-src 'self'; style-src 'self'; img-src 'self' "
	    "blob:; connect-src 'self'; frame-ancestors 'none'; base-uri "
	    "'none'; form-action 'none'") == -1 ||
	    http_add_header(resp, "X-Content-Type-Options", "nosniff") == -1 ||
	    http_add_header(resp, "X-Frame-Options", "DENY") == -1 ||
	    http_add_header(resp, "Referrer-Policy", "no-referrer") == -1 ||
	    http_add_header(resp, "Cache-Control", "no-cache") == -1)
		return -1;
	return http_respond(resp, 200, ra_console_files[i].type,
	    ra->console[i].body, ra->console[i].len);
}
