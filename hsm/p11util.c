/*
 * Helpers shared by hsm/p11.c and hsm/p11wrap.c: error text, return value
 * classes, object search, attribute reads, public keys and ECDSA signatures
 * from token objects, the digests we sign. See p11_priv.h for the contracts.
 * Everything here works on a function list and a session handed in by the
 * caller; nothing keeps state.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "hsm/p11_priv.h"

const unsigned char p11_oid_p256[10] = {
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
};
const unsigned char p11_oid_p384[7] = {
	0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22
};

/* DigestInfo prefixes (RFC 8017 §9.2, note 1). */
static const unsigned char p11_di_sha256[] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20
};
static const unsigned char p11_di_sha384[] = {
	0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30
};
static const unsigned char p11_di_sha512[] = {
	0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40
};

static const struct p11_digest p11_digests[] = {
	{ "SHA256", 32, p11_di_sha256, sizeof(p11_di_sha256),
	    CKM_SHA256, CKG_MGF1_SHA256 },
	{ "SHA384", 48, p11_di_sha384, sizeof(p11_di_sha384),
	    CKM_SHA384, CKG_MGF1_SHA384 },
	{ "SHA512", 64, p11_di_sha512, sizeof(p11_di_sha512),
	    CKM_SHA512, CKG_MGF1_SHA512 },
};

void
p11_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *
p11_rvname(CK_RV rv)
{
	switch (rv) {
	case CKR_OK: return "CKR_OK";
	case CKR_HOST_MEMORY: return "CKR_HOST_MEMORY";
	case CKR_SLOT_ID_INVALID: return "CKR_SLOT_ID_INVALID";
	case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
	case CKR_FUNCTION_FAILED: return "CKR_FUNCTION_FAILED";
	case CKR_ARGUMENTS_BAD: return "CKR_ARGUMENTS_BAD";
	case CKR_ACTION_PROHIBITED: return "CKR_ACTION_PROHIBITED";
	case CKR_ATTRIBUTE_READ_ONLY: return "CKR_ATTRIBUTE_READ_ONLY";
	case CKR_ATTRIBUTE_SENSITIVE: return "CKR_ATTRIBUTE_SENSITIVE";
	case CKR_ATTRIBUTE_TYPE_INVALID: return "CKR_ATTRIBUTE_TYPE_INVALID";
	case CKR_ATTRIBUTE_VALUE_INVALID: return "CKR_ATTRIBUTE_VALUE_INVALID";
	case CKR_DATA_LEN_RANGE: return "CKR_DATA_LEN_RANGE";
	case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
	case CKR_DEVICE_MEMORY: return "CKR_DEVICE_MEMORY";
	case CKR_DEVICE_REMOVED: return "CKR_DEVICE_REMOVED";
	case CKR_FUNCTION_CANCELED: return "CKR_FUNCTION_CANCELED";
	case CKR_KEY_HANDLE_INVALID: return "CKR_KEY_HANDLE_INVALID";
	case CKR_KEY_TYPE_INCONSISTENT: return "CKR_KEY_TYPE_INCONSISTENT";
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
		return "CKR_KEY_FUNCTION_NOT_PERMITTED";
	case CKR_KEY_NOT_WRAPPABLE: return "CKR_KEY_NOT_WRAPPABLE";
	case CKR_KEY_UNEXTRACTABLE: return "CKR_KEY_UNEXTRACTABLE";
	case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
	case CKR_MECHANISM_PARAM_INVALID: return "CKR_MECHANISM_PARAM_INVALID";
	case CKR_OBJECT_HANDLE_INVALID: return "CKR_OBJECT_HANDLE_INVALID";
	case CKR_OPERATION_ACTIVE: return "CKR_OPERATION_ACTIVE";
	case CKR_OPERATION_NOT_INITIALIZED:
		return "CKR_OPERATION_NOT_INITIALIZED";
	case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
	case CKR_PIN_INVALID: return "CKR_PIN_INVALID";
	case CKR_PIN_LEN_RANGE: return "CKR_PIN_LEN_RANGE";
	case CKR_PIN_EXPIRED: return "CKR_PIN_EXPIRED";
	case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
	case CKR_SESSION_CLOSED: return "CKR_SESSION_CLOSED";
	case CKR_SESSION_COUNT: return "CKR_SESSION_COUNT";
	case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
	case CKR_SESSION_READ_ONLY: return "CKR_SESSION_READ_ONLY";
	case CKR_SESSION_EXISTS: return "CKR_SESSION_EXISTS";
	case CKR_SESSION_READ_ONLY_EXISTS:
		return "CKR_SESSION_READ_ONLY_EXISTS";
	case CKR_TEMPLATE_INCOMPLETE: return "CKR_TEMPLATE_INCOMPLETE";
	case CKR_TEMPLATE_INCONSISTENT: return "CKR_TEMPLATE_INCONSISTENT";
	case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
	case CKR_TOKEN_NOT_RECOGNIZED: return "CKR_TOKEN_NOT_RECOGNIZED";
	case CKR_TOKEN_WRITE_PROTECTED: return "CKR_TOKEN_WRITE_PROTECTED";
	case CKR_UNWRAPPING_KEY_HANDLE_INVALID:
		return "CKR_UNWRAPPING_KEY_HANDLE_INVALID";
	case CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT:
		return "CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT";
	case CKR_USER_ALREADY_LOGGED_IN: return "CKR_USER_ALREADY_LOGGED_IN";
	case CKR_USER_ANOTHER_ALREADY_LOGGED_IN:
		return "CKR_USER_ANOTHER_ALREADY_LOGGED_IN";
	case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
	case CKR_USER_PIN_NOT_INITIALIZED:
		return "CKR_USER_PIN_NOT_INITIALIZED";
	case CKR_USER_TYPE_INVALID: return "CKR_USER_TYPE_INVALID";
	case CKR_WRAPPED_KEY_INVALID: return "CKR_WRAPPED_KEY_INVALID";
	case CKR_WRAPPED_KEY_LEN_RANGE: return "CKR_WRAPPED_KEY_LEN_RANGE";
	case CKR_WRAPPING_KEY_HANDLE_INVALID:
		return "CKR_WRAPPING_KEY_HANDLE_INVALID";
	case CKR_BUFFER_TOO_SMALL: return "CKR_BUFFER_TOO_SMALL";
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		return "CKR_CRYPTOKI_NOT_INITIALIZED";
	case CKR_CRYPTOKI_ALREADY_INITIALIZED:
		return "CKR_CRYPTOKI_ALREADY_INITIALIZED";
	default: return "CKR_(unknown)";
	}
}

