/*
 * Wrapped subscriber keys through raw PKCS#11. See p11wrap.h for the
 * contract and the blob format, HSM-NOTES.md for the measurements behind
 * every attribute below.
 *
 * This file does not reach into hsm/p11.c (its structures are private):
 * it opens the same module file itself, which dlopen resolves to the one
 * library instance of the process, and keeps its own session and PIN page.
 * Lost sessions are recovered the way p11.c does (find the token again,
 * new session, login with the kept PIN, 3 attempts after 10, 50, 200 ms);
 * a module re-initialized by p11.c is seen as lost sessions as well.
 */
#include <sys/file.h>
#include <sys/mman.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "hsm/p11wrap.h"

#define P11WRAP_LABEL_LEN	32	/* CK_TOKEN_INFO.label */
#define P11WRAP_KEYLABEL_MAX	64
#define P11WRAP_PIN_MAX		256
#define P11WRAP_RETRIES		3
#define P11WRAP_SIG_MAX		1024	/* RSA-8192 fits */
#define P11WRAP_AES_LEN		32	/* AES-256 */
#define P11WRAP_HDR		2	/* version, key type */

static const unsigned long p11wrap_backoff_ms[P11WRAP_RETRIES] = {
	10, 50, 200
};

struct p11wrap {
	void			*dl;
	CK_FUNCTION_LIST_PTR	 f;
	int			 finalize;	/* we called C_Initialize */
	char			 label[P11WRAP_LABEL_LEN + 1];
	CK_SLOT_ID		 slot;
	CK_SESSION_HANDLE	 session;
	int			 have_session;
	char			*pin;		/* one mlock'd page */
	size_t			 pinlen;
	size_t			 pinpage;
	char			*lockpath;
	/* The last wrapping key found and checked, dropped with the session. */
	char			 wlabel[P11WRAP_KEYLABEL_MAX + 1];
	CK_OBJECT_HANDLE	 wkey;
	int			 have_wkey;
};

static CK_BBOOL p11wrap_true = CK_TRUE;
static CK_BBOOL p11wrap_false = CK_FALSE;

/*
 * The wrapping key's CKA_UNWRAP_TEMPLATE, and so also the template every
 * unwrap repeats (after CKA_CLASS and CKA_KEY_TYPE). SoftHSM2 2.6.1 checks
 * that each of these is present in the unwrap template with this value and
 * applies attributes in order: CKA_MODIFIABLE must stay last.
 */
static CK_ATTRIBUTE p11wrap_unwrap_tmpl[] = {
	{ CKA_TOKEN, &p11wrap_false, sizeof(CK_BBOOL) },
	{ CKA_PRIVATE, &p11wrap_true, sizeof(CK_BBOOL) },
	{ CKA_SENSITIVE, &p11wrap_true, sizeof(CK_BBOOL) },
	{ CKA_EXTRACTABLE, &p11wrap_false, sizeof(CK_BBOOL) },
	{ CKA_SIGN, &p11wrap_true, sizeof(CK_BBOOL) },
	{ CKA_DECRYPT, &p11wrap_false, sizeof(CK_BBOOL) },
	{ CKA_UNWRAP, &p11wrap_false, sizeof(CK_BBOOL) },
	{ CKA_DERIVE, &p11wrap_false, sizeof(CK_BBOOL) },
	{ CKA_COPYABLE, &p11wrap_false, sizeof(CK_BBOOL) },
	{ CKA_MODIFIABLE, &p11wrap_false, sizeof(CK_BBOOL) },
};
#define P11WRAP_NUNWRAP \
	(sizeof(p11wrap_unwrap_tmpl) / sizeof(p11wrap_unwrap_tmpl[0]))

static CK_MECHANISM_TYPE p11wrap_allowed[] = { CKM_AES_KEY_WRAP_PAD };

/* Boolean attributes of a good wrapping key, as checked at start-up. */
static const struct {
	CK_ATTRIBUTE_TYPE	 type;
	const char		*name;
	CK_BBOOL		 want;
} p11wrap_wkey_bools[] = {
	{ CKA_TOKEN, "CKA_TOKEN", CK_TRUE },
	{ CKA_PRIVATE, "CKA_PRIVATE", CK_TRUE },
	{ CKA_TRUSTED, "CKA_TRUSTED", CK_TRUE },
	{ CKA_MODIFIABLE, "CKA_MODIFIABLE", CK_FALSE },
	{ CKA_SENSITIVE, "CKA_SENSITIVE", CK_TRUE },
	{ CKA_ALWAYS_SENSITIVE, "CKA_ALWAYS_SENSITIVE", CK_TRUE },
	{ CKA_EXTRACTABLE, "CKA_EXTRACTABLE", CK_FALSE },
	{ CKA_NEVER_EXTRACTABLE, "CKA_NEVER_EXTRACTABLE", CK_TRUE },
	{ CKA_ENCRYPT, "CKA_ENCRYPT", CK_FALSE },
	{ CKA_DECRYPT, "CKA_DECRYPT", CK_FALSE },
	{ CKA_SIGN, "CKA_SIGN", CK_FALSE },
	{ CKA_VERIFY, "CKA_VERIFY", CK_FALSE },
	{ CKA_DERIVE, "CKA_DERIVE", CK_FALSE },
	{ CKA_WRAP, "CKA_WRAP", CK_TRUE },
	{ CKA_UNWRAP, "CKA_UNWRAP", CK_TRUE },
};

static const struct {
	enum p11_keytype	 type;
	unsigned char		 code;	/* blob byte 1 */
	CK_KEY_TYPE		 ckk;
	int			 bits;
} p11wrap_types[] = {
	{ P11_KEY_RSA2048, P11WRAP_BLOB_RSA2048, CKK_RSA, 2048 },
	{ P11_KEY_RSA3072, P11WRAP_BLOB_RSA3072, CKK_RSA, 3072 },
	{ P11_KEY_RSA4096, P11WRAP_BLOB_RSA4096, CKK_RSA, 4096 },
	{ P11_KEY_EC_P256, P11WRAP_BLOB_EC_P256, CKK_EC, 256 },
	{ P11_KEY_EC_P384, P11WRAP_BLOB_EC_P384, CKK_EC, 384 },
};
#define P11WRAP_NTYPES	(sizeof(p11wrap_types) / sizeof(p11wrap_types[0]))

/* DER of the curve OIDs, as CKA_EC_PARAMS (namedCurve). */
static const unsigned char p11wrap_oid_p256[] = {
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
};
static const unsigned char p11wrap_oid_p384[] = {
	0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22
};

/* DigestInfo prefixes (RFC 8017 §9.2, note 1). */
static const unsigned char p11wrap_di_sha256[] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20
};
static const unsigned char p11wrap_di_sha384[] = {
	0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30
};
static const unsigned char p11wrap_di_sha512[] = {
	0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40
};

static const struct {
	const char		*name;
	size_t			 dlen;
	const unsigned char	*prefix;
	size_t			 prefixlen;
	CK_MECHANISM_TYPE	 hash;	/* for CK_RSA_PKCS_PSS_PARAMS */
	CK_RSA_PKCS_MGF_TYPE	 mgf;
} p11wrap_digests[] = {
	{ "SHA256", 32, p11wrap_di_sha256, sizeof(p11wrap_di_sha256),
	    CKM_SHA256, CKG_MGF1_SHA256 },
	{ "SHA384", 48, p11wrap_di_sha384, sizeof(p11wrap_di_sha384),
	    CKM_SHA384, CKG_MGF1_SHA384 },
	{ "SHA512", 64, p11wrap_di_sha512, sizeof(p11wrap_di_sha512),
	    CKM_SHA512, CKG_MGF1_SHA512 },
};
#define P11WRAP_NDIGESTS \
	(sizeof(p11wrap_digests) / sizeof(p11wrap_digests[0]))

