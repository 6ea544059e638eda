/* Lower-case hexadecimal, as PostgreSQL's encode(…, 'hex') writes it. */
#ifndef PKI_HEX_H
#define PKI_HEX_H

#include <stddef.h>

/* n bytes as 2n lower-case hex digits and a NUL into out (2n + 1 bytes). */
void	hex_encode(const unsigned char *b, size_t n, char *out);

/*
 * Decodes s, lower-case hex digits only: exactly max bytes when n is NULL,
 * otherwise 0 to max bytes with their count in *n. 0, or -1 for anything
 * else (odd length, too long, another character).
 */
int	hex_decode(const char *s, unsigned char *out, size_t max, size_t *n);

#endif
