/*
 * A small DER writer (X.690 §8.1, §10): definite lengths in the fewest
 * octets, single-octet identifiers; and one reader, of UTCTime and
 * GeneralizedTime values (RFC 5280 §4.1.2.5). See lib/der.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/der.h"

#define DER_MIN_CAP	256

void
der_init(struct der *d)
{
	memset(d, 0, sizeof(*d));
}

void
der_reset(struct der *d)
{
	d->len = 0;
	d->depth = 0;
	d->failed = 0;
}

void
der_free(struct der *d)
{
	if (d == NULL)
		return;
	free(d->buf);
	der_init(d);
}

int
der_failed(const struct der *d)
{
	return d->failed != 0;
}

/* Makes room for n more octets; 0, or -1 (and failed) when it cannot. */
static int
der_reserve(struct der *d, size_t n)
{
	unsigned char *nb;
	size_t ncap;

	if (d->failed)
		return -1;
	if (n > DER_MAX_LEN || d->len > DER_MAX_LEN) {
		d->failed = 1;
		return -1;
	}
	if (d->len + n <= d->cap)
		return 0;
	ncap = d->cap < DER_MIN_CAP ? DER_MIN_CAP : d->cap;
	while (ncap < d->len + n)
		ncap *= 2;
	if ((nb = realloc(d->buf, ncap)) == NULL) {
		d->failed = 1;
		return -1;
	}
	d->buf = nb;
	d->cap = ncap;
	return 0;
}

size_t
der_header_len(size_t len)
{
	if (len < 0x80)
		return 2;
	if (len <= 0xff)
		return 3;
	if (len <= 0xffff)
		return 4;
	if (len <= DER_MAX_LEN)
		return 5;
	return 0;
}

/* X.690 §8.1.2.2: tag numbers 0 to 30 in one octet; 31 means more follow. */
static int
der_tag_ok(unsigned int tag)
{
	return tag <= 0xff && (tag & 0x1f) != 0x1f;
}

size_t
der_put_header(unsigned char *out, unsigned int tag, size_t len)
{
	size_t n, i;

	if (!der_tag_ok(tag) || (n = der_header_len(len)) == 0)
		return 0;
	out[0] = (unsigned char)tag;
	if (n == 2) {
		out[1] = (unsigned char)len;	/* §8.1.3.4: short form */
		return 2;
	}
	/* §8.1.3.5 and §10.1: long form in the fewest octets. */
	out[1] = (unsigned char)(0x80 | (n - 2));
	for (i = n - 1; i >= 2; i--) {
		out[i] = (unsigned char)(len & 0xff);
		len >>= 8;
	}
	return n;
}

void
der_begin(struct der *d, unsigned int tag)
{
	if (d->failed)
		return;
	if (d->depth == DER_MAX_DEPTH || !der_tag_ok(tag) ||
	    (tag & 0x20) == 0) {
		d->failed = 1;
		return;
	}
	if (der_reserve(d, 2) == -1)
		return;
	/* One length octet for now; der_end() makes room for more. */
	d->buf[d->len++] = (unsigned char)tag;
	d->buf[d->len++] = 0;
	d->open[d->depth++] = d->len;
}

void
der_end(struct der *d)
{
	unsigned char hdr[8];
	size_t start, clen, n;

	if (d->failed)
		return;
	if (d->depth == 0) {
		d->failed = 1;
		return;
	}
	start = d->open[--d->depth];
	clen = d->len - start;
	if ((n = der_put_header(hdr, d->buf[start - 2], clen)) == 0) {
		d->failed = 1;
		return;
	}
	if (n > 2) {
		if (der_reserve(d, n - 2) == -1)
			return;
		memmove(d->buf + start + n - 2, d->buf + start, clen);
		d->len += n - 2;
	}
	memcpy(d->buf + start - 2, hdr, n);
}