#define P11WRAP_ATTR(arr, cnt, t_, v_, l_) do {			\
	(arr)[(cnt)].type = (t_);					\
	(arr)[(cnt)].pValue = (void *)(v_);				\
	(arr)[(cnt)].ulValueLen = (l_);					\
	(cnt)++;							\
} while (0)

static void	p11wrap_seterr(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
p11wrap_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *
p11wrap_rvname(CK_RV rv)
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
	case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
	case CKR_PIN_INVALID: return "CKR_PIN_INVALID";
	case CKR_PIN_LEN_RANGE: return "CKR_PIN_LEN_RANGE";
	case CKR_PIN_EXPIRED: return "CKR_PIN_EXPIRED";
	case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
	case CKR_SESSION_CLOSED: return "CKR_SESSION_CLOSED";
	case CKR_SESSION_COUNT: return "CKR_SESSION_COUNT";
	case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
	case CKR_SESSION_READ_ONLY_EXISTS:
		return "CKR_SESSION_READ_ONLY_EXISTS";
	case CKR_TEMPLATE_INCOMPLETE: return "CKR_TEMPLATE_INCOMPLETE";
	case CKR_TEMPLATE_INCONSISTENT: return "CKR_TEMPLATE_INCONSISTENT";
	case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
	case CKR_TOKEN_NOT_RECOGNIZED: return "CKR_TOKEN_NOT_RECOGNIZED";
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
	default: return "CKR_(unknown)";
	}
}

/* Return values after which the session (or its login) is gone. */
static int
p11wrap_rv_lost(CK_RV rv)
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

