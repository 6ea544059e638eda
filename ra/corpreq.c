/*
 * The corporate request parsers (ra/README.md "Corporate"): untrusted JSON
 * in, fixed structures out. Stateless, no database, no I/O: fuzzed by
 * tests/fuzz/fuzz_ra_corp.c. Details never quote a value (a factor code or
 * PIN may be among them).
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "lib/json.h"
#include "lib/text.h"
#include "ra/extern.h"

#define RA_CORP_ID_MAX	((1LL << 53) - 1)	/* exact in a JSON number */

/*
 * A text member of min to max bytes an officer reads as it is stored
 * (text_readable: no control, no bidirectional or invisible format
 * character) and no space at either end.
 */
static int
ra_corp_text(json_t *s, const char *name, char *out, size_t min, size_t max,
    char *detail, size_t detaillen)
{
	const unsigned char *p;
	size_t n;

	if (!json_is_string(s)) {
		snprintf(detail, detaillen, "%s: must be a string", name);
		return -1;
	}
	n = json_string_length(s);
	p = (const unsigned char *)json_string_value(s);
	if (n < min || n > max) {
		snprintf(detail, detaillen, "%s: must have %zu to %zu bytes", name,
		    min, max);
		return -1;
	}
	if (text_readable(name, p, n, 0, detail, detaillen) == -1)
		return -1;
	if (n > 0 && (p[0] == ' ' || p[n - 1] == ' ')) {
		snprintf(detail, detaillen, "%s: no space at either end", name);
		return -1;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* Exactly one of the lengths n1, n2 in ASCII digits, not all zero. */
static int
ra_corp_digits(json_t *s, const char *name, char *out, size_t n1, size_t n2,
    char *detail, size_t detaillen)
{
	const char *v;
	size_t n;

	if (!json_is_string(s))
		goto bad;
	v = json_string_value(s);
	n = json_string_length(s);
	if ((n != n1 && n != n2) || strspn(v, "0123456789") != n ||
	    strspn(v, "0") == n)
		goto bad;
	memcpy(out, v, n + 1);
	return 0;
bad:
	if (n1 == n2)
		snprintf(detail, detaillen, "%s: must be a string of %zu digits "
		    "0-9, not all zero", name, n1);
	else
		snprintf(detail, detaillen, "%s: must be a string of %zu or %zu "
		    "digits 0-9 without separators, not all zero", name, n1, n2);
	return -1;
}

int
ra_sysadmin_email_check(char *email, char *detail, size_t detaillen)
{
	static const char *const gov[] = { "go.id", "mil.id" };
	const char *dom;
	size_t i, n, g;

	if (ra_email_check(email, detail, detaillen) == -1)
		return -1;
	dom = strchr(email, '@') + 1;
	n = strlen(dom);
	for (i = 0; i < sizeof(gov) / sizeof(gov[0]); i++) {
		g = strlen(gov[i]);
		if ((n == g && strcmp(dom, gov[i]) == 0) || (n > g &&
		    strcmp(dom + n - g, gov[i]) == 0 && dom[n - g - 1] == '.')) {
			snprintf(detail, detaillen, "sysadmin_email: a government "
			    "domain (.go.id, .mil.id) is not allowed for a "
			    "company's sysadmin");
			return -1;
		}
	}
	return 0;
}

int
ra_parse_corporate(const void *body, size_t len, struct ra_corporate_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *name = NULL, *nib = NULL, *npwp = NULL, *deed = NULL,
	    *date = NULL, *decree = NULL, *email = NULL;
	const char *v;
	size_t i;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "company_name", &name, "nib", &nib, "npwp", &npwp, "deed_number",
	    &deed, "deed_date", &date, "decree_number", &decree,
	    "sysadmin_email", &email) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (ra_corp_text(name, "company_name", r->company_name, 1,
	    RA_COMPANY_NAME_MAX, detail, detaillen) == -1 ||
	    ra_corp_digits(nib, "nib", r->nib, 13, 13, detail, detaillen) == -1 ||
	    ra_corp_digits(npwp, "npwp", r->npwp, 15, 16, detail,
	    detaillen) == -1 ||
	    ra_corp_text(deed, "deed_number", r->deed_number, 1, RA_DEED_MAX,
	    detail, detaillen) == -1)
		goto out;
	if (!json_is_string(date) || json_string_length(date) != 10 ||
	    ra_date_parse(json_string_value(date), &r->deed) == -1) {
		snprintf(detail, detaillen, "deed_date: must be a real date "
		    "YYYY-MM-DD (RFC 3339 full-date) from 1900 on");
		goto out;
	}
	memcpy(r->deed_date, json_string_value(date), 11);
	/* AHU-<number>.AH.01.01.Tahun <year>: letters, digits, . - / space. */
	if (ra_corp_text(decree, "decree_number", r->decree_number, 5,
	    RA_DECREE_MAX, detail, detaillen) == -1)
		goto out;
	v = r->decree_number;
	for (i = 0; v[i] != '\0'; i++)
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789.-/ ", v[i]) == NULL)
			break;
	if (strncmp(v, "AHU-", 4) != 0 || v[i] != '\0' || v[4] < '0' ||
	    v[4] > '9') {
		snprintf(detail, detaillen, "decree_number: must be the Ministry "
		    "of Law's decree number, AHU- then a digit (letters, digits, "
		    ". - / and spaces)");
		goto out;
	}
	if (!json_is_string(email) || json_string_length(email) == 0 ||
	    json_string_length(email) > RA_EMAIL_MAX) {
		snprintf(detail, detaillen, "sysadmin_email: must be a string of "
		    "1 to %d bytes", RA_EMAIL_MAX);
		goto out;
	}
	memcpy(r->sysadmin_email, json_string_value(email),
	    json_string_length(email) + 1);
	if (ra_sysadmin_email_check(r->sysadmin_email, detail, detaillen) == -1)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		memset(r, 0, sizeof(*r));
	return rc;
}

int
ra_parse_enrol(const void *body, size_t len, struct ra_enrol_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *email = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o}", "email", &email) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (!json_is_string(email) || json_string_length(email) == 0 ||
	    json_string_length(email) > RA_EMAIL_MAX) {
		snprintf(detail, detaillen, "email: must be a string of 1 to %d "
		    "bytes", RA_EMAIL_MAX);
		goto out;
	}
	memcpy(r->email, json_string_value(email), json_string_length(email) + 1);
	if (ra_email_check(r->email, detail, detaillen) == -1)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		memset(r, 0, sizeof(*r));
	return rc;
}

