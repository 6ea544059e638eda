/*
 * Private to hsm/: what p11.c shares with the other raw PKCS#11 code of the
 * folder (p11wrap.c), and the helpers both use (p11util.c). Nothing outside
 * hsm/ includes this; the public contract is p11.h.
 *
 * The helpers take the function list and a session rather than a struct
 * p11_token, so that an op run by p11_token_run() can use them on the
 * session it is handed. They never exit and keep no state.
 */
#ifndef PKI_P11_PRIV_H
#define PKI_P11_PRIV_H

#include <stddef.h>

#include <p11-kit/pkcs11.h>

#include <openssl/evp.h>

#include "hsm/p11.h"

#define P11_LABEL_LEN		32	/* CK_TOKEN_INFO.label, blank padded */
#define P11_KEYLABEL_MAX	64	/* CKA_LABEL of our keys */
#define P11_SIG_MAX		1024	/* RSA-8192 fits */

/* Appends one attribute to a template array: arr[cnt++] = { t, v, l }. */
#define P11_ATTR(arr, cnt, t_, v_, l_) do {				\
	(arr)[(cnt)].type = (t_);					\
	(arr)[(cnt)].pValue = (void *)(v_);				\
	(arr)[(cnt)].ulValueLen = (l_);					\
	(cnt)++;							\
} while (0)

/*
 * An operation for p11_token_run(): uses the live, logged-in session s of
 * the module f, returns a CK_RV and writes err itself for every error that
 * is not a lost session (p11_rv_lost()).
 */
typedef CK_RV (*p11_token_op)(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s,
    void *arg, char *err, size_t errlen);

/* --- p11.c ---------------------------------------------------------------- */

/* The module's function list (borrowed; valid until p11_module_free). */
CK_FUNCTION_LIST_PTR	p11_module_funcs(struct p11_module *);

/*
 * Finds the slot whose initialized token carries label. Returns 0 and the
 * slot, 1 when no such token is present, -1 on error (err in both cases).
 */
int	p11_slot_find(struct p11_module *, const char *label, CK_SLOT_ID *slot,
	    char *err, size_t errlen);

/*
 * The slot of the token's current session. It may change after a
 * reconnect: ask again inside each op rather than keeping it.
 */
CK_SLOT_ID	p11_token_slot(struct p11_token *);

/*
 * Runs op with the token's working session: the recovery loop of p11.h
 * p11_sign_digest (a session from before a module re-init is dropped; a
 * lost session is reopened and the kept PIN given again, P11_RETRIES times
 * with back-off; a refused PIN is never retried; CKR_KEY_HANDLE_INVALID
 * from a session that was not fresh is tried once more through a new
 * session). what names the operation in messages. 0, or -1 with err.
 */
int	p11_token_run(struct p11_token *, p11_token_op op, void *arg,
	    const char *what, char *err, size_t errlen);

/*
 * The token's object handle cache, emptied whenever its session is dropped
 * or replaced, so a cached handle is one found through the live session.
 * Entries are keyed by class and label. Use from an op under
 * p11_token_run(). p11_token_cached: 1 with *h (and *kt when non-NULL),
 * 0 when absent. p11_token_cache: 0, or -1 when out of memory (the label
 * is cut to P11_KEYLABEL_MAX bytes; callers check lengths first).
 */
int	p11_token_cached(struct p11_token *, CK_OBJECT_CLASS, const char *label,
	    CK_OBJECT_HANDLE *h, CK_KEY_TYPE *kt);
int	p11_token_cache(struct p11_token *, CK_OBJECT_CLASS, const char *label,
	    CK_OBJECT_HANDLE h, CK_KEY_TYPE kt);
void	p11_token_uncache(struct p11_token *, CK_OBJECT_CLASS,
	    const char *label);

/*
 * State about the session's own objects that another file of hsm/ keeps
 * with the token (p11wrap.c's unwrapped subscriber keys): forget(state)
 * runs whenever the session is dropped or replaced, since its session
 * objects are destroyed with it, and freefn(state) at p11_token_close.
 * One attachment per token; p11_token_attached gives it back (NULL: none).
 */
