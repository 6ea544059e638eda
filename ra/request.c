/*
 * The RA's request parsers and field rules: untrusted JSON in, fixed-size
 * structures out. Stateless, no database, no I/O: fuzzed by
 * tests/fuzz/fuzz_ra_request.c. Details returned to the client never quote
 * a value, since it may be a password or a token.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "lib/json.h"
#include "ra/extern.h"

void
ra_wipe(void *p, size_t len)
{
	explicit_bzero(p, len);
}

void
ra_json_wipe(json_t *s)
{
	if (s != NULL && json_is_string(s))
		ra_wipe((char *)json_string_value(s), json_string_length(s));
}

json_t *
ra_json_load(const void *body, size_t len, char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root;

	/* jansson's message is not passed on: it may quote a secret. */
	if ((root = json_load_bounded(body, len, RA_MAX_BODY, &err)) != NULL &&
	    json_is_object(root))
		return root;
	json_decref(root);
	if (strstr(err.text, "duplicate object key") != NULL)
		snprintf(detail, detaillen, "duplicate member name in the JSON "
		    "object (RFC 8259 §4: names must be unique)");
	else if (len == 0)
		snprintf(detail, detaillen, "empty body: a JSON object is "
		    "required");
	else
		snprintf(detail, detaillen, "malformed JSON (RFC 8259) at line "
		    "%d, column %d, or not an object", err.line, err.column);
	return NULL;
}

int
ra_json_string(json_t *s, const char *name, char *out, size_t max,
    char *detail, size_t detaillen)
{
	size_t n;

	if (!json_is_string(s)) {
		snprintf(detail, detaillen, "%s: must be a string", name);
		return -1;
	}
	n = json_string_length(s);
	if (strlen(json_string_value(s)) != n) {
		snprintf(detail, detaillen, "%s: must not contain NUL", name);
		return -1;
	}
	if (n == 0) {
		snprintf(detail, detaillen, "%s: must not be empty", name);
		return -1;
	}
	if (n > max) {
		snprintf(detail, detaillen, "%s: longer than %zu bytes", name, max);
		return -1;
	}
	memcpy(out, json_string_value(s), n);
	out[n] = '\0';
	return 0;
}

/* jansson's strict-unpack messages name members and types, never values. */
static void
ra_unpack_detail(const json_error_t *err, char *detail, size_t detaillen)
{
	snprintf(detail, detaillen, "request object: %s", err->text);
}

int
ra_parse_empty(const void *body, size_t len, char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root;
	int rc = -1;

	if (len == 0)
		return 0;
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	/* Strict: any member is one too many (jansson names it). */
	if (json_unpack_strict(root, &err, "{}") == -1)
		ra_unpack_detail(&err, detail, detaillen);
	else
		rc = 0;
	json_decref(root);
	return rc;
}

int
ra_parse_register(const void *body, size_t len, struct ra_register_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *email = NULL, *phone = NULL, *pw = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o, s:o, s:o}", "email", &email,
	    "phone", &phone, "password", &pw) == -1) {
		ra_unpack_detail(&err, detail, detaillen);
		goto out;
	}
	if (!json_is_string(email) || !json_is_string(phone) ||
	    !json_is_string(pw)) {
		snprintf(detail, detaillen, "email, phone and password must be "
		    "strings");
		goto out;
	}
	if (ra_json_string(email, "email", r->email, RA_EMAIL_MAX, detail,
	    detaillen) == -1 ||
	    ra_json_string(phone, "phone", r->phone, RA_PHONE_MAX, detail,
	    detaillen) == -1 ||
	    ra_json_string(pw, "password", r->password, RA_PASSWORD_MAX, detail,
	    detaillen) == -1)
		goto out;
	if (ra_email_check(r->email, detail, detaillen) == -1 ||
	    ra_phone_check(r->phone, detail, detaillen) == -1)
		goto out;
	rc = 0;
out:
	ra_json_wipe(pw);
	json_decref(root);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}

