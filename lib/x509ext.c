/*
 * A certificate's extensions judged the same way by cad's worker and the
 * signer that certifies its subscribers (lib/x509ext.h).
 */
#include <stddef.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lib/x509ext.h"

/* The extended key usages that act for the CA (lib/x509ext.h). */
static const char *
x509ext_eku_why(X509_EXTENSION *ext)
{
	EXTENDED_KEY_USAGE *eku;
	const char *why = NULL;
	int i, nid;

	if ((eku = X509V3_EXT_d2i(ext)) == NULL)
		return "an extendedKeyUsage that does not decode";
	for (i = 0; why == NULL && i < sk_ASN1_OBJECT_num(eku); i++) {
		nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i));
		if (nid == NID_OCSP_sign || nid == NID_time_stamp ||
		    nid == NID_anyExtendedKeyUsage)
			why = "extendedKeyUsage OCSPSigning, timeStamping or "
			    "anyExtendedKeyUsage";
	}
	EXTENDED_KEY_USAGE_free(eku);
	return why;
}

const char *
x509ext_ca_usage(const STACK_OF(X509_EXTENSION) *exts)
{
	X509_EXTENSION *ext;
	ASN1_BIT_STRING *ku;
	const char *why = NULL;
	int i;

	ERR_set_mark();
	for (i = 0; why == NULL && i < sk_X509_EXTENSION_num(exts); i++) {
		ext = sk_X509_EXTENSION_value(exts, i);
		switch (OBJ_obj2nid(X509_EXTENSION_get_object(ext))) {
		case NID_key_usage:
			if ((ku = X509V3_EXT_d2i(ext)) == NULL)
				why = "a keyUsage that does not decode";
			else if (ASN1_BIT_STRING_get_bit(ku, 5) ||
			    ASN1_BIT_STRING_get_bit(ku, 6))
				why = "keyUsage keyCertSign or cRLSign";
			ASN1_BIT_STRING_free(ku);
			break;
		case NID_ext_key_usage:
			why = x509ext_eku_why(ext);
			break;
		}
	}
	ERR_pop_to_mark();
	return why;
}

static const char *const x509ext_crl_reasons[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
	"superseded", "cessationOfOperation", "certificateHold", NULL,
	"removeFromCRL", "privilegeWithdrawn", "aACompromise",
};
#define X509EXT_NREASONS	\
	(int)(sizeof(x509ext_crl_reasons) / sizeof(x509ext_crl_reasons[0]))

const char *
x509ext_crl_reason_name(int code)
{
	if (code < 0 || code >= X509EXT_NREASONS)
		return NULL;
	return x509ext_crl_reasons[code];
}

int
x509ext_crl_reason_code(const char *name)
{
	int i;

	for (i = 0; i < X509EXT_NREASONS; i++)
		if (x509ext_crl_reasons[i] != NULL &&
		    strcmp(x509ext_crl_reasons[i], name) == 0)
			return i;
	return -1;
}
