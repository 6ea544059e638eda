/*
 * libFuzzer harness: signd's CSC API v2 request parsers
 * (hsm/signd/csc_request.c), fed untrusted bodies from any signing service.
 * The first byte picks the parser (and, for the token request, whether an
 * Authorization: Basic value follows as the next NUL-terminated part); the
 * rest is the body. Every parser must refuse or fill its output within its
 * caps, never crash, and never quote the input in its error_description:
 * a refusal says why (a non-empty detail), contains no PIN or OTP value of
 * the body, and no run of QUOTE_MIN bytes copied from the input
 * (quotes_input() below).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hsm/signd/extern.h"

/* Shorter runs occur by chance: ids, "SHA-256", member names. */
#define QUOTE_MIN	8

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_hashes(const struct sam_hashes *h)
{
	if (sam_md_len(h->md) == 0 || h->n < 1 || h->n > SIGND_HASHES_MAX)
		abort();
}

static void
check_id(const char *s, int optional)
{
	size_t n = strlen(s);

	if ((n == 0 && !optional) || n > CSC_ID_MAX ||
	    strspn(s, "0123456789") != n)
		abort();
}

/*
 * Runs the parser data[0] picks over the rest; on acceptance checks the
 * output against its caps. 0 accepted, -1 refused (detail says why).
 */
static int
parse(const uint8_t *data, size_t size, char *detail, size_t detaillen)
{
	struct csc_token_req t;
	struct csc_list_req l;
	struct csc_info_req i;
	struct csc_authorize_req a;
	struct csc_signhash_req s;
	char basic[256];
	const uint8_t *body;
	size_t len, k;
	enum csc_token_refusal why;
	int rc = 0;

	if (size < 1)
		return 0;
	body = data + 1;
	len = size - 1;
	switch (data[0] % 7) {
	case 0:
		if ((rc = csc_parse_token(body, len, NULL, &t, &why,
		    detail, detaillen)) == 0 && (t.client_id[0] == '\0' ||
		    t.client_secret[0] == '\0'))
			abort();
		break;
	case 1:
		for (k = 0; k < len && k < sizeof(basic) - 1 && body[k] != 0;
		    k++)
			basic[k] = (char)body[k];
		basic[k] = '\0';
		if (k < len)
			k++;
		if ((rc = csc_parse_token(body + k, len - k, basic, &t,
		    &why, detail, detaillen)) == 0 &&
		    (t.client_id[0] == '\0' || t.client_secret[0] == '\0'))
			abort();
		break;
	case 2:
		if ((rc = csc_parse_list(body, len, &l, detail,
		    detaillen)) == 0)
			check_id(l.user_id, 0);
		break;
	case 3:
		if ((rc = csc_parse_info(body, len, &i, detail, detaillen)) ==
		    0) {
			check_id(i.credential, 0);
			check_id(i.user_id, 1);
		}
		break;
	case 4:
		if ((rc = csc_parse_authorize(body, len, &a, detail,
		    detaillen)) == 0) {
			check_id(a.credential, 0);
			check_hashes(&a.sam.hashes);
			if (strlen(a.sam.secret) != 6 ||
			    (a.sam.factor == SAM_FACTOR_OTP) !=
			    (a.sam.otp_id != 0))
				abort();
		}
		break;
	case 6:
		rc = csc_parse_server_info(body, len, detail, detaillen);
		break;
	case 5:
		if ((rc = csc_parse_signhash(body, len, &s, detail,
		    detaillen)) == 0) {
			check_id(s.credential, 0);
			check_hashes(&s.sam.hashes);
			if (s.sam.algo < SAM_ALGO_RSA_PKCS1 ||
			    s.sam.algo > SAM_ALGO_ECDSA)
				abort();
		}
		break;
	}
	return rc;
}

/* Another byte of the same kind (digit, lower, upper), else a neighbour. */
static uint8_t
other(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return (uint8_t)('0' + (c - '0' + 1) % 10);
	if (c >= 'a' && c <= 'z')
		return (uint8_t)('a' + (c - 'a' + 1) % 26);
	if (c >= 'A' && c <= 'Z')
		return (uint8_t)('A' + (c - 'A' + 1) % 26);
	return c ^ 1;
}

/*
 * 1 when detail quotes the input: a window of QUOTE_MIN bytes of it occurs
 * in the input, and with one byte of that occurrence changed (in kind, so
 * that the parser likely takes the same path) the detail is the same but
 * for that byte in that window. A fixed word of the messages may occur in
 * an input too (an OID, which the parsers compare with, "RFC 6749"), but
 * stays as it was when the input changes: no false alarm on fixed words.
 */
static int
quotes_input(const uint8_t *data, size_t size, const char *detail)
{
	size_t dlen = strlen(detail), i, k, off, at;
	const uint8_t *p;
	uint8_t *copy;
	char again[256];
	int quoted = 0;

	if ((copy = malloc(size)) == NULL)
		return 0;
	for (i = 0; i + QUOTE_MIN <= dlen && !quoted; i++) {
		/* The first letter or digit of the window, else its start. */
		for (k = 0; k < QUOTE_MIN &&
		    !isalnum((unsigned char)detail[i + k]); k++)
			;
		if (k == QUOTE_MIN)
			k = 0;
		/* Every occurrence, past the byte that picks the parser. */
		for (off = 1; !quoted && off + QUOTE_MIN <= size &&
		    (p = memmem(data + off, size - off, detail + i,
		    QUOTE_MIN)) != NULL; off = (size_t)(p - data) + 1) {
			at = (size_t)(p - data) + k;
			memcpy(copy, data, size);
			copy[at] = other(copy[at]);
			again[0] = '\0';
			quoted = parse(copy, size, again,
			    sizeof(again)) == -1 && strlen(again) == dlen &&
			    (uint8_t)again[i + k] == copy[at] &&
			    memcmp(again, detail, i + k) == 0 &&
			    strcmp(again + i + k + 1, detail + i + k + 1) == 0;
		}
	}
	free(copy);
	return quoted;
}

/*
 * 1 when detail contains the PIN or OTP of an authorize body. Only values
 * of 5 digits or more: a real PIN or code has 6, and no message has five
 * digits in a row, so this never fires on a fixed word.
 */
static int
quotes_value(json_t *v, const char *detail)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return 0;
	s = json_string_value(v);
	n = json_string_length(v);
	return n >= 5 && strlen(s) == n && strspn(s, "0123456789") == n &&
	    strstr(detail, s) != NULL;
}

/* v1's PIN and OTP members, and every value of v2's authData. */
static int
quotes_factor(const uint8_t *body, size_t len, const char *detail)
{
	static const char *const names[] = { "PIN", "OTP" };
	json_t *root, *e;
	size_t i;
	int quoted = 0;

	if ((root = json_loadb((const char *)body, len, 0, NULL)) == NULL)
		return 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		quoted |= quotes_value(json_object_get(root, names[i]),
		    detail);
	json_array_foreach(json_object_get(root, "authData"), i, e)
		quoted |= quotes_value(json_object_get(e, "value"), detail);
	json_decref(root);
	return quoted;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char detail[256] = "";

	if (size < 1 || parse(data, size, detail, sizeof(detail)) == 0)
		return 0;
	if (detail[0] == '\0') {
		fprintf(stderr, "a refusal without an error_description\n");
		abort();
	}
	if (quotes_factor(data + 1, size - 1, detail) ||
	    quotes_input(data, size, detail)) {
		fprintf(stderr, "error_description quotes the input: %s\n",
		    detail);
		abort();
	}
	return 0;
}
