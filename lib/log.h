/*
 * Structured logging: one JSON object per line on stderr (or a file).
 * {"ts":"2026-11-22T04:30:00.123Z","level":"info","component":"ocsp","msg":"..."}
 * Never pass secrets (PINs, passwords, OTPs, tokens, key material) to these.
 *
 * The sink and component name are the one piece of process-wide state in lib/:
 * set once at start-up by main() with log_init().
 */
#ifndef PKI_LOG_H
#define PKI_LOG_H

#include <stdarg.h>
#include <stdio.h>

enum log_level {
	LOGL_DEBUG = 0,
	LOGL_INFO,
	LOGL_WARN,
	LOGL_ERR,
};

/* Sets the component name (copied) and minimum level; out NULL means stderr. */
void	log_init(const char *component, enum log_level min, FILE *out);
/* Parses "debug", "info", "warn", "err"; returns -1 on an unknown name. */
int	log_level_parse(const char *name, enum log_level *out);
/*
 * log.level from the configuration: log_init() to stderr at the level
 * name says (NULL: as it was); -1, logged, for a name that is no level
 * (until 2026-12-06 "error" for "err" was silently info).
 */
int	log_init_level(const char *component, const char *name);

void	log_msg(enum log_level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_vmsg(enum log_level, const char *fmt, va_list)
	    __attribute__((format(printf, 2, 0)));
/* Appends the OpenSSL error queue (and clears it) to the message. */
void	log_openssl(enum log_level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#define log_debug(...)	log_msg(LOGL_DEBUG, __VA_ARGS__)
#define log_info(...)	log_msg(LOGL_INFO, __VA_ARGS__)
#define log_warn(...)	log_msg(LOGL_WARN, __VA_ARGS__)
#define log_err(...)	log_msg(LOGL_ERR, __VA_ARGS__)

#endif
