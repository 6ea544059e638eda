/*
 * Configuration: an INI-like file read once at start-up, with every key
 * overridable from the environment (PKI_SECTION_KEY). See lib/config.h.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/config.h"
#include "lib/log.h"

/* Longest accepted line, key ("section.key") and environment name. */
#define CONFIG_LINE_MAX	4096
#define CONFIG_KEY_MAX	128
#define CONFIG_ENV_MAX	(CONFIG_KEY_MAX + sizeof("PKI_"))

struct config_entry {
	char	*key;	/* "section.key" */
	char	*value;
};

struct config {
	struct config_entry	*entries;
	size_t			 n;
	size_t			 cap;
};

static char *
config_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

/* Section and key names: letters, digits, '_' and '-'; non-empty. */
static int
config_name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return 0;
	}
	return 1;
}

static const struct config_entry *
config_find(const struct config *cf, const char *key)
{
	size_t i;

	if (cf == NULL)
		return NULL;
	for (i = 0; i < cf->n; i++) {
		if (strcmp(cf->entries[i].key, key) == 0)
			return &cf->entries[i];
	}
	return NULL;
}

/* Takes no ownership of key or value: both are copied. 0 or -1. */
static int
config_add(struct config *cf, const char *key, const char *value)
{
	struct config_entry *ne;
	size_t ncap;
	char *k = NULL, *v = NULL;
	int rc = -1;

	if (cf->n == cf->cap) {
		ncap = cf->cap == 0 ? 16 : cf->cap * 2;
		ne = reallocarray(cf->entries, ncap, sizeof(*ne));
		if (ne == NULL)
			goto out;
		cf->entries = ne;
		cf->cap = ncap;
	}
	if ((k = strdup(key)) == NULL || (v = strdup(value)) == NULL)
		goto out;
	cf->entries[cf->n].key = k;
	cf->entries[cf->n].value = v;
	cf->n++;
	k = v = NULL;
	rc = 0;
out:
	free(k);
	free(v);
	return rc;
}

/*
 * Parses one file into cf. Lines are "[section]", "key = value", blank, or
 * comments starting with '#' or ';' (only at the start of a line, so values
 * such as URIs may contain '#'). A key before any section has no prefix.
 * Duplicate keys are an error: a silently ignored second value is a trap.
 */
static int
config_parse(struct config *cf, const char *path, char *err, size_t errlen)
{
	FILE *f = NULL;
	char line[CONFIG_LINE_MAX + 2];
	char section[CONFIG_KEY_MAX] = "";
	char key[CONFIG_KEY_MAX];
	char *p, *eq, *k, *v, *end;
	unsigned long lineno = 0;
	size_t len;
	int rc = -1;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: fopen: %s", path, strerror(errno));
		goto out;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		len = strlen(line);
		if (len > CONFIG_LINE_MAX ||
		    (len > 0 && line[len - 1] != '\n' && !feof(f))) {
			snprintf(err, errlen, "%s:%lu: line too long", path,
			    lineno);
			goto out;
		}
		p = config_trim(line);
		if (*p == '\0' || *p == '#' || *p == ';')
			continue;
		if (*p == '[') {
			end = strchr(p, ']');
			if (end == NULL || end[1] != '\0') {
				snprintf(err, errlen, "%s:%lu: malformed section "
				    "header", path, lineno);
				goto out;
			}
			*end = '\0';
			p = config_trim(p + 1);
			if (!config_name_ok(p) ||
			    strlen(p) >= sizeof(section)) {
				snprintf(err, errlen, "%s:%lu: bad section name",
				    path, lineno);
				goto out;
			}
			snprintf(section, sizeof(section), "%s", p);
			continue;
		}
		if ((eq = strchr(p, '=')) == NULL) {
			snprintf(err, errlen, "%s:%lu: expected \"key = value\"",
			    path, lineno);
			goto out;
		}
		*eq = '\0';
		k = config_trim(p);
		v = config_trim(eq + 1);
		if (!config_name_ok(k)) {
			snprintf(err, errlen, "%s:%lu: bad key name", path,
			    lineno);
			goto out;
		}
		if ((size_t)snprintf(key, sizeof(key), "%s%s%s", section,
		    section[0] != '\0' ? "." : "", k) >= sizeof(key)) {
			snprintf(err, errlen, "%s:%lu: key too long", path,
			    lineno);
			goto out;
		}
		if (config_find(cf, key) != NULL) {
			snprintf(err, errlen, "%s:%lu: duplicate key %s", path,
			    lineno, key);
			goto out;
		}
		if (config_add(cf, key, v) == -1) {
			snprintf(err, errlen, "%s:%lu: out of memory", path,
			    lineno);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	return rc;
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct config *cf = NULL;
	int rc = -1;

	if (errlen > 0)
		err[0] = '\0';
	if ((cf = calloc(1, sizeof(*cf))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		goto out;
	}
	if (path != NULL && config_parse(cf, path, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1) {
		config_free(cf);
		cf = NULL;
	}
	return cf;
}

void
config_free(struct config *cf)
{
	size_t i;

	if (cf == NULL)
		return;
	for (i = 0; i < cf->n; i++) {
		free(cf->entries[i].key);
		free(cf->entries[i].value);
	}
	free(cf->entries);
	free(cf);
}

/* "pg.uri" -> "PKI_PG_URI"; 0, or -1 when the name does not fit. */
static int
config_env_name(const char *key, char *buf, size_t buflen)
{
	size_t i, off;

	if ((size_t)snprintf(buf, buflen, "PKI_%s", key) >= buflen)
		return -1;
	for (i = 0, off = sizeof("PKI_") - 1; key[i] != '\0'; i++) {
		if (key[i] == '.' || key[i] == '-')
			buf[off + i] = '_';
		else
			buf[off + i] = (char)toupper((unsigned char)key[i]);
	}
	return 0;
}

const char *
config_get(const struct config *cf, const char *key, const char *def)
{
	const struct config_entry *e;
	char env[CONFIG_ENV_MAX];
	const char *v;

	if (key == NULL)
		return def;
	if (config_env_name(key, env, sizeof(env)) == 0 &&
	    (v = getenv(env)) != NULL)
		return v;
	if ((e = config_find(cf, key)) != NULL)
		return e->value;
	return def;
}

int
config_get_long(const struct config *cf, const char *key, long def,
    long min, long max, long *out)
{
	const char *v;
	char *end;
	long n;

	*out = def;
	if ((v = config_get(cf, key, NULL)) == NULL) {
		/* A default computed at run time (a CPU count) obeys too. */
		if (def < min || def > max) {
			log_err("config: %s: the default %ld is out of range "
			    "[%ld, %ld]: set it", key, def, min, max);
			return -1;
		}
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || isspace((unsigned char)*v) || *end != '\0' ||
	    errno == ERANGE) {
		log_err("config: %s: \"%s\" is not an integer", key, v);
		return -1;
	}
	if (n < min || n > max) {
		log_err("config: %s: %ld is out of range [%ld, %ld]", key, n,
		    min, max);
		return -1;
	}
	*out = n;
	return 0;
}

int
config_get_bool(const struct config *cf, const char *key, int def, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	const char *v;
	size_t i;

	*out = def;
	if ((v = config_get(cf, key, NULL)) == NULL)
		return 0;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	log_err("config: %s: \"%s\" is not a boolean", key, v);
	return -1;
}
