/*
 * The certificate requests of subscribers, the stateless part: the bodies of
 * POST /v1/applications/{id}/agreement, /v1/certificates/{id}/revoke and
 * /v1/certificates/{id}/rekey, the revocation reasons a subscriber may give
 * (RFC 5280 §5.3.1), and the RFC 2253 string of an application's subject
 * (attribute → value JSON, as issuance_order.subject), in the order cad
 * builds the name. No database, no I/O: fuzzed by tests/fuzz/fuzz_ra_cert.c.
 * Details never quote a value (a factor holds a code or a PIN).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "lib/json.h"
#include "ra/extern.h"

/* cad's RDN order (ca/worker/lint.c lint_rdn_order), first to last. */
static const char *const ra_rdn_order[] = {
	"C", "ST", "L", "O", "OU", "organizationIdentifier", "serialNumber",
	"CN", "emailAddress",
};
#define RA_NRDN	(sizeof(ra_rdn_order) / sizeof(ra_rdn_order[0]))

int
ra_parse_agree(const void *body, size_t len, struct ra_agree_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *factor = NULL;
	const char *terms = NULL;
	int accept = 0, rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:b, s:s, s:o}", "accept",
	    &accept, "terms", &terms, "factor", &factor) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (!accept) {
		snprintf(detail, detaillen, "accept: must be true to agree; "
		    "nothing happens otherwise");
		goto out;
	}
	if (strlen(terms) != sizeof(r->terms) - 1 ||
	    strspn(terms, "0123456789abcdef") != sizeof(r->terms) - 1) {
		snprintf(detail, detaillen, "terms: the agreement preview's "
		    "terms (GET /v1/applications/{id}/agreement), 64 lowercase "
		    "hexadecimal digits");
		goto out;
	}
	memcpy(r->terms, terms, sizeof(r->terms));
	if (ra_factor_parse(factor, &r->factor, detail, detaillen) == -1)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}

int
ra_revocation_reason(const char *name)
{
	if (strcmp(name, "unspecified") == 0)
		return 0;
	if (strcmp(name, "privilegeWithdrawn") == 0)
		return 9;
	return -1;
}

int
ra_parse_self_revoke(const void *body, size_t len,
    struct ra_self_revoke_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *factor = NULL;
	const char *reason = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:s, s:o}", "reason", &reason,
	    "factor", &factor) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if ((r->reason = ra_revocation_reason(reason)) == -1) {
		snprintf(detail, detaillen, "reason: a subscriber may revoke "
		    "with \"unspecified\" (0) or \"privilegeWithdrawn\" (9) only "
		    "(RFC 5280 §5.3.1); other reasons are an officer's");
		goto out;
	}
	if (ra_factor_parse(factor, &r->factor, detail, detaillen) == -1)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}

int
ra_parse_rekey(const void *body, size_t len, struct factor *f,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *factor = NULL;
	int rc = -1;

	memset(f, 0, sizeof(*f));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o}", "factor", &factor) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (ra_factor_parse(factor, f, detail, detaillen) == -1)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		ra_wipe(f, sizeof(*f));
	return rc;
}

/* Appends s to out (of outlen, used *off), RFC 2253 §2.4 escaped. 0 or -1. */
static int
ra_dn_append(char *out, size_t outlen, size_t *off, const char *s, int value)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	size_t n = strlen(s), i;
	unsigned char c;

	for (i = 0, p = (const unsigned char *)s; i < n; i++) {
		c = p[i];
		if (*off + 4 >= outlen)
			return -1;
		if (!value)
			out[(*off)++] = (char)c;
		else if (c < 0x20 || c >= 0x7f) {
			/* OpenSSL's ASN1_STRFLGS_ESC_CTRL/ESC_MSB: \XX. */
			out[(*off)++] = '\\';
			out[(*off)++] = hex[c >> 4];
			out[(*off)++] = hex[c & 0xf];
		} else if (strchr(",+\"\\<>;", c) != NULL ||
		    ((i == 0) && (c == ' ' || c == '#')) ||
		    (i == n - 1 && c == ' ')) {
			out[(*off)++] = '\\';
			out[(*off)++] = (char)c;
		} else
			out[(*off)++] = (char)c;
	}
	out[*off] = '\0';
	return 0;
}

int
ra_subject_dn(const char *subject_json, size_t len, char *out, size_t outlen)
{
	json_error_t err;
	json_t *root = NULL, *v;
	const char *key;
	size_t off = 0, i, known;
	int rc = -1;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	if ((root = json_load_bounded(subject_json, len, RA_MAX_BODY,
	    &err)) == NULL)
		goto out;
	/* Only known attributes, each a non-empty string without NUL. */
	json_object_foreach(root, key, v) {
		for (known = 0, i = 0; i < RA_NRDN; i++)
			if (strcmp(key, ra_rdn_order[i]) == 0)
				known = 1;
		if (!known || !json_is_string(v) || json_string_length(v) == 0 ||
		    strlen(json_string_value(v)) != json_string_length(v))
			goto out;
	}
	/* RFC 2253 §2.1: the last RDN of the sequence comes first. */
	for (i = RA_NRDN; i-- > 0;) {
		if ((v = json_object_get(root, ra_rdn_order[i])) == NULL)
			continue;
		if ((off > 0 && ra_dn_append(out, outlen, &off, ",", 0) == -1) ||
		    ra_dn_append(out, outlen, &off, ra_rdn_order[i], 0) == -1 ||
		    ra_dn_append(out, outlen, &off, "=", 0) == -1 ||
		    ra_dn_append(out, outlen, &off, json_string_value(v),
		    1) == -1)
			goto out;
	}
	if (off == 0)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		out[0] = '\0';
	json_decref(root);
	return rc;
}
