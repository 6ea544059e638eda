/*
 * libFuzzer harness for rad's certificate request parsers (ra/certreq.c):
 * the agreement, revocation and rekey bodies, and the RFC 2253 string of a
 * subject object. Invariants: what parses carries a factor of a known type
 * with a 6-digit secret (an OTP with a positive id); a revocation reason is
 * 0 or 9 and ra_revocation_reason agrees; what is refused leaves its output
 * all zero; a subject string is NUL-terminated within its buffer, "" on
 * refusal, and never holds an unescaped ',' inside a value (each ',' not
 * preceded by '\' is followed by a known attribute and '=').
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

static int
fuzz_factor_ok(const struct factor *f)
{
	int i;

	if (f->type < FACTOR_OTP || f->type > FACTOR_TOTP ||
	    (f->type == FACTOR_OTP) != (f->otp_id > 0))
		return 0;
	for (i = 0; i < 6; i++)
		if (f->secret[i] < '0' || f->secret[i] > '9')
			return 0;
	return f->secret[6] == '\0';
}

/* Each unescaped ',' starts the next "attr=". */
static int
fuzz_dn_ok(const char *dn)
{
	static const char *const attrs[] = { "C=", "ST=", "L=", "O=", "OU=",
	    "organizationIdentifier=", "serialNumber=", "CN=",
	    "emailAddress=" };
	size_t i, k;
	int ok;

	for (i = 0; dn[i] != '\0'; i++) {
		if (dn[i] == '\\') {
			if (dn[i + 1] == '\0')
				return 0;
			i++;
			continue;
		}
		if (dn[i] != ',')
			continue;
		for (ok = 0, k = 0; k < sizeof(attrs) / sizeof(attrs[0]); k++)
			if (strncmp(dn + i + 1, attrs[k], strlen(attrs[k])) == 0)
				ok = 1;
		if (!ok)
			return 0;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ra_agree_req agree;
	struct ra_self_revoke_req rev;
	struct factor f;
	char detail[256], dn[512];

	if (ra_parse_agree(data, size, &agree, detail, sizeof(detail)) == 0) {
		if (!fuzz_factor_ok(&agree.factor))
			__builtin_trap();
		ra_wipe(&agree, sizeof(agree));
	} else if (!fuzz_all_zero(&agree, sizeof(agree)))
		__builtin_trap();
	if (ra_parse_self_revoke(data, size, &rev, detail, sizeof(detail)) == 0) {
		if ((rev.reason != 0 && rev.reason != 9) ||
		    !fuzz_factor_ok(&rev.factor) ||
		    ra_revocation_reason(rev.reason == 0 ? "unspecified" :
		    "privilegeWithdrawn") != rev.reason)
			__builtin_trap();
		ra_wipe(&rev, sizeof(rev));
	} else if (!fuzz_all_zero(&rev, sizeof(rev)))
		__builtin_trap();
	if (ra_parse_rekey(data, size, &f, detail, sizeof(detail)) == 0) {
		if (!fuzz_factor_ok(&f))
			__builtin_trap();
		ra_wipe(&f, sizeof(f));
	} else if (!fuzz_all_zero(&f, sizeof(f)))
		__builtin_trap();
	memset(dn, 'x', sizeof(dn));
	if (ra_subject_dn((const char *)data, size, dn, sizeof(dn)) == 0) {
		if (memchr(dn, '\0', sizeof(dn)) == NULL || dn[0] == '\0' ||
		    !fuzz_dn_ok(dn))
			__builtin_trap();
	} else if (dn[0] != '\0')
		__builtin_trap();
	return 0;
}
