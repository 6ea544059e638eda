/*
 * The request parsers of the officers' review (review.c): the list query
 * strings and the decision and revocation bodies. Stateless; fuzzed by
 * tests/fuzz/fuzz_ra_review.c. Details never quote a value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "lib/json.h"
#include "lib/text.h"
#include "ra/extern.h"

static int
ra_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes s[0..n) (RFC 3986 §2.1; '+' is a space, as in HTML forms)
 * into out of outlen bytes, NUL-terminated. 0, or -1 when malformed, too
 * long or not text a person reads (text_check: UTF-8 without controls,
 * bidirectional or invisible format characters).
 */
static int
ra_query_decode(const char *s, size_t n, char *out, size_t outlen)
{
	const char *why;
	size_t i, o = 0;
	long cp;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (o + 1 >= outlen)
			return -1;
		if (s[i] == '%') {
			if (n - i < 3 || (hi = ra_hexval(s[i + 1])) == -1 ||
			    (lo = ra_hexval(s[i + 2])) == -1)
				return -1;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '+')
			out[o++] = ' ';
		else
			out[o++] = s[i];
	}
	out[o] = '\0';
	return text_check((const unsigned char *)out, o, 0, &why, &cp);
}

/* A decimal in [min, max] without sign or leading zero. 0 or -1. */
static int
ra_query_long(const char *s, long min, long max, long *out)
{
	long v = 0;
	size_t i, n = strlen(s);

	if (n == 0 || n > 9 || (s[0] == '0' && n > 1))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
ra_one_of(const char *v, const char *const *set)
{
	int i;

	for (i = 0; set[i] != NULL; i++)
		if (strcmp(set[i], v) == 0)
			return 1;
	return 0;
}

int
ra_parse_list_query(const char *qs, int which, struct ra_list_query *r,
    char *detail, size_t detaillen)
{
	static const char *const statuses[] = { "submitted", "approved",
	    "rejected", "agreed", "issued", "cancelled", NULL };
	static const char *const company_statuses[] = { "pending", "active",
	    "rejected", "cancelled", "deactivated", NULL };
	static const char *const revreq_statuses[] = { "pending", "done",
	    "rejected", "moot", NULL };
	static const char *const kinds[] = { "personal", "corporate", "rekey",
	    "rekyc", NULL };
	/*
	 * What rad writes in ra_application.profile: a person's own (the
	 * configured agreement.profile, "personal" here), an employee's, an
	 * e-seal's, a company's registration (kyc.c, corporate.c).
	 */
	static const char *const profiles[] = { "personal", "corporate",
	    "eseal", "company", NULL };
	const char *p, *amp, *eq;
	char key[16], val[RA_REVIEW_Q_MAX * 3 + 1];
	unsigned int seen = 0, bit;
	size_t klen, vlen;

	memset(r, 0, sizeof(*r));
	r->page = 1;
	r->per_page = RA_REVIEW_PER_PAGE_DEF;
	if (strlen(qs) > RA_REVIEW_QUERY_MAX) {
		snprintf(detail, detaillen, "query string longer than %d bytes",
		    RA_REVIEW_QUERY_MAX);
		return -1;
	}
	for (p = qs; *p != '\0'; p = *amp == '\0' ? amp : amp + 1) {
		if ((amp = strchr(p, '&')) == NULL)
			amp = p + strlen(p);
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL) {
			snprintf(detail, detaillen, "query: every parameter is "
			    "name=value (RFC 3986 §3.4)");
			return -1;
		}
		klen = (size_t)(eq - p);
		vlen = (size_t)(amp - eq - 1);
		if (klen == 0 || klen >= sizeof(key)) {
			snprintf(detail, detaillen, "query: unknown parameter");
			return -1;
		}
		memcpy(key, p, klen);
		key[klen] = '\0';
		if (strcmp(key, "q") == 0)
			bit = 1;
		else if (strcmp(key, "page") == 0)
			bit = 2;
		else if (strcmp(key, "per_page") == 0)
			bit = 4;
		else if (which != RA_LIST_CERTIFICATES &&
		    strcmp(key, "status") == 0)
			bit = 8;
		else if (which == RA_LIST_APPLICATIONS &&
		    strcmp(key, "kind") == 0)
			bit = 16;
		else if (which == RA_LIST_APPLICATIONS &&
		    strcmp(key, "profile") == 0)
			bit = 32;
		else if (which == RA_LIST_APPLICATIONS &&
		    strcmp(key, "awaiting") == 0)
			bit = 64;
		else {
			snprintf(detail, detaillen, "query: unknown parameter; "
			    "known: %s", which == RA_LIST_APPLICATIONS ?
			    "status, kind, profile, awaiting, q, page, "
			    "per_page" :
			    which == RA_LIST_COMPANIES || which == RA_LIST_REVREQS ?
			    "status, q, page, per_page" : "q, page, per_page");
			return -1;
		}
		if (seen & bit) {
			snprintf(detail, detaillen, "query: %s given twice", key);
			return -1;
		}
		seen |= bit;
		if (vlen >= sizeof(val) ||
		    ra_query_decode(eq + 1, vlen, val, sizeof(val)) == -1) {
			snprintf(detail, detaillen, "query: %s is not "
			    "percent-encoded UTF-8 text (RFC 3986 §2.1)", key);
			return -1;
		}
		switch (bit) {
		case 1:
			if (strlen(val) > RA_REVIEW_Q_MAX) {
				snprintf(detail, detaillen, "query: q is at most "
				    "%d bytes", RA_REVIEW_Q_MAX);
				return -1;
			}
			memcpy(r->q, val, strlen(val) + 1);
			break;
		case 2:
			if (ra_query_long(val, 1, RA_REVIEW_PAGE_MAX,
			    &r->page) == -1) {
				snprintf(detail, detaillen, "query: page is 1 to "
				    "%d", RA_REVIEW_PAGE_MAX);
				return -1;
			}
			break;
		case 4:
			if (ra_query_long(val, 1, RA_REVIEW_PER_PAGE_MAX,
			    &r->per_page) == -1) {
				snprintf(detail, detaillen, "query: per_page is "
				    "1 to %d", RA_REVIEW_PER_PAGE_MAX);
				return -1;
			}
			break;
		case 8:
			if (which == RA_LIST_COMPANIES &&
			    !ra_one_of(val, company_statuses)) {
				snprintf(detail, detaillen, "query: status is one "
				    "of pending, active, rejected, cancelled, "
				    "deactivated");
				return -1;
			}
			if (which == RA_LIST_REVREQS &&
			    !ra_one_of(val, revreq_statuses)) {
				snprintf(detail, detaillen, "query: status is one "
				    "of pending, done, rejected, moot");
				return -1;
			}
			if (which == RA_LIST_APPLICATIONS &&
			    !ra_one_of(val, statuses)) {
				snprintf(detail, detaillen, "query: status is one "
				    "of submitted, approved, rejected, agreed, "
				    "issued, cancelled");
				return -1;
			}
			memcpy(r->status, val, strlen(val) + 1);
			break;
		case 16:
			if (!ra_one_of(val, kinds)) {
				snprintf(detail, detaillen, "query: kind is one "
				    "of personal, corporate, rekey, rekyc");
				return -1;
			}
			memcpy(r->kind, val, strlen(val) + 1);
			break;
		case 32:
			if (!ra_one_of(val, profiles)) {
				snprintf(detail, detaillen, "query: profile is "
				    "one of personal, corporate, eseal, "
				    "company");
				return -1;
			}
			memcpy(r->profile, val, strlen(val) + 1);
			break;
		default:
			if (strcmp(val, "mine") != 0) {
				snprintf(detail, detaillen, "query: awaiting "
				    "is mine");
				return -1;
			}
			r->awaiting_mine = 1;
			break;
		}
	}
	return 0;
}

