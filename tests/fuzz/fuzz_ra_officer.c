/*
 * libFuzzer harness for the officer log-in body (ra/officer.c
 * ra_parse_officer_login) and the base32 decoder of lib/totp.h, both fed
 * untrusted bytes. Invariants: a parsed request has a username that passes
 * ra_officer_username_check, a non-empty password, a totp of 6 to 8 digits;
 * a refused body leaves nothing in the output; whatever base32 decodes
 * re-encodes (unpadded, upper-case) to the input's canonical form.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/totp.h"
#include "ra/extern.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i] != 0)
			return 0;
	return 1;
}

static void
fuzz_base32(const uint8_t *data, size_t size)
{
	unsigned char out[256], again[256];
	char *s, enc[512];
	size_t n, m;

	if (size > 400 || (s = malloc(size + 1)) == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (totp_base32_decode(s, out, sizeof(out), &n) == TOTP_OK) {
		if (totp_base32_encode(out, n, 1, enc, sizeof(enc)) != TOTP_OK ||
		    totp_base32_decode(enc, again, sizeof(again), &m) !=
		    TOTP_OK || m != n || memcmp(out, again, n) != 0)
			__builtin_trap();
	} else if (n != 0)
		__builtin_trap();
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ra_officer_login_req r;
	char detail[256];
	size_t i;

	if (ra_parse_officer_login(data, size, &r, detail,
	    sizeof(detail)) == 0) {
		if (ra_officer_username_check(r.username) != 0 ||
		    r.password[0] == '\0')
			__builtin_trap();
		for (i = 0; r.totp[i] != '\0'; i++)
			if (r.totp[i] < '0' || r.totp[i] > '9')
				__builtin_trap();
		if (i < TOTP_DIGITS_MIN || i > RA_OFFICER_TOTP_MAX)
			__builtin_trap();
		ra_wipe(&r, sizeof(r));
	} else if (!fuzz_all_zero(&r, sizeof(r)))
		__builtin_trap();
	fuzz_base32(data, size);
	return 0;
}