int
p11_rv_lost(CK_RV rv)
{
	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_DEVICE_REMOVED:
	case CKR_DEVICE_ERROR:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_TOKEN_NOT_RECOGNIZED:
	case CKR_SLOT_ID_INVALID:
	case CKR_SESSION_COUNT:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		return 1;
	default:
		return 0;
	}
}

CK_RV
p11_find_objects(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s,
    CK_OBJECT_CLASS cls, const char *label, int token, CK_OBJECT_HANDLE *objs,
    CK_ULONG max, CK_ULONG *n)
{
	CK_ATTRIBUTE tmpl[3];
	CK_BBOOL yes = CK_TRUE;
	CK_ULONG nt = 0;
	CK_RV rv, rv2;

	*n = 0;
	if (cls != P11_ANY_CLASS)
		P11_ATTR(tmpl, nt, CKA_CLASS, &cls, sizeof(cls));
	if (label != NULL)
		P11_ATTR(tmpl, nt, CKA_LABEL, label, strlen(label));
	if (token)
		P11_ATTR(tmpl, nt, CKA_TOKEN, &yes, sizeof(yes));
	if ((rv = f->C_FindObjectsInit(s, tmpl, nt)) != CKR_OK)
		return rv;
	rv = f->C_FindObjects(s, objs, max, n);
	rv2 = f->C_FindObjectsFinal(s);
	return rv != CKR_OK ? rv : rv2;
}

