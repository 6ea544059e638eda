/*
 * "pkisigner": an OpenSSL 3 provider whose keys carry a signer handle, a key
 * label and a kind of to-be-signed structure instead of private key
 * material. Its signature operations accumulate the bytes OpenSSL asks to
 * sign (the TBSCertificate, TBSCertList, ResponseData or SignedAttributes)
 * and hand them to signer_sign() at the end, so the signer process sees and
 * checks the real structure and hashes it itself.
 *
 * keymgmt: EC and RSA under their canonical names (PKCS7, CMS and OCSP look
 * at EVP_PKEY_get_id()); public import and export only; no generation. The
 * public key is kept as an ordinary default-provider EVP_PKEY for parameters,
 * comparison and encoding. Any export that asks for the private part is
 * refused, which also makes libcrypto pick this provider's signature code
 * rather than trying to move the key elsewhere.
 *
 * signature: ECDSA and RSA PKCS#1 v1.5 through digest_sign_init/update/final
 * (libcrypto does not hash for a provider), dupctx, and get_ctx_params giving
 * the AlgorithmIdentifier that X.509, CRL and OCSP signing write out;
 * set_ctx_params takes SIGNER_PARAM_CONTENT, the TSTInfo a time-stamp's
 * SignedAttributes cover, which goes to the signer with them.
 *
 * The provider lives in its own OSSL_LIB_CTX (with "default" beside it for
 * encoders), so nothing outside signer_pkey() is ever routed to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "hsm/extern.h"
#include "hsm/signer.h"
#include "hsm/signer_proto.h"

#define PKS_PARAM_LABEL		"pkisigner-label"
#define PKS_PARAM_KIND		"pkisigner-kind"
#define PKS_PARAM_SIGNER	"pkisigner-signer"
#define PKS_PROPQ		"provider=pkisigner"
#define PKS_AID_MAX		32

struct pks_key {
	int		 ec;		/* else RSA */
	EVP_PKEY	*pub;		/* default provider, public part */
	int		 has_label;	/* a signing key, not only a public one */
	char		 label[SIGNER_LABEL_MAX + 1];
	enum signer_kind kind;
	struct signer	*signer;
};

struct pks_sigctx {
	int		 ec;
	struct pks_key	*key;		/* borrowed: the EVP_PKEY holds it */
	char		 mdname[SIGNER_MDNAME_MAX + 1];
	unsigned char	 aid[PKS_AID_MAX];
	size_t		 aidlen;
	unsigned char	*buf;		/* the to-be-signed bytes so far */
	size_t		 len;
	size_t		 cap;
	unsigned char	*content;	/* SIGNER_PARAM_CONTENT, until init or final */
	size_t		 contentlen;
};

/* Forgets the content set for a signature (made, or a new one begun). */
static void
pks_sig_clear_content(struct pks_sigctx *c)
{
	free(c->content);
	c->content = NULL;
	c->contentlen = 0;
}

static void *
pks_key_new(int ec)
{
	struct pks_key *k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	k->ec = ec;
	return k;
}

static void *
pks_ec_new(void *provctx)
{
	return pks_key_new(1);
}

static void *
pks_rsa_new(void *provctx)
{
	return pks_key_new(0);
}

static void
pks_key_free(void *vk)
{
	struct pks_key *k = vk;

	if (k == NULL)
		return;
	EVP_PKEY_free(k->pub);
	free(k);
}

static void *
pks_key_dup(const void *vk, int selection)
{
	const struct pks_key *k = vk;
	struct pks_key *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	*n = *k;
	if (n->pub != NULL && EVP_PKEY_up_ref(n->pub) != 1) {
		free(n);
		return NULL;
	}
	return n;
}

static int
pks_key_has(const void *vk, int selection)
{
	const struct pks_key *k = vk;

	if (k == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0 && k->pub == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 &&
	    !k->has_label)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) != 0 &&
	    k->ec && k->pub == NULL)
		return 0;
	return 1;
}

