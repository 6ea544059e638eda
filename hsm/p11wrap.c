/*
 * Wrapped subscriber keys through raw PKCS#11. See p11wrap.h for the
 * contract and the blob format, HSM-NOTES.md for the measurements behind
 * every attribute below.
 *
 * Every call runs on the caller's struct p11_token through p11_token_run()
 * (hsm/p11_priv.h): its session, its kept PIN and its lost-session recovery
 * (find the token again, re-initialize the module when it went away, new
 * session, login, 3 attempts after 10, 50, 200 ms). The wrapping key handle,
 * once found and checked, is kept in the token's handle cache (class
 * CKO_SECRET_KEY), which is emptied with the session: a new session checks
 * the key again. Only the ceremony opens sessions of its own.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "hsm/p11_priv.h"
#include "hsm/p11wrap.h"

#define P11WRAP_AES_LEN		32	/* AES-256 */
#define P11WRAP_HDR		2	/* version, key type */

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

/*
 * Whether the slot's token can wrap and unwrap with CKM_AES_KEY_WRAP_PAD and
 * AES-256 keys. CKR_OK, or an error with err (the C_GetMechanismInfo value,
 * so that a token gone away is recovered; CKR_FUNCTION_FAILED otherwise).
 */
static CK_RV
p11wrap_mech_check(CK_FUNCTION_LIST_PTR f, CK_SLOT_ID slot, const char *label,
    char *err, size_t errlen)
{
	CK_MECHANISM_INFO mi;
	CK_RV rv;

	rv = f->C_GetMechanismInfo(slot, CKM_AES_KEY_WRAP_PAD, &mi);
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "token \"%s\" does not offer "
		    "CKM_AES_KEY_WRAP_PAD (RFC 5649): C_GetMechanismInfo: %s",
		    label, p11_rvname(rv));
		return rv;
	}
	if ((mi.flags & (CKF_WRAP | CKF_UNWRAP)) != (CKF_WRAP | CKF_UNWRAP)) {
		p11_seterr(err, errlen, "token \"%s\": CKM_AES_KEY_WRAP_PAD "
		    "without CKF_WRAP and CKF_UNWRAP", label);
		return CKR_FUNCTION_FAILED;
	}
	if (mi.ulMinKeySize > P11WRAP_AES_LEN ||
	    mi.ulMaxKeySize < P11WRAP_AES_LEN) {
		p11_seterr(err, errlen, "token \"%s\": CKM_AES_KEY_WRAP_PAD "
		    "key sizes %lu..%lu exclude AES-256", label,
		    (unsigned long)mi.ulMinKeySize,
		    (unsigned long)mi.ulMaxKeySize);
		return CKR_FUNCTION_FAILED;
	}
	return CKR_OK;
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
		p11_seterr(err, errlen, "wrapping key \"%s\": "
		    "C_GetAttributeValue CKA_KEY_TYPE: %s", label,
		    p11_rvname(rv));
		return rv;
	}
	if (kt != CKK_AES) {
		p11_seterr(err, errlen, "wrapping key \"%s\": not an AES "
		    "key (type 0x%lx)", label, (unsigned long)kt);
		return CKR_FUNCTION_FAILED;
	}
	a.type = CKA_VALUE_LEN;
	a.pValue = &vlen;
	a.ulValueLen = sizeof(vlen);
	if ((rv = f->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK ||
	    vlen != P11WRAP_AES_LEN) {
		p11_seterr(err, errlen, "wrapping key \"%s\": CKA_VALUE_LEN "
		    "%lu, want %d (%s)", label, (unsigned long)vlen,
		    P11WRAP_AES_LEN, p11_rvname(rv));
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
			p11_seterr(err, errlen, "wrapping key \"%s\": "
			    "C_GetAttributeValue %s: %s", label,
			    p11wrap_wkey_bools[i].name, p11_rvname(rv));
			return p11_rv_lost(rv) ? rv : CKR_FUNCTION_FAILED;
		}
		if (b != p11wrap_wkey_bools[i].want) {
			p11_seterr(err, errlen, "wrapping key \"%s\": %s is "
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
		p11_seterr(err, errlen, "wrapping key \"%s\": "
		    "CKA_ALLOWED_MECHANISMS must be exactly "
		    "{CKM_AES_KEY_WRAP_PAD} (%s)", label,
		    rv == CKR_OK ? "it is not" : p11_rvname(rv));
		return p11_rv_lost(rv) ? rv : CKR_FUNCTION_FAILED;
	}
	/* CKA_UNWRAP_TEMPLATE: exactly p11wrap_unwrap_tmpl, in any order. */
	a.type = CKA_UNWRAP_TEMPLATE;
	a.pValue = NULL;
	a.ulValueLen = 0;
	rv = f->C_GetAttributeValue(s, o, &a, 1);
	if (rv != CKR_OK || a.ulValueLen != P11WRAP_NUNWRAP *
	    sizeof(CK_ATTRIBUTE)) {
		p11_seterr(err, errlen, "wrapping key \"%s\": "
		    "CKA_UNWRAP_TEMPLATE must hold exactly %zu attributes (%s)",
		    label, P11WRAP_NUNWRAP, rv == CKR_OK ? "it does not" :
		    p11_rvname(rv));
		return p11_rv_lost(rv) ? rv : CKR_FUNCTION_FAILED;
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
		p11_seterr(err, errlen, "wrapping key \"%s\": "
		    "C_GetAttributeValue CKA_UNWRAP_TEMPLATE: %s", label,
		    rv == CKR_OK ? "an attribute is not a CK_BBOOL" :
		    p11_rvname(rv));
		return p11_rv_lost(rv) ? rv : CKR_FUNCTION_FAILED;
	}
	for (i = 0; i < P11WRAP_NUNWRAP; i++) {
		for (j = 0; j < n; j++)
			if (got[j].type == p11wrap_unwrap_tmpl[i].type)
				break;
		if (j == n || got[j].ulValueLen != sizeof(CK_BBOOL) ||
		    got[j].pValue != &vals[j] ||
		    vals[j] != *(CK_BBOOL *)p11wrap_unwrap_tmpl[i].pValue) {
			p11_seterr(err, errlen, "wrapping key \"%s\": "
			    "CKA_UNWRAP_TEMPLATE attribute 0x%lx missing or "
			    "wrong", label,
			    (unsigned long)p11wrap_unwrap_tmpl[i].type);
			return CKR_FUNCTION_FAILED;
		}
	}
	return CKR_OK;
}

/*
 * The wrapping key labelled label, found through session s of token tok and
 * checked (the token's mechanism, then every attribute) once per session.
 * CKR_OK with *h, or an error with err.
 */
static CK_RV
p11wrap_wkey(struct p11_token *tok, CK_FUNCTION_LIST_PTR f,
    CK_SESSION_HANDLE s, const char *label, CK_OBJECT_HANDLE *h, char *err,
    size_t errlen)
{
	CK_OBJECT_HANDLE objs[2];
	CK_ULONG n = 0;
	CK_RV rv;

	if (p11_token_cached(tok, CKO_SECRET_KEY, label, h, NULL))
		return CKR_OK;
	if (strlen(label) == 0 || strlen(label) > P11_KEYLABEL_MAX) {
		p11_seterr(err, errlen, "wrapping key label: 1 to %d bytes",
		    P11_KEYLABEL_MAX);
		return CKR_ARGUMENTS_BAD;
	}
	if ((rv = p11wrap_mech_check(f, p11_token_slot(tok),
	    p11_token_label(tok), err, errlen)) != CKR_OK)
		return rv;
	rv = p11_find_objects(f, s, CKO_SECRET_KEY, label, 1, objs, 2, &n);
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "C_FindObjects: %s", p11_rvname(rv));
		return rv;
	}
	if (n != 1) {
		p11_seterr(err, errlen, n == 0 ? "no wrapping key labelled "
		    "\"%s\" in token \"%s\"" : "several secret keys labelled "
		    "\"%s\" in token \"%s\"", label, p11_token_label(tok));
		/*
		 * Not found may be a token whose objects were away for a
		 * moment: p11_run looks once more through a new session, as
		 * for a private key (SoftHSM2 hides them from a session that
		 * saw them vanish, until the daemon restarted).
		 */
		return n == 0 ? CKR_KEY_HANDLE_INVALID : CKR_FUNCTION_FAILED;
	}
	if ((rv = p11wrap_wkey_verify(f, s, objs[0], label, err, errlen)) !=
	    CKR_OK)
		return rv;
	if (p11_token_cache(tok, CKO_SECRET_KEY, label, objs[0], CKK_AES) ==
	    -1) {
		p11_seterr(err, errlen, "wrapping key \"%s\": out of memory",
		    label);
		return CKR_HOST_MEMORY;
	}
	*h = objs[0];
	return CKR_OK;
}

