/*
 * libFuzzer harness: the signer's decoding of request bodies from its
 * worker (hsm/signer_proto.c). A worker is less trusted than its signer: any
 * bytes must be refused or decoded within the caps, never crash; what
 * decodes must encode back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/signer_proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signer_sign_req sreq;
	struct signer_keygen_req kreq;
	char label[SIGNER_LABEL_MAX + 1];
	unsigned char *body = NULL;
	size_t len = 0;

	if (signer_proto_sign_decode(data, size, &sreq) == 0) {
		if (strlen(sreq.label) > SIGNER_LABEL_MAX ||
		    strlen(sreq.mdname) > SIGNER_MDNAME_MAX ||
		    sreq.tbslen > SIGNER_TBS_MAX ||
		    signer_proto_sign_encode(sreq.kind, sreq.label, sreq.mdname,
		    sreq.tbs, sreq.tbslen, &body, &len) == -1 ||
		    len != size || memcmp(body, data, size) != 0)
			abort();
		free(body);
		body = NULL;
	}
	if (signer_proto_pubkey_decode(data, size, label) == 0) {
		if (signer_proto_pubkey_encode(label, &body, &len) == -1 ||
		    len != size || memcmp(body, data, size) != 0)
			abort();
		free(body);
		body = NULL;
	}
	if (signer_proto_keygen_decode(data, size, &kreq) == 0) {
		if (signer_proto_keygen_encode(kreq.token, kreq.label, kreq.keytype,
		    &body, &len) == -1 || len != size || memcmp(body, data, size) != 0)
			abort();
		free(body);
	}
	return 0;
}