/*
 * A string member of 1 to max bytes of text a person reads (text_readable;
 * newlines and tabs allowed).
 */
static int
ra_review_text(json_t *s, const char *name, char *out, size_t max,
    char *detail, size_t detaillen)
{
	const char *v;
	size_t n, i;

	if (!json_is_string(s)) {
		snprintf(detail, detaillen, "%s: a string is required", name);
		return -1;
	}
	v = json_string_value(s);
	n = json_string_length(s);
	for (i = 0; i < n && (v[i] == ' ' || v[i] == '\n' || v[i] == '\t');
	    i++)
		;
	if (i == n || n > max || strlen(v) != n) {
		snprintf(detail, detaillen, "%s: 1 to %zu bytes, not blank, "
		    "no NUL", name, max);
		return -1;
	}
	if (text_readable(name, v, n, 1, detail, detaillen) == -1)
		return -1;
	memcpy(out, v, n + 1);
	return 0;
}

int
ra_parse_decision(const void *body, size_t len, struct ra_decision_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *dec = NULL, *reason = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o, s:o}", "decision", &dec,
	    "reason", &reason) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (!json_is_string(dec) || (strcmp(json_string_value(dec),
	    "approve") != 0 && strcmp(json_string_value(dec), "reject") != 0)) {
		snprintf(detail, detaillen, "decision: \"approve\" or "
		    "\"reject\"");
		goto out;
	}
	r->approve = strcmp(json_string_value(dec), "approve") == 0;
	if (ra_review_text(reason, "reason", r->reason, RA_REVIEW_REASON_MAX,
	    detail, detaillen) == -1)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		memset(r, 0, sizeof(*r));
	return rc;
}