int
ra_parse_login(const void *body, size_t len, struct ra_login_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *email = NULL, *pw = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o, s:o}", "email", &email,
	    "password", &pw) == -1) {
		ra_unpack_detail(&err, detail, detaillen);
		goto out;
	}
	if (!json_is_string(email) || !json_is_string(pw)) {
		snprintf(detail, detaillen, "email and password must be strings");
		goto out;
	}
	if (ra_json_string(email, "email", r->email, RA_EMAIL_MAX, detail,
	    detaillen) == -1 ||
	    ra_json_string(pw, "password", r->password, RA_PASSWORD_MAX, detail,
	    detaillen) == -1)
		goto out;
	if (ra_email_check(r->email, detail, detaillen) == -1)
		goto out;
	rc = 0;
out:
	ra_json_wipe(pw);
	json_decref(root);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}

int
ra_parse_token(const void *body, size_t len, struct ra_token_req *r,
    char *detail, size_t detaillen)
{
	json_error_t err;
	json_t *root, *tok = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if ((root = ra_json_load(body, len, detail, detaillen)) == NULL)
		return -1;
	if (json_unpack_strict(root, &err, "{s:o}", "token", &tok) == -1) {
		ra_unpack_detail(&err, detail, detaillen);
		goto out;
	}
	if (!json_is_string(tok) || json_string_length(tok) !=
	    RA_TOKEN_B64_LEN || ra_token_decode(json_string_value(tok),
	    r->token) == -1) {
		snprintf(detail, detaillen, "token: must be %d base64url "
		    "characters (RFC 4648 §5)", RA_TOKEN_B64_LEN);
		goto out;
	}
	rc = 0;
out:
	ra_json_wipe(tok);
	json_decref(root);
	if (rc == -1)
		ra_wipe(r, sizeof(*r));
	return rc;
}

/*
 * A practical subset of RFC 5321 §4.1.2 Mailbox: a dot-atom local part of
 * at most 64 octets (§4.5.3.1.1), '@', and a domain of at least two LDH
 * labels (RFC 1035 §2.3.1) of at most 63 octets each.
 */