int
ra_parse_eseal(const void *body, size_t len, struct ra_eseal_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *name = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o}", "name", &name) == -1)
		snprintf(detail, detaillen, "request object: %s", err.text);
	else if (ra_corp_text(name, "name", r->name, 1, RA_ESEAL_NAME_MAX,
	    detail, detaillen) == 0)
		rc = 0;
	json_decref(root);
	if (rc == -1)
		memset(r, 0, sizeof(*r));
	return rc;
}

static const struct {
	const char	*name;
	int		 code;		/* RFC 5280 §5.3.1 */
} ra_revreq_reasons[] = {
	{ "unspecified", 0 },
	{ "affiliationChanged", 3 },
	{ "cessationOfOperation", 5 },
	{ "privilegeWithdrawn", 9 },
};

int
ra_revreq_reason_code(const char *reason)
{
	size_t i;

	for (i = 0; i < sizeof(ra_revreq_reasons) /
	    sizeof(ra_revreq_reasons[0]); i++)
		if (strcmp(reason, ra_revreq_reasons[i].name) == 0)
			return ra_revreq_reasons[i].code;
	return -1;
}

/*
 * The member name: a reason a company may ask the officers to revoke for
 * (RFC 5280 §5.3.1, ra_revreq_reasons), copied into out[outlen]. 0, or -1
 * with detail.
 */
