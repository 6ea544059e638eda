/*
 * libFuzzer harness for the signer's TSTInfo check (hsm/tstinfo.c): the
 * TSTInfo tsad sends beside a time-stamp's SignedAttributes crosses the
 * privilege boundary, so the walk must never read past it. What it
 * accepts without a tsa field (a GeneralName, checked for its shape
 * only), OpenSSL must read and write back to the same octets; and
 * signer_tst_policy, given SignedAttributes carrying the input's SHA-256
 * hash, accepts exactly what the check accepts with genTime near "now".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ts.h>

#include "hsm/derwalk.h"
#include "hsm/extern.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when the TSTInfo in p has a tsa field. */
static int
fuzz_has_tsa(const unsigned char *p, size_t len)
{
	struct dwin in = { p, len };
	struct tlv seq, t;

	if (derwalk_next(&in, &seq) == -1)
		return 0;
	while (seq.val.left > 0)
		if (derwalk_next(&seq.val, &t) == -1 || t.tag == 0xa0)
			return 1;
	return 0;
}

/*
 * SignedAttributes: content type id-ct-TSTInfo, messageDigest h (32
 * octets), as DER: SET { SEQ { ct OID, SET { OID } }, SEQ { md OID,
 * SET { OCTET STRING h } } }.
 */
static void
fuzz_attrs(const unsigned char h[32], unsigned char out[79])
{
	static const unsigned char head[] = { 0x31, 0x4d,
	    0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	    0x09, 0x03, 0x31, 0x0d, 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7,
	    0x0d, 0x01, 0x09, 0x10, 0x01, 0x04,
	    0x30, 0x2f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	    0x09, 0x04, 0x31, 0x22, 0x04, 0x20 };

	memcpy(out, head, sizeof(head));
	memcpy(out + sizeof(head), h, 32);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *q = data;
	unsigned char *der = NULL, h[32], attrs[79];
	TS_TST_INFO *ti;
	char err[512];
	time_t gen;
	int ok, n;

	ok = signer_tstinfo_check(data, size, &gen, err, sizeof(err)) == 0;
	if (ok && !fuzz_has_tsa(data, size)) {
		ti = d2i_TS_TST_INFO(NULL, &q, (long)size);
		if (ti == NULL || q != data + size)
			abort();
		n = i2d_TS_TST_INFO(ti, &der);
		if (n != (int)size || memcmp(der, data, size) != 0)
			abort();
		OPENSSL_free(der);
		TS_TST_INFO_free(ti);
	}
	if (EVP_Digest(data, size, h, NULL, EVP_sha256(), NULL) != 1)
		abort();
	fuzz_attrs(h, attrs);
	if ((signer_tst_policy(attrs, sizeof(attrs), data, size, EVP_sha256(),
	    ok ? gen : 0, err, sizeof(err)) == 0) != ok)
		abort();
	ERR_clear_error();
	return 0;
}