static void
p11wrap_sleep_ms(unsigned long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * dlopens the module and initializes it; *finalize is set when this call
 * initialized it (and so must finalize it). NULL function list on error.
 */
static CK_FUNCTION_LIST_PTR
p11wrap_module_open(const char *path, void **dl, int *finalize, char *err,
    size_t errlen)
{
	CK_C_GetFunctionList getfl;
	CK_FUNCTION_LIST_PTR f = NULL;
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	*finalize = 0;
	if ((*dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		p11wrap_seterr(err, errlen, "dlopen %s: %s", path, dlerror());
		return NULL;
	}
	*(void **)&getfl = dlsym(*dl, "C_GetFunctionList");
	if (getfl == NULL) {
		p11wrap_seterr(err, errlen, "%s: no C_GetFunctionList", path);
		goto fail;
	}
	if ((rv = getfl(&f)) != CKR_OK || f == NULL) {
		p11wrap_seterr(err, errlen, "%s: C_GetFunctionList: %s", path,
		    p11wrap_rvname(rv));
		goto fail;
	}
	/* SoftHSM2 does no locking without CKF_OS_LOCKING_OK (HSM-NOTES). */
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = f->C_Initialize(&args);
	if (rv == CKR_OK)
		*finalize = 1;
	else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		p11wrap_seterr(err, errlen, "%s: C_Initialize: %s", path,
		    p11wrap_rvname(rv));
		goto fail;
	}
	return f;
fail:
	dlclose(*dl);
	*dl = NULL;
	return NULL;
}

/*
 * Finds the slot whose initialized token carries label. 0, 1 when absent,
 * -1 on error.
 */
static int
p11wrap_slot_find(CK_FUNCTION_LIST_PTR f, const char *label, CK_SLOT_ID *slot,
    char *err, size_t errlen)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0, i;
	CK_TOKEN_INFO ti;
	unsigned char want[P11WRAP_LABEL_LEN];
	size_t len = strlen(label);
	CK_RV rv;
	int rc = -1;

	if (len == 0 || len > P11WRAP_LABEL_LEN) {
		p11wrap_seterr(err, errlen, "token label \"%s\": 1 to 32 bytes",
		    label);
		goto out;
	}
	memset(want, ' ', sizeof(want));
	memcpy(want, label, len);
	if ((rv = f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK) {
		p11wrap_seterr(err, errlen, "C_GetSlotList: %s",
		    p11wrap_rvname(rv));
		goto out;
	}
	if (n > 0) {
		if ((slots = calloc(n, sizeof(*slots))) == NULL) {
			p11wrap_seterr(err, errlen, "calloc: %s",
			    strerror(errno));
			goto out;
		}
		if ((rv = f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
			p11wrap_seterr(err, errlen, "C_GetSlotList: %s",
			    p11wrap_rvname(rv));
			goto out;
		}
	}
	rc = 1;
	for (i = 0; i < n; i++) {
		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
		    (ti.flags & CKF_TOKEN_INITIALIZED) == 0)
			continue;
		if (memcmp(ti.label, want, sizeof(want)) == 0) {
			*slot = slots[i];
			rc = 0;
			break;
		}
	}
	if (rc == 1)
		p11wrap_seterr(err, errlen, "token \"%s\" not present", label);
out:
	free(slots);
	return rc;
}

/* 0 when the slot's token can wrap and unwrap with CKM_AES_KEY_WRAP_PAD. */
static int
p11wrap_mech_check(CK_FUNCTION_LIST_PTR f, CK_SLOT_ID slot, const char *label,
    char *err, size_t errlen)
{
	CK_MECHANISM_INFO mi;
	CK_RV rv;

	rv = f->C_GetMechanismInfo(slot, CKM_AES_KEY_WRAP_PAD, &mi);
	if (rv != CKR_OK) {
		p11wrap_seterr(err, errlen, "token \"%s\" does not offer "
		    "CKM_AES_KEY_WRAP_PAD (RFC 5649): C_GetMechanismInfo: %s",
		    label, p11wrap_rvname(rv));
		return -1;
	}
	if ((mi.flags & (CKF_WRAP | CKF_UNWRAP)) != (CKF_WRAP | CKF_UNWRAP)) {
		p11wrap_seterr(err, errlen, "token \"%s\": CKM_AES_KEY_WRAP_PAD "
		    "without CKF_WRAP and CKF_UNWRAP", label);
		return -1;
	}
	if (mi.ulMinKeySize > P11WRAP_AES_LEN ||
	    mi.ulMaxKeySize < P11WRAP_AES_LEN) {
		p11wrap_seterr(err, errlen, "token \"%s\": CKM_AES_KEY_WRAP_PAD "
		    "key sizes %lu..%lu exclude AES-256", label,
		    (unsigned long)mi.ulMinKeySize,
		    (unsigned long)mi.ulMaxKeySize);
		return -1;
	}
	return 0;
}

/*
 * Finds at most max objects matching class (0: any), label and, when token
 * is set, CKA_TOKEN=true.
 */
static CK_RV
p11wrap_find(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
    const char *label, int token, CK_OBJECT_HANDLE *objs, CK_ULONG max,
    CK_ULONG *n)
{
	CK_ATTRIBUTE tmpl[3];
	CK_ULONG nt = 0;
	CK_RV rv, rv2;

	*n = 0;
	if (cls != 0)
		P11WRAP_ATTR(tmpl, nt, CKA_CLASS, &cls, sizeof(cls));
	P11WRAP_ATTR(tmpl, nt, CKA_LABEL, label, strlen(label));
	if (token)
		P11WRAP_ATTR(tmpl, nt, CKA_TOKEN, &p11wrap_true,
		    sizeof(CK_BBOOL));
	if ((rv = f->C_FindObjectsInit(s, tmpl, nt)) != CKR_OK)
		return rv;
	rv = f->C_FindObjects(s, objs, max, n);
	rv2 = f->C_FindObjectsFinal(s);
	return rv != CKR_OK ? rv : rv2;
}

/*
 * Checks every attribute of the wrapping key o. CKR_OK, or an error with
 * err naming the attribute (CKR_FUNCTION_FAILED for a wrong value).
 */
static CK_RV
p11wrap_wkey_verify(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s,
    CK_OBJECT_HANDLE o, const char *label, char *err, size_t errlen)
{
	CK_ATTRIBUTE a, got[P11WRAP_NUNWRAP + 1];
	CK_BBOOL b, vals[P11WRAP_NUNWRAP + 1];
	CK_KEY_TYPE kt = 0;
	CK_ULONG vlen = 0, n, i, j;
	CK_MECHANISM_TYPE mechs[4];
	CK_RV rv;

	a.type = CKA_KEY_TYPE;
	a.pValue = &kt;
	a.ulValueLen = sizeof(kt);
	if ((rv = f->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK) {
		p11wrap_seterr(err, errlen, "wrapping key \"%s\": "
		    "C_GetAttributeValue CKA_KEY_TYPE: %s", label,
		    p11wrap_rvname(rv));
		return rv;
	}
	if (kt != CKK_AES) {
		p11wrap_seterr(err, errlen, "wrapping key \"%s\": not an AES "
		    "key (type 0x%lx)", label, (unsigned long)kt);
		return CKR_FUNCTION_FAILED;
	}
	a.type = CKA_VALUE_LEN;
	a.pValue = &vlen;
	a.ulValueLen = sizeof(vlen);
	if ((rv = f->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK ||
	    vlen != P11WRAP_AES_LEN) {
		p11wrap_seterr(err, errlen, "wrapping key \"%s\": CKA_VALUE_LEN "
		    "%lu, want %d (%s)", label, (unsigned long)vlen,
		    P11WRAP_AES_LEN, p11wrap_rvname(rv));
		return rv != CKR_OK ? rv : CKR_FUNCTION_FAILED;
	}
	for (i = 0; i < sizeof(p11wrap_wkey_bools) /
	    sizeof(p11wrap_wkey_bools[0]); i++) {
		b = CK_FALSE;
		a.type = p11wrap_wkey_bools[i].type;
		a.pValue = &b;
		a.ulValueLen = sizeof(b);
		rv = f->C_GetAttributeValue(s, o, &a, 1);
		if (rv != CKR_OK) {
			p11wrap_seterr(err, errlen, "wrapping key \"%s\": "
			    "C_GetAttributeValue %s: %s", label,
			    p11wrap_wkey_bools[i].name, p11wrap_rvname(rv));
			return p11wrap_rv_lost(rv) ? rv : CKR_FUNCTION_FAILED;
		}
		if (b != p11wrap_wkey_bools[i].want) {
			p11wrap_seterr(err, errlen, "wrapping key \"%s\": %s is "
			    "%s, must be %s (HSM-NOTES: wrapped subscriber "
			    "keys)", label, p11wrap_wkey_bools[i].name,
			    b ? "true" : "false",
			    p11wrap_wkey_bools[i].want ? "true" : "false");
			return CKR_FUNCTION_FAILED;
		}
	}
	/* CKA_ALLOWED_MECHANISMS: exactly { CKM_AES_KEY_WRAP_PAD }. */
	a.type = CKA_ALLOWED_MECHANISMS;
	a.pValue = mechs;
	a.ulValueLen = sizeof(mechs);
	rv = f->C_GetAttributeValue(s, o, &a, 1);
	if (rv != CKR_OK || a.ulValueLen != sizeof(CK_MECHANISM_TYPE) ||
	    mechs[0] != CKM_AES_KEY_WRAP_PAD) {
		p11wrap_seterr(err, errlen, "wrapping key \"%s\": "
		    "CKA_ALLOWED_MECHANISMS must be exactly "
		    "{CKM_AES_KEY_WRAP_PAD} (%s)", label,
		    rv == CKR_OK ? "it is not" : p11wrap_rvname(rv));
		return p11wrap_rv_lost(rv) ? rv : CKR_FUNCTION_FAILED;
	}
	/* CKA_UNWRAP_TEMPLATE: exactly p11wrap_unwrap_tmpl, in any order. */
	a.type = CKA_UNWRAP_TEMPLATE;
	a.pValue = NULL;
	a.ulValueLen = 0;
	rv = f->C_GetAttributeValue(s, o, &a, 1);
	if (rv != CKR_OK || a.ulValueLen != P11WRAP_NUNWRAP *
	    sizeof(CK_ATTRIBUTE)) {
		p11wrap_seterr(err, errlen, "wrapping key \"%s\": "
		    "CKA_UNWRAP_TEMPLATE must hold exactly %zu attributes (%s)",
		    label, P11WRAP_NUNWRAP, rv == CKR_OK ? "it does not" :
		    p11wrap_rvname(rv));
		return p11wrap_rv_lost(rv) ? rv : CKR_FUNCTION_FAILED;
	}
	/*
	 * Two passes (SoftHSM2 reads the inner array this way): all pValue
	 * NULL gives the types and lengths, then the values by type.
	 */
	n = P11WRAP_NUNWRAP;
	memset(got, 0, sizeof(got));
	memset(vals, 0xff, sizeof(vals));
	a.pValue = got;
	a.ulValueLen = n * sizeof(CK_ATTRIBUTE);
	rv = f->C_GetAttributeValue(s, o, &a, 1);
	for (i = 0; rv == CKR_OK && i < n; i++) {
		if (got[i].ulValueLen != sizeof(CK_BBOOL))
			break;
		got[i].pValue = &vals[i];
	}
	if (rv == CKR_OK && i == n)
		rv = f->C_GetAttributeValue(s, o, &a, 1);
	if (rv != CKR_OK || i != n) {
		p11wrap_seterr(err, errlen, "wrapping key \"%s\": "
		    "C_GetAttributeValue CKA_UNWRAP_TEMPLATE: %s", label,
		    rv == CKR_OK ? "an attribute is not a CK_BBOOL" :
		    p11wrap_rvname(rv));
		return p11wrap_rv_lost(rv) ? rv : CKR_FUNCTION_FAILED;
	}
	for (i = 0; i < P11WRAP_NUNWRAP; i++) {
		for (j = 0; j < n; j++)
			if (got[j].type == p11wrap_unwrap_tmpl[i].type)
				break;
		if (j == n || got[j].ulValueLen != sizeof(CK_BBOOL) ||
		    got[j].pValue != &vals[j] ||
		    vals[j] != *(CK_BBOOL *)p11wrap_unwrap_tmpl[i].pValue) {
			p11wrap_seterr(err, errlen, "wrapping key \"%s\": "
			    "CKA_UNWRAP_TEMPLATE attribute 0x%lx missing or "
			    "wrong", label,
			    (unsigned long)p11wrap_unwrap_tmpl[i].type);
			return CKR_FUNCTION_FAILED;
		}
	}
	return CKR_OK;
}

static void
p11wrap_session_drop(struct p11wrap *w)
{
	if (w->have_session)
		w->f->C_CloseSession(w->session);
	w->have_session = 0;
	w->session = CK_INVALID_HANDLE;
	w->have_wkey = 0;
}

/*
 * Finds the token again, opens a session and logs in with the kept PIN
 * (under the flock when lockpath is set). 0, -1, or -2 for a refused PIN.
 */
static int
p11wrap_session_open(struct p11wrap *w, char *err, size_t errlen)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_RV rv;
	int lockfd = -1, rc = -1;

	p11wrap_session_drop(w);
	if (w->lockpath != NULL) {
		lockfd = open(w->lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (lockfd == -1) {
			p11wrap_seterr(err, errlen, "open %s: %s", w->lockpath,
			    strerror(errno));
			goto out;
		}
		while (flock(lockfd, LOCK_EX) == -1) {
			if (errno != EINTR) {
				p11wrap_seterr(err, errlen, "flock %s: %s",
				    w->lockpath, strerror(errno));
				goto out;
			}
		}
	}
	if (p11wrap_slot_find(w->f, w->label, &w->slot, err, errlen) != 0)
		goto out;
	rv = w->f->C_OpenSession(w->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
	    NULL, NULL, &s);
	if (rv != CKR_OK) {
		p11wrap_seterr(err, errlen, "C_OpenSession on token \"%s\": %s",
		    w->label, p11wrap_rvname(rv));
		goto out;
	}
	rv = w->f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)w->pin, w->pinlen);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		p11wrap_seterr(err, errlen, "C_Login to token \"%s\": %s",
		    w->label, p11wrap_rvname(rv));
		/* Retrying a refused PIN would only count towards a lock. */
		if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED ||
		    rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE ||
		    rv == CKR_PIN_EXPIRED)
			rc = -2;
		goto out;
	}
	w->session = s;
	w->have_session = 1;
	s = CK_INVALID_HANDLE;
	rc = 0;