static int
pks_key_match(const void *va, const void *vb, int selection)
{
	const struct pks_key *a = va, *b = vb;

	if (a->pub == NULL || b->pub == NULL || a->ec != b->ec)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0)
		return EVP_PKEY_eq(a->pub, b->pub) == 1;
	if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) != 0)
		return EVP_PKEY_parameters_eq(a->pub, b->pub) == 1;
	return 1;
}

/*
 * Takes the public key from params (and, for a signing key, the label, kind
 * and signer); refuses private key material.
 */
static int
pks_key_import(void *vk, int selection, const OSSL_PARAM params[])
{
	struct pks_key *k = vk;
	const OSSL_PARAM *pl, *pk, *ps;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pub = NULL;
	const void *sp;
	size_t splen;
	char *label = k->label;
	int kind = 0, rc = 0;

	if (OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY) != NULL ||
	    OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_D) != NULL)
		goto out;
	pl = OSSL_PARAM_locate_const(params, PKS_PARAM_LABEL);
	pk = OSSL_PARAM_locate_const(params, PKS_PARAM_KIND);
	ps = OSSL_PARAM_locate_const(params, PKS_PARAM_SIGNER);
	if (pl != NULL || pk != NULL || ps != NULL) {
		if (pl == NULL || pk == NULL || ps == NULL)
			goto out;
		if (OSSL_PARAM_get_utf8_string(pl, &label,
		    sizeof(k->label)) != 1 || k->label[0] == '\0' ||
		    OSSL_PARAM_get_int(pk, &kind) != 1 ||
		    OSSL_PARAM_get_octet_string_ptr(ps, &sp, &splen) != 1 ||
		    splen != sizeof(k->signer))
			goto out;
		memcpy(&k->signer, sp, sizeof(k->signer));
		k->kind = (enum signer_kind)kind;
		k->has_label = 1;
	}
	ctx = EVP_PKEY_CTX_new_from_name(NULL, k->ec ? "EC" : "RSA",
	    "provider=default");
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pub, EVP_PKEY_PUBLIC_KEY,
	    (OSSL_PARAM *)params) != 1)
		goto out;
	EVP_PKEY_free(k->pub);
	k->pub = pub;
	pub = NULL;
	rc = 1;
out:
	if (!rc)
		k->has_label = 0;
	EVP_PKEY_free(pub);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

static int
pks_key_export(void *vk, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct pks_key *k = vk;
	OSSL_PARAM *p = NULL;
	int rc;

	/* Never the private part: it is not here, and saying so matters. */
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 ||
	    k->pub == NULL)
		return 0;
	if (EVP_PKEY_todata(k->pub, EVP_PKEY_PUBLIC_KEY, &p) != 1)
		return 0;
	rc = cb(p, cbarg);
	OSSL_PARAM_free(p);
	return rc;
}

