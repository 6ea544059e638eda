/*
 * Structured logging: one JSON object per line. The component name, level
 * and sink are set once by main(); this is the only process-wide state in lib/.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/err.h>

#include "lib/log.h"

static char		log_component[32] = "pki";
static enum log_level	log_min = LOGL_INFO;
static FILE		*log_out;

static const char *const log_names[] = { "debug", "info", "warn", "err" };

void
log_init(const char *component, enum log_level min, FILE *out)
{
	snprintf(log_component, sizeof(log_component), "%s",
	    component != NULL ? component : "pki");
	log_min = min;
	log_out = out;
}

int
log_level_parse(const char *name, enum log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcasecmp(name, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

int
log_init_level(const char *component, const char *name)
{
	enum log_level level;

	if (name == NULL)
		return 0;
	if (log_level_parse(name, &level) == -1) {
		log_err("log.level %s: not one of debug, info, warn, err", name);
		return -1;
	}
	log_init(component, level, stderr);
	return 0;
}

/*
 * Replaces, in place, every byte that does not start a well-formed UTF-8
 * sequence (RFC 3629: no overlongs, no surrogates, at most U+10FFFF) with
 * '?'. jansson refuses invalid UTF-8, and messages quote client bytes or
 * are cut mid-character by the fixed buffer; the line must still be written.
 */
static void
log_utf8_sanitize(char *msg)
{
	unsigned char *p = (unsigned char *)msg;
	unsigned long cp;
	size_t i, n;

	while (*p != '\0') {
		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf) {
			n = 1;
			cp = *p & 0x1f;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			n = 2;
			cp = *p & 0x0f;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			n = 3;
			cp = *p & 0x07;
		} else {
			*p++ = '?';
			continue;
		}
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				break;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (i <= n || (n == 2 && cp < 0x800) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			*p++ = '?';
			continue;
		}
		p += n + 1;
	}
}

/* Writes one line; msg is escaped by jansson, so any bytes are safe. */
static void
log_write(enum log_level level, char *msg)
{
	struct timespec ts;
	struct tm tm;
	char when[96];
	json_t *o;
	char *line;
	FILE *out = log_out != NULL ? log_out : stderr;

	log_utf8_sanitize(msg);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	o = json_pack("{s:s, s:s, s:s, s:s?}", "ts", when,
	    "level", log_names[level], "component", log_component, "msg", msg);
	if (o == NULL)
		return;
	line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (line == NULL)
		return;
	fprintf(out, "%s\n", line);
	fflush(out);
	free(line);
}

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char msg[2048];

	if (level < log_min || level > LOGL_ERR)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_write(level, msg);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void
log_openssl(enum log_level level, const char *fmt, ...)
{
	char msg[2048], ebuf[256];
	unsigned long e;
	size_t off;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	off = strlen(msg);
	while ((e = ERR_get_error()) != 0 && off + 3 < sizeof(msg)) {
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
		off += (size_t)snprintf(msg + off, sizeof(msg) - off, ": %s", ebuf);
		if (off >= sizeof(msg))
			off = sizeof(msg) - 1;
	}
	ERR_clear_error();
	if (level >= log_min && level <= LOGL_ERR)
		log_write(level, msg);
}