/* After a call that used the cached wrapping key handle failed. */
static void
p11wrap_wkey_failed(struct p11_token *tok, const char *label, CK_RV rv)
{
	if (rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID ||
	    rv == CKR_WRAPPING_KEY_HANDLE_INVALID ||
	    rv == CKR_UNWRAPPING_KEY_HANDLE_INVALID)
		/* Look it up (and check it) again. */
		p11_token_uncache(tok, CKO_SECRET_KEY, label);
}

struct p11wrap_check_arg {
	struct p11_token	*tok;
	const char		*label;
};

static CK_RV
p11wrap_check_op(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, void *varg,
    char *err, size_t errlen)
{
	struct p11wrap_check_arg *a = varg;
	CK_OBJECT_HANDLE h;

	/* Always look again. */
	p11_token_uncache(a->tok, CKO_SECRET_KEY, a->label);
	return p11wrap_wkey(a->tok, f, s, a->label, &h, err, errlen);
}

int
p11wrap_check_wrapping_key(struct p11_token *tok, const char *label,
    char *err, size_t errlen)
{
	struct p11wrap_check_arg a;

	a.tok = tok;
	a.label = label;
	return p11_token_run(tok, p11wrap_check_op, &a, "wrapping key check",
	    err, errlen);
}

int
p11wrap_create_wrapping_key(struct p11_module *m, const char *token_label,
    const char *so_pin, const char *user_pin, const char *label, char *err,
    size_t errlen)
{
	CK_FUNCTION_LIST_PTR f = p11_module_funcs(m);
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
	int login = 0, rc = -1;

	if (strlen(label) == 0 || strlen(label) > P11_KEYLABEL_MAX) {
		p11_seterr(err, errlen, "wrapping key label: 1 to %d bytes",
		    P11_KEYLABEL_MAX);
		goto out;
	}
	if (p11_slot_find(m, token_label, &slot, err, errlen) != 0)
		goto out;
	if (p11wrap_mech_check(f, slot, token_label, err, errlen) != CKR_OK)
		goto out;
	rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
	    NULL, &s);
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "C_OpenSession on token \"%s\": %s",
		    token_label, p11_rvname(rv));
		goto out;
	}
	/* Only the SO can set CKA_TRUSTED, on a public object, at creation. */
	rv = f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin));
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "C_Login (SO) to token \"%s\": %s",
		    token_label, p11_rvname(rv));
		goto out;
	}
	login = 1;
	P11_ATTR(tmpl, nt, CKA_CLASS, &cls, sizeof(cls));
	P11_ATTR(tmpl, nt, CKA_KEY_TYPE, &kt, sizeof(kt));
	P11_ATTR(tmpl, nt, CKA_VALUE_LEN, &vlen, sizeof(vlen));
	P11_ATTR(tmpl, nt, CKA_LABEL, label, strlen(label));
	/*
	 * A public *session* object: a public token object would be stored
	 * in clear in the token directory (HSM-NOTES).
	 */
	P11_ATTR(tmpl, nt, CKA_TOKEN, &p11wrap_false, sizeof(CK_BBOOL));
	P11_ATTR(tmpl, nt, CKA_PRIVATE, &p11wrap_false, sizeof(CK_BBOOL));
	P11_ATTR(tmpl, nt, CKA_TRUSTED, &p11wrap_true, sizeof(CK_BBOOL));
	P11_ATTR(tmpl, nt, CKA_SENSITIVE, &p11wrap_true, sizeof(CK_BBOOL));
	P11_ATTR(tmpl, nt, CKA_EXTRACTABLE, &p11wrap_false, sizeof(CK_BBOOL));
	P11_ATTR(tmpl, nt, CKA_ENCRYPT, &p11wrap_false, sizeof(CK_BBOOL));
	P11_ATTR(tmpl, nt, CKA_DECRYPT, &p11wrap_false, sizeof(CK_BBOOL));
	P11_ATTR(tmpl, nt, CKA_SIGN, &p11wrap_false, sizeof(CK_BBOOL));
	P11_ATTR(tmpl, nt, CKA_VERIFY, &p11wrap_false, sizeof(CK_BBOOL));
	P11_ATTR(tmpl, nt, CKA_DERIVE, &p11wrap_false, sizeof(CK_BBOOL));
	P11_ATTR(tmpl, nt, CKA_WRAP, &p11wrap_true, sizeof(CK_BBOOL));
	P11_ATTR(tmpl, nt, CKA_UNWRAP, &p11wrap_true, sizeof(CK_BBOOL));
	P11_ATTR(tmpl, nt, CKA_ALLOWED_MECHANISMS, p11wrap_allowed,
	    sizeof(p11wrap_allowed));
	P11_ATTR(tmpl, nt, CKA_UNWRAP_TEMPLATE, p11wrap_unwrap_tmpl,
	    sizeof(p11wrap_unwrap_tmpl));
	rv = f->C_GenerateKey(s, &mech, tmpl, nt, &orig);
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "C_GenerateKey (AES-256 wrapping "
		    "key \"%s\", as SO): %s", label, p11_rvname(rv));
		goto out;
	}
	/* A public session object outlives the logout. */
	f->C_Logout(s);
	login = 0;
	rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)user_pin,
	    strlen(user_pin));
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "C_Login (user) to token \"%s\": "
		    "%s", token_label, p11_rvname(rv));
		goto out;
	}
	login = 1;
	/* The user sees every token object: refuse any with this label. */
	rv = p11_find_objects(f, s, P11_ANY_CLASS, label, 1, objs, 1, &n);
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "C_FindObjects: %s",
		    p11_rvname(rv));
		goto out;
	}
	if (n != 0) {
		p11_seterr(err, errlen, "an object labelled \"%s\" already "
		    "exists in token \"%s\"", label, token_label);
		goto out;
	}
	P11_ATTR(ctmpl, nc, CKA_TOKEN, &p11wrap_true, sizeof(CK_BBOOL));
	P11_ATTR(ctmpl, nc, CKA_PRIVATE, &p11wrap_true, sizeof(CK_BBOOL));
	/*
	 * Last: attributes after it could not be set any more. CKA_COPYABLE
	 * cannot be set here (SoftHSM2 2.6.1: CKR_ATTRIBUTE_READ_ONLY) nor
	 * at generation (the copy would be refused): the key stays copyable,
	 * and a copy of a non-modifiable object cannot change any attribute.
	 */
	P11_ATTR(ctmpl, nc, CKA_MODIFIABLE, &p11wrap_false, sizeof(CK_BBOOL));
	rv = f->C_CopyObject(s, orig, ctmpl, nc, &copy);
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "C_CopyObject (wrapping key \"%s\" "
		    "to a private token object): %s", label,
		    p11_rvname(rv));
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
	return rc;
}

