/*
 * libFuzzer harness for der_get_time (lib/der.c), the one reader of the
 * CRL and OCSP times the signer bounds and crld serves: it reads nothing
 * past the bytes it is given, and it agrees with OpenSSL's RFC 5280 mode
 * (ASN1_STRING_FLAG_X509_TIME) on what is a time and on its value. The
 * first byte picks UTCTime or GeneralizedTime.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>

#include "lib/der.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ASN1_TIME at;
	struct tm tm;
	unsigned int tag;
	time_t ours;
	int a, b;

	if (size < 1 || size > 64)
		return 0;
	tag = data[0] & 1 ? DER_GENERALIZEDTIME : DER_UTCTIME;
	a = der_get_time(tag, data + 1, size - 1, &ours);
	at.type = tag == DER_UTCTIME ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME;
	at.length = (int)(size - 1);
	at.data = (unsigned char *)(data + 1);
	at.flags = ASN1_STRING_FLAG_X509_TIME;
	memset(&tm, 0, sizeof(tm));
	b = ASN1_TIME_to_tm(&at, &tm) == 1 ? 0 : -1;
	if (a != b || (a == 0 && ours != timegm(&tm)))
		abort();
	if (a == -1 && ours != 0)
		abort();
	return 0;
}
