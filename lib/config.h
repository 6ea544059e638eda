/*
 * One configuration file per deployment, "section.key = value" lines with
 * "[section]" headers and '#' comments:
 *
 *	[pg]
 *	uri = postgresql:///pki?host=/var/run/pki
 *
 * is read as key "pg.uri". Every key can be overridden from the environment:
 * PKI_PG_URI (upper case, '.' and '-' become '_'). The environment wins.
 * Secrets are never values here: a key names the file holding them.
 */
#ifndef PKI_CONFIG_H
#define PKI_CONFIG_H

#include <stddef.h>

struct config;

/*
 * Loads path (NULL: no file, environment only). Returns NULL on failure with
 * a message naming the file and line in err. Free with config_free().
 */
struct config	*config_load(const char *path, char *err, size_t errlen);
void		 config_free(struct config *);

/* Value of key (environment first, then file), or def. Borrowed pointer. */
const char	*config_get(const struct config *, const char *key, const char *def);
/*
 * Integer value of key within [min, max]; def when absent. Returns -1 (and
 * logs the key) when the value is not an integer or out of range, or when
 * the key is absent and def is out of range.
 */
int		 config_get_long(const struct config *, const char *key, long def,
		    long min, long max, long *out);
/* "true/yes/on/1" or "false/no/off/0"; -1 otherwise. */
int		 config_get_bool(const struct config *, const char *key, int def,
		    int *out);

#endif