out:
	if (s != CK_INVALID_HANDLE)
		w->f->C_CloseSession(s);
	if (lockfd != -1)
		close(lockfd);	/* releases the flock */
	return rc;
}

struct p11wrap *
p11wrap_open(const char *module, const char *token_label,
    const char *user_pin, const char *lockpath, char *err, size_t errlen)
{
	struct p11wrap *w = NULL;
	size_t pinlen;
	long pg;
	int attempt, r, rc = -1;

	if (strlen(token_label) == 0 ||
	    strlen(token_label) > P11WRAP_LABEL_LEN) {
		p11wrap_seterr(err, errlen, "token label \"%s\": 1 to 32 bytes",
		    token_label);
		goto out;
	}
	if ((pinlen = strlen(user_pin)) == 0 || pinlen > P11WRAP_PIN_MAX) {
		p11wrap_seterr(err, errlen, "user PIN for \"%s\": 1 to %d "
		    "bytes", token_label, P11WRAP_PIN_MAX);
		goto out;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		p11wrap_seterr(err, errlen, "calloc: %s", strerror(errno));
		goto out;
	}
	w->session = CK_INVALID_HANDLE;
	snprintf(w->label, sizeof(w->label), "%s", token_label);
	if (lockpath != NULL && (w->lockpath = strdup(lockpath)) == NULL) {
		p11wrap_seterr(err, errlen, "strdup: %s", strerror(errno));
		goto out;
	}
	if ((pg = sysconf(_SC_PAGESIZE)) <= 0)
		pg = 4096;
	w->pin = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->pin == MAP_FAILED) {
		w->pin = NULL;
		p11wrap_seterr(err, errlen, "mmap: %s", strerror(errno));
		goto out;
	}
	w->pinpage = (size_t)pg;
	if (mlock(w->pin, w->pinpage) == -1) {
		p11wrap_seterr(err, errlen, "mlock PIN page: %s",
		    strerror(errno));
		goto out;
	}
	(void)madvise(w->pin, w->pinpage, MADV_DONTDUMP);
	memcpy(w->pin, user_pin, pinlen);
	w->pinlen = pinlen;
	if ((w->f = p11wrap_module_open(module, &w->dl, &w->finalize, err,
	    errlen)) == NULL)
		goto out;
	for (attempt = 0; (r = p11wrap_session_open(w, err, errlen)) == -1 &&
	    attempt < P11WRAP_RETRIES; attempt++)
		p11wrap_sleep_ms(p11wrap_backoff_ms[attempt]);
	if (r != 0)
		goto out;
	if (p11wrap_mech_check(w->f, w->slot, w->label, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1) {
		p11wrap_close(w);
		w = NULL;
	}
	return w;
}

void
p11wrap_close(struct p11wrap *w)
{
	if (w == NULL)
		return;
	/* No C_Logout: it would destroy every private session object. */
	if (w->f != NULL)
		p11wrap_session_drop(w);
	if (w->finalize)
		w->f->C_Finalize(NULL);
	if (w->dl != NULL)
		dlclose(w->dl);
	if (w->pin != NULL) {
		OPENSSL_cleanse(w->pin, w->pinpage);
		munlock(w->pin, w->pinpage);
		munmap(w->pin, w->pinpage);
	}
	free(w->lockpath);
	free(w);
}

int
p11wrap_test_drop_session(struct p11wrap *w)
{
	return w->f->C_CloseAllSessions(w->slot) == CKR_OK ? 0 : -1;
}

/*
 * Runs op with a working session, reconnecting after a lost session up to
 * P11WRAP_RETRIES times with back-off. op returns a CK_RV and writes err
 * for errors that are not a lost session.
 */
typedef CK_RV (*p11wrap_op)(struct p11wrap *, void *, char *, size_t);

static int
p11wrap_run(struct p11wrap *w, p11wrap_op op, void *arg, const char *what,
    char *err, size_t errlen)
{
	char why[256] = "";
	CK_RV rv;
	int attempt, r;

	for (attempt = 0; attempt <= P11WRAP_RETRIES; attempt++) {
		if (attempt > 0)
			p11wrap_sleep_ms(p11wrap_backoff_ms[attempt - 1]);
		if (!w->have_session) {
			r = p11wrap_session_open(w, why, sizeof(why));
			if (r == -2) {
				p11wrap_seterr(err, errlen, "%s: %s", what, why);
				return -1;
			}
			if (r == -1)
				continue;
		}
		rv = op(w, arg, err, errlen);
		if (rv == CKR_OK)
			return 0;
		if (!p11wrap_rv_lost(rv))
			return -1;	/* op wrote err */
		snprintf(why, sizeof(why), "%s", p11wrap_rvname(rv));
		p11wrap_session_drop(w);
	}
	p11wrap_seterr(err, errlen, "%s: token \"%s\" unavailable after %d "
	    "attempts to reconnect (%s)", what, w->label, P11WRAP_RETRIES, why);
	return -1;
}

/*
 * The wrapping key labelled label, found and checked once per session.
 * CKR_OK with *h, or an error with err.
 */
