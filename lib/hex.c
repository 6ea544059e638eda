/* Lower-case hexadecimal; see hex.h. */
#include <string.h>

#include "lib/hex.h"

void
hex_encode(const unsigned char *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
hex_decode(const char *s, unsigned char *out, size_t max, size_t *n)
{
	size_t len = strlen(s), i;
	int hi, lo;

	if (len % 2 != 0 || len / 2 > max || (n == NULL && len / 2 != max))
		return -1;
	for (i = 0; i < len / 2; i++) {
		if ((hi = hex_digit(s[2 * i])) < 0 ||
		    (lo = hex_digit(s[2 * i + 1])) < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	if (n != NULL)
		*n = len / 2;
	return 0;
}