void	p11_token_attach(struct p11_token *, void *state,
	    void (*forget)(void *), void (*freefn)(void *));
void	*p11_token_attached(struct p11_token *);

/* --- p11util.c ------------------------------------------------------------ */

/* snprintf into err when err is non-NULL and errlen > 0. */
void	p11_seterr(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* "CKR_PIN_INCORRECT" ...; "CKR_(unknown)" for values not listed. */
const char *p11_rvname(CK_RV);

/* 1 for return values after which the session (or its login) is gone. */
int	p11_rv_lost(CK_RV);

/*
 * Finds at most max objects with CKA_CLASS cls (any class when cls is
 * (CK_OBJECT_CLASS)-1), CKA_LABEL label (any when NULL) and, when token is
 * set, CKA_TOKEN=true. Returns the PKCS#11 value; *n gets the count.
 */
#define P11_ANY_CLASS	((CK_OBJECT_CLASS)-1)
CK_RV	p11_find_objects(CK_FUNCTION_LIST_PTR, CK_SESSION_HANDLE,
	    CK_OBJECT_CLASS cls, const char *label, int token,
	    CK_OBJECT_HANDLE *objs, CK_ULONG max, CK_ULONG *n);

/*
 * One attribute: variable length into a malloc'd *val (caller frees; at
 * most 64 KiB), a CK_ULONG, a CK_BBOOL as 0/1.
 */
CK_RV	p11_attr_get(CK_FUNCTION_LIST_PTR, CK_SESSION_HANDLE, CK_OBJECT_HANDLE,
	    CK_ATTRIBUTE_TYPE, unsigned char **val, size_t *len);
CK_RV	p11_attr_ulong(CK_FUNCTION_LIST_PTR, CK_SESSION_HANDLE,
	    CK_OBJECT_HANDLE, CK_ATTRIBUTE_TYPE, CK_ULONG *v);
CK_RV	p11_attr_bool(CK_FUNCTION_LIST_PTR, CK_SESSION_HANDLE,
	    CK_OBJECT_HANDLE, CK_ATTRIBUTE_TYPE, int *v);

/*
 * Builds an EVP_PKEY (caller frees) from an EC or RSA public key object's
 * attributes. CKR_OK, or an error with err and *pub NULL.
 */
CK_RV	p11_pub_evp(CK_FUNCTION_LIST_PTR, CK_SESSION_HANDLE, CK_OBJECT_HANDLE,
	    EVP_PKEY **pub, char *err, size_t errlen);

/*
 * r||s (each half rslen / 2 bytes) to a DER ECDSA-Sig-Value (RFC 5480
 * §2.2, RFC 3279 §2.2.3) in *der (free with OPENSSL_free). 0 or -1.
 */
int	p11_ecdsa_der(const unsigned char *rs, size_t rslen,
	    unsigned char **der, size_t *derlen);

/* DER of the curve OIDs, as CKA_EC_PARAMS (namedCurve). */
extern const unsigned char	p11_oid_p256[10];
extern const unsigned char	p11_oid_p384[7];

/* The digests we sign: name, length, DigestInfo prefix, PSS parameters. */
struct p11_digest {
	const char		*name;
	size_t			 dlen;
	const unsigned char	*prefix;	/* RFC 8017 §9.2, note 1 */
	size_t			 prefixlen;
	CK_MECHANISM_TYPE	 hash;		/* CK_RSA_PKCS_PSS_PARAMS */
	CK_RSA_PKCS_MGF_TYPE	 mgf;
};
#define P11_DIGESTINFO_MAX	(19 + 64)	/* prefix + SHA-512 */

/*
 * The entry for mdname ("SHA256", "SHA384", "SHA512") when dlen is its
 * length; NULL with err otherwise (SHA1, MD5 ... are refused).
 */
const struct p11_digest *p11_digest_find(const char *mdname, size_t dlen,
	    char *err, size_t errlen);

#endif