static const OSSL_PARAM pks_ec_types[] = {
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_utf8_string(PKS_PARAM_LABEL, NULL, 0),
	OSSL_PARAM_int(PKS_PARAM_KIND, NULL),
	OSSL_PARAM_octet_string(PKS_PARAM_SIGNER, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM pks_rsa_types[] = {
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_utf8_string(PKS_PARAM_LABEL, NULL, 0),
	OSSL_PARAM_int(PKS_PARAM_KIND, NULL),
	OSSL_PARAM_octet_string(PKS_PARAM_SIGNER, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM *
pks_ec_types_fn(int selection)
{
	return pks_ec_types;
}

static const OSSL_PARAM *
pks_rsa_types_fn(int selection)
{
	return pks_rsa_types;
}

/* Bits, security bits, max-size, default digest and the public values. */
static int
pks_key_get_params(void *vk, OSSL_PARAM params[])
{
	struct pks_key *k = vk;

	if (k->pub == NULL)
		return 0;
	return EVP_PKEY_get_params(k->pub, params);
}

static const OSSL_PARAM pks_gettable[] = {
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM *
pks_key_gettable(void *provctx)
{
	return pks_gettable;
}

static const char *
pks_ec_opname(int op)
{
	return op == OSSL_OP_SIGNATURE ? "ECDSA" : NULL;
}

static const char *
pks_rsa_opname(int op)
{
	return op == OSSL_OP_SIGNATURE ? "RSA" : NULL;
}

#define PKS_KEYMGMT(pfx)						\
static const OSSL_DISPATCH pks_##pfx##_keymgmt[] = {			\
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))pks_##pfx##_new },	\
	{ OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))pks_key_free },	\
	{ OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))pks_key_dup },		\
	{ OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))pks_key_has },		\
	{ OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))pks_key_match },	\
	{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))pks_key_import },	\
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES,				\
	    (void (*)(void))pks_##pfx##_types_fn },			\
	{ OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))pks_key_export },	\
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES,				\
	    (void (*)(void))pks_##pfx##_types_fn },			\
	{ OSSL_FUNC_KEYMGMT_GET_PARAMS,					\
	    (void (*)(void))pks_key_get_params },			\
	{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,				\
	    (void (*)(void))pks_key_gettable },				\
	{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,			\
	    (void (*)(void))pks_##pfx##_opname },			\
	{ 0, NULL }							\
}

PKS_KEYMGMT(ec);
PKS_KEYMGMT(rsa);

/* --- signature ----------------------------------------------------------- */

static void *
pks_sig_new(int ec)
{
	struct pks_sigctx *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->ec = ec;
	return c;
}

static void *
pks_ecdsa_newctx(void *provctx, const char *propq)
{
	return pks_sig_new(1);
}

static void *
pks_rsa_newctx(void *provctx, const char *propq)
{
	return pks_sig_new(0);
}

static void
pks_sig_free(void *vc)
{
	struct pks_sigctx *c = vc;

	if (c == NULL)
		return;
	free(c->buf);
	free(c->content);
	free(c);
}

static void *
pks_sig_dup(void *vc)
{
	const struct pks_sigctx *c = vc;
	struct pks_sigctx *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	*n = *c;
	n->buf = NULL;
	n->cap = c->len;
	n->content = NULL;
	if (c->len > 0) {
		if ((n->buf = malloc(c->len)) == NULL) {
			free(n);
			return NULL;
		}
		memcpy(n->buf, c->buf, c->len);
	}
	if (c->contentlen > 0) {
		if ((n->content = malloc(c->contentlen)) == NULL) {
			free(n->buf);
			free(n);
			return NULL;
		}
		memcpy(n->content, c->content, c->contentlen);
	}
	return n;
}

/* Our digest name and AlgorithmIdentifier (RFC 5758 §3.2, RFC 4055 §5). */
static int
pks_sig_setmd(struct pks_sigctx *c, const char *mdname)
{
	static const struct {
		int		 mdnid;
		const char	*name;
		int		 ecnid;
		int		 rsanid;
	} map[] = {
		{ NID_sha256, "SHA256", NID_ecdsa_with_SHA256,
		    NID_sha256WithRSAEncryption },
		{ NID_sha384, "SHA384", NID_ecdsa_with_SHA384,
		    NID_sha384WithRSAEncryption },
		{ NID_sha512, "SHA512", NID_ecdsa_with_SHA512,
		    NID_sha512WithRSAEncryption },
		/* Passed on so that the signer refuses it with a reason. */
		{ NID_sha1, "SHA1", NID_ecdsa_with_SHA1,
		    NID_sha1WithRSAEncryption },
	};
	X509_ALGOR *alg = NULL;
	EVP_MD *md = NULL;
	unsigned char *p;
	size_t i;
	int nid, len, rc = 0;

	if (mdname == NULL)
		mdname = "SHA256";
	if ((md = EVP_MD_fetch(NULL, mdname, "provider=default")) == NULL) {
		ERR_raise_data(ERR_LIB_USER, 0, "pkisigner: digest %s "
		    "unknown", mdname);
		goto out;
	}
	nid = EVP_MD_get_type(md);
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].mdnid == nid)
			break;
	if (i == sizeof(map) / sizeof(map[0])) {
		ERR_raise_data(ERR_LIB_USER, 0, "pkisigner: digest %s "
		    "refused", mdname);
		goto out;
	}
	snprintf(c->mdname, sizeof(c->mdname), "%s", map[i].name);
	if ((alg = X509_ALGOR_new()) == NULL ||
	    X509_ALGOR_set0(alg, OBJ_nid2obj(c->ec ? map[i].ecnid :
	    map[i].rsanid), c->ec ? V_ASN1_UNDEF : V_ASN1_NULL, NULL) != 1)
		goto out;
	if ((len = i2d_X509_ALGOR(alg, NULL)) <= 0 || len > PKS_AID_MAX)
		goto out;
	p = c->aid;
	i2d_X509_ALGOR(alg, &p);
	c->aidlen = (size_t)len;
	rc = 1;
