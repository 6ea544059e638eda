/*
 * libFuzzer harness for the conditional-GET headers ocspd reads from
 * clients (RFC 9110 §13; ocsp/request.c): arbitrary bytes as
 *  - an HTTP-date (http_date_parse): what it takes must come back the
 *    same through the IMF-fixdate writer and parser, and, in IMF-fixdate
 *    form, be read alike by lib/http's http_unmodified_since();
 *  - an If-None-Match value against a blob's ETag: a 304 only for "*" or
 *    a value holding the tag's 16 hex digits;
 *  - an If-Modified-Since value: a 304 only for an HTTP-date not earlier
 *    than the blob's Last-Modified, and never for a blob whose
 *    Last-Modified is not a strong validator (lm_strong 0);
 *  - "If-None-Match\nIf-Modified-Since": the first alone decides.
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

static struct ocsp_blob *blob;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* An OCSPResponse of one ENUMERATED: ETag "4247966f3e0e2642". */
	static const unsigned char der[] = { 0x30, 0x03, 0x0a, 0x01, 0x00 };

	if ((blob = ocsp_blob_new(der, sizeof(der), FUZZ_LM, FUZZ_LM + 86400,
	    3600)) == NULL)
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
	char *s, *nl, hex[17];
	const char *p;
	time_t t;
	int got;

	/* A field value: no NUL in it (libmicrohttpd ends it there). */
	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';

	if (http_date_parse(s, FUZZ_NOW, &t) == 0)
		fuzz_date(s, t);
	else if (t != 0)
		abort();

	/* If-None-Match: "*", or our tag in it. */
	memcpy(hex, blob->etag + 1, 16);
	hex[16] = '\0';
	if (ocsp_not_modified(blob, s, NULL, FUZZ_NOW)) {
		for (p = s; *p == ' ' || *p == '\t'; p++)
			;
		if (*p != '*' && strstr(s, hex) == NULL)
			abort();
	}

	/* If-Modified-Since: a date at or after Last-Modified, if strong. */
	blob->lm_strong = 1;
	got = ocsp_not_modified(blob, NULL, s, FUZZ_NOW);
	if (got != (http_date_parse(s, FUZZ_NOW, &t) == 0 &&
	    t >= FUZZ_LM))
		abort();
	blob->lm_strong = 0;
	if (ocsp_not_modified(blob, NULL, s, FUZZ_NOW))
		abort();
	blob->lm_strong = 1;

	/* Both: If-None-Match decides alone (RFC 9110 §13.2.2). */
	if ((nl = strchr(s, '\n')) != NULL) {
		*nl = '\0';
		if (ocsp_not_modified(blob, s, nl + 1, FUZZ_NOW) !=
		    ocsp_not_modified(blob, s, NULL, FUZZ_NOW))
			abort();
	}
	free(s);
	return 0;
}