int
ra_parse_reason(const void *body, size_t len,
    char reason[RA_REVIEW_REASON_MAX + 1], char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *r = NULL;
	int rc = -1;

	reason[0] = '\0';
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o}", "reason", &r) == -1)
		snprintf(detail, detaillen, "request object: %s", err.text);
	else if (ra_review_text(r, "reason", reason, RA_REVIEW_REASON_MAX,
	    detail, detaillen) == 0)
		rc = 0;
	json_decref(root);
	if (rc == -1)
		reason[0] = '\0';
	return rc;
}

int
ra_parse_deactivation(const void *body, size_t len,
    struct ra_deactivation_req *r, char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *reason = NULL;
	int revoke = 0, rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o, s?b}", "reason", &reason,
	    "revoke_certificates", &revoke) == -1)
		snprintf(detail, detaillen, "request object: %s", err.text);
	else if (ra_review_text(reason, "reason", r->reason,
	    RA_REVIEW_REASON_MAX, detail, detaillen) == 0) {
		r->revoke_certificates = revoke != 0;
		rc = 0;
	}
	json_decref(root);
	if (rc == -1)
		memset(r, 0, sizeof(*r));
	return rc;
}

/* Strict "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339 §5.6, UTC only). 0 or -1. */
static int
ra_parse_utc(const char *s, time_t *out)
{
	struct tm tm;
	struct ra_date d;
	char date[11];
	int i;

	if (strlen(s) != 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    s[19] != 'Z')
		return -1;
	for (i = 11; i < 19; i++)
		if (i != 13 && i != 16 && (s[i] < '0' || s[i] > '9'))
			return -1;
	memcpy(date, s, 10);
	date[10] = '\0';
	if (ra_date_parse(date, &d) == -1)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = d.year - 1900;
	tm.tm_mon = d.month - 1;
	tm.tm_mday = d.day;
	tm.tm_hour = (s[11] - '0') * 10 + (s[12] - '0');
	tm.tm_min = (s[14] - '0') * 10 + (s[15] - '0');
	tm.tm_sec = (s[17] - '0') * 10 + (s[18] - '0');
	if (tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return -1;
	*out = timegm(&tm);
	return 0;
}

int
ra_parse_revoke(const void *body, size_t len, struct ra_revoke_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *reason = NULL, *comment = NULL, *inv = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o, s:o, s?o}", "reason", &reason,
	    "comment", &comment, "invalidity_date", &inv) == -1) {
		snprintf(detail, detaillen, "request object: %s", err.text);
		goto out;
	}
	if (!json_is_string(reason) || (r->reason = ra_revocation_reason_code(
	    json_string_value(reason))) == -1 || r->reason == 6) {
		snprintf(detail, detaillen, "reason: an RFC 5280 §5.3.1 "
		    "CRLReason name other than certificateHold and "
		    "removeFromCRL");
		goto out;
	}
	snprintf(r->reason_name, sizeof(r->reason_name), "%s",
	    ra_revocation_reason_name(r->reason));
	if (ra_review_text(comment, "comment", r->comment,
	    RA_REVIEW_REASON_MAX, detail, detaillen) == -1)
		goto out;
	if (inv != NULL) {
		if (!json_is_string(inv) || json_string_length(inv) !=
		    sizeof(r->invalidity_date) - 1 ||
		    ra_parse_utc(json_string_value(inv), &r->invalidity) == -1) {
			snprintf(detail, detaillen, "invalidity_date: "
			    "YYYY-MM-DDTHH:MM:SSZ (RFC 3339, UTC)");
			goto out;
		}
		memcpy(r->invalidity_date, json_string_value(inv),
		    sizeof(r->invalidity_date));
	}
	rc = 0;
out:
	json_decref(root);
	if (rc == -1)
		memset(r, 0, sizeof(*r));
	return rc;
}
