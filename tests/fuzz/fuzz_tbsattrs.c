/*
 * libFuzzer harness for the signer's SignedAttributes check
 * (hsm/tbsattrs.c): the bytes a worker asks the signer to sign as a
 * time-stamp token's or a CMS signature's attributes cross the privilege
 * boundary, so the walk must never read past them. What it accepts,
 * OpenSSL's decoding (the check it replaced) must accept too: one DER SET
 * OF Attribute, each required attribute once with one value of its type.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "hsm/extern.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The attribute nid's single value in attrs, or NULL. */
static ASN1_TYPE *
fuzz_single(STACK_OF(X509_ATTRIBUTE) *attrs, int nid)
{
	X509_ATTRIBUTE *a;
	int i;

	if ((i = X509at_get_attr_by_NID(attrs, nid, -1)) < 0 ||
	    X509at_get_attr_by_NID(attrs, nid, i) >= 0)
		return NULL;
	a = X509at_get_attr(attrs, i);
	return X509_ATTRIBUTE_count(a) == 1 ? X509_ATTRIBUTE_get0_type(a, 0) :
	    NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509_ATTRIBUTE) *attrs;
	const unsigned char *p = data;
	ASN1_TYPE *ct, *md;
	char err[512];
	int tst;

	for (tst = 0; tst < 2; tst++) {
		if (signer_attrs_check(data, size, tst, err, sizeof(err)) != 0)
			continue;
		p = data;
		attrs = (STACK_OF(X509_ATTRIBUTE) *)ASN1_item_d2i(NULL, &p,
		    (long)size, ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
		if (attrs == NULL || p != data + size ||
		    (ct = fuzz_single(attrs, NID_pkcs9_contentType)) == NULL ||
		    ct->type != V_ASN1_OBJECT ||
		    (md = fuzz_single(attrs, NID_pkcs9_messageDigest)) == NULL ||
		    md->type != V_ASN1_OCTET_STRING ||
		    (tst && OBJ_obj2nid(ct->value.object) !=
		    NID_id_smime_ct_TSTInfo))
			abort();
		sk_X509_ATTRIBUTE_pop_free(attrs, X509_ATTRIBUTE_free);
	}
	ERR_clear_error();
	return 0;
}