struct p11wrap_gen_arg {
	struct p11_token	*tok;
	const char		*wlabel;
	size_t			 ti;	/* index in p11wrap_types */
	unsigned char		**blob;
	size_t			*bloblen;
	EVP_PKEY		**pub;
};

static CK_RV
p11wrap_gen_op(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, void *varg,
    char *err, size_t errlen)
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

	if ((rv = p11wrap_wkey(g->tok, f, s, g->wlabel, &wkey, err,
	    errlen)) != CKR_OK)
		return rv;
	P11_ATTR(pubt, npub, CKA_TOKEN, &p11wrap_false, sizeof(CK_BBOOL));
	P11_ATTR(pubt, npub, CKA_PRIVATE, &p11wrap_false, sizeof(CK_BBOOL));
	P11_ATTR(pubt, npub, CKA_VERIFY, &p11wrap_true, sizeof(CK_BBOOL));
	P11_ATTR(pubt, npub, CKA_ENCRYPT, &p11wrap_false, sizeof(CK_BBOOL));
	P11_ATTR(pubt, npub, CKA_WRAP, &p11wrap_false, sizeof(CK_BBOOL));
	P11_ATTR(privt, npriv, CKA_TOKEN, &p11wrap_false, sizeof(CK_BBOOL));
	P11_ATTR(privt, npriv, CKA_PRIVATE, &p11wrap_true, sizeof(CK_BBOOL));
	P11_ATTR(privt, npriv, CKA_SENSITIVE, &p11wrap_true, sizeof(CK_BBOOL));
	/* Extractable only under a trusted key (SoftHSM2 enforces it). */
	P11_ATTR(privt, npriv, CKA_EXTRACTABLE, &p11wrap_true,
	    sizeof(CK_BBOOL));
	P11_ATTR(privt, npriv, CKA_WRAP_WITH_TRUSTED, &p11wrap_true,
	    sizeof(CK_BBOOL));
	P11_ATTR(privt, npriv, CKA_SIGN, &p11wrap_true, sizeof(CK_BBOOL));
	P11_ATTR(privt, npriv, CKA_DECRYPT, &p11wrap_false, sizeof(CK_BBOOL));
	P11_ATTR(privt, npriv, CKA_UNWRAP, &p11wrap_false, sizeof(CK_BBOOL));
	P11_ATTR(privt, npriv, CKA_DERIVE, &p11wrap_false, sizeof(CK_BBOOL));
	if (p11wrap_types[g->ti].ckk == CKK_RSA) {
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		bits = (CK_ULONG)p11wrap_types[g->ti].bits;
		P11_ATTR(pubt, npub, CKA_MODULUS_BITS, &bits, sizeof(bits));
		P11_ATTR(pubt, npub, CKA_PUBLIC_EXPONENT, exp, sizeof(exp));
	} else {
		mech.mechanism = CKM_EC_KEY_PAIR_GEN;
		if (p11wrap_types[g->ti].bits == 256)
			P11_ATTR(pubt, npub, CKA_EC_PARAMS, p11_oid_p256,
			    sizeof(p11_oid_p256));
		else
			P11_ATTR(pubt, npub, CKA_EC_PARAMS, p11_oid_p384,
			    sizeof(p11_oid_p384));
	}
	rv = f->C_GenerateKeyPair(s, &mech, pubt, npub, privt,
	    npriv, &hpub, &hpriv);
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "C_GenerateKeyPair %s (session "
		    "objects): %s", p11_keytype_name(p11wrap_types[g->ti].type),
		    p11_rvname(rv));
		goto out;
	}
	if ((rv = p11_pub_evp(f, s, hpub, &pub, err, errlen)) != CKR_OK)
		goto out;
	rv = f->C_WrapKey(s, &wmech, wkey, hpriv, NULL, &wlen);
	if (rv == CKR_OK && (wlen < 16 || wlen % 8 != 0 ||
	    wlen > P11WRAP_BLOB_MAX - P11WRAP_HDR))
		rv = CKR_WRAPPED_KEY_LEN_RANGE;
	if (rv == CKR_OK && (out = malloc(P11WRAP_HDR + wlen)) == NULL)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK)
		rv = f->C_WrapKey(s, &wmech, wkey, hpriv, out + P11WRAP_HDR,
		    &wlen);
	if (rv != CKR_OK) {
		p11wrap_wkey_failed(g->tok, g->wlabel, rv);
		p11_seterr(err, errlen, "C_WrapKey (CKM_AES_KEY_WRAP_PAD "
		    "under \"%s\"): %s", g->wlabel, p11_rvname(rv));
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
		f->C_DestroyObject(s, hpriv);
	if (hpub != CK_INVALID_HANDLE)
		f->C_DestroyObject(s, hpub);
	free(out);
	EVP_PKEY_free(pub);
	return rv;
}

