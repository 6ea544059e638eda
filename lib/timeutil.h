/*
 * Times as our certificates and messages carry them: an ASN1_TIME
 * (UTCTime or GeneralizedTime) as seconds since the epoch, and seconds as
 * ISO 8601 UTC text for logs.
 */
#ifndef PKI_TIMEUTIL_H
#define PKI_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/asn1.h>

/* t as seconds since the epoch into *out; 0, or -1 (*out 0) when t is NULL or does not parse. */
int		 time_from_asn1(const ASN1_TIME *t, int64_t *out);

/* "YYYY-MM-DDTHH:MM:SSZ" fits, with room to spare. */
#define TIME_ISO8601_MAX	32
/* t as "YYYY-MM-DDTHH:MM:SSZ" (the number itself if out of range) into out; returns out. */
const char	*time_iso8601(int64_t t, char *out, size_t outlen);

/* *ts = now on clock plus ms (>= 0): a deadline for the timed waits. */
void		 time_deadline(struct timespec *ts, clockid_t clock, long ms);

#endif
