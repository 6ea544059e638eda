/*
 * libFuzzer harness for rad's readers of the request path and of the email
 * verification token: ra_path_id (ra/common.c) with every prefix and
 * suffix a route gives it, ra_corp_remove_path (ra/corporate.c) and
 * ra_token_field (ra/account.c), on the input as a path (up to its first
 * NUL, as libmicrohttpd hands it over) and, for the token, also as a form
 * body (every byte, not NUL-terminated).
 *
 * Invariants: an id read is 1 to 18 digits without a leading zero (a
 * positive BIGINT: strtoll reads it back whole, without ERANGE) and the
 * prefix, the id and the suffix make the path again; a refusal leaves ""
 * in the id. ra_corp_remove_path's two ids make its path again. A token
 * read is the input after "token=", exactly RA_TOKEN_B64_LEN characters,
 * and its RA_TOKEN_BYTES bytes encode back to them (canonical base64url).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ra/extern.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The prefix and suffix of every ra_path_id call in ra/. */
static const char *const fuzz_routes[][2] = {
	{ "/v1/applications/", "" },
	{ "/v1/applications/", "/agreement" },
	{ "/v1/applications/", "/cancel" },
	{ "/v1/certificates/", "" },
	{ "/v1/certificates/", "/revoke" },
	{ "/v1/certificates/", "/rekey" },
	{ "/v1/corporate/", "" },
	{ "/v1/corporate/", "/employees" },
	{ "/v1/corporate/", "/sysadmin/claim-token" },
	{ "/v1/corporate/", "/revocation-requests" },
	{ "/v1/corporate/", "/eseals" },
	{ "/employees/", "/remove" },
	{ "/v1/officer/applications/", "" },
	{ "/v1/officer/applications/", "/decision" },
	{ "/v1/officer/applications/", "/cancel" },
	{ "/v1/officer/applications/", "/reorder" },
	{ "/v1/officer/applications/", "/evidence/ktp_photo" },
	{ "/v1/officer/applications/", "/evidence/selfie" },
	{ "/v1/officer/certificates/", "/hold" },
	{ "/v1/officer/certificates/", "/release" },
	{ "/v1/officer/certificates/", "/revoke" },
	{ "/v1/officer/companies/", "/deactivate" },
	{ "/v1/officer/revocation-requests/", "" },
	{ "/v1/sign-services/", "/grant" },
	{ "/v1/sign-services/", "/revoke" },
};

/* id is what ra_path_id may give: a positive BIGINT in canonical digits. */
static void
fuzz_id(const char *id)
{
	size_t n = strlen(id);
	char *end;
	long long v;

	if (n == 0 || n > 18 || strspn(id, "0123456789") != n || id[0] == '0')
		__builtin_trap();
	errno = 0;
	v = strtoll(id, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		__builtin_trap();
}

static void
fuzz_path(const char *path)
{
	char id[24], company[24], account[24], again[2048];
	size_t i;
	int n;

	for (i = 0; i < sizeof(fuzz_routes) / sizeof(fuzz_routes[0]); i++) {
		memset(id, 'x', sizeof(id));
		if (ra_path_id(path, fuzz_routes[i][0], fuzz_routes[i][1],
		    id) == -1) {
			if (id[0] != '\0')
				__builtin_trap();
			continue;
		}
		fuzz_id(id);
		n = snprintf(again, sizeof(again), "%s%s%s", fuzz_routes[i][0],
		    id, fuzz_routes[i][1]);
		if (n < 0 || (size_t)n >= sizeof(again) ||
		    strcmp(again, path) != 0)
			__builtin_trap();
	}
	if (ra_corp_remove_path(path, company, account) == 0) {
		fuzz_id(company);
		fuzz_id(account);
		n = snprintf(again, sizeof(again),
		    "/v1/corporate/%s/employees/%s/remove", company, account);
		if (n < 0 || (size_t)n >= sizeof(again) ||
		    strcmp(again, path) != 0)
			__builtin_trap();
	}
}

static void
fuzz_token(const char *s, size_t len)
{
	unsigned char tok[RA_TOKEN_BYTES];
	char text[RA_TOKEN_B64_LEN + 1], again[RA_TOKEN_B64_LEN + 1];

	if (ra_token_field(s, len, tok, text) == -1)
		return;
	if (len != 6 + RA_TOKEN_B64_LEN || memcmp(s, "token=", 6) != 0 ||
	    strlen(text) != RA_TOKEN_B64_LEN ||
	    memcmp(s + 6, text, RA_TOKEN_B64_LEN) != 0)
		__builtin_trap();
	ra_token_encode(tok, again);
	if (strcmp(again, text) != 0)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path;

	/* Longer adds nothing: the longest route and id fit in far less. */
	if (size > 4096)
		return 0;
	if ((path = malloc(size + 1)) == NULL)
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	fuzz_path(path);
	fuzz_token(path, strlen(path));		/* the query string */
	free(path);
	/* The form body: its bytes, exactly (ASan sees a read past them). */
	if ((path = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(path, data, size);
	fuzz_token(path, size);
	free(path);
	return 0;
}