out:
	X509_ALGOR_free(alg);
	EVP_MD_free(md);
	return rc;
}

static int	pks_sig_set_params(void *, const OSSL_PARAM[]);

static int
pks_sig_init(void *vc, const char *mdname, void *vk,
    const OSSL_PARAM params[])
{
	struct pks_sigctx *c = vc;
	struct pks_key *k = vk;

	if (k != NULL) {
		if (!k->has_label || k->signer == NULL || k->ec != c->ec) {
			ERR_raise_data(ERR_LIB_USER, 0, "pkisigner: key has "
			    "no signer label");
			return 0;
		}
		c->key = k;
	}
	if (c->key == NULL)
		return 0;
	c->len = 0;
	pks_sig_clear_content(c);
	if (!pks_sig_setmd(c, mdname))
		return 0;
	return pks_sig_set_params(c, params);
}

static int
pks_sig_update(void *vc, const unsigned char *data, size_t len)
{
	struct pks_sigctx *c = vc;
	unsigned char *nb;
	size_t ncap;

	if (len > SIGNER_TBS_MAX || c->len > SIGNER_TBS_MAX - len) {
		ERR_raise_data(ERR_LIB_USER, 0, "pkisigner: to-be-signed data "
		    "over %u bytes", SIGNER_TBS_MAX);
		return 0;
	}
	if (c->len + len > c->cap) {
		ncap = c->cap * 2;
		if (ncap < c->len + len)
			ncap = c->len + len + 256;
		if ((nb = realloc(c->buf, ncap)) == NULL)
			return 0;
		c->buf = nb;
		c->cap = ncap;
	}
	if (len > 0)
		memcpy(c->buf + c->len, data, len);
	c->len += len;
	return 1;
}

static int
pks_sig_final(void *vc, unsigned char *sig, size_t *siglen, size_t sigsize)
{
	struct pks_sigctx *c = vc;
	unsigned char *s = NULL;
	size_t slen = 0;
	char err[SIGNER_ERRTEXT_MAX];
	int max, rc = 0;

	if (c->key == NULL || c->key->pub == NULL)
		return 0;
	if (sig == NULL) {
		if ((max = EVP_PKEY_get_size(c->key->pub)) <= 0)
			return 0;
		*siglen = (size_t)max;
		return 1;
	}
	if (signer_sign_attrs(c->key->signer, c->key->kind, c->key->label,
	    c->mdname, c->buf, c->len, c->content, c->contentlen, &s, &slen,
	    err, sizeof(err)) == -1) {
		ERR_raise_data(ERR_LIB_USER, 0, "pkisigner: %s", err);
		goto out;
	}
	if (slen > sigsize) {
		ERR_raise_data(ERR_LIB_USER, 0, "pkisigner: signature of %zu "
		    "bytes, buffer of %zu", slen, sigsize);
		goto out;
	}
	memcpy(sig, s, slen);
	*siglen = slen;
	rc = 1;
out:
	c->len = 0;
	pks_sig_clear_content(c);
	free(s);
	return rc;
}

