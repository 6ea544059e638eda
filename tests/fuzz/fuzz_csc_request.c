/*
 * libFuzzer harness: signd's CSC API v2 request parsers
 * (hsm/signd/csc_request.c), fed untrusted bodies from any signing service.
 * The first byte picks the parser (and, for the token request, whether an
 * Authorization: Basic value follows as the next NUL-terminated part); the
 * rest is the body. Every parser must refuse or fill its output within its
 * caps, never crash, and never quote the input in its error_description.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/signd/extern.h"

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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csc_token_req t;
	struct csc_list_req l;
	struct csc_info_req i;
	struct csc_authorize_req a;
	struct csc_signhash_req s;
	char detail[256] = "", basic[256];
	const uint8_t *body;
	size_t len, k;
	int unsupported;

	if (size < 1)
		return 0;
	body = data + 1;
	len = size - 1;
	switch (data[0] % 7) {
	case 0:
		if (csc_parse_token(body, len, NULL, &t, &unsupported, detail,
		    sizeof(detail)) == 0 && (t.client_id[0] == '\0' ||
		    t.client_secret[0] == '\0'))
			abort();
		break;
	case 1:
		for (k = 0; k < len && k < sizeof(basic) - 1 && body[k] != 0; k++)
			basic[k] = (char)body[k];
		basic[k] = '\0';
		if (k < len)
			k++;
		(void)csc_parse_token(body + k, len - k, basic, &t,
		    &unsupported, detail, sizeof(detail));
		break;
	case 2:
		if (csc_parse_list(body, len, &l, detail, sizeof(detail)) == 0)
			check_id(l.user_id, 0);
		break;
	case 3:
		if (csc_parse_info(body, len, &i, detail, sizeof(detail)) == 0) {
			check_id(i.credential, 0);
			check_id(i.user_id, 1);
		}
		break;
	case 4:
		if (csc_parse_authorize(body, len, &a, detail,
		    sizeof(detail)) == 0) {
			check_id(a.credential, 0);
			check_hashes(&a.sam.hashes);
			if (strlen(a.sam.secret) != 6 ||
			    (a.sam.factor == SAM_FACTOR_OTP) !=
			    (a.sam.otp_id != 0))
				abort();
		}
		break;
	case 6:
		(void)csc_parse_server_info(body, len, detail, sizeof(detail));
		break;
	case 5:
		if (csc_parse_signhash(body, len, &s, detail,
		    sizeof(detail)) == 0) {
			check_id(s.credential, 0);
			check_hashes(&s.sam.hashes);
			if (s.sam.algo < SAM_ALGO_RSA_PKCS1 ||
			    s.sam.algo > SAM_ALGO_ECDSA)
				abort();
		}
		break;
	}
	if (strlen(detail) >= sizeof(detail))
		abort();
	return 0;
}