int
p11wrap_generate(struct p11_token *tok, const char *wrapping_label,
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
		p11_seterr(err, errlen, "unknown key type %d", (int)type);
		return -1;
	}
	g.tok = tok;
	g.wlabel = wrapping_label;
	g.ti = i;
	g.blob = blob;
	g.bloblen = bloblen;
	g.pub = pub;
	return p11_token_run(tok, p11wrap_gen_op, &g, "wrapped key generation",
	    err, errlen);
}

/* --- unwrapped keys kept for the next signature (p11wrap_cache_limit) ---- */

/*
 * Kept keys live in a dense array (e[0..n-1]); a hash index on the blob id
 * (open addressing, linear probing) finds one in O(1) and a doubly linked
 * list in use order gives the least recently used one to evict, so a
 * signature costs the same with 10 or 100,000 keys kept.
 */
#define P11WRAP_NONE	UINT32_MAX

struct p11wrap_kept {
	unsigned char		 id[SHA256_DIGEST_LENGTH];	/* p11wrap_blob_id */
	EVP_PKEY		*pub;	/* what its first signature verified with */
	CK_OBJECT_HANDLE	 h;	/* session object of the token's session */
	uint32_t		 prev;	/* more recently used, or P11WRAP_NONE */
	uint32_t		 next;	/* less recently used, or P11WRAP_NONE */
};

