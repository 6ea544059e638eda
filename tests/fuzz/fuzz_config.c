/*
 * libFuzzer harness for the configuration reader (lib/config.c
 * config_parse, through config_load): pki.conf is the operator's, but
 * every daemon reads it first, as root, and the profiles' [urls] come from
 * it. The bytes are the whole file (written to a temporary file: the
 * reader takes a path).
 * Invariants: a refusal says why, naming the file; a file the reader takes
 * gives, for each "key = value" line, that value under "section.key" as a
 * plain model of the format reads it (spaces and tabs trimmed at both
 * ends, CR and LF at the end; '#' and ';' comments at a line's start only).
 * Files with a NUL byte are left out of the model (fgets stops there).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

extern char **environ;

/* s[0..n) trimmed as config_trim does, into out (NUL-terminated). */
static void
fuzz_trim(const char *s, size_t n, char *out, size_t outlen)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	if (n >= outlen)
		abort();
	memmove(out, s, n);
	out[n] = '\0';
}

/* Checks every "key = value" line of text (len bytes, no NUL) against c. */
static void
fuzz_model(const struct config *c, const char *text, size_t len)
{
	char line[4200], section[160] = "", key[320];
	const char *p = text, *nl, *eq, *v;
	size_t n;

	while (p < text + len) {
		nl = memchr(p, '\n', (size_t)(text + len - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(text + len - p);
		fuzz_trim(p, n, line, sizeof(line));
		p += n + (nl != NULL);
		if (line[0] == '\0' || line[0] == '#' || line[0] == ';')
			continue;
		if (line[0] == '[') {
			/* Taken: "[name]" exactly, name trimmed. */
			fuzz_trim(line + 1, strlen(line) - 2, section,
			    sizeof(section));
			continue;
		}
		if ((eq = strchr(line, '=')) == NULL)
			abort();
		fuzz_trim(line, (size_t)(eq - line), key + strlen(section) +
		    (section[0] != '\0'), sizeof(key) - strlen(section) - 1);
		if (section[0] != '\0') {
			memcpy(key, section, strlen(section));
			key[strlen(section)] = '.';
		}
		fuzz_trim(eq + 1, strlen(eq + 1), line, sizeof(line));
		if ((v = config_get(c, key, NULL)) == NULL ||
		    strcmp(v, line) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[] = "/tmp/fuzz_config.XXXXXX";
	static int fd = -1;
	struct config *c;
	char err[512], **e;

	if (fd == -1) {
		/* The environment overrides the file (PKI_SECTION_KEY). */
		for (e = environ; *e != NULL; )
			if (strncmp(*e, "PKI_", 4) == 0) {
				char name[256];

				snprintf(name, sizeof(name), "%.*s",
				    (int)strcspn(*e, "="), *e);
				unsetenv(name);
				e = environ;
			} else
				e++;
		if ((fd = mkstemp(path)) == -1)
			abort();
		unlink(path);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) !=
	    (ssize_t)size)
		abort();
	memset(err, 0, sizeof(err));
	if ((c = config_load(path, err, sizeof(err))) == NULL) {
		if (err[0] == '\0' || err[sizeof(err) - 1] != '\0' ||
		    strncmp(err, path, strlen(path)) != 0)
			abort();
		return 0;
	}
	if (memchr(data, '\0', size) == NULL)
		fuzz_model(c, (const char *)data, size);
	config_free(c);
	return 0;
}