static int
pks_sig_get_params(void *vc, OSSL_PARAM params[])
{
	struct pks_sigctx *c = vc;
	OSSL_PARAM *p;

	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID))
	    != NULL && OSSL_PARAM_set_octet_string(p, c->aid, c->aidlen) != 1)
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST)) !=
	    NULL && OSSL_PARAM_set_utf8_string(p, c->mdname) != 1)
		return 0;
	if (!c->ec && (p = OSSL_PARAM_locate(params,
	    OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL) {
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			if (OSSL_PARAM_set_utf8_string(p,
			    OSSL_PKEY_RSA_PAD_MODE_PKCSV15) != 1)
				return 0;
		} else if (OSSL_PARAM_set_int(p, RSA_PKCS1_PADDING) != 1)
			return 0;
	}
	return 1;
}

static const OSSL_PARAM pks_sig_gettable[] = {
	OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
	OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL),
	OSSL_PARAM_END
};

static const OSSL_PARAM *
pks_sig_gettable_fn(void *vc, void *provctx)
{
	return pks_sig_gettable;
}

/*
 * Only PKCS#1 v1.5 padding; the digest is fixed at init. The content
 * (SIGNER_PARAM_CONTENT) is copied; init and final forget it.
 */
static int
pks_sig_set_params(void *vc, const OSSL_PARAM params[])
{
	struct pks_sigctx *c = vc;
	const OSSL_PARAM *p;
	const char *s;
	const void *v;
	size_t n;
	int mode;

	if (params == NULL)
		return 1;
	if ((p = OSSL_PARAM_locate_const(params, SIGNER_PARAM_CONTENT)) !=
	    NULL) {
		if (OSSL_PARAM_get_octet_string_ptr(p, &v, &n) != 1 ||
		    n > SIGNER_CONTENT_MAX) {
			ERR_raise_data(ERR_LIB_USER, 0, "pkisigner: content "
			    "over %u bytes", SIGNER_CONTENT_MAX);
			return 0;
		}
		pks_sig_clear_content(c);
		if (n > 0) {
			if ((c->content = malloc(n)) == NULL)
				return 0;
			memcpy(c->content, v, n);
			c->contentlen = n;
		}
	}
	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL) {
		if (c->ec)
			return 0;
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			if (OSSL_PARAM_get_utf8_string_ptr(p, &s) != 1 ||
			    strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) != 0)
				return 0;
		} else if (OSSL_PARAM_get_int(p, &mode) != 1 ||
		    mode != RSA_PKCS1_PADDING)
			return 0;
	}
	return 1;
}

static const OSSL_PARAM pks_sig_settable[] = {
	OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL),
	OSSL_PARAM_octet_string(SIGNER_PARAM_CONTENT, NULL, 0),
	OSSL_PARAM_END
};

static const OSSL_PARAM *
pks_sig_settable_fn(void *vc, void *provctx)
{
	return pks_sig_settable;
}

#define PKS_SIGNATURE(pfx)						\
static const OSSL_DISPATCH pks_##pfx##_signature[] = {			\
	{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))pks_##pfx##_newctx }, \
	{ OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))pks_sig_free },	\
	{ OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))pks_sig_dup },	\
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT,				\
	    (void (*)(void))pks_sig_init },				\
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE,			\
	    (void (*)(void))pks_sig_update },				\
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL,			\
	    (void (*)(void))pks_sig_final },				\
	{ OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS,				\
	    (void (*)(void))pks_sig_get_params },			\
	{ OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS,			\
	    (void (*)(void))pks_sig_gettable_fn },			\
	{ OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS,				\
	    (void (*)(void))pks_sig_set_params },			\
	{ OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,			\
	    (void (*)(void))pks_sig_settable_fn },			\
	{ 0, NULL }							\
}