static int
ra_corp_reason(json_t *reason, const char *name, char *out, size_t outlen,
    char *detail, size_t detaillen)
{
	if (!json_is_string(reason) || json_string_length(reason) >= outlen ||
	    ra_revreq_reason_code(json_string_value(reason)) == -1) {
		snprintf(detail, detaillen, "%s: must be one of unspecified, "
		    "affiliationChanged, cessationOfOperation, privilegeWithdrawn "
		    "(RFC 5280 §5.3.1)", name);
		return -1;
	}
	memcpy(out, json_string_value(reason), json_string_length(reason) + 1);
	return 0;
}

static int
ra_corp_id(json_t *o, const char *name, long long *out, char *detail,
    size_t detaillen)
{
	if (!json_is_integer(o) || json_integer_value(o) < 1 ||
	    json_integer_value(o) > RA_CORP_ID_MAX) {
		snprintf(detail, detaillen, "%s: must be a positive integer",
		    name);
		return -1;
	}
	*out = (long long)json_integer_value(o);
	return 0;
}

int
ra_company_id_parse(json_t *o, long long *out, char *detail, size_t detaillen)
{
	*out = 0;
	if (o == NULL)
		return 0;
	return ra_corp_id(o, "company_id", out, detail, detaillen);
}

int
ra_parse_revreq(const void *body, size_t len, struct ra_revreq_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *cert = NULL, *reason = NULL, *comment = NULL,
	    *factor = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o, s:o, s?o, s:o}",
	    "certificate_id", &cert, "reason", &reason, "comment", &comment,
	    "factor", &factor) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (ra_corp_id(cert, "certificate_id", &r->certificate_id, detail,
	    detaillen) == -1)
		goto out;
	if (ra_corp_reason(reason, "reason", r->reason, sizeof(r->reason),
	    detail, detaillen) == -1)
		goto out;
	if (comment != NULL && ra_corp_text(comment, "comment", r->comment, 0,
	    RA_COMMENT_MAX, detail, detaillen) == -1)
		goto out;
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
ra_parse_removal(const void *body, size_t len, struct ra_removal_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *reason = NULL, *comment = NULL, *factor = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s?o, s?o, s:o}",
	    "revocation_reason", &reason, "comment", &comment, "factor",
	    &factor) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (reason == NULL)
		snprintf(r->revocation_reason, sizeof(r->revocation_reason),
		    "affiliationChanged");
	else if (ra_corp_reason(reason, "revocation_reason",
	    r->revocation_reason, sizeof(r->revocation_reason), detail,
	    detaillen) == -1)
		goto out;
	if (comment != NULL && ra_corp_text(comment, "comment", r->comment, 0,
	    RA_COMMENT_MAX, detail, detaillen) == -1)
		goto out;
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
ra_parse_revdecide(const void *body, size_t len, struct ra_revdecide_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *decision = NULL, *text = NULL;
	const char *d;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o, s?o}", "decision", &decision,
	    "reason_text", &text) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	d = json_is_string(decision) ? json_string_value(decision) : "";
	if (strcmp(d, "revoke") == 0 && json_string_length(decision) == 6)
		r->revoke = 1;
	else if (strcmp(d, "reject") != 0 || json_string_length(decision) != 6) {
		snprintf(detail, detaillen, "decision: must be revoke or reject");
		goto out;
	}
	if (text != NULL && ra_corp_text(text, "reason_text", r->reason_text,
	    1, RA_DECISION_MAX, detail, detaillen) == -1)
		goto out;
	if (!r->revoke && r->reason_text[0] == '\0') {
		snprintf(detail, detaillen, "reason_text: required to reject");
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		memset(r, 0, sizeof(*r));
	return rc;
}