static CK_RV
p11wrap_wkey(struct p11wrap *w, const char *label, CK_OBJECT_HANDLE *h,
    char *err, size_t errlen)
{
	CK_OBJECT_HANDLE objs[2];
	CK_ULONG n = 0;
	CK_RV rv;

	if (w->have_wkey && strcmp(w->wlabel, label) == 0) {
		*h = w->wkey;
		return CKR_OK;
	}
	w->have_wkey = 0;
	if (strlen(label) == 0 || strlen(label) > P11WRAP_KEYLABEL_MAX) {
		p11wrap_seterr(err, errlen, "wrapping key label: 1 to %d bytes",
		    P11WRAP_KEYLABEL_MAX);
		return CKR_ARGUMENTS_BAD;
	}
	rv = p11wrap_find(w->f, w->session, CKO_SECRET_KEY, label, 1, objs, 2,
	    &n);
	if (rv != CKR_OK) {
		p11wrap_seterr(err, errlen, "C_FindObjects: %s",
		    p11wrap_rvname(rv));
		return rv;
	}
	if (n != 1) {
		p11wrap_seterr(err, errlen, n == 0 ? "no wrapping key labelled "
		    "\"%s\" in token \"%s\"" : "several secret keys labelled "
		    "\"%s\" in token \"%s\"", label, w->label);
		return CKR_FUNCTION_FAILED;
	}
	if ((rv = p11wrap_wkey_verify(w->f, w->session, objs[0], label, err,
	    errlen)) != CKR_OK)
		return rv;
	snprintf(w->wlabel, sizeof(w->wlabel), "%s", label);
	w->wkey = objs[0];
	w->have_wkey = 1;
	*h = objs[0];
	return CKR_OK;
}

/* After a call that used the cached wrapping key handle failed. */
static void
p11wrap_wkey_failed(struct p11wrap *w, CK_RV rv)
{
	if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID ||
	    rv == CKR_WRAPPING_KEY_HANDLE_INVALID ||
	    rv == CKR_UNWRAPPING_KEY_HANDLE_INVALID)
		w->have_wkey = 0;	/* look it up (and check it) again */
}

static CK_RV
p11wrap_check_op(struct p11wrap *w, void *arg, char *err, size_t errlen)
{
	CK_OBJECT_HANDLE h;

	w->have_wkey = 0;	/* always look again */
	return p11wrap_wkey(w, arg, &h, err, errlen);
}

int
p11wrap_check_wrapping_key(struct p11wrap *w, const char *label, char *err,
    size_t errlen)
{
	return p11wrap_run(w, p11wrap_check_op, (void *)label,
	    "wrapping key check", err, errlen);
}

int
p11wrap_create_wrapping_key(const char *module, const char *token_label,
    const char *so_pin, const char *user_pin, const char *label, char *err,
    size_t errlen)
{
	CK_FUNCTION_LIST_PTR f = NULL;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE orig = CK_INVALID_HANDLE, copy = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE objs[1];
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ULONG vlen = P11WRAP_AES_LEN, n = 0, nt = 0, nc = 0;
	CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ATTRIBUTE tmpl[24], ctmpl[4];
	CK_SLOT_ID slot = 0;
	CK_RV rv;
	void *dl = NULL;
	int finalize = 0, login = 0, rc = -1;

	if (strlen(label) == 0 || strlen(label) > P11WRAP_KEYLABEL_MAX) {
		p11wrap_seterr(err, errlen, "wrapping key label: 1 to %d bytes",
		    P11WRAP_KEYLABEL_MAX);
		goto out;
	}
	if ((f = p11wrap_module_open(module, &dl, &finalize, err, errlen)) ==
	    NULL)
		goto out;
	if (p11wrap_slot_find(f, token_label, &slot, err, errlen) != 0)
		goto out;
	if (p11wrap_mech_check(f, slot, token_label, err, errlen) == -1)
		goto out;
	rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
	    NULL, &s);
	if (rv != CKR_OK) {
		p11wrap_seterr(err, errlen, "C_OpenSession on token \"%s\": %s",
		    token_label, p11wrap_rvname(rv));
		goto out;
	}
	/* Only the SO can set CKA_TRUSTED, on a public object, at creation. */
	rv = f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin));
	if (rv != CKR_OK) {
		p11wrap_seterr(err, errlen, "C_Login (SO) to token \"%s\": %s",
		    token_label, p11wrap_rvname(rv));
		goto out;
	}
	login = 1;
	P11WRAP_ATTR(tmpl, nt, CKA_CLASS, &cls, sizeof(cls));
	P11WRAP_ATTR(tmpl, nt, CKA_KEY_TYPE, &kt, sizeof(kt));
	P11WRAP_ATTR(tmpl, nt, CKA_VALUE_LEN, &vlen, sizeof(vlen));
	P11WRAP_ATTR(tmpl, nt, CKA_LABEL, label, strlen(label));
	/*
	 * A public *session* object: a public token object would be stored
	 * in clear in the token directory (HSM-NOTES).
	 */
	P11WRAP_ATTR(tmpl, nt, CKA_TOKEN, &p11wrap_false, sizeof(CK_BBOOL));
	P11WRAP_ATTR(tmpl, nt, CKA_PRIVATE, &p11wrap_false, sizeof(CK_BBOOL));
	P11WRAP_ATTR(tmpl, nt, CKA_TRUSTED, &p11wrap_true, sizeof(CK_BBOOL));
	P11WRAP_ATTR(tmpl, nt, CKA_SENSITIVE, &p11wrap_true, sizeof(CK_BBOOL));
	P11WRAP_ATTR(tmpl, nt, CKA_EXTRACTABLE, &p11wrap_false,
	    sizeof(CK_BBOOL));
	P11WRAP_ATTR(tmpl, nt, CKA_ENCRYPT, &p11wrap_false, sizeof(CK_BBOOL));
	P11WRAP_ATTR(tmpl, nt, CKA_DECRYPT, &p11wrap_false, sizeof(CK_BBOOL));
	P11WRAP_ATTR(tmpl, nt, CKA_SIGN, &p11wrap_false, sizeof(CK_BBOOL));
	P11WRAP_ATTR(tmpl, nt, CKA_VERIFY, &p11wrap_false, sizeof(CK_BBOOL));
	P11WRAP_ATTR(tmpl, nt, CKA_DERIVE, &p11wrap_false, sizeof(CK_BBOOL));
	P11WRAP_ATTR(tmpl, nt, CKA_WRAP, &p11wrap_true, sizeof(CK_BBOOL));
	P11WRAP_ATTR(tmpl, nt, CKA_UNWRAP, &p11wrap_true, sizeof(CK_BBOOL));
	P11WRAP_ATTR(tmpl, nt, CKA_ALLOWED_MECHANISMS, p11wrap_allowed,
	    sizeof(p11wrap_allowed));
	P11WRAP_ATTR(tmpl, nt, CKA_UNWRAP_TEMPLATE, p11wrap_unwrap_tmpl,
	    sizeof(p11wrap_unwrap_tmpl));
	rv = f->C_GenerateKey(s, &mech, tmpl, nt, &orig);
	if (rv != CKR_OK) {
		p11wrap_seterr(err, errlen, "C_GenerateKey (AES-256 wrapping "
		    "key \"%s\", as SO): %s", label, p11wrap_rvname(rv));
		goto out;
	}
	/* A public session object outlives the logout. */
	f->C_Logout(s);
	login = 0;
	rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)user_pin,
	    strlen(user_pin));
	if (rv != CKR_OK) {
		p11wrap_seterr(err, errlen, "C_Login (user) to token \"%s\": "
		    "%s", token_label, p11wrap_rvname(rv));
		goto out;
	}
	login = 1;
	/* The user sees every token object: refuse any with this label. */
	rv = p11wrap_find(f, s, 0, label, 1, objs, 1, &n);
	if (rv != CKR_OK) {
		p11wrap_seterr(err, errlen, "C_FindObjects: %s",
		    p11wrap_rvname(rv));
		goto out;
	}
	if (n != 0) {
		p11wrap_seterr(err, errlen, "an object labelled \"%s\" already "
		    "exists in token \"%s\"", label, token_label);
		goto out;
	}
	P11WRAP_ATTR(ctmpl, nc, CKA_TOKEN, &p11wrap_true, sizeof(CK_BBOOL));
	P11WRAP_ATTR(ctmpl, nc, CKA_PRIVATE, &p11wrap_true, sizeof(CK_BBOOL));
	/*
	 * Last: attributes after it could not be set any more. CKA_COPYABLE
	 * cannot be set here (SoftHSM2 2.6.1: CKR_ATTRIBUTE_READ_ONLY) nor
	 * at generation (the copy would be refused): the key stays copyable,
	 * and a copy of a non-modifiable object cannot change any attribute.
	 */
	P11WRAP_ATTR(ctmpl, nc, CKA_MODIFIABLE, &p11wrap_false,
	    sizeof(CK_BBOOL));
	rv = f->C_CopyObject(s, orig, ctmpl, nc, &copy);
	if (rv != CKR_OK) {
		p11wrap_seterr(err, errlen, "C_CopyObject (wrapping key \"%s\" "
		    "to a private token object): %s", label,
		    p11wrap_rvname(rv));
		goto out;
	}
	if ((rv = p11wrap_wkey_verify(f, s, copy, label, err, errlen)) !=
	    CKR_OK) {
		/* Never leave a key that start-up would refuse anyway. */
		f->C_DestroyObject(s, copy);
		goto out;
	}
	rc = 0;