PKS_SIGNATURE(ecdsa);
PKS_SIGNATURE(rsa);

static const OSSL_ALGORITHM pks_keymgmts[] = {
	{ "EC:id-ecPublicKey:1.2.840.10045.2.1", PKS_PROPQ, pks_ec_keymgmt,
	    "pkisigner EC key (private part in the signer)" },
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1", PKS_PROPQ,
	    pks_rsa_keymgmt, "pkisigner RSA key (private part in the signer)" },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM pks_signatures[] = {
	{ "ECDSA", PKS_PROPQ, pks_ecdsa_signature,
	    "ECDSA by the signer process" },
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1", PKS_PROPQ,
	    pks_rsa_signature, "RSA PKCS#1 v1.5 by the signer process" },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM *
pks_query(void *provctx, int op, int *no_cache)
{
	*no_cache = 0;
	switch (op) {
	case OSSL_OP_KEYMGMT:
		return pks_keymgmts;
	case OSSL_OP_SIGNATURE:
		return pks_signatures;
	}
	return NULL;
}

static void
pks_teardown(void *provctx)
{
}

static const OSSL_DISPATCH pks_dispatch[] = {
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))pks_query },
	{ OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))pks_teardown },
	{ 0, NULL }
};

static int
pks_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
    const OSSL_DISPATCH **out, void **provctx)
{
	*out = pks_dispatch;
	*provctx = (void *)handle;
	return 1;
}

int
provider_load(OSSL_LIB_CTX **libctx, OSSL_PROVIDER **prov,
    OSSL_PROVIDER **dflt)
{
	*prov = *dflt = NULL;
	if ((*libctx = OSSL_LIB_CTX_new()) == NULL)
		goto fail;
	if (OSSL_PROVIDER_add_builtin(*libctx, "pkisigner", pks_init) != 1 ||
	    (*prov = OSSL_PROVIDER_load(*libctx, "pkisigner")) == NULL ||
	    (*dflt = OSSL_PROVIDER_load(*libctx, "default")) == NULL)
		goto fail;
	return 0;
fail:
	provider_unload(*libctx, *prov, *dflt);
	*libctx = NULL;
	*prov = *dflt = NULL;
	return -1;
}

void
provider_unload(OSSL_LIB_CTX *libctx, OSSL_PROVIDER *prov,
    OSSL_PROVIDER *dflt)
{
	if (prov != NULL)
		OSSL_PROVIDER_unload(prov);
	if (dflt != NULL)
		OSSL_PROVIDER_unload(dflt);
	OSSL_LIB_CTX_free(libctx);
}

EVP_PKEY *
provider_pkey(OSSL_LIB_CTX *libctx, struct signer *s, enum signer_kind kind,
    const char *label, const EVP_PKEY *pub)
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM *pubp = NULL, *all = NULL, ours[4];
	int ikind = (int)kind;

	if (EVP_PKEY_todata(pub, EVP_PKEY_PUBLIC_KEY, &pubp) != 1)
		goto out;
	ours[0] = OSSL_PARAM_construct_utf8_string(PKS_PARAM_LABEL,
	    (char *)label, 0);
	ours[1] = OSSL_PARAM_construct_int(PKS_PARAM_KIND, &ikind);
	ours[2] = OSSL_PARAM_construct_octet_string(PKS_PARAM_SIGNER, &s,
	    sizeof(s));
	ours[3] = OSSL_PARAM_construct_end();
	if ((all = OSSL_PARAM_merge(pubp, ours)) == NULL)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_name(libctx, EVP_PKEY_is_a(pub, "EC") ?
	    "EC" : "RSA", PKS_PROPQ);
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, all) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
		goto out;
	}
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(all);
	OSSL_PARAM_free(pubp);
	return pkey;
}