struct p11wrap_cache {
	struct p11wrap_kept	*e;
	size_t			 n;
	size_t			 max;
	uint32_t		 mru;	/* head of the use list */
	uint32_t		 lru;	/* its tail: evicted first */
	uint32_t		*slots;	/* entry index + 1; 0 is empty */
	size_t			 nslots;	/* a power of two, >= 2 * max */
	struct p11wrap_cache_stats st;
};

/* The id is a SHA-256: any 8 of its bytes are a good hash. */
static size_t
p11wrap_slot(const struct p11wrap_cache *c, const unsigned char *id)
{
	uint64_t v;

	memcpy(&v, id, sizeof(v));
	return (size_t)v & (c->nslots - 1);
}

static void
p11wrap_index_add(struct p11wrap_cache *c, uint32_t k)
{
	size_t p = p11wrap_slot(c, c->e[k].id);

	while (c->slots[p] != 0)
		p = (p + 1) & (c->nslots - 1);
	c->slots[p] = k + 1;
}

static size_t
p11wrap_index_at(const struct p11wrap_cache *c, uint32_t k)
{
	size_t p = p11wrap_slot(c, c->e[k].id);

	while (c->slots[p] != k + 1)
		p = (p + 1) & (c->nslots - 1);
	return p;
}

/* Removes entry k from the index, closing the gap (linear probing). */
static void
p11wrap_index_del(struct p11wrap_cache *c, uint32_t k)
{
	size_t mask = c->nslots - 1, p = p11wrap_index_at(c, k), q = p, home;

	c->slots[p] = 0;
	for (;;) {
		q = (q + 1) & mask;
		if (c->slots[q] == 0)
			return;
		home = p11wrap_slot(c, c->e[c->slots[q] - 1].id);
		/* Stays when its home is cyclically within (p, q]. */
		if (p <= q ? (home > p && home <= q) : (home > p || home <= q))
			continue;
		c->slots[p] = c->slots[q];
		c->slots[q] = 0;
		p = q;
	}
}

static void
p11wrap_use_unlink(struct p11wrap_cache *c, uint32_t k)
{
	struct p11wrap_kept *e = &c->e[k];

	if (e->prev != P11WRAP_NONE)
		c->e[e->prev].next = e->next;
	else
		c->mru = e->next;
	if (e->next != P11WRAP_NONE)
		c->e[e->next].prev = e->prev;
	else
		c->lru = e->prev;
}

static void
p11wrap_use_front(struct p11wrap_cache *c, uint32_t k)
{
	c->e[k].prev = P11WRAP_NONE;
	c->e[k].next = c->mru;
	if (c->mru != P11WRAP_NONE)
		c->e[c->mru].prev = k;
	c->mru = k;
	if (c->lru == P11WRAP_NONE)
		c->lru = k;
}

/* Rebuilds the index for max entries: at least twice as many slots. */
static int
p11wrap_index_build(struct p11wrap_cache *c, size_t max)
{
	size_t ns = 16, i;
	uint32_t *slots;

	while (ns < 2 * max)
		ns *= 2;
	if ((slots = calloc(ns, sizeof(*slots))) == NULL)
		return -1;
	free(c->slots);
	c->slots = slots;
	c->nslots = ns;
	for (i = 0; i < c->n; i++)
		p11wrap_index_add(c, (uint32_t)i);
	return 0;
}

/* The session is gone, and its objects with it: only forget the handles. */
static void
p11wrap_cache_forget(void *arg)
{
	struct p11wrap_cache *c = arg;
	size_t i;

	for (i = 0; i < c->n; i++)
		EVP_PKEY_free(c->e[i].pub);
	c->n = 0;
	c->mru = c->lru = P11WRAP_NONE;
	if (c->slots != NULL)
		memset(c->slots, 0, c->nslots * sizeof(*c->slots));
}

static void
p11wrap_cache_free(void *arg)
{
	struct p11wrap_cache *c = arg;

	p11wrap_cache_forget(c);
	free(c->slots);
	free(c->e);
	free(c);
}

/*
 * Removes entry k, destroying its object through the live session s; the
 * last entry moves into its place.
 */
static void
p11wrap_cache_drop(struct p11wrap_cache *c, CK_FUNCTION_LIST_PTR f,
    CK_SESSION_HANDLE s, uint32_t k)
{
	uint32_t last = (uint32_t)c->n - 1;

	if (f != NULL)
		(void)f->C_DestroyObject(s, c->e[k].h);
	EVP_PKEY_free(c->e[k].pub);
	p11wrap_index_del(c, k);
	p11wrap_use_unlink(c, k);
	if (k != last) {
		c->slots[p11wrap_index_at(c, last)] = k + 1;
		c->e[k] = c->e[last];
		if (c->e[k].prev != P11WRAP_NONE)
			c->e[c->e[k].prev].next = k;
		else
			c->mru = k;
		if (c->e[k].next != P11WRAP_NONE)
			c->e[c->e[k].next].prev = k;
		else
			c->lru = k;
	}
	c->n--;
}

struct p11wrap_trim_arg {
	struct p11wrap_cache	*c;
};

static CK_RV
p11wrap_trim_op(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, void *varg,
    char *err, size_t errlen)
{
	struct p11wrap_cache *c = ((struct p11wrap_trim_arg *)varg)->c;

	(void)err;
	(void)errlen;
	while (c->n > c->max)
		p11wrap_cache_drop(c, f, s, c->lru);
	return CKR_OK;
}