out:
	if (orig != CK_INVALID_HANDLE)
		f->C_DestroyObject(s, orig);
	/* A ceremony process: it logs out and leaves nothing behind. */
	if (login)
		f->C_Logout(s);
	if (s != CK_INVALID_HANDLE)
		f->C_CloseSession(s);
	if (finalize)
		f->C_Finalize(NULL);
	if (dl != NULL)
		dlclose(dl);
	return rc;
}

/* Reads one variable-length attribute into a malloc'd buffer. */
static CK_RV
p11wrap_attr_get(struct p11wrap *w, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
    unsigned char **val, size_t *len)
{
	CK_ATTRIBUTE a;
	CK_RV rv;

	*val = NULL;
	*len = 0;
	a.type = type;
	a.pValue = NULL;
	a.ulValueLen = 0;
	if ((rv = w->f->C_GetAttributeValue(w->session, o, &a, 1)) != CKR_OK)
		return rv;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 65536)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if ((a.pValue = malloc(a.ulValueLen + 1)) == NULL)
		return CKR_HOST_MEMORY;
	if ((rv = w->f->C_GetAttributeValue(w->session, o, &a, 1)) !=
	    CKR_OK) {
		free(a.pValue);
		return rv;
	}
	*val = a.pValue;
	*len = a.ulValueLen;
	return CKR_OK;
}

/* Builds an EVP_PKEY from a public key object (EC or RSA). */
static CK_RV
p11wrap_pub_evp(struct p11wrap *w, CK_OBJECT_HANDLE o, CK_KEY_TYPE kt,
    EVP_PKEY **pub, char *err, size_t errlen)
{
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
	CK_RV rv = CKR_FUNCTION_FAILED;
	int nid;

	*pub = NULL;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL) {
		p11wrap_seterr(err, errlen, "OSSL_PARAM_BLD_new failed");
		goto out;
	}
	if (kt == CKK_EC) {
		if ((rv = p11wrap_attr_get(w, o, CKA_EC_PARAMS, &a, &alen)) !=
		    CKR_OK ||
		    (rv = p11wrap_attr_get(w, o, CKA_EC_POINT, &b, &blen)) !=
		    CKR_OK) {
			p11wrap_seterr(err, errlen, "C_GetAttributeValue EC "
			    "public key: %s", p11wrap_rvname(rv));
			goto out;
		}
		rv = CKR_FUNCTION_FAILED;
		p = a;
		if ((curve = d2i_ASN1_OBJECT(NULL, &p, (long)alen)) == NULL ||
		    p != a + alen || (nid = OBJ_obj2nid(curve)) == NID_undef ||
		    (group = OBJ_nid2sn(nid)) == NULL) {
			p11wrap_seterr(err, errlen, "CKA_EC_PARAMS: not a known "
			    "named curve");
			goto out;
		}
		/* CKA_EC_POINT is the DER of an OCTET STRING. */
		p = b;
		if ((point = d2i_ASN1_OCTET_STRING(NULL, &p, (long)blen)) ==
		    NULL || p != b + blen) {
			p11wrap_seterr(err, errlen, "CKA_EC_POINT: not an "
			    "OCTET STRING");
			goto out;
		}
		if (OSSL_PARAM_BLD_push_utf8_string(bld,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
		    OSSL_PARAM_BLD_push_octet_string(bld,
		    OSSL_PKEY_PARAM_PUB_KEY, ASN1_STRING_get0_data(point),
		    (size_t)ASN1_STRING_length(point)) != 1) {
			p11wrap_seterr(err, errlen, "OSSL_PARAM_BLD_push "
			    "failed");
			goto out;
		}
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	} else {
		if ((rv = p11wrap_attr_get(w, o, CKA_MODULUS, &a, &alen)) !=
		    CKR_OK ||
		    (rv = p11wrap_attr_get(w, o, CKA_PUBLIC_EXPONENT, &b,
		    &blen)) != CKR_OK) {
			p11wrap_seterr(err, errlen, "C_GetAttributeValue RSA "
			    "public key: %s", p11wrap_rvname(rv));
			goto out;
		}
		rv = CKR_FUNCTION_FAILED;
		if ((n = BN_bin2bn(a, (int)alen, NULL)) == NULL ||
		    (e = BN_bin2bn(b, (int)blen, NULL)) == NULL ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) !=
		    1 ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) !=
		    1) {
			p11wrap_seterr(err, errlen, "RSA public key "
			    "parameters");
			goto out;
		}
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	}
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL || ctx == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, pub, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		p11wrap_seterr(err, errlen, "EVP_PKEY_fromdata failed");
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

struct p11wrap_gen_arg {
	const char		*wlabel;
	size_t			 ti;	/* index in p11wrap_types */
	unsigned char		**blob;
	size_t			*bloblen;
	EVP_PKEY		**pub;
};

