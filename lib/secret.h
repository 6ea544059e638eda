/*
 * Secrets (PINs, passwords) come from files or the environment, never argv.
 */
#ifndef PKI_SECRET_H
#define PKI_SECRET_H

#include <stddef.h>

/*
 * Reads a secret into buf (NUL-terminated, trailing newline stripped).
 * From path when path is non-NULL: the file must be a regular file not
 * readable or writable by group or others (mode 0600 or stricter), or -1.
 * Otherwise from the environment variable envname, which is then unset.
 * Returns 0, or -1 with a message (never the secret) in err.
 * Callers wipe buf with OPENSSL_cleanse() after use.
 */
int	secret_read(const char *path, const char *envname, char *buf,
	    size_t buflen, char *err, size_t errlen);

#endif
