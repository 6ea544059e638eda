/*
 * libFuzzer harness: what pkisign parses from the network (sign/), fed
 * arbitrary answers. The first byte picks the parser: the CSC client's
 * answers (error, oauth2/token, credentials/info, credentials/authorize,
 * signatures/signHash for 1..4 hashes), its base64 decoder, or the TSA
 * client's TimeStampResp checks against a fixed request. Each must refuse or
 * fill its output within its limits, never crash, and an error message must
 * never contain the secrets the caller asked to keep out.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "sign/csc_client.h"
#include "sign/tsa_client.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A DER TimeStampReq: SHA-256 imprint of zeros, nonce 0x0102, certReq. */
static const unsigned char tsreq[] = {
	0x30, 0x3d, 0x02, 0x01, 0x01, 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09,
	0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
	0x04, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x02, 0x01, 0x02, 0x01,
	0x01, 0xff,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *avoid[] = { "123456", "SECRETSAD", NULL };
	struct cscc_cred cr;
	unsigned char *sigs[4], *out = NULL;
	size_t siglen[4], n, i, outlen;
	STACK_OF(X509) *certs = NULL;
	char msg[512], *s = NULL, *str;

	if (size < 1)
		return 0;
	data++;
	size--;
	switch (data[-1] % 8) {
	case 0:
		cscc_parse_error(400, data, size, avoid, msg, sizeof(msg));
		if (strstr(msg, "123456") != NULL ||
		    strstr(msg, "SECRETSAD") != NULL)
			abort();
		break;
	case 1:
		if (cscc_parse_token(data, size, &s, msg, sizeof(msg)) == 0 &&
		    (s == NULL || strlen(s) == 0 || strlen(s) > 1024))
			abort();
		cscc_free_secret(s);
		break;
	case 2:
		if (cscc_parse_info(data, size, &cr, msg, sizeof(msg)) == 0) {
			if (cr.cert == NULL || sk_X509_num(cr.chain) < 1 ||
			    sk_X509_num(cr.chain) > 10 ||
			    X509_cmp(cr.cert, sk_X509_value(cr.chain, 0)) != 0)
				abort();
			cscc_cred_clear(&cr);
		} else if (cr.cert != NULL || cr.chain != NULL)
			abort();
		break;
	case 3:
		if (cscc_parse_authorize(data, size, &s, msg, sizeof(msg)) ==
		    0 && (s == NULL || strlen(s) == 0))
			abort();
		cscc_free_secret(s);
		break;
	case 4:
	case 5:
		n = size > 0 ? data[0] % 4 + 1 : 1;
		if (cscc_parse_signatures(data, size, n, sigs, siglen, msg,
		    sizeof(msg)) == 0) {
			for (i = 0; i < n; i++) {
				if (sigs[i] == NULL || siglen[i] == 0 ||
				    siglen[i] > 2048)
					abort();
				free(sigs[i]);
			}
		} else
			for (i = 0; i < n; i++)
				if (sigs[i] != NULL)
					abort();
		break;
	case 6:
		if ((str = malloc(size + 1)) == NULL)
			return 0;
		memcpy(str, data, size);
		str[size] = '\0';
		if (cscc_b64_decode(str, &out, &outlen) == 0) {
			if (outlen > size / 4 * 3)
				abort();
			free(out);
		}
		free(str);
		break;
	case 7:
		if (tsa_check_response(tsreq, sizeof(tsreq), data, size, NULL,
		    NULL, &out, &outlen, &certs, msg, sizeof(msg)) == 0) {
			if (out == NULL || outlen == 0)
				abort();
			OPENSSL_free(out);
			sk_X509_pop_free(certs, X509_free);
		} else if (out != NULL || certs != NULL)
			abort();
		break;
	}
	return 0;
}
