/*
 * The KYC request parser: untrusted JSON with two base64 images in, a fixed
 * structure and two decoded images out, each of a type its magic bytes say
 * and whose header (image.c) declares a pixel size within policy. Stateless,
 * no database, no I/O: fuzzed by tests/fuzz/fuzz_ra_kyc.c. Details never quote
 * a value (a NIK is personal data; an image is never echoed or logged).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "lib/json.h"
#include "lib/text.h"
#include "ra/extern.h"

#define RA_KYC_SLACK	RA_MAX_BODY	/* the JSON around the two images */
/*
 * The most JSON values (and member names) a KYC body may hold: its ten
 * members and the three consents are about thirty. The body may be
 * megabytes for the two images, and jansson allocates some 40 to 80 bytes
 * for every value however short its text: 5 MiB of "{}," held 400 MiB of
 * rad while they were parsed, only to be refused after (DESIGN.md §5:
 * limits before allocating). The images are two strings, copied once.
 */
#define RA_KYC_VALUES_MAX	256

static const char ra_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 characters for n bytes (RFC 4648 §4, padded). */
static size_t
ra_b64_len(size_t n)
{
	return 4 * ((n + 2) / 3);
}

size_t
ra_kyc_max_body(long image_max)
{
	return 2 * ra_b64_len((size_t)image_max) + RA_KYC_SLACK;
}

size_t
ra_kyc_route_max(const struct ra_policy *p)
{
	return ra_kyc_max_body(p->kyc_image.max_bytes);
}

const char *
ra_image_type(const unsigned char *p, size_t len)
{
	/* JPEG: SOI marker then a marker (ITU-T T.81 B.1.1.2). */
	static const unsigned char jpeg[] = { 0xff, 0xd8, 0xff };
	/* PNG signature (ISO/IEC 15948 §5.2). */
	static const unsigned char png[] = { 0x89, 'P', 'N', 'G', '\r', '\n',
	    0x1a, '\n' };

	if (len >= sizeof(jpeg) && memcmp(p, jpeg, sizeof(jpeg)) == 0)
		return "image/jpeg";
	if (len >= sizeof(png) && memcmp(p, png, sizeof(png)) == 0)
		return "image/png";
	return NULL;
}

int
ra_base64_decode(const char *s, size_t slen, size_t max, unsigned char **out,
    size_t *outlen, int *too_big)
{
	unsigned char *buf = NULL;
	const char *c;
	size_t i, pad = 0, n;
	int got, v, rc = -1;

	*out = NULL;
	*outlen = 0;
	*too_big = 0;
	if (slen == 0 || slen % 4 != 0 || slen > (size_t)RA_IMAGE_HARD_MAX * 2)
		goto out;
	if (s[slen - 1] == '=')
		pad = s[slen - 2] == '=' ? 2 : 1;
	for (i = 0; i < slen - pad; i++) {
		if (s[i] == '\0' || strchr(ra_b64, s[i]) == NULL)
			goto out;
	}
	/* Canonical (RFC 4648 §3.5): the bits the padding drops are zero. */
	if (pad > 0) {
		c = strchr(ra_b64, s[slen - pad - 1]);
		v = (int)(c - ra_b64);
		if ((pad == 1 && (v & 0x03) != 0) || (pad == 2 && (v & 0x0f) != 0))
			goto out;
	}
	n = slen / 4 * 3 - pad;
	if (n > max) {
		*too_big = 1;
		goto out;
	}
	if ((buf = malloc(slen / 4 * 3)) == NULL)
		goto out;
	if ((got = EVP_DecodeBlock(buf, (const unsigned char *)s,
	    (int)slen)) < 0 || (size_t)got != slen / 4 * 3)
		goto out;
	*out = buf;
	*outlen = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	return rc;
}

/*
 * Copies a string member of 1 to max bytes. Allowed bytes: in a name or
 * place, ASCII letters, space, . , ' - (as printed on the e-KTP) with at
 * least one letter and no space at either end; elsewhere any UTF-8 text
 * an officer reads as it is stored (text_readable: no control, no
 * bidirectional or invisible format character).
 */
enum ra_text { RA_TEXT_NAME, RA_TEXT_FREE };

