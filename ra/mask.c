/*
 * Masked forms of a subscriber's identifiers, for what outlives the
 * request (audit details, a mail's subject, an auditor's view): enough to
 * tell two apart or recognise one's own, never enough to contact or
 * identify the subscriber (ra/README.md "Masked identifiers"). Each writes
 * a NUL-terminated string that fits outlen (truncated if it does not) and
 * accepts any string; none allocates.
 */
#include <stdio.h>
#include <string.h>

#include "ra/extern.h"

/* What stands for the hidden part of an address's local part (UTF-8 …). */
#define RA_MASK_ELLIPSIS	"\xe2\x80\xa6"

void
ra_mask_nik(const char *nik, char *out, size_t outlen)
{
	size_t len = strlen(nik), i, o = 0;

	if (outlen == 0)
		return;
	/* Every digit but the last four: 3174011508900001 -> ************0001. */
	for (i = 0; i < len && o + 1 < outlen; i++)
		out[o++] = len > 4 && i < len - 4 ? '*' : nik[i];
	if (len <= 4)
		for (o = 0; o < len && o + 1 < outlen; o++)
			out[o] = '*';
	out[o] = '\0';
}

void
ra_mask_phone(const char *phone, char *out, size_t outlen)
{
	size_t len = strlen(phone);

	if (outlen == 0)
		return;
	/*
	 * +6281234564174 -> +62812****4174: the country code and operator
	 * prefix, then the last four digits; always four stars, so the length
	 * is not told either. Shorter than 11: only the last two.
	 */
	if (len >= 11)
		snprintf(out, outlen, "%.6s****%s", phone, phone + len - 4);
	else if (len >= 2)
		snprintf(out, outlen, "****%s", phone + len - 2);
	else
		snprintf(out, outlen, "****");
}

void
ra_mask_email(const char *email, char *out, size_t outlen)
{
	const char *at = strrchr(email, '@');
	size_t keep;

	if (outlen == 0)
		return;
	if (at == NULL) {
		snprintf(out, outlen, "%s", RA_MASK_ELLIPSIS);
		return;
	}
	/*
	 * linda@example.com -> li…@example.com: at most the first two bytes
	 * of the local part, none of a local part that short, and never a
	 * byte of a multibyte character; the domain whole.
	 */
	keep = (size_t)(at - email) > 2 ? 2 : 0;
	if (keep > 0 && ((unsigned char)email[0] >= 0x80 ||
	    (unsigned char)email[1] >= 0x80))
		keep = 0;
	snprintf(out, outlen, "%.*s" RA_MASK_ELLIPSIS "%s", (int)keep, email,
	    at);
}

void
ra_mask_dn(const char *dn, char *out, size_t outlen)
{
	const char *p = dn, *nik;
	size_t o = 0, n, i;

	if (outlen == 0)
		return;
	/*
	 * Each "NIK:<digits>" (a subject's serialNumber, certificate.c) with
	 * all but the last four digits masked; the rest of the DN as it is.
	 */
	while (*p != '\0' && o + 1 < outlen) {
		if (strncmp(p, "NIK:", 4) != 0) {
			out[o++] = *p++;
			continue;
		}
		for (i = 0; i < 4 && o + 1 < outlen; i++)
			out[o++] = *p++;
		nik = p;
		for (n = 0; nik[n] >= '0' && nik[n] <= '9'; n++)
			;
		for (i = 0; i < n && o + 1 < outlen; i++)
			out[o++] = n <= 4 || i < n - 4 ? '*' : nik[i];
		p = nik + n;
	}
	out[o] = '\0';
}