CK_RV
p11_attr_get(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
    CK_ATTRIBUTE_TYPE type, unsigned char **val, size_t *len)
{
	CK_ATTRIBUTE a;
	CK_RV rv;

	*val = NULL;
	*len = 0;
	a.type = type;
	a.pValue = NULL;
	a.ulValueLen = 0;
	if ((rv = f->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK)
		return rv;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 65536)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if ((a.pValue = malloc(a.ulValueLen + 1)) == NULL)
		return CKR_HOST_MEMORY;
	if ((rv = f->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK) {
		free(a.pValue);
		return rv;
	}
	*val = a.pValue;
	*len = a.ulValueLen;
	return CKR_OK;
}

CK_RV
p11_attr_ulong(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s,
    CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, CK_ULONG *v)
{
	CK_ATTRIBUTE a;

	a.type = type;
	a.pValue = v;
	a.ulValueLen = sizeof(*v);
	return f->C_GetAttributeValue(s, o, &a, 1);
}

CK_RV
p11_attr_bool(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s,
    CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, int *v)
{
	CK_ATTRIBUTE a;
	CK_BBOOL b = CK_FALSE;
	CK_RV rv;

	a.type = type;
	a.pValue = &b;
	a.ulValueLen = sizeof(b);
	rv = f->C_GetAttributeValue(s, o, &a, 1);
	*v = b == CK_TRUE;
	return rv;
}

CK_RV
p11_pub_evp(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
    EVP_PKEY **pub, char *err, size_t errlen)
{
	CK_ULONG kt = 0;
	unsigned char *a = NULL, *b = NULL;
	size_t alen, blen;
	const unsigned char *p;
	ASN1_OBJECT *curve = NULL;
	ASN1_OCTET_STRING *point = NULL;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	const char *group;
	CK_RV rv;

	*pub = NULL;
	if ((rv = p11_attr_ulong(f, s, o, CKA_KEY_TYPE, &kt)) != CKR_OK) {
		p11_seterr(err, errlen, "C_GetAttributeValue CKA_KEY_TYPE: %s",
		    p11_rvname(rv));
		goto out;
	}
	rv = CKR_FUNCTION_FAILED;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL) {
		p11_seterr(err, errlen, "OSSL_PARAM_BLD_new failed");
		goto out;
	}
	if (kt == CKK_EC) {
		if ((rv = p11_attr_get(f, s, o, CKA_EC_PARAMS, &a, &alen)) !=
		    CKR_OK ||
		    (rv = p11_attr_get(f, s, o, CKA_EC_POINT, &b, &blen)) !=
		    CKR_OK) {
			p11_seterr(err, errlen, "C_GetAttributeValue EC "
			    "public key: %s", p11_rvname(rv));
			goto out;
		}
		rv = CKR_FUNCTION_FAILED;
		p = a;
		if ((curve = d2i_ASN1_OBJECT(NULL, &p, (long)alen)) == NULL ||
		    p != a + alen) {
			p11_seterr(err, errlen, "CKA_EC_PARAMS: not a named "
			    "curve");
			goto out;
		}
		if ((group = OBJ_nid2sn(OBJ_obj2nid(curve))) == NULL ||
		    OBJ_obj2nid(curve) == NID_undef) {
			p11_seterr(err, errlen, "CKA_EC_PARAMS: unknown curve");
			goto out;
		}
		/* CKA_EC_POINT is the DER of an OCTET STRING. */
		p = b;
		if ((point = d2i_ASN1_OCTET_STRING(NULL, &p, (long)blen)) ==
		    NULL || p != b + blen) {
			p11_seterr(err, errlen, "CKA_EC_POINT: not an OCTET "
			    "STRING");
			goto out;
		}
		if (OSSL_PARAM_BLD_push_utf8_string(bld,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
		    OSSL_PARAM_BLD_push_octet_string(bld,
		    OSSL_PKEY_PARAM_PUB_KEY, ASN1_STRING_get0_data(point),
		    (size_t)ASN1_STRING_length(point)) != 1) {
			p11_seterr(err, errlen, "OSSL_PARAM_BLD_push failed");
			goto out;
		}
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	} else if (kt == CKK_RSA) {
		if ((rv = p11_attr_get(f, s, o, CKA_MODULUS, &a, &alen)) !=
		    CKR_OK ||
		    (rv = p11_attr_get(f, s, o, CKA_PUBLIC_EXPONENT, &b,
		    &blen)) != CKR_OK) {
			p11_seterr(err, errlen, "C_GetAttributeValue RSA "
			    "public key: %s", p11_rvname(rv));
			goto out;
		}
		rv = CKR_FUNCTION_FAILED;
		if ((n = BN_bin2bn(a, (int)alen, NULL)) == NULL ||
		    (e = BN_bin2bn(b, (int)blen, NULL)) == NULL ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) !=
		    1 ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) !=
		    1) {
			p11_seterr(err, errlen, "RSA public key parameters");
			goto out;
		}
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	} else {
		p11_seterr(err, errlen, "unsupported key type 0x%lx", kt);
		goto out;
	}
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL || ctx == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, pub, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		p11_seterr(err, errlen, "EVP_PKEY_fromdata failed");
		*pub = NULL;
		goto out;
	}
	rv = CKR_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	ASN1_OBJECT_free(curve);
	ASN1_OCTET_STRING_free(point);
	free(a);
	free(b);
	return rv;
}

int
p11_ecdsa_der(const unsigned char *rs, size_t rslen, unsigned char **der,
    size_t *derlen)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *out = NULL;
	int len, rc = -1;

	if (rslen == 0 || rslen % 2 != 0)
		goto out;
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(rs, (int)(rslen / 2), NULL)) == NULL ||
	    (s = BN_bin2bn(rs + rslen / 2, (int)(rslen / 2), NULL)) == NULL)
		goto out;
	if (ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;	/* owned by es */
	if ((len = i2d_ECDSA_SIG(es, &out)) <= 0)
		goto out;
	*der = out;
	*derlen = (size_t)len;
	out = NULL;
	rc = 0;
out:
	OPENSSL_free(out);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return rc;
}

const struct p11_digest *
p11_digest_find(const char *mdname, size_t dlen, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < sizeof(p11_digests) / sizeof(p11_digests[0]); i++)
		if (strcmp(mdname, p11_digests[i].name) == 0)
			break;
	if (i == sizeof(p11_digests) / sizeof(p11_digests[0])) {
		p11_seterr(err, errlen, "digest %s refused (SHA256, SHA384 or "
		    "SHA512 only)", mdname);
		return NULL;
	}
	if (dlen != p11_digests[i].dlen) {
		p11_seterr(err, errlen, "%s digest of %zu bytes (want %zu)",
		    mdname, dlen, p11_digests[i].dlen);
		return NULL;
	}
	return &p11_digests[i];
}