static int
ra_kyc_copy(json_t *s, const char *name, enum ra_text kind, char *out,
    size_t max, char *detail, size_t detaillen)
{
	const unsigned char *p;
	size_t i, n;
	int letter = 0;

	if (!json_is_string(s)) {
		snprintf(detail, detaillen, "%s: must be a string", name);
		return -1;
	}
	n = json_string_length(s);
	p = (const unsigned char *)json_string_value(s);
	if (n == 0 || n > max) {
		snprintf(detail, detaillen, "%s: must have 1 to %zu bytes", name,
		    max);
		return -1;
	}
	if (text_readable(name, p, n, 0, detail, detaillen) == -1)
		return -1;
	for (i = 0; i < n && kind == RA_TEXT_NAME; i++) {
		if ((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z'))
			letter = 1;
		else if (strchr(" .,'-", p[i]) == NULL) {
			snprintf(detail, detaillen, "%s: only letters A-Z, a-z, "
			    "spaces and . , ' - are allowed", name);
			return -1;
		}
	}
	if (kind == RA_TEXT_NAME && (!letter || p[0] == ' ' || p[n - 1] == ' ')) {
		snprintf(detail, detaillen, "%s: needs a letter and no space at "
		    "either end", name);
		return -1;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* A consent: the version string of the document the subscriber accepted. */
static int
ra_kyc_version(json_t *s, const char *name, char out[RA_VERSION_MAX + 1],
    char *detail, size_t detaillen)
{
	size_t n;

	if (!json_is_string(s) || (n = json_string_length(s)) == 0 ||
	    n > RA_VERSION_MAX || strspn(json_string_value(s),
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
	    != n) {
		snprintf(detail, detaillen, "consents.%s: must be the version "
		    "string of the document shown (1 to %d characters of "
		    "A-Z a-z 0-9 . _ -)", name, RA_VERSION_MAX);
		return -1;
	}
	memcpy(out, json_string_value(s), n + 1);
	return 0;
}

/* Decodes and checks one image member; *status on failure. */
static int
ra_kyc_image(json_t *s, const char *name, const struct ra_image_limits *lim,
    struct ra_image *img, int *status, char *detail, size_t detaillen)
{
	long max = lim->max_bytes;
	int too_big;

	*status = 400;
	if (!json_is_string(s)) {
		snprintf(detail, detaillen, "%s: must be a base64 string", name);
		return -1;
	}
	if (json_string_length(s) > ra_b64_len((size_t)max)) {
		*status = 413;
		snprintf(detail, detaillen, "%s: larger than %ld bytes (policy "
		    "kyc.image_max_bytes)", name, max);
		return -1;
	}
	if (ra_base64_decode(json_string_value(s), json_string_length(s),
	    (size_t)max, &img->data, &img->len, &too_big) == -1) {
		if (too_big) {
			*status = 413;
			snprintf(detail, detaillen, "%s: larger than %ld bytes "
			    "(policy kyc.image_max_bytes)", name, max);
		} else
			snprintf(detail, detaillen, "%s: not base64 with padding "
			    "(RFC 4648 §4), no whitespace", name);
		return -1;
	}
	if (img->len < RA_IMAGE_MIN ||
	    (img->mime = ra_image_type(img->data, img->len)) == NULL) {
		*status = 415;
		snprintf(detail, detaillen, "%s: only JPEG or PNG images are "
		    "accepted (checked by their first bytes)", name);
		return -1;
	}
	switch (ra_image_check(img->data, img->len, img->mime, lim, name,
	    &img->width, &img->height, detail, detaillen)) {
	case RA_IMAGE_OK:
		return 0;
	case RA_IMAGE_MALFORMED:
		*status = 415;
		break;
	case RA_IMAGE_DIMENSIONS:
		*status = 422;
		break;
	default:
		*status = 500;
		break;
	}
	return -1;
}

/*
 * An upper bound of the values and member names jansson would allocate for
 * the JSON text p: each but the top-level value follows a '[', ',' or ':'
 * outside a string, each member name a '{' or ',' (RFC 8259 §2, §4, §5), so
 * those are counted, a string's escaped characters skipped (§7). Up to
 * jansson's first error both see the same strings; after it, jansson
 * allocates nothing more. Counts no further than stop + 1.
 */
static size_t
ra_kyc_values(const unsigned char *p, size_t len, size_t stop)
{
	size_t i, n = 0;
	int in = 0;

	for (i = 0; i < len && n <= stop; i++) {
		if (in) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				in = 0;
		} else if (p[i] == '"')
			in = 1;
		else if (p[i] == '[' || p[i] == '{' || p[i] == ',' ||
		    p[i] == ':')
			n++;
	}
	return n;
}

int
ra_parse_kyc(const void *body, size_t len, const struct ra_image_limits *lim,
    struct ra_kyc_req *r, int *status, char *detail, size_t detaillen)
{
	struct ra_nik nik;
	json_error_t err;
	json_t *root, *j_nik = NULL, *j_name = NULL, *j_place = NULL,
	    *j_date = NULL, *j_sex = NULL, *j_addr = NULL, *j_cons = NULL,
	    *j_ktp = NULL, *j_selfie = NULL, *j_pp = NULL, *j_sa = NULL,
	    *j_gp = NULL, *j_company = NULL;	/* corporate.c */
	struct ra_image_limits l = *lim;
	long image_max;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	*status = 400;
	/* Out of range (policy.c refuses it): the hard caps. */
	if (l.max_bytes < 1 || l.max_bytes > RA_IMAGE_HARD_MAX)
		l.max_bytes = RA_IMAGE_HARD_MAX;
	if (l.min_side < 1)
		l.min_side = 1;
	if (l.max_side < 1 || l.max_side > RA_IMAGE_SIDE_HARD_MAX)
		l.max_side = RA_IMAGE_SIDE_HARD_MAX;
	if (l.max_pixels < 1 || l.max_pixels > RA_IMAGE_PIXELS_HARD_MAX)
		l.max_pixels = RA_IMAGE_PIXELS_HARD_MAX;
	image_max = l.max_bytes;
	if (len <= ra_kyc_max_body(image_max) && ra_kyc_values(body, len,
	    RA_KYC_VALUES_MAX) > RA_KYC_VALUES_MAX) {
		snprintf(detail, detaillen, "request object: more than %d JSON "
		    "values; a KYC body is one object of the members named in "
		    "docs/openapi.yaml", RA_KYC_VALUES_MAX);
		return -1;
	}
	if ((root = json_load_bounded(body, len, ra_kyc_max_body(image_max),
	    &err)) == NULL) {
		if (len > ra_kyc_max_body(image_max)) {
			*status = 413;
			snprintf(detail, detaillen, "body larger than two images "
			    "of kyc.image_max_bytes in base64");
		} else if (strstr(err.text, "duplicate object key") != NULL)
			snprintf(detail, detaillen, "duplicate member name in the "
			    "JSON object (RFC 8259 §4: names must be unique)");
		else
			snprintf(detail, detaillen, "malformed JSON (RFC 8259) at "
			    "line %d, column %d, or not an object", err.line,
			    err.column);
		return -1;
	}
	if (json_unpack_strict(root, &err, "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
	    "s:o, s:o, s?o}", "nik", &j_nik, "full_name", &j_name, "birth_place",
	    &j_place, "birth_date", &j_date, "sex", &j_sex, "address", &j_addr,
	    "consents", &j_cons, "ktp_photo", &j_ktp, "selfie",
	    &j_selfie, "company_id", &j_company) == -1 ||
	    (json_is_object(j_cons) && json_unpack_strict(j_cons, &err,
	    "{s:o, s:o, s:o}", "privacy_policy", &j_pp, "subscriber_agreement",
	    &j_sa, "guarantee_policy", &j_gp) == -1)) {
		/* jansson's strict-unpack messages name members, not values. */
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (!json_is_object(j_cons)) {
		snprintf(detail, detaillen, "consents: must be an object with "
		    "privacy_policy, subscriber_agreement, guarantee_policy");
		goto out;
	}
	/* corporate.c: an employee's application names the company. */
	if (ra_company_id_parse(j_company, &r->company_id, detail,
	    detaillen) == -1)
		goto out;
	if (!json_is_string(j_nik) || json_string_length(j_nik) != RA_NIK_LEN) {
		snprintf(detail, detaillen, "nik: must be a string of exactly "
		    "%d digits", RA_NIK_LEN);
		goto out;
	}
	memcpy(r->nik, json_string_value(j_nik), RA_NIK_LEN);
	r->nik[RA_NIK_LEN] = '\0';
	if (ra_nik_parse(r->nik, &nik, detail, detaillen) == -1)
		goto out;
	if (ra_kyc_copy(j_name, "full_name", RA_TEXT_NAME, r->full_name,
	    RA_NAME_MAX, detail, detaillen) == -1 ||
	    ra_kyc_copy(j_place, "birth_place", RA_TEXT_NAME, r->birth_place,
	    RA_PLACE_MAX, detail, detaillen) == -1 ||
	    ra_kyc_copy(j_addr, "address", RA_TEXT_FREE, r->address,
	    RA_ADDRESS_MAX, detail, detaillen) == -1)
		goto out;
	if (!json_is_string(j_date) || json_string_length(j_date) != 10 ||
	    ra_date_parse(json_string_value(j_date), &r->birth) == -1) {
		snprintf(detail, detaillen, "birth_date: must be a real date "
		    "YYYY-MM-DD (RFC 3339 full-date) from 1900 on");
		goto out;
	}
	memcpy(r->birth_date, json_string_value(j_date), 11);
	if (!json_is_string(j_sex) || (strcmp(json_string_value(j_sex),
	    "M") != 0 && strcmp(json_string_value(j_sex), "F") != 0) ||
	    json_string_length(j_sex) != 1) {
		snprintf(detail, detaillen, "sex: must be \"M\" or \"F\"");
		goto out;
	}
	r->sex = json_string_value(j_sex)[0];
	if (ra_kyc_version(j_pp, "privacy_policy", r->privacy_version, detail,
	    detaillen) == -1 ||
	    ra_kyc_version(j_sa, "subscriber_agreement", r->agreement_version,
	    detail, detaillen) == -1 ||
	    ra_kyc_version(j_gp, "guarantee_policy", r->guarantee_version,
	    detail, detaillen) == -1)
		goto out;
	if (ra_kyc_image(j_ktp, "ktp_photo", &l, &r->ktp, status,
	    detail, detaillen) == -1 ||
	    ra_kyc_image(j_selfie, "selfie", &l, &r->selfie, status,
	    detail, detaillen) == -1)
		goto out;
	*status = 0;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

void
ra_kyc_req_free(struct ra_kyc_req *r)
{
	if (r == NULL)
		return;
	free(r->ktp.data);
	free(r->selfie.data);
	memset(r, 0, sizeof(*r));
}