int
ra_email_check(char *email, char *detail, size_t detaillen)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
	char *at, *p, *label;
	size_t len = strlen(email), n;
	int nlabels = 0;

	if (len > RA_EMAIL_MAX || (at = strchr(email, '@')) == NULL ||
	    strchr(at + 1, '@') != NULL) {
		snprintf(detail, detaillen, "email: must be one address "
		    "local-part@domain (RFC 5321 §4.1.2)");
		return -1;
	}
	n = (size_t)(at - email);
	if (n == 0 || n > 64 || email[0] == '.' || at[-1] == '.') {
		snprintf(detail, detaillen, "email: local part must have 1-64 "
		    "characters and not start or end with '.' (RFC 5321 §4.5.3.1.1)");
		return -1;
	}
	for (p = email; p < at; p++) {
		if ((!isascii((unsigned char)*p) || !isalnum((unsigned char)*p)) &&
		    strchr(atext, *p) == NULL && *p != '.') {
			snprintf(detail, detaillen, "email: local part has a "
			    "character outside RFC 5322 §3.2.3 atext");
			return -1;
		}
		if (p[0] == '.' && p[1] == '.') {
			snprintf(detail, detaillen, "email: local part has "
			    "consecutive dots (RFC 5322 §3.2.3)");
			return -1;
		}
	}
	label = at + 1;
	if (strlen(label) > 253) {
		snprintf(detail, detaillen, "email: domain longer than 253 "
		    "characters");
		return -1;
	}
	for (;;) {
		for (p = label; *p != '\0' && *p != '.'; p++) {
			if (!isascii((unsigned char)*p) ||
			    (!isalnum((unsigned char)*p) && *p != '-'))
				break;
		}
		n = (size_t)(p - label);
		if ((*p != '\0' && *p != '.') || n == 0 || n > 63 ||
		    label[0] == '-' || p[-1] == '-') {
			snprintf(detail, detaillen, "email: the domain must be "
			    "dot-separated labels of letters, digits and '-', "
			    "1-63 characters each (RFC 1035 §2.3.1)");
			return -1;
		}
		nlabels++;
		if (*p == '\0')
			break;
		label = p + 1;
	}
	if (nlabels < 2) {
		snprintf(detail, detaillen, "email: the domain must have at "
		    "least two labels");
		return -1;
	}
	for (p = email; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

/* ITU-T E.164: '+', a country code not starting with 0, 8 to 15 digits. */
int
ra_phone_check(const char *phone, char *detail, size_t detaillen)
{
	size_t i, n = strlen(phone);

	if (n < 9 || n > 16 || phone[0] != '+' || phone[1] == '0')
		goto bad;
	for (i = 1; i < n; i++) {
		if (phone[i] < '0' || phone[i] > '9')
			goto bad;
	}
	return 0;
bad:
	snprintf(detail, detaillen, "phone: must be in E.164 form, '+' then "
	    "8 to 15 digits, e.g. +6281234567890");
	return -1;
}

int
ra_password_check(const struct ra_policy *p, const char *pw, char *detail,
    size_t detaillen)
{
	const unsigned char *s;
	size_t bytes = strlen(pw);
	long chars = 0;
	int upper = 0, lower = 0, digit = 0, symbol = 0;

	for (s = (const unsigned char *)pw; *s != '\0'; s++) {
		if ((*s & 0xc0) != 0x80)	/* UTF-8 lead byte: one more character */
			chars++;
		if (*s < 0x20 || *s == 0x7f) {
			snprintf(detail, detaillen, "password: control characters "
			    "are not allowed");
			return -1;
		}
		if (*s >= 'A' && *s <= 'Z')
			upper = 1;
		else if (*s >= 'a' && *s <= 'z')
			lower = 1;
		else if (*s >= '0' && *s <= '9')
			digit = 1;
		else if (*s < 0x80 && ispunct(*s))
			symbol = 1;
	}
	if (chars < p->pw_min_len) {
		snprintf(detail, detaillen, "password: at least %ld characters "
		    "(policy password.min_length)", p->pw_min_len);
		return -1;
	}
	if ((long)bytes > p->pw_max_len) {
		snprintf(detail, detaillen, "password: at most %ld bytes "
		    "(policy password.max_length)", p->pw_max_len);
		return -1;
	}
	if (p->pw_upper && !upper) {
		snprintf(detail, detaillen, "password: needs an upper-case letter "
		    "A-Z (policy password.require_upper)");
		return -1;
	}
	if (p->pw_lower && !lower) {
		snprintf(detail, detaillen, "password: needs a lower-case letter "
		    "a-z (policy password.require_lower)");
		return -1;
	}
	if (p->pw_digit && !digit) {
		snprintf(detail, detaillen, "password: needs a digit 0-9 "
		    "(policy password.require_digit)");
		return -1;
	}
	if (p->pw_symbol && !symbol) {
		snprintf(detail, detaillen, "password: needs a symbol such as "
		    "!\"#$%%&'()*+,-./:;<=>?@[\\]^_`{|}~ (policy "
		    "password.require_symbol)");
		return -1;
	}
	return 0;
}

static const char ra_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
ra_token_encode(const unsigned char in[RA_TOKEN_BYTES],
    char out[RA_TOKEN_B64_LEN + 1])
{
	unsigned long acc = 0;
	int bits = 0, i, o = 0;

	for (i = 0; i < RA_TOKEN_BYTES; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = ra_b64url[(acc >> bits) & 0x3f];
		}
	}
	if (bits > 0)
		out[o++] = ra_b64url[(acc << (6 - bits)) & 0x3f];
	out[o] = '\0';
}

int
ra_token_decode(const char *s, unsigned char out[RA_TOKEN_BYTES])
{
	const char *c;
	unsigned long acc = 0;
	int bits = 0, o = 0, i;

	if (strlen(s) != RA_TOKEN_B64_LEN)
		return -1;
	for (i = 0; i < RA_TOKEN_B64_LEN; i++) {
		if (s[i] == '\0' || (c = strchr(ra_b64url, s[i])) == NULL)
			return -1;
		acc = (acc << 6) | (unsigned long)(c - ra_b64url);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* 43 × 6 = 258 bits: the last 2 must be zero (RFC 4648 §3.5, canonical). */
	if ((acc & ((1UL << bits) - 1)) != 0 || o != RA_TOKEN_BYTES)
		return -1;
	return 0;
}
