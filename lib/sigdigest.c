/*
 * The digest a CA key signs with (lib/sigdigest.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "lib/sigdigest.h"

/* The three digests allowed, in the signer's spelling (hsm/README.md). */
static const char *const sigdigest_names[] = { "SHA256", "SHA384", "SHA512" };

const char *
sigdigest_for_key(const EVP_PKEY *key, const char *configured, char *err,
    size_t errlen)
{
	char curve[64];
	size_t i, n = 0;

	if (errlen > 0)
		err[0] = '\0';
	if (key == NULL) {
		snprintf(err, errlen, "no key");
		return NULL;
	}
	if (EVP_PKEY_is_a(key, "EC")) {
		ERR_set_mark();
		if (EVP_PKEY_get_utf8_string_param(key,
		    OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve), &n) != 1) {
			ERR_pop_to_mark();
			snprintf(err, errlen, "an EC key without a named curve");
			return NULL;
		}
		ERR_pop_to_mark();
		if (strcmp(curve, SN_X9_62_prime256v1) == 0)
			return "SHA256";
		if (strcmp(curve, SN_secp384r1) == 0)
			return "SHA384";
		if (strcmp(curve, SN_secp521r1) == 0)
			return "SHA512";
		snprintf(err, errlen, "an EC key on curve %s (P-256, P-384 or "
		    "P-521 only)", curve);
		return NULL;
	}
	if (EVP_PKEY_is_a(key, "RSA")) {
		for (i = 0; configured != NULL &&
		    i < sizeof(sigdigest_names) / sizeof(sigdigest_names[0]); i++)
			if (strcasecmp(configured, sigdigest_names[i]) == 0)
				return sigdigest_names[i];
		snprintf(err, errlen, "digest %s with an RSA key: SHA256, SHA384 "
		    "or SHA512", configured != NULL ? configured : "(none)");
		return NULL;
	}
	snprintf(err, errlen, "a %s key: only EC and RSA keys sign here",
	    EVP_PKEY_get0_type_name(key) != NULL ?
	    EVP_PKEY_get0_type_name(key) : "(unknown)");
	return NULL;
}