void
der_raw(struct der *d, const void *der, size_t len)
{
	if (der_reserve(d, len) == -1)
		return;
	if (len > 0)
		memcpy(d->buf + d->len, der, len);
	d->len += len;
}

void
der_tlv(struct der *d, unsigned int tag, const void *content, size_t len)
{
	size_t n;

	if (der_reserve(d, len + 5) == -1)
		return;
	if ((n = der_put_header(d->buf + d->len, tag, len)) == 0) {
		d->failed = 1;
		return;
	}
	d->len += n;
	if (len > 0)
		memcpy(d->buf + d->len, content, len);
	d->len += len;
}

void
der_uint(struct der *d, unsigned int tag, const unsigned char *mag, size_t len)
{
	size_t n;

	/* X.690 §8.3.2: no redundant leading octets. */
	while (len > 1 && mag[0] == 0) {
		mag++;
		len--;
	}
	if (len == 0 || (mag[0] & 0x80) == 0) {
		if (len == 0)
			der_tlv(d, tag, "", 1);
		else
			der_tlv(d, tag, mag, len);
		return;
	}
	/* High bit set: a leading 0x00 keeps the value positive (§8.3.3). */
	if (len > DER_MAX_LEN - 1 || der_reserve(d, len + 6) == -1) {
		d->failed = 1;
		return;
	}
	if ((n = der_put_header(d->buf + d->len, tag, len + 1)) == 0) {
		d->failed = 1;
		return;
	}
	d->len += n;
	d->buf[d->len++] = 0;
	memcpy(d->buf + d->len, mag, len);
	d->len += len;
}

void
der_small_uint(struct der *d, unsigned int tag, uint32_t v)
{
	unsigned char mag[4];

	mag[0] = (unsigned char)(v >> 24);
	mag[1] = (unsigned char)(v >> 16);
	mag[2] = (unsigned char)(v >> 8);
	mag[3] = (unsigned char)v;
	der_uint(d, tag, mag, sizeof(mag));
}

/* Two ASCII digits at p, already checked to be digits. */
static int
der_2digits(const unsigned char *p)
{
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/*
 * Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H.
 * Hinnant's days_from_civil): plain arithmetic, so no timegm() with its
 * normalising of out-of-range fields, and no overflow up to year 9999.
 */
static int64_t
der_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
der_get_time(unsigned int tag, const unsigned char *v, size_t len,
    time_t *out)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	size_t i, ny;
	int year, mon, day, hour, min, sec, leap;
	int64_t t;

	*out = 0;
	if (tag == DER_UTCTIME)
		ny = 2;
	else if (tag == DER_GENERALIZEDTIME)
		ny = 4;
	else
		return -1;
	/* RFC 5280 §4.1.2.5.1, §4.1.2.5.2: seconds, 'Z', nothing else. */
	if (len != ny + 11 || v[len - 1] != 'Z')
		return -1;
	for (i = 0; i < len - 1; i++)
		if (v[i] < '0' || v[i] > '9')
			return -1;
	if (ny == 2) {
		year = der_2digits(v);
		year += year >= 50 ? 1900 : 2000;	/* §4.1.2.5.1 */
	} else
		year = der_2digits(v) * 100 + der_2digits(v + 2);
	mon = der_2digits(v + ny);
	day = der_2digits(v + ny + 2);
	hour = der_2digits(v + ny + 4);
	min = der_2digits(v + ny + 6);
	sec = der_2digits(v + ny + 8);
	if (mon < 1 || mon > 12 || hour > 23 || min > 59 || sec > 59)
		return -1;
	leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (day < 1 || day > mdays[mon - 1] + (mon == 2 && leap))
		return -1;
	t = der_days_from_civil(year, mon, day) * 86400 +
	    (int64_t)hour * 3600 + min * 60 + sec;
	/* A narrower time_t cannot hold every year up to 9999. */
	if ((int64_t)(time_t)t != t)
		return -1;
	*out = (time_t)t;
	return 0;
}