int
p11wrap_cache_limit(struct p11_token *tok, size_t max, char *err,
    size_t errlen)
{
	struct p11wrap_cache *c = p11_token_attached(tok);
	struct p11wrap_kept *ne;
	struct p11wrap_trim_arg a;

	if (max > P11WRAP_CACHE_MAX) {
		p11_seterr(err, errlen, "unwrapped-key cache of %zu keys: at "
		    "most %d", max, P11WRAP_CACHE_MAX);
		return -1;
	}
	if (c == NULL) {
		if (max == 0)
			return 0;
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			p11_seterr(err, errlen, "out of memory");
			return -1;
		}
		c->mru = c->lru = P11WRAP_NONE;
		if (p11wrap_index_build(c, 0) == -1) {
			free(c);
			p11_seterr(err, errlen, "out of memory");
			return -1;
		}
		p11_token_attach(tok, c, p11wrap_cache_forget,
		    p11wrap_cache_free);
	}
	c->max = max;
	a.c = c;
	if (c->n > max && p11_token_run(tok, p11wrap_trim_op, &a,
	    "unwrapped-key cache", err, errlen) == -1)
		return -1;
	if (max > 0 && ((ne = reallocarray(c->e, max, sizeof(*c->e))) == NULL ||
	    (c->e = ne, p11wrap_index_build(c, max)) == -1)) {
		c->max = c->n;
		p11_seterr(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void
p11wrap_cache_stats(struct p11_token *tok, struct p11wrap_cache_stats *st)
{
	struct p11wrap_cache *c = p11_token_attached(tok);

	memset(st, 0, sizeof(*st));
	if (c != NULL) {
		*st = c->st;
		st->kept = c->n;
	}
}

/*
 * The cache's name for a blob under a wrapping key: SHA-256 over the label,
 * a zero byte and the blob (a key unwrapped under another wrapping key is
 * another entry).
 */
static int
p11wrap_blob_id(const char *wlabel, const unsigned char *blob, size_t bloblen,
    unsigned char id[SHA256_DIGEST_LENGTH])
{
	EVP_MD_CTX *ctx;
	int ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, wlabel, strlen(wlabel) + 1) == 1 &&
	    EVP_DigestUpdate(ctx, blob, bloblen) == 1 &&
	    EVP_DigestFinal_ex(ctx, id, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/*
 * The kept entry for this blob whose first signature verified with pub;
 * P11WRAP_NONE when none. A blob kept for another public key (moved to
 * another subscriber's row) is not a match: it is unwrapped again and its
 * signature checked against pub.
 */
static uint32_t
p11wrap_cache_find(struct p11wrap_cache *c, const unsigned char *id,
    const EVP_PKEY *pub)
{
	size_t p = p11wrap_slot(c, id);
	uint32_t k;

	for (; c->slots[p] != 0; p = (p + 1) & (c->nslots - 1)) {
		k = c->slots[p] - 1;
		if (memcmp(c->e[k].id, id, SHA256_DIGEST_LENGTH) == 0 &&
		    EVP_PKEY_eq(c->e[k].pub, pub) == 1)
			return k;
	}
	return P11WRAP_NONE;
}

/* Keeps key h for the blob id, the least recently used one going first. */
static void
p11wrap_cache_keep(struct p11wrap_cache *c, CK_FUNCTION_LIST_PTR f,
    CK_SESSION_HANDLE s, const unsigned char *id, const EVP_PKEY *pub,
    CK_OBJECT_HANDLE h)
{
	struct p11wrap_kept *k;

	if (EVP_PKEY_up_ref((EVP_PKEY *)pub) != 1) {
		(void)f->C_DestroyObject(s, h);
		return;
	}
	if (c->n == c->max) {
		p11wrap_cache_drop(c, f, s, c->lru);
		c->st.evicted++;
	}
	k = &c->e[c->n];
	memcpy(k->id, id, SHA256_DIGEST_LENGTH);
	k->pub = (EVP_PKEY *)pub;
	k->h = h;
	p11wrap_index_add(c, (uint32_t)c->n);
	p11wrap_use_front(c, (uint32_t)c->n);
	c->n++;
}

/* --- signing ---------------------------------------------------------------- */

struct p11wrap_sign_arg {
	struct p11_token	*tok;
	const char		*wlabel;
	const unsigned char	*wrapped;	/* blob past the header */
	size_t			 wrappedlen;
	const unsigned char	*id;		/* p11wrap_blob_id */
	const EVP_PKEY		*pub;		/* stored beside the blob */
	const char		*mdname;
	size_t			 ti;
	const struct p11_digest	*d;
	enum p11wrap_pad	 pad;
	const unsigned char	*const *digests;
	size_t			 n;
	size_t			 dlen;
	unsigned char		**sigs;		/* malloc'd, DER for EC */
	size_t			*siglens;
	int			 mismatch;	/* a signature did not
						   verify with pub */
};


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

static void
p11wrap_sigs_clear(struct p11wrap_sign_arg *a)
{
	size_t k;

	for (k = 0; k < a->n; k++) {
		free(a->sigs[k]);
		a->sigs[k] = NULL;
		a->siglens[k] = 0;
	}
}

/* Signs every digest with key; CKR_OK or an error with err. */
static CK_RV
p11wrap_sign_digests(struct p11wrap_sign_arg *a, CK_FUNCTION_LIST_PTR f,
    CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, char *err, size_t errlen)
{
	CK_MECHANISM mech = { 0, NULL, 0 };
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_KEY_TYPE kt = p11wrap_types[a->ti].ckk;
	CK_ULONG len;
	unsigned char buf[P11_SIG_MAX], in[P11_DIGESTINFO_MAX], *der = NULL;
	size_t inlen, derlen = 0, k;
	CK_RV rv = CKR_OK;

	for (k = 0; k < a->n; k++) {
		if (kt == CKK_EC) {
			mech.mechanism = CKM_ECDSA;
			memcpy(in, a->digests[k], a->dlen);
			inlen = a->dlen;
		} else if (a->pad == P11WRAP_PAD_PSS) {
			pss.hashAlg = a->d->hash;
			pss.mgf = a->d->mgf;
			pss.sLen = a->dlen;
			mech.mechanism = CKM_RSA_PKCS_PSS;
			mech.pParameter = &pss;
			mech.ulParameterLen = sizeof(pss);
			memcpy(in, a->digests[k], a->dlen);
			inlen = a->dlen;
		} else {
			mech.mechanism = CKM_RSA_PKCS;
			memcpy(in, a->d->prefix, a->d->prefixlen);
			memcpy(in + a->d->prefixlen, a->digests[k], a->dlen);
			inlen = a->d->prefixlen + a->dlen;
		}
		len = sizeof(buf);
		if ((rv = f->C_SignInit(s, &mech, key)) == CKR_OK)
			rv = f->C_Sign(s, in, inlen, buf, &len);
		if (rv != CKR_OK) {
			p11_seterr(err, errlen, "C_Sign with an unwrapped %s "
			    "key: %s", p11_keytype_name(p11wrap_types[a->ti].type),
			    p11_rvname(rv));
			goto out;
		}
		if (kt == CKK_EC) {
			if (p11_ecdsa_der(buf, len, &der, &derlen) == -1) {
				p11_seterr(err, errlen, "ECDSA signature of %lu "
				    "bytes: DER encoding failed",
				    (unsigned long)len);
				rv = CKR_FUNCTION_FAILED;
				goto out;
			}
		} else if ((der = OPENSSL_memdup(buf, len)) != NULL)
			derlen = len;
		if (der == NULL || (a->sigs[k] = malloc(derlen)) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		memcpy(a->sigs[k], der, derlen);
		a->siglens[k] = derlen;
		OPENSSL_free(der);
		der = NULL;
	}
out:
	OPENSSL_free(der);
	return rv;
}

/*
 * Which signatures are checked against the expected public key before any
 * is given: from a freshly unwrapped key the first one, which proves the
 * blob holds that key (a blob moved to another subscriber's row signs fine
 * but fails here); every RSA signature, as a fault in an RSA-CRT signature
 * gives the key away (and an RSA verification costs ~1 % of the signature);
 * no further ECDSA signature of a key already proven, where a verification
 * costs more than half a signature and a faulty signature only fails for
 * its relying party.
 */
static CK_RV
p11wrap_check_sigs(struct p11wrap_sign_arg *a, int fresh, char *err,
    size_t errlen)
{
	size_t k, upto = p11wrap_types[a->ti].ckk == CKK_RSA ? a->n :
	    fresh ? 1 : 0;

	for (k = 0; k < upto; k++)
		if (p11wrap_verify(a->pub, a->mdname, a->pad, a->digests[k],
		    a->dlen, a->sigs[k], a->siglens[k]) == -1) {
			p11_seterr(err, errlen, "signature with the wrapped "
			    "key does not verify with the expected public key "
			    "(blob of another subscriber?): not returned");
			a->mismatch = 1;
			return CKR_FUNCTION_FAILED;
		}
	return CKR_OK;
}

/*
 * Signs every digest with the key kept for the blob, or unwraps it, signs,
 * checks, and keeps it (or destroys it when nothing is kept).
 */
static CK_RV
p11wrap_sign_op(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, void *varg,
    char *err, size_t errlen)
{
	struct p11wrap_sign_arg *a = varg;
	struct p11wrap_cache *c = p11_token_attached(a->tok);
	CK_OBJECT_HANDLE wkey, key = CK_INVALID_HANDLE;
	CK_MECHANISM wmech = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = p11wrap_types[a->ti].ckk;
	CK_ATTRIBUTE tmpl[2 + P11WRAP_NUNWRAP];
	CK_ULONG nt = 0, i;
	uint32_t hit;
	CK_RV rv;

	/* A retry after a lost session starts over. */
	p11wrap_sigs_clear(a);
	a->mismatch = 0;
	if (c != NULL && c->max > 0 &&
	    (hit = p11wrap_cache_find(c, a->id, a->pub)) != P11WRAP_NONE) {
		p11wrap_use_unlink(c, hit);
		p11wrap_use_front(c, hit);
		rv = p11wrap_sign_digests(a, f, s, c->e[hit].h, err, errlen);
		if (rv == CKR_OK && (rv = p11wrap_check_sigs(a, 0, err,
		    errlen)) == CKR_OK) {
			c->st.hits++;
			return CKR_OK;
		}
		p11wrap_sigs_clear(a);
		if (p11_rv_lost(rv))
			return rv;	/* the session's objects are gone */
		/*
		 * Whatever went wrong with it, unwrap the blob again: the
		 * fresh key's signature alone says whether it mismatches.
		 */
		p11wrap_cache_drop(c, f, s, hit);
		a->mismatch = 0;
	}
	if ((rv = p11wrap_wkey(a->tok, f, s, a->wlabel, &wkey, err,
	    errlen)) != CKR_OK)
		return rv;
	P11_ATTR(tmpl, nt, CKA_CLASS, &cls, sizeof(cls));
	P11_ATTR(tmpl, nt, CKA_KEY_TYPE, &kt, sizeof(kt));
	for (i = 0; i < P11WRAP_NUNWRAP; i++)
		tmpl[nt++] = p11wrap_unwrap_tmpl[i];
	rv = f->C_UnwrapKey(s, &wmech, wkey,
	    (CK_BYTE_PTR)a->wrapped, a->wrappedlen, tmpl, nt, &key);
	if (rv != CKR_OK) {
		p11wrap_wkey_failed(a->tok, a->wlabel, rv);
		/* SoftHSM2 says CKR_GENERAL_ERROR for a tampered blob. */
		p11_seterr(err, errlen, "C_UnwrapKey under \"%s\": %s "
		    "(tampered blob or another wrapping key?)", a->wlabel,
		    p11_rvname(rv));
		return rv;
	}
	if (c != NULL)
		c->st.unwraps++;
	if ((rv = p11wrap_sign_digests(a, f, s, key, err, errlen)) == CKR_OK)
		rv = p11wrap_check_sigs(a, 1, err, errlen);
	if (rv == CKR_OK && c != NULL && c->max > 0)
		p11wrap_cache_keep(c, f, s, a->id, a->pub, key);
	else
		(void)f->C_DestroyObject(s, key);
	return rv;
}

int
p11wrap_sign_many(struct p11_token *tok, const char *wrapping_label,
    const unsigned char *blob, size_t bloblen, const EVP_PKEY *expected_pub,
    const char *mdname, enum p11wrap_pad pad,
    const unsigned char *const *digests, size_t n, size_t dlen,
    unsigned char **sigs, size_t *siglens, char *err, size_t errlen)
{
	struct p11wrap_sign_arg a;
	const struct p11_digest *d;
	unsigned char id[SHA256_DIGEST_LENGTH];
	size_t ti, k;
	int rc = -1;

	memset(&a, 0, sizeof(a));
	for (k = 0; k < n; k++) {
		sigs[k] = NULL;
		siglens[k] = 0;
	}
	if (n == 0) {
		p11_seterr(err, errlen, "no digest to sign");
		goto out;
	}
	if ((d = p11_digest_find(mdname, dlen, err, errlen)) == NULL)
		goto out;
	if (bloblen < P11WRAP_HDR + 16 || bloblen > P11WRAP_BLOB_MAX ||
	    (bloblen - P11WRAP_HDR) % 8 != 0) {
		p11_seterr(err, errlen, "wrapped key blob of %zu bytes: "
		    "not a version 1 blob (2 + a multiple of 8, at least 18, "
		    "at most %d)", bloblen, P11WRAP_BLOB_MAX);
		goto out;
	}
	if (blob[0] != P11WRAP_BLOB_V1) {
		p11_seterr(err, errlen, "wrapped key blob version %u "
		    "unknown", blob[0]);
		goto out;
	}
	for (ti = 0; ti < P11WRAP_NTYPES; ti++)
		if (p11wrap_types[ti].code == blob[1])
			break;
	if (ti == P11WRAP_NTYPES) {
		p11_seterr(err, errlen, "wrapped key blob: unknown key "
		    "type 0x%02x", blob[1]);
		goto out;
	}
	if (expected_pub == NULL ||
	    !EVP_PKEY_is_a(expected_pub,
	    p11wrap_types[ti].ckk == CKK_EC ? "EC" : "RSA") ||
	    EVP_PKEY_get_bits(expected_pub) != p11wrap_types[ti].bits) {
		p11_seterr(err, errlen, "wrapped key blob holds a %s key; "
		    "the expected public key is not one",
		    p11_keytype_name(p11wrap_types[ti].type));
		/* No signature could verify: the same finding, made early. */
		if (expected_pub != NULL)
			rc = P11WRAP_E_MISMATCH;
		goto out;
	}
	if (pad != P11WRAP_PAD_PKCS1 && pad != P11WRAP_PAD_PSS) {
		p11_seterr(err, errlen, "unknown padding %d", (int)pad);
		goto out;
	}
	if (p11wrap_blob_id(wrapping_label, blob, bloblen, id) == -1) {
		p11_seterr(err, errlen, "SHA-256 of the blob failed");
		goto out;
	}
	a.tok = tok;
	a.wlabel = wrapping_label;
	a.wrapped = blob + P11WRAP_HDR;
	a.wrappedlen = bloblen - P11WRAP_HDR;
	a.id = id;
	a.pub = expected_pub;
	a.mdname = mdname;
	a.ti = ti;
	a.d = d;
	a.pad = pad;
	a.digests = digests;
	a.n = n;
	a.dlen = dlen;
	a.sigs = sigs;
	a.siglens = siglens;
	if (p11_token_run(tok, p11wrap_sign_op, &a, "wrapped key signature",
	    err, errlen) == -1) {
		if (a.mismatch)
			rc = P11WRAP_E_MISMATCH;
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		for (k = 0; k < n; k++) {
			free(sigs[k]);
			sigs[k] = NULL;
			siglens[k] = 0;
		}
	return rc;
}

int
p11wrap_sign(struct p11_token *tok, const char *wrapping_label,
    const unsigned char *blob, size_t bloblen, const EVP_PKEY *expected_pub,
    const char *mdname, enum p11wrap_pad pad, const unsigned char *digest,
    size_t dlen, unsigned char **sig, size_t *siglen, char *err,
    size_t errlen)
{
	return p11wrap_sign_many(tok, wrapping_label, blob, bloblen,
	    expected_pub, mdname, pad, &digest, 1, dlen, sig, siglen, err,
	    errlen);
}
