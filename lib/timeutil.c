/*
 * Time conversions. See lib/timeutil.h.
 */
#include <stdio.h>
#include <time.h>

#include <openssl/asn1.h>

#include "lib/timeutil.h"

int
time_from_asn1(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	*out = 0;
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

const char *
time_iso8601(int64_t t, char *out, size_t outlen)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outlen, "%lld", (long long)t);
	return out;
}

void
time_deadline(struct timespec *ts, clockid_t clock, long ms)
{
	clock_gettime(clock, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}
