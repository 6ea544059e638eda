/*
 * libFuzzer harness for rad's corporate request parsers (ra/corpreq.c).
 * The input goes to each parser in turn. Invariants: a parsed company has
 * a 13-digit NIB, a 15- or 16-digit NPWP, a real deed date, an AHU- decree
 * number and a lower-case sysadmin email outside go.id and mil.id; a parsed
 * revocation request has a positive certificate id, a reason with an RFC
 * 5280 code and a factor type; a decision is revoke, or reject with a
 * reason; an e-seal's name has 1 to RA_ESEAL_NAME_MAX bytes, no control
 * character and no space at either end; a member's removal has a reason
 * with an RFC 5280 code and a factor type; a refusal leaves the output
 * zeroed.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ra/extern.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i] != 0)
			return 0;
	return 1;
}

static int
fuzz_digits(const char *s, size_t n1, size_t n2)
{
	size_t n = strlen(s);

	return (n == n1 || n == n2) && strspn(s, "0123456789") == n;
}

static int
fuzz_gov(const char *email)
{
	const char *d = strchr(email, '@');
	size_t n;

	if (d == NULL)
		return 1;
	d++;
	n = strlen(d);
	return strcmp(d, "go.id") == 0 || strcmp(d, "mil.id") == 0 ||
	    (n > 6 && strcmp(d + n - 6, ".go.id") == 0) ||
	    (n > 7 && strcmp(d + n - 7, ".mil.id") == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ra_corporate_req c;
	struct ra_enrol_req e;
	struct ra_revreq_req r;
	struct ra_revdecide_req d;
	struct ra_eseal_req es;
	struct ra_removal_req rm;
	size_t n;
	char detail[256], email[RA_EMAIL_MAX + 1];
	const char *p;

	if (ra_parse_corporate(data, size, &c, detail, sizeof(detail)) == 0) {
		if (!fuzz_digits(c.nib, 13, 13) || !fuzz_digits(c.npwp, 15, 16) ||
		    strncmp(c.decree_number, "AHU-", 4) != 0 ||
		    c.company_name[0] == '\0' || c.deed.year < 1900 ||
		    fuzz_gov(c.sysadmin_email))
			__builtin_trap();
		for (p = c.sysadmin_email; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				__builtin_trap();
	} else if (!fuzz_zero(&c, sizeof(c)))
		__builtin_trap();
	if (ra_parse_enrol(data, size, &e, detail, sizeof(detail)) == 0) {
		if (strchr(e.email, '@') == NULL)
			__builtin_trap();
	} else if (!fuzz_zero(&e, sizeof(e)))
		__builtin_trap();
	if (ra_parse_revreq(data, size, &r, detail, sizeof(detail)) == 0) {
		if (r.certificate_id < 1 || ra_revreq_reason_code(r.reason) < 0 ||
		    (r.factor.type != FACTOR_OTP &&
		    r.factor.type != FACTOR_PIN &&
		    r.factor.type != FACTOR_TOTP))
			__builtin_trap();
	} else if (!fuzz_zero(&r, sizeof(r)))
		__builtin_trap();
	if (ra_parse_revdecide(data, size, &d, detail, sizeof(detail)) == 0) {
		if (!d.revoke && d.reason_text[0] == '\0')
			__builtin_trap();
	} else if (!fuzz_zero(&d, sizeof(d)))
		__builtin_trap();
	if (ra_parse_eseal(data, size, &es, detail, sizeof(detail)) == 0) {
		n = strlen(es.name);
		if (n == 0 || n > RA_ESEAL_NAME_MAX || es.name[0] == ' ' ||
		    es.name[n - 1] == ' ')
			__builtin_trap();
		for (p = es.name; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				__builtin_trap();
	} else if (!fuzz_zero(&es, sizeof(es)))
		__builtin_trap();
	if (ra_parse_removal(data, size, &rm, detail, sizeof(detail)) == 0) {
		if (ra_revreq_reason_code(rm.revocation_reason) < 0 ||
		    (rm.factor.type != FACTOR_OTP &&
		    rm.factor.type != FACTOR_PIN &&
		    rm.factor.type != FACTOR_TOTP))
			__builtin_trap();
	} else if (!fuzz_zero(&rm, sizeof(rm)))
		__builtin_trap();
	/* The sysadmin rule alone, on the raw bytes as one address. */
	if (size < sizeof(email)) {
		memcpy(email, data, size);
		email[size] = '\0';
		if (strlen(email) == size && ra_sysadmin_email_check(email, detail,
		    sizeof(detail)) == 0 && fuzz_gov(email))
			__builtin_trap();
	}
	return 0;
}