static CK_RV
p11wrap_gen_op(struct p11wrap *w, void *varg, char *err, size_t errlen)
{
	struct p11wrap_gen_arg *g = varg;
	CK_OBJECT_HANDLE wkey, hpub = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE hpriv = CK_INVALID_HANDLE;
	CK_MECHANISM mech = { 0, NULL, 0 };
	CK_MECHANISM wmech = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_ATTRIBUTE pubt[8], privt[12];
	CK_ULONG npub = 0, npriv = 0, bits, wlen = 0;
	unsigned char exp[] = { 0x01, 0x00, 0x01 }, *out = NULL;
	EVP_PKEY *pub = NULL;
	CK_RV rv;

	if ((rv = p11wrap_wkey(w, g->wlabel, &wkey, err, errlen)) != CKR_OK)
		return rv;
	P11WRAP_ATTR(pubt, npub, CKA_TOKEN, &p11wrap_false, sizeof(CK_BBOOL));
	P11WRAP_ATTR(pubt, npub, CKA_PRIVATE, &p11wrap_false,
	    sizeof(CK_BBOOL));
	P11WRAP_ATTR(pubt, npub, CKA_VERIFY, &p11wrap_true, sizeof(CK_BBOOL));
	P11WRAP_ATTR(pubt, npub, CKA_ENCRYPT, &p11wrap_false,
	    sizeof(CK_BBOOL));
	P11WRAP_ATTR(pubt, npub, CKA_WRAP, &p11wrap_false, sizeof(CK_BBOOL));
	P11WRAP_ATTR(privt, npriv, CKA_TOKEN, &p11wrap_false,
	    sizeof(CK_BBOOL));
	P11WRAP_ATTR(privt, npriv, CKA_PRIVATE, &p11wrap_true,
	    sizeof(CK_BBOOL));
	P11WRAP_ATTR(privt, npriv, CKA_SENSITIVE, &p11wrap_true,
	    sizeof(CK_BBOOL));
	/* Extractable only under a trusted key (SoftHSM2 enforces it). */
	P11WRAP_ATTR(privt, npriv, CKA_EXTRACTABLE, &p11wrap_true,
	    sizeof(CK_BBOOL));
	P11WRAP_ATTR(privt, npriv, CKA_WRAP_WITH_TRUSTED, &p11wrap_true,
	    sizeof(CK_BBOOL));
	P11WRAP_ATTR(privt, npriv, CKA_SIGN, &p11wrap_true, sizeof(CK_BBOOL));
	P11WRAP_ATTR(privt, npriv, CKA_DECRYPT, &p11wrap_false,
	    sizeof(CK_BBOOL));
	P11WRAP_ATTR(privt, npriv, CKA_UNWRAP, &p11wrap_false,
	    sizeof(CK_BBOOL));
	P11WRAP_ATTR(privt, npriv, CKA_DERIVE, &p11wrap_false,
	    sizeof(CK_BBOOL));
	if (p11wrap_types[g->ti].ckk == CKK_RSA) {
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		bits = (CK_ULONG)p11wrap_types[g->ti].bits;
		P11WRAP_ATTR(pubt, npub, CKA_MODULUS_BITS, &bits, sizeof(bits));
		P11WRAP_ATTR(pubt, npub, CKA_PUBLIC_EXPONENT, exp, sizeof(exp));
	} else {
		mech.mechanism = CKM_EC_KEY_PAIR_GEN;
		if (p11wrap_types[g->ti].bits == 256)
			P11WRAP_ATTR(pubt, npub, CKA_EC_PARAMS,
			    p11wrap_oid_p256, sizeof(p11wrap_oid_p256));
		else
			P11WRAP_ATTR(pubt, npub, CKA_EC_PARAMS,
			    p11wrap_oid_p384, sizeof(p11wrap_oid_p384));
	}
	rv = w->f->C_GenerateKeyPair(w->session, &mech, pubt, npub, privt,
	    npriv, &hpub, &hpriv);
	if (rv != CKR_OK) {
		p11wrap_seterr(err, errlen, "C_GenerateKeyPair %s (session "
		    "objects): %s", p11_keytype_name(p11wrap_types[g->ti].type),
		    p11wrap_rvname(rv));
		goto out;
	}
	if ((rv = p11wrap_pub_evp(w, hpub, p11wrap_types[g->ti].ckk, &pub,
	    err, errlen)) != CKR_OK)
		goto out;
	rv = w->f->C_WrapKey(w->session, &wmech, wkey, hpriv, NULL, &wlen);
	if (rv == CKR_OK && (wlen < 16 || wlen % 8 != 0 ||
	    wlen > P11WRAP_BLOB_MAX - P11WRAP_HDR))
		rv = CKR_WRAPPED_KEY_LEN_RANGE;
	if (rv == CKR_OK && (out = malloc(P11WRAP_HDR + wlen)) == NULL)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK)
		rv = w->f->C_WrapKey(w->session, &wmech, wkey, hpriv,
		    out + P11WRAP_HDR, &wlen);
	if (rv != CKR_OK) {
		p11wrap_wkey_failed(w, rv);
		p11wrap_seterr(err, errlen, "C_WrapKey (CKM_AES_KEY_WRAP_PAD "
		    "under \"%s\"): %s", g->wlabel, p11wrap_rvname(rv));
		goto out;
	}
	out[0] = P11WRAP_BLOB_V1;
	out[1] = p11wrap_types[g->ti].code;
	*g->blob = out;
	*g->bloblen = P11WRAP_HDR + wlen;
	*g->pub = pub;
	out = NULL;
	pub = NULL;
out:
	/* Session objects: gone with the session anyway if it was lost. */
	if (hpriv != CK_INVALID_HANDLE)
		w->f->C_DestroyObject(w->session, hpriv);
	if (hpub != CK_INVALID_HANDLE)
		w->f->C_DestroyObject(w->session, hpub);
	free(out);
	EVP_PKEY_free(pub);
	return rv;
}

int
p11wrap_generate(struct p11wrap *w, const char *wrapping_label,
    enum p11_keytype type, unsigned char **blob, size_t *bloblen,
    EVP_PKEY **pub, char *err, size_t errlen)
{
	struct p11wrap_gen_arg g;
	size_t i;

	*blob = NULL;
	*bloblen = 0;
	*pub = NULL;
	for (i = 0; i < P11WRAP_NTYPES; i++)
		if (p11wrap_types[i].type == type)
			break;
	if (i == P11WRAP_NTYPES) {
		p11wrap_seterr(err, errlen, "unknown key type %d", (int)type);
		return -1;
	}
	g.wlabel = wrapping_label;
	g.ti = i;
	g.blob = blob;
	g.bloblen = bloblen;
	g.pub = pub;
	return p11wrap_run(w, p11wrap_gen_op, &g, "wrapped key generation",
	    err, errlen);
}

