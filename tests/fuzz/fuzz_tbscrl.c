/*
 * libFuzzer harness for the signer's TBSCertList check (hsm/tbscrl.c): the
 * bytes a worker asks the signer to sign as a CRL cross the privilege
 * boundary, so the walk must never read past them, whatever they are. What
 * it accepts must also be one DER structure OpenSSL can read through.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/asn1.h>

#include "hsm/extern.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	const unsigned char *p = data;
	long len;
	int tag, cls;

	if (signer_tbscrl_check(data, size, err, sizeof(err)) == 0) {
		/* The policy walk reads what the check accepted, no further. */
		(void)signer_tbscrl_policy(data, size, 1767225600, 86400, err,
		    sizeof(err));
		/* Accepted: exactly one definite-length SEQUENCE, nothing after. */
		if ((ASN1_get_object(&p, &len, &tag, &cls, (long)size) & 0x80) ||
		    tag != V_ASN1_SEQUENCE || p + len != data + size)
			abort();
	}
	return 0;
}
