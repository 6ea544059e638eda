/*
 * What an OTP of purpose sign is bound to: the credential and the set of
 * the documents' hashes (lib/factor.h factor_sign_binding, schema/060,
 * 061). Apart from lib/factor.c so that pkisign, which shows the
 * reference, needs neither libpq's verifier nor Argon2.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/factor.h"
#include "lib/hex.h"

const char *
factor_binding_md(const char *name, size_t *len)
{
	static const struct {
		const char	*name, *md;
		size_t		 len;
	} algos[] = {
		{ "sha256", "SHA256", 32 },
		{ "sha384", "SHA384", 48 },
		{ "sha512", "SHA512", 64 },
	};
	size_t i;

	for (i = 0; name != NULL && i < sizeof(algos) / sizeof(algos[0]); i++)
		if (strcmp(name, algos[i].name) == 0) {
			*len = algos[i].len;
			return algos[i].md;
		}
	return NULL;
}

int
factor_credential_ok(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) < 1 || n > FACTOR_CREDENTIAL_MAX ||
	    s[0] == '0')
		return 0;
	return strspn(s, "0123456789") == n;
}

int
factor_sign_binding(const char *credential, const char *md,
    const unsigned char *const *hashes, size_t n, size_t hlen,
    unsigned char out[FACTOR_BINDING_LEN])
{
	const unsigned char *sorted[FACTOR_BINDING_HASHES_MAX], *t;
	char head[96], hex[2 * 64 + 1];
	EVP_MD_CTX *ctx = NULL;
	unsigned int outlen = 0;
	size_t i, j;
	int len, c, rc = -1;

	if (!factor_credential_ok(credential) || md == NULL ||
	    hashes == NULL || n < 1 ||
	    n > FACTOR_BINDING_HASHES_MAX || !((strcmp(md, "SHA256") == 0 &&
	    hlen == 32) || (strcmp(md, "SHA384") == 0 && hlen == 48) ||
	    (strcmp(md, "SHA512") == 0 && hlen == 64)))
		return -1;
	/* Insertion sort: at most 100, and no comparator state to share. */
	for (i = 0; i < n; i++) {
		t = hashes[i];
		for (j = i; j > 0 && (c = memcmp(sorted[j - 1], t, hlen)) >= 0;
		    j--) {
			if (c == 0)
				return -1;	/* a set: no duplicates */
			sorted[j] = sorted[j - 1];
		}
		sorted[j] = t;
	}
	/* v2: v1 was "pki-sign-binding-v1|MD|N|", without the credential. */
	len = snprintf(head, sizeof(head), "pki-sign-binding-v2|%s|%s|%zu|",
	    credential, md, n);
	if (len < 0 || (size_t)len >= sizeof(head) ||
	    (ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, head, (size_t)len) != 1)
		goto out;
	for (i = 0; i < n; i++) {
		hex_encode(sorted[i], hlen, hex);
		if ((i > 0 && EVP_DigestUpdate(ctx, ",", 1) != 1) ||
		    EVP_DigestUpdate(ctx, hex, 2 * hlen) != 1)
			goto out;
	}
	if (EVP_DigestFinal_ex(ctx, out, &outlen) != 1 ||
	    outlen != FACTOR_BINDING_LEN)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

void
factor_binding_ref(const unsigned char binding[FACTOR_BINDING_LEN],
    char out[FACTOR_BINDING_REF_SIZE])
{
	snprintf(out, FACTOR_BINDING_REF_SIZE, "%02X%02X-%02X%02X-%02X%02X-"
	    "%02X%02X", binding[0], binding[1], binding[2], binding[3],
	    binding[4], binding[5], binding[6], binding[7]);
}