/* r||s (each half n bytes) to DER ECDSA-Sig-Value (RFC 5480 §2.2 / 3279). */
static int
p11wrap_ecdsa_der(const unsigned char *rs, size_t rslen, unsigned char **der,
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

struct p11wrap_sign_arg {
	const char		*wlabel;
	const unsigned char	*wrapped;	/* blob past the header */
	size_t			 wrappedlen;
	size_t			 ti;
	size_t			 di;		/* index in p11wrap_digests */
	enum p11wrap_pad	 pad;
	const unsigned char	*digest;
	size_t			 dlen;
	unsigned char		**sig;		/* malloc'd, DER for EC */
	size_t			*siglen;
};

static CK_RV
p11wrap_sign_op(struct p11wrap *w, void *varg, char *err, size_t errlen)
{
	struct p11wrap_sign_arg *a = varg;
	CK_OBJECT_HANDLE wkey, key = CK_INVALID_HANDLE;
	CK_MECHANISM wmech = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_MECHANISM mech = { 0, NULL, 0 };
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = p11wrap_types[a->ti].ckk;
	CK_ATTRIBUTE tmpl[2 + P11WRAP_NUNWRAP];
	CK_ULONG nt = 0, len, i;
	unsigned char buf[P11WRAP_SIG_MAX], in[19 + 64], *der = NULL;
	size_t inlen, derlen = 0;
	CK_RV rv;

	if ((rv = p11wrap_wkey(w, a->wlabel, &wkey, err, errlen)) != CKR_OK)
		return rv;
	P11WRAP_ATTR(tmpl, nt, CKA_CLASS, &cls, sizeof(cls));
	P11WRAP_ATTR(tmpl, nt, CKA_KEY_TYPE, &kt, sizeof(kt));
	for (i = 0; i < P11WRAP_NUNWRAP; i++)
		tmpl[nt++] = p11wrap_unwrap_tmpl[i];
	rv = w->f->C_UnwrapKey(w->session, &wmech, wkey,
	    (CK_BYTE_PTR)a->wrapped, a->wrappedlen, tmpl, nt, &key);
	if (rv != CKR_OK) {
		p11wrap_wkey_failed(w, rv);
		/* SoftHSM2 says CKR_GENERAL_ERROR for a tampered blob. */
		p11wrap_seterr(err, errlen, "C_UnwrapKey under \"%s\": %s "
		    "(tampered blob or another wrapping key?)", a->wlabel,
		    p11wrap_rvname(rv));
		goto out;
	}
	if (kt == CKK_EC) {
		mech.mechanism = CKM_ECDSA;
		memcpy(in, a->digest, a->dlen);
		inlen = a->dlen;
	} else if (a->pad == P11WRAP_PAD_PSS) {
		pss.hashAlg = p11wrap_digests[a->di].hash;
		pss.mgf = p11wrap_digests[a->di].mgf;
		pss.sLen = a->dlen;
		mech.mechanism = CKM_RSA_PKCS_PSS;
		mech.pParameter = &pss;
		mech.ulParameterLen = sizeof(pss);
		memcpy(in, a->digest, a->dlen);
		inlen = a->dlen;
	} else {
		mech.mechanism = CKM_RSA_PKCS;
		memcpy(in, p11wrap_digests[a->di].prefix,
		    p11wrap_digests[a->di].prefixlen);
		memcpy(in + p11wrap_digests[a->di].prefixlen, a->digest,
		    a->dlen);
		inlen = p11wrap_digests[a->di].prefixlen + a->dlen;
	}
	len = sizeof(buf);
	if ((rv = w->f->C_SignInit(w->session, &mech, key)) == CKR_OK)
		rv = w->f->C_Sign(w->session, in, inlen, buf, &len);
	if (rv != CKR_OK) {
		p11wrap_seterr(err, errlen, "C_Sign with an unwrapped %s key: "
		    "%s", p11_keytype_name(p11wrap_types[a->ti].type),
		    p11wrap_rvname(rv));
		goto out;
	}
	if (kt == CKK_EC) {
		if (p11wrap_ecdsa_der(buf, len, &der, &derlen) == -1) {
			p11wrap_seterr(err, errlen, "ECDSA signature of %lu "
			    "bytes: DER encoding failed", (unsigned long)len);
			rv = CKR_FUNCTION_FAILED;
			goto out;
		}
		if ((*a->sig = malloc(derlen)) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		memcpy(*a->sig, der, derlen);
		*a->siglen = derlen;
	} else {
		if ((*a->sig = malloc(len)) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		memcpy(*a->sig, buf, len);
		*a->siglen = len;
	}
out:
	if (key != CK_INVALID_HANDLE)
		w->f->C_DestroyObject(w->session, key);
	OPENSSL_free(der);
	return rv;
}

/* 0 when sig verifies over digest with pub (EC, or RSA with pad). */
static int
p11wrap_verify(const EVP_PKEY *pub, const char *mdname, enum p11wrap_pad pad,
    const unsigned char *digest, size_t dlen, const unsigned char *sig,
    size_t siglen)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_MD *md = NULL;
	int rc = -1;

	if ((md = EVP_MD_fetch(NULL, mdname, NULL)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, (EVP_PKEY *)pub,
	    NULL)) == NULL ||
	    EVP_PKEY_verify_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0)
		goto out;
	if (EVP_PKEY_is_a(pub, "RSA") && pad == P11WRAP_PAD_PSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)dlen) <= 0))
		goto out;
	if (EVP_PKEY_verify(ctx, sig, siglen, digest, dlen) != 1)
		goto out;
	rc = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_MD_free(md);
	return rc;
}

int
p11wrap_sign(struct p11wrap *w, const char *wrapping_label,
    const unsigned char *blob, size_t bloblen, const EVP_PKEY *expected_pub,
    const char *mdname, enum p11wrap_pad pad, const unsigned char *digest,
    size_t dlen, unsigned char **sig, size_t *siglen, char *err,
    size_t errlen)
{
	struct p11wrap_sign_arg a;
	size_t di, ti;
	int rc = -1;

	*sig = NULL;
	*siglen = 0;
	for (di = 0; di < P11WRAP_NDIGESTS; di++)
		if (strcmp(mdname, p11wrap_digests[di].name) == 0)
			break;
	if (di == P11WRAP_NDIGESTS) {
		p11wrap_seterr(err, errlen, "digest %s refused (SHA256, SHA384 "
		    "or SHA512 only)", mdname);
		goto out;
	}
	if (dlen != p11wrap_digests[di].dlen) {
		p11wrap_seterr(err, errlen, "%s digest of %zu bytes (want %zu)",
		    mdname, dlen, p11wrap_digests[di].dlen);
		goto out;
	}
	if (bloblen < P11WRAP_HDR + 16 || bloblen > P11WRAP_BLOB_MAX ||
	    (bloblen - P11WRAP_HDR) % 8 != 0) {
		p11wrap_seterr(err, errlen, "wrapped key blob of %zu bytes: "
		    "not a version 1 blob (2 + a multiple of 8, at least 18, "
		    "at most %d)", bloblen, P11WRAP_BLOB_MAX);
		goto out;
	}
	if (blob[0] != P11WRAP_BLOB_V1) {
		p11wrap_seterr(err, errlen, "wrapped key blob version %u "
		    "unknown", blob[0]);
		goto out;
	}
	for (ti = 0; ti < P11WRAP_NTYPES; ti++)
		if (p11wrap_types[ti].code == blob[1])
			break;
	if (ti == P11WRAP_NTYPES) {
		p11wrap_seterr(err, errlen, "wrapped key blob: unknown key "
		    "type 0x%02x", blob[1]);
		goto out;
	}
	if (expected_pub == NULL ||
	    !EVP_PKEY_is_a(expected_pub,
	    p11wrap_types[ti].ckk == CKK_EC ? "EC" : "RSA") ||
	    EVP_PKEY_get_bits(expected_pub) != p11wrap_types[ti].bits) {
		p11wrap_seterr(err, errlen, "wrapped key blob holds a %s key; "
		    "the expected public key is not one",
		    p11_keytype_name(p11wrap_types[ti].type));
		goto out;
	}
	if (pad != P11WRAP_PAD_PKCS1 && pad != P11WRAP_PAD_PSS) {
		p11wrap_seterr(err, errlen, "unknown padding %d", (int)pad);
		goto out;
	}
	a.wlabel = wrapping_label;
	a.wrapped = blob + P11WRAP_HDR;
	a.wrappedlen = bloblen - P11WRAP_HDR;
	a.ti = ti;
	a.di = di;
	a.pad = pad;
	a.digest = digest;
	a.dlen = dlen;
	a.sig = sig;
	a.siglen = siglen;
	if (p11wrap_run(w, p11wrap_sign_op, &a, "wrapped key signature", err,
	    errlen) == -1)
		goto out;
	/*
	 * A blob is not bound to its subscriber: one moved to another
	 * subscriber's row unwraps and signs fine. Only a signature that
	 * verifies with the public key stored beside the blob goes out.
	 */
	if (p11wrap_verify(expected_pub, mdname, pad, digest, dlen, *sig,
	    *siglen) == -1) {
		p11wrap_seterr(err, errlen, "signature with the wrapped key "
		    "does not verify with the expected public key (blob of "
		    "another subscriber?): not returned");
		goto out;
	}
	rc = 0;
out:
	if (rc == -1) {
		free(*sig);
		*sig = NULL;
		*siglen = 0;
	}
	return rc;
}
