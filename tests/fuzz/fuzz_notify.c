/*
 * libFuzzer harness for the payloads of the PostgreSQL notifications the
 * daemons LISTEN for, which any database role may send (NOTIFY takes no
 * grant): crld's crl_notify_parse() (crl/issuer.c: certificate_status and
 * crl_issued) and ocspd's ocsp_notify_parse() (ocsp/sync.c:
 * certificate_status). The first byte picks the channel (certificate_status,
 * crl_issued, or another), the rest up to its first NUL is the payload
 * (libpq hands it as a C string).
 * Invariants: what a parser accepts prints back, from the fields it
 * returned, to the very payload (so nothing trails, no sign, space or
 * leading zero, no overflow); a serial is 1 to 40 upper-case hex digits;
 * another channel is refused; a refusal leaves the fields cleared.
 * Where both parse certificate_status, they agree on the issuer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crl/extern.h"
#include "ocsp/extern.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const fuzz_channels[] = {
	"certificate_status", "crl_issued", "issuance_order"
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crl_notify cn;
	char serial[OCSP_NOTIFY_SERIAL_MAX + 1], back[128];
	const char *channel;
	char *payload;
	long long issuer;
	int crl_rc, ocsp_rc;

	if (size < 1)
		return 0;
	channel = fuzz_channels[data[0] % 3];
	if ((payload = malloc(size)) == NULL)
		abort();
	memcpy(payload, data + 1, size - 1);
	payload[size - 1] = '\0';

	crl_rc = crl_notify_parse(channel, payload, &cn);
	if (crl_rc == 0) {
		if (data[0] % 3 == 2 || cn.issued != (data[0] % 3 == 1) ||
		    cn.issuer_id < 0 || cn.number < 0)
			abort();
		if (cn.issued) {
			snprintf(back, sizeof(back), "%lld:%s:%lld",
			    cn.issuer_id, cn.delta ? "delta" : "full",
			    cn.number);
			if (strcmp(back, payload) != 0)
				abort();
		} else {
			snprintf(back, sizeof(back), "%lld:", cn.issuer_id);
			if (strncmp(back, payload, strlen(back)) != 0)
				abort();
		}
	} else if (crl_rc != -1 || cn.issued || cn.issuer_id != 0 ||
	    cn.delta || cn.number != 0)
		abort();

	ocsp_rc = ocsp_notify_parse(channel, payload, &issuer, serial);
	if (ocsp_rc == 0) {
		if (data[0] % 3 != 0 || issuer < 0 || strlen(serial) < 1 ||
		    strlen(serial) > OCSP_NOTIFY_SERIAL_MAX ||
		    strspn(serial, "0123456789ABCDEF") != strlen(serial))
			abort();
		/* ocspd takes leading zeros in the issuer id (crld does not). */
		if (strtoll(payload, NULL, 10) != issuer ||
		    strcmp(strchr(payload, ':') + 1, serial) != 0)
			abort();
		if (crl_rc == 0 && cn.issuer_id != issuer)
			abort();
		/* crld refuses only a leading zero ocspd takes. */
		if (crl_rc == -1 && (payload[0] != '0' || payload[1] == ':'))
			abort();
	} else if (ocsp_rc != -1 || issuer != 0 || serial[0] != '\0')
		abort();
	free(payload);
	return 0;
}
