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

/*
 * Reads a symmetric key stored as hex in a file of mode 0600 or stricter
 * (e.g. made with `openssl rand -hex 32`): exactly keylen bytes, 2 × keylen
 * hex digits and nothing else. Returns 0 with key filled, or -1 with key
 * zeroed and a message in err (never the key).
 */
int	secret_read_hexkey(const char *path, unsigned char *key, size_t keylen,
	    char *err, size_t errlen);

#endif
