/*
 * libFuzzer harness for the conditional-GET headers ocspd reads from
 * clients (RFC 9110 §13; ocsp/request.c): arbitrary bytes as
 *  - an HTTP-date (http_date_parse, which crld's If-Modified-Since uses):
 *    what it takes must come back the same through the IMF-fixdate writer
 *    and parser, and, in IMF-fixdate form, be read alike by lib/http's
 *    http_unmodified_since();
 *  - an If-None-Match value against two answers with one Last-Modified
 *    (a "good" and a "revoked" one dated the same second): a 304 for
 *    either only for "*" or a value holding that answer's own 16 hex
 *    digits, so a client's tag for one never revalidates the other.
 * If-Modified-Since is no input: ocspd ignores it (RFC 9110 §13.1.3) and
 * ocsp_not_modified() does not take it; without If-None-Match there is no
 * 304, checked once at start.
 * Seeds in tests/fixtures/fuzz_ocsp_conditional/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/http.h"
#include "ocsp/extern.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* 2001-09-09T01:46:40Z: Last-Modified "Sun, 09 Sep 2001 01:46:40 GMT". */
#define FUZZ_LM		1000000000
/* 2026-12-05: the RFC 850 two-digit-year window is 1977-2076. */
#define FUZZ_NOW	1796428800

/* Two answers dated FUZZ_LM: "good" and "revoked" (bytes differ). */
static struct ocsp_blob *blob, *other;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Responses of one ENUMERATED: "4247966f3e0e2642", "2acab1228e8935d5". */
	static const unsigned char der[] = { 0x30, 0x03, 0x0a, 0x01, 0x00 };
	static const unsigned char der2[] = { 0x30, 0x03, 0x0a, 0x01, 0x01 };

	if ((blob = ocsp_blob_new(der, sizeof(der), FUZZ_LM, FUZZ_LM + 86400,
	    3600)) == NULL || (other = ocsp_blob_new(der2, sizeof(der2),
	    FUZZ_LM, FUZZ_LM + 86400, 3600)) == NULL)
		abort();
	/* One Last-Modified, two ETags; no If-None-Match, no 304. */
	if (strcmp(blob->last_modified, other->last_modified) != 0 ||
	    strcmp(blob->etag, other->etag) == 0 ||
	    ocsp_not_modified(blob, NULL) || ocsp_not_modified(other, NULL))
		abort();
	return 0;
}

/* The HTTP-date s, read as t, read alike everywhere. */
static void
fuzz_date(const char *s, time_t t)
{
	char imf[64];
	struct tm tm;
	time_t again;

	if (gmtime_r(&t, &tm) == NULL || strftime(imf, sizeof(imf),
	    "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		abort();
	if (http_date_parse(imf, FUZZ_NOW, &again) != 0 || again != t)
		abort();
	if (strcmp(imf, s) == 0 && (!http_unmodified_since(s, t) ||
	    http_unmodified_since(s, t + 1)))
		abort();	/* lib/http reads IMF-fixdate otherwise */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct ocsp_blob *b;
	char *s, hex[17];
	const char *p;
	time_t t;
	int i;

	/* A field value: no NUL in it (libmicrohttpd ends it there). */
	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';

	if (http_date_parse(s, FUZZ_NOW, &t) == 0)
		fuzz_date(s, t);
	else if (t != 0)
		abort();

	/*
	 * If-None-Match: "*", or the answer's own tag in it. Both answers
	 * are dated FUZZ_LM: a value naming the "good" one must not get a
	 * 304 for the "revoked" one.
	 */
	for (p = s; *p == ' ' || *p == '\t'; p++)
		;
	for (i = 0; i < 2; i++) {
		b = i == 0 ? blob : other;
		memcpy(hex, b->etag + 1, 16);
		hex[16] = '\0';
		if (ocsp_not_modified(b, s) && *p != '*' &&
		    strstr(s, hex) == NULL)
			abort();
	}
	free(s);
	return 0;
}
