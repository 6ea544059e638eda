/*
 * hsm/p11wrap.c against a throw-away SoftHSM2 token: the wrapping-key
 * ceremony, generate/wrap/unwrap/sign/verify for P-256 and RSA-2048, and the
 * attacks of HSM-NOTES.md ("Wrapped subscriber keys") made with only what a
 * user-PIN holder has (a logged-in session and a blob), each of which must
 * fail: unwrap as non-sensitive or extractable and read the key, re-wrap
 * under a key of known value, use the wrapping key to decrypt, plus tampered
 * and swapped blobs and a wrapping key left with default attributes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>

#include <cmocka.h>
#include <p11-kit/pkcs11.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "hsm/p11.h"
#include "hsm/p11wrap.h"
#include "tests/unit/hsm/hsmtest.h"

#define TOKEN	"p11wrap-test"
#define WKEY	"wrap-1"
#define WKEY2	"wrap-2"

struct fixture {
	struct hsmtest		 h;
	struct p11_module	*mod;
	struct p11_token	*tok;
	char			 dup_err[256];	/* second ceremony, same label */
	int			 dup_rc;
	/* The attacker's view: raw PKCS#11 on the same (logged-in) token. */
	void			*dl;
	CK_FUNCTION_LIST_PTR	 f;
	CK_SESSION_HANDLE	 s;
	/* One subscriber of each type, made once. */
	unsigned char		*ecblob, *rsablob;
	size_t			 ecbloblen, rsabloblen;
	EVP_PKEY		*ecpub, *rsapub;
};

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

#define ATTR(arr, cnt, t_, v_, l_) do {					\
	(arr)[(cnt)].type = (t_);					\
	(arr)[(cnt)].pValue = (void *)(v_);				\
	(arr)[(cnt)].ulValueLen = (l_);					\
	(cnt)++;							\
} while (0)

/* Opens a raw session on the token (no login). */
static int
raw_session(struct fixture *f, CK_SESSION_HANDLE *s)
{
	CK_C_GetFunctionList gfl;
	CK_SLOT_ID slots[16];
	CK_ULONG n = 16, i;
	CK_TOKEN_INFO ti;

	if (f->dl != NULL)
		dlclose(f->dl);
	if ((f->dl = dlopen(f->h.module, RTLD_NOW | RTLD_NOLOAD)) == NULL)
		return -1;
	*(void **)&gfl = dlsym(f->dl, "C_GetFunctionList");
	if (gfl == NULL || gfl(&f->f) != CKR_OK)
		return -1;
	if (f->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return -1;
	for (i = 0; i < n; i++) {
		if (f->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    memcmp(ti.label, TOKEN, strlen(TOKEN)) == 0)
			break;
	}
	if (i == n)
		return -1;
	if (f->f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION,
	    NULL, NULL, s) != CKR_OK)
		return -1;
	return 0;
}

static int
raw_open(struct fixture *f)
{
	CK_RV n;

	if (raw_session(f, &f->s) == -1)
		return -1;
	/* The user PIN is all the attacker needs (already logged in here). */
	n = f->f->C_Login(f->s, CKU_USER, (CK_UTF8CHAR_PTR)HSMTEST_USER_PIN,
	    strlen(HSMTEST_USER_PIN));
	return n == CKR_OK || n == CKR_USER_ALREADY_LOGGED_IN ? 0 : -1;
}

/*
 * The control: a trusted AES key made the way HSM-NOTES first tried (SO,
 * public session object, copied private), but with default usage
 * attributes and no unwrap template. The attacks must succeed with it, or
 * the attack tests prove nothing.
 */
#define WEAK	"weak-trusted"
static int
make_weak_trusted(struct fixture *f)
{
	CK_SESSION_HANDLE s;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	CK_ULONG len = 32, nt = 0, nc = 0;
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ATTRIBUTE t[10], c[2];
	CK_OBJECT_HANDLE orig, copy;
	int rc = -1;

	if (raw_session(f, &s) == -1)
		return -1;
	ATTR(t, nt, CKA_CLASS, &cls, sizeof(cls));
	ATTR(t, nt, CKA_KEY_TYPE, &aes, sizeof(aes));
	ATTR(t, nt, CKA_VALUE_LEN, &len, sizeof(len));
	ATTR(t, nt, CKA_TOKEN, &no, sizeof(no));
	ATTR(t, nt, CKA_PRIVATE, &no, sizeof(no));
	ATTR(t, nt, CKA_TRUSTED, &yes, sizeof(yes));
	ATTR(t, nt, CKA_EXTRACTABLE, &no, sizeof(no));
	ATTR(t, nt, CKA_WRAP, &yes, sizeof(yes));
	ATTR(t, nt, CKA_UNWRAP, &yes, sizeof(yes));
	ATTR(t, nt, CKA_LABEL, WEAK, strlen(WEAK));
	ATTR(c, nc, CKA_TOKEN, &yes, sizeof(yes));
	ATTR(c, nc, CKA_PRIVATE, &yes, sizeof(yes));
	if (f->f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)HSMTEST_SO_PIN,
	    strlen(HSMTEST_SO_PIN)) != CKR_OK ||
	    f->f->C_GenerateKey(s, &gen, t, nt, &orig) != CKR_OK ||
	    f->f->C_Logout(s) != CKR_OK ||
	    f->f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)HSMTEST_USER_PIN,
	    strlen(HSMTEST_USER_PIN)) != CKR_OK ||
	    f->f->C_CopyObject(s, orig, c, nc, &copy) != CKR_OK ||
	    f->f->C_DestroyObject(s, orig) != CKR_OK)
		goto out;
	rc = 0;
out:
	f->f->C_Logout(s);
	f->f->C_CloseSession(s);
	return rc;
}

static int
setup(void **state)
{
	struct fixture *f;
	char err[256];

	if ((f = calloc(1, sizeof(*f))) == NULL || hsmtest_setup(&f->h) == -1)
		return -1;
	if ((f->mod = p11_module_load(f->h.module, err, sizeof(err))) == NULL ||
	    p11_token_init(f->mod, TOKEN, HSMTEST_SO_PIN, HSMTEST_USER_PIN,
	    err, sizeof(err)) == -1)
		goto fail;
	/* The ceremony, before anyone of this process is logged in. */
	if (p11wrap_create_wrapping_key(f->mod, TOKEN, HSMTEST_SO_PIN,
	    HSMTEST_USER_PIN, WKEY, err, sizeof(err)) == -1 ||
	    p11wrap_create_wrapping_key(f->mod, TOKEN, HSMTEST_SO_PIN,
	    HSMTEST_USER_PIN, WKEY2, err, sizeof(err)) == -1)
		goto fail;
	if (make_weak_trusted(f) == -1) {
		snprintf(err, sizeof(err), "weak trusted key failed");
		goto fail;
	}
	f->dup_rc = p11wrap_create_wrapping_key(f->mod, TOKEN, HSMTEST_SO_PIN,
	    HSMTEST_USER_PIN, WKEY, f->dup_err, sizeof(f->dup_err));
	if ((f->tok = p11_token_open(f->mod, TOKEN, HSMTEST_USER_PIN, NULL,
	    err, sizeof(err))) == NULL)
		goto fail;
	if (p11wrap_generate(f->tok, WKEY, P11_KEY_EC_P256, &f->ecblob,
	    &f->ecbloblen, &f->ecpub, err, sizeof(err)) == -1 ||
	    p11wrap_generate(f->tok, WKEY, P11_KEY_RSA2048, &f->rsablob,
	    &f->rsabloblen, &f->rsapub, err, sizeof(err)) == -1)
		goto fail;
	if (raw_open(f) == -1) {
		snprintf(err, sizeof(err), "raw session failed");
		goto fail;
	}
	*state = f;
	return 0;
fail:
	fprintf(stderr, "setup: %s\n", err);
	return -1;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	f->f->C_CloseSession(f->s);
	dlclose(f->dl);
	free(f->ecblob);
	free(f->rsablob);
	EVP_PKEY_free(f->ecpub);
	EVP_PKEY_free(f->rsapub);
	p11_token_close(f->tok);
	p11_module_free(f->mod);
	hsmtest_teardown(&f->h);
	free(f);
	return 0;
}

/* Finds the one object of class with label (token objects when tok). */
static CK_OBJECT_HANDLE
raw_find(struct fixture *f, CK_OBJECT_CLASS cls, const char *label,
    CK_ULONG *count)
{
	CK_ATTRIBUTE t[2];
	CK_OBJECT_HANDLE o[4];
	CK_ULONG nt = 0, n = 0;

	ATTR(t, nt, CKA_CLASS, &cls, sizeof(cls));
	if (label != NULL)
		ATTR(t, nt, CKA_LABEL, label, strlen(label));
	assert_int_equal(f->f->C_FindObjectsInit(f->s, t, nt), CKR_OK);
	assert_int_equal(f->f->C_FindObjects(f->s, o, 4, &n), CKR_OK);
	assert_int_equal(f->f->C_FindObjectsFinal(f->s), CKR_OK);
	*count = n;
	return n > 0 ? o[0] : CK_INVALID_HANDLE;
}

static CK_OBJECT_HANDLE
raw_wkey(struct fixture *f, const char *label)
{
	CK_OBJECT_HANDLE h;
	CK_ULONG n;

	h = raw_find(f, CKO_SECRET_KEY, label, &n);
	assert_int_equal(n, 1);
	return h;
}

static int
verify(EVP_PKEY *pub, const char *mdname, int pss, const unsigned char *dg,
    size_t dlen, const unsigned char *sig, size_t siglen)
{
	EVP_PKEY_CTX *ctx;
	EVP_MD *md;
	int r;

	md = EVP_MD_fetch(NULL, mdname, NULL);
	assert_non_null(md);
	ctx = EVP_PKEY_CTX_new(pub, NULL);
	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
	assert_true(EVP_PKEY_CTX_set_signature_md(ctx, md) > 0);
	if (pss) {
		assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx,
		    RSA_PKCS1_PSS_PADDING) > 0);
		assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx,
		    RSA_PSS_SALTLEN_AUTO) > 0);
	}
	r = EVP_PKEY_verify(ctx, sig, siglen, dg, dlen);
	EVP_PKEY_CTX_free(ctx);
	EVP_MD_free(md);
	return r;
}

/* Signs "hello" hashed with mdname through the blob; verifies it here. */
static void
sign_ok(struct fixture *f, const unsigned char *blob, size_t bloblen,
    EVP_PKEY *pub, const char *mdname, enum p11wrap_pad pad)
{
	unsigned char dg[EVP_MAX_MD_SIZE], *sig = NULL;
	unsigned int dlen;
	size_t siglen = 0;
	EVP_MD *md;
	char err[256] = "";

	md = EVP_MD_fetch(NULL, mdname, NULL);
	assert_non_null(md);
	assert_int_equal(EVP_Digest("hello", 5, dg, &dlen, md, NULL), 1);
	EVP_MD_free(md);
	if (p11wrap_sign(f->tok, WKEY, blob, bloblen, pub, mdname, pad, dg,
	    dlen, &sig, &siglen, err, sizeof(err)) != 0)
		fail_msg("p11wrap_sign %s: %s", mdname, err);
	assert_int_equal(verify(pub, mdname, pad == P11WRAP_PAD_PSS, dg, dlen,
	    sig, siglen), 1);
	free(sig);
}

/* No subscriber key may outlive a call: no private key objects at all. */
static void
no_private_keys_left(struct fixture *f)
{
	CK_ULONG n;

	(void)raw_find(f, CKO_PRIVATE_KEY, NULL, &n);
	assert_int_equal(n, 0);
	(void)raw_find(f, CKO_PUBLIC_KEY, NULL, &n);
	assert_int_equal(n, 0);
}

static void
test_ceremony(void **state)
{
	struct fixture *f = *state;
	CK_ATTRIBUTE t[3];
	CK_OBJECT_HANDLE o[4];
	CK_ULONG nt = 0, n = 0;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	char err[256] = "";

	/* A second ceremony with a used label is refused. */
	assert_int_equal(f->dup_rc, -1);
	assert_non_null(strstr(f->dup_err, "already exists"));
	/* One token object per label, and no session original left. */
	(void)raw_wkey(f, WKEY);
	(void)raw_wkey(f, WKEY2);
	ATTR(t, nt, CKA_CLASS, &cls, sizeof(cls));
	ATTR(t, nt, CKA_TOKEN, &no, sizeof(no));
	assert_int_equal(f->f->C_FindObjectsInit(f->s, t, nt), CKR_OK);
	assert_int_equal(f->f->C_FindObjects(f->s, o, 4, &n), CKR_OK);
	assert_int_equal(f->f->C_FindObjectsFinal(f->s), CKR_OK);
	assert_int_equal(n, 0);
	/* The SO cannot log in while the user is (a running signer). */
	assert_int_equal(p11wrap_create_wrapping_key(f->mod, TOKEN,
	    HSMTEST_SO_PIN, HSMTEST_USER_PIN, "wrap-3", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "C_Login (SO)"));
	assert_int_equal(p11wrap_check_wrapping_key(f->tok, WKEY, err,
	    sizeof(err)), 0);
	assert_int_equal(p11wrap_check_wrapping_key(f->tok, WKEY2, err,
	    sizeof(err)), 0);
	assert_int_equal(p11wrap_check_wrapping_key(f->tok, "no-such", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no wrapping key labelled"));
}

static void
test_ec_p256(void **state)
{
	struct fixture *f = *state;
	unsigned char *blob = NULL;
	size_t bloblen = 0;
	EVP_PKEY *pub = NULL;
	char err[256] = "";

	assert_int_equal(f->ecblob[0], P11WRAP_BLOB_V1);
	assert_int_equal(f->ecblob[1], P11WRAP_BLOB_EC_P256);
	assert_true(EVP_PKEY_is_a(f->ecpub, "EC"));
	assert_int_equal(EVP_PKEY_get_bits(f->ecpub), 256);
	fprintf(stderr, "ec-p256 blob: %zu bytes\n", f->ecbloblen);
	sign_ok(f, f->ecblob, f->ecbloblen, f->ecpub, "SHA256",
	    P11WRAP_PAD_PKCS1);
	sign_ok(f, f->ecblob, f->ecbloblen, f->ecpub, "SHA384",
	    P11WRAP_PAD_PKCS1);
	sign_ok(f, f->ecblob, f->ecbloblen, f->ecpub, "SHA512",
	    P11WRAP_PAD_PKCS1);
	no_private_keys_left(f);
	/* Another key: another blob; P-384 too. */
	assert_int_equal(p11wrap_generate(f->tok, WKEY, P11_KEY_EC_P384, &blob,
	    &bloblen, &pub, err, sizeof(err)), 0);
	assert_int_equal(blob[1], P11WRAP_BLOB_EC_P384);
	sign_ok(f, blob, bloblen, pub, "SHA384", P11WRAP_PAD_PKCS1);
	free(blob);
	EVP_PKEY_free(pub);
	no_private_keys_left(f);
}

static void
test_rsa2048(void **state)
{
	struct fixture *f = *state;
	unsigned char dg[32] = { 1 }, *sig = NULL;
	size_t siglen = 0;
	char err[256] = "";

	assert_int_equal(f->rsablob[0], P11WRAP_BLOB_V1);
	assert_int_equal(f->rsablob[1], P11WRAP_BLOB_RSA2048);
	assert_true(EVP_PKEY_is_a(f->rsapub, "RSA"));
	assert_int_equal(EVP_PKEY_get_bits(f->rsapub), 2048);
	fprintf(stderr, "rsa2048 blob: %zu bytes\n", f->rsabloblen);
	sign_ok(f, f->rsablob, f->rsabloblen, f->rsapub, "SHA256",
	    P11WRAP_PAD_PKCS1);
	sign_ok(f, f->rsablob, f->rsabloblen, f->rsapub, "SHA512",
	    P11WRAP_PAD_PKCS1);
	sign_ok(f, f->rsablob, f->rsabloblen, f->rsapub, "SHA256",
	    P11WRAP_PAD_PSS);
	sign_ok(f, f->rsablob, f->rsabloblen, f->rsapub, "SHA384",
	    P11WRAP_PAD_PSS);
	no_private_keys_left(f);
	/* Refusals before the token is touched. */
	assert_int_equal(p11wrap_sign(f->tok, WKEY, f->rsablob, f->rsabloblen,
	    f->rsapub, "SHA1", P11WRAP_PAD_PKCS1, dg, 20, &sig, &siglen, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "SHA1 refused"));
	assert_int_equal(p11wrap_sign(f->tok, WKEY, f->rsablob, f->rsabloblen,
	    f->rsapub, "SHA256", P11WRAP_PAD_PKCS1, dg, 20, &sig, &siglen,
	    err, sizeof(err)), -1);
	assert_int_equal(p11wrap_sign(f->tok, "no-such", f->rsablob,
	    f->rsabloblen, f->rsapub, "SHA256", P11WRAP_PAD_PKCS1, dg, 32,
	    &sig, &siglen, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no wrapping key labelled"));
	assert_null(sig);
}

/* Every use of the wrapping key other than wrap/unwrap is refused. */
static void
test_wrapping_key_refuses_crypto(void **state)
{
	struct fixture *f = *state;
	CK_OBJECT_HANDLE wk = raw_wkey(f, WKEY), copy = CK_INVALID_HANDLE;
	unsigned char iv[16] = { 0 };
	CK_MECHANISM mechs[] = {
		{ CKM_AES_ECB, NULL, 0 },
		{ CKM_AES_CBC, iv, sizeof(iv) },
		{ CKM_AES_CBC_PAD, iv, sizeof(iv) },
		{ CKM_AES_KEY_WRAP, NULL, 0 },
		{ CKM_AES_KEY_WRAP_PAD, NULL, 0 },
	};
	CK_MECHANISM cmac = { CKM_AES_CMAC, NULL, 0 };
	CK_ATTRIBUTE t[1];
	CK_ULONG nt = 0;
	CK_RV rv;
	size_t i;
	char err[256] = "";

	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		rv = f->f->C_EncryptInit(f->s, &mechs[i], wk);
		if (rv == CKR_OK)
			fail_msg("C_EncryptInit mech 0x%lx accepted",
			    mechs[i].mechanism);
		rv = f->f->C_DecryptInit(f->s, &mechs[i], wk);
		if (rv == CKR_OK)
			fail_msg("C_DecryptInit mech 0x%lx accepted",
			    mechs[i].mechanism);
	}
	/* The plain AES modes: the key function is what is refused. */
	assert_int_equal(f->f->C_DecryptInit(f->s, &mechs[0], wk),
	    CKR_KEY_FUNCTION_NOT_PERMITTED);
	assert_int_not_equal(f->f->C_SignInit(f->s, &cmac, wk), CKR_OK);
	/* Nor can it be made to decrypt, here or in a copy. */
	ATTR(t, nt, CKA_DECRYPT, &yes, sizeof(yes));
	assert_int_not_equal(f->f->C_SetAttributeValue(f->s, wk, t, nt),
	    CKR_OK);
	assert_int_not_equal(f->f->C_CopyObject(f->s, wk, t, nt, &copy),
	    CKR_OK);
	/*
	 * It stays copyable (SoftHSM2 cannot make the copy otherwise), but a
	 * copy cannot change anything: not public (stored in clear), not a
	 * session object, not trusted-less.
	 */
	t[0].type = CKA_PRIVATE;
	t[0].pValue = &no;
	assert_int_not_equal(f->f->C_CopyObject(f->s, wk, t, nt, &copy),
	    CKR_OK);
	t[0].type = CKA_TOKEN;
	assert_int_not_equal(f->f->C_CopyObject(f->s, wk, t, nt, &copy),
	    CKR_OK);
	t[0].type = CKA_MODIFIABLE;
	t[0].pValue = &yes;
	assert_int_not_equal(f->f->C_CopyObject(f->s, wk, t, nt, &copy),
	    CKR_OK);
	/* An identical copy is possible; start-up then refuses the label. */
	if (f->f->C_CopyObject(f->s, wk, NULL, 0, &copy) == CKR_OK) {
		assert_int_equal(p11wrap_check_wrapping_key(f->tok, WKEY, err,
		    sizeof(err)), -1);
		assert_non_null(strstr(err, "several secret keys labelled"));
		assert_int_equal(f->f->C_DestroyObject(f->s, copy), CKR_OK);
	}
	/* The failed attempts changed nothing. */
	assert_int_equal(p11wrap_check_wrapping_key(f->tok, WKEY, NULL, 0), 0);
}

/* Tries to read the private value of key h; 1 if anything came out. */
static int
leaks(struct fixture *f, CK_OBJECT_HANDLE h)
{
	static const CK_ATTRIBUTE_TYPE secret[] = {
		CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2,
		CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT
	};
	unsigned char buf[4096];
	CK_ATTRIBUTE a;
	size_t i;

	for (i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
		a.type = secret[i];
		a.pValue = buf;
		a.ulValueLen = sizeof(buf);
		if (f->f->C_GetAttributeValue(f->s, h, &a, 1) == CKR_OK &&
		    a.ulValueLen > 0 && a.ulValueLen != CK_UNAVAILABLE_INFORMATION)
			return 1;
	}
	return 0;
}

/* Unwraps the blob with tmpl; CK_INVALID_HANDLE when refused. */
static CK_RV
raw_unwrap(struct fixture *f, CK_OBJECT_HANDLE wk, const unsigned char *blob,
    size_t bloblen, CK_MECHANISM_TYPE m, CK_ATTRIBUTE *tmpl, CK_ULONG nt,
    CK_OBJECT_HANDLE *h)
{
	CK_MECHANISM mech = { m, NULL, 0 };

	*h = CK_INVALID_HANDLE;
	return f->f->C_UnwrapKey(f->s, &mech, wk, (CK_BYTE_PTR)blob + 2,
	    bloblen - 2, tmpl, nt, h);
}

/* The exact template p11wrap uses, then extra attributes. */
static CK_ULONG
legit_tmpl(CK_ATTRIBUTE *t, CK_OBJECT_CLASS *cls, CK_KEY_TYPE *kt)
{
	CK_ULONG nt = 0;

	ATTR(t, nt, CKA_CLASS, cls, sizeof(*cls));
	ATTR(t, nt, CKA_KEY_TYPE, kt, sizeof(*kt));
	ATTR(t, nt, CKA_TOKEN, &no, sizeof(no));
	ATTR(t, nt, CKA_PRIVATE, &yes, sizeof(yes));
	ATTR(t, nt, CKA_SENSITIVE, &yes, sizeof(yes));
	ATTR(t, nt, CKA_EXTRACTABLE, &no, sizeof(no));
	ATTR(t, nt, CKA_SIGN, &yes, sizeof(yes));
	ATTR(t, nt, CKA_DECRYPT, &no, sizeof(no));
	ATTR(t, nt, CKA_UNWRAP, &no, sizeof(no));
	ATTR(t, nt, CKA_DERIVE, &no, sizeof(no));
	ATTR(t, nt, CKA_COPYABLE, &no, sizeof(no));
	ATTR(t, nt, CKA_MODIFIABLE, &no, sizeof(no));
	return nt;
}

/* Attack 1: unwrap as non-sensitive or extractable and read the key. */
static void
attack_unwrap_readable(struct fixture *f, const unsigned char *blob,
    size_t bloblen, CK_KEY_TYPE kt)
{
	CK_OBJECT_HANDLE wk = raw_wkey(f, WKEY), h;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY, scls = CKO_SECRET_KEY;
	CK_KEY_TYPE gkt = CKK_GENERIC_SECRET;
	CK_ATTRIBUTE t[20];
	CK_ULONG nt, i;
	CK_RV rv;

	/* (a) the template with SENSITIVE=false; (b) EXTRACTABLE=true. */
	for (i = 0; i < 2; i++) {
		nt = legit_tmpl(t, &cls, &kt);
		t[4 + i].pValue = i == 0 ? &no : &yes;	/* SENSITIVE/EXTR. */
		rv = raw_unwrap(f, wk, blob, bloblen, CKM_AES_KEY_WRAP_PAD, t,
		    nt, &h);
		if (rv == CKR_OK)
			fail_msg("unwrap with %s accepted", i == 0 ?
			    "CKA_SENSITIVE=false" : "CKA_EXTRACTABLE=true");
		assert_int_equal(rv, CKR_TEMPLATE_INCONSISTENT);
	}
	/* (c) a bare template: the defaults are not sensitive. */
	nt = 0;
	ATTR(t, nt, CKA_CLASS, &cls, sizeof(cls));
	ATTR(t, nt, CKA_KEY_TYPE, &kt, sizeof(kt));
	ATTR(t, nt, CKA_SENSITIVE, &no, sizeof(no));
	ATTR(t, nt, CKA_EXTRACTABLE, &yes, sizeof(yes));
	assert_int_not_equal(raw_unwrap(f, wk, blob, bloblen,
	    CKM_AES_KEY_WRAP_PAD, t, nt, &h), CKR_OK);
	nt = 2;
	assert_int_not_equal(raw_unwrap(f, wk, blob, bloblen,
	    CKM_AES_KEY_WRAP_PAD, t, nt, &h), CKR_OK);
	/* (d) the exact template, then the same attributes again, weaker. */
	nt = legit_tmpl(t, &cls, &kt);
	ATTR(t, nt, CKA_SENSITIVE, &no, sizeof(no));
	ATTR(t, nt, CKA_EXTRACTABLE, &yes, sizeof(yes));
	rv = raw_unwrap(f, wk, blob, bloblen, CKM_AES_KEY_WRAP_PAD, t, nt, &h);
	assert_int_equal(rv, CKR_TEMPLATE_INCONSISTENT);
	if (rv == CKR_OK) {
		if (leaks(f, h))
			fail_msg("duplicate attributes in the unwrap template "
			    "gave a readable key");
		f->f->C_DestroyObject(f->s, h);
	}
	/* (e) the blob as a generic secret, whose CKA_VALUE is the PKCS#8. */
	nt = legit_tmpl(t, &scls, &gkt);
	t[6].type = CKA_VERIFY;		/* SIGN does not fit a secret */
	rv = raw_unwrap(f, wk, blob, bloblen, CKM_AES_KEY_WRAP_PAD, t, nt, &h);
	assert_int_equal(rv, CKR_TEMPLATE_INCONSISTENT);
	if (rv == CKR_OK) {
		if (leaks(f, h))
			fail_msg("blob unwrapped as a generic secret is "
			    "readable");
		f->f->C_DestroyObject(f->s, h);
	}
	t[6].type = CKA_SIGN;
	t[4].pValue = &no;
	assert_int_not_equal(raw_unwrap(f, wk, blob, bloblen,
	    CKM_AES_KEY_WRAP_PAD, t, nt, &h), CKR_OK);
	/* (f) another wrap mechanism than the allowed one. */
	nt = legit_tmpl(t, &cls, &kt);
	assert_int_not_equal(raw_unwrap(f, wk, blob, bloblen,
	    CKM_AES_KEY_WRAP, t, nt, &h), CKR_OK);
	/* The legitimate template unwraps, and the key stays sealed. */
	assert_int_equal(raw_unwrap(f, wk, blob, bloblen, CKM_AES_KEY_WRAP_PAD,
	    t, nt, &h), CKR_OK);
	assert_int_equal(leaks(f, h), 0);
	assert_int_equal(f->f->C_DestroyObject(f->s, h), CKR_OK);
}

static void
test_attack_unwrap_readable(void **state)
{
	struct fixture *f = *state;

	attack_unwrap_readable(f, f->ecblob, f->ecbloblen, CKK_EC);
	attack_unwrap_readable(f, f->rsablob, f->rsabloblen, CKK_RSA);
	no_private_keys_left(f);
}

/* Attack 2: unwrap as extractable, re-wrap under an AES key we know. */
static void
attack_rewrap(struct fixture *f, const unsigned char *blob, size_t bloblen,
    CK_KEY_TYPE kt)
{
	CK_OBJECT_HANDLE wk = raw_wkey(f, WKEY), mine = CK_INVALID_HANDLE, h;
	CK_OBJECT_HANDLE trusted = CK_INVALID_HANDLE;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY, scls = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	CK_MECHANISM wm = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	unsigned char known[32], out[4096];
	CK_ATTRIBUTE t[20], k[12];
	CK_ULONG nt, nk = 0, outlen;
	CK_RV rv;

	memset(known, 0x42, sizeof(known));
	ATTR(k, nk, CKA_CLASS, &scls, sizeof(scls));
	ATTR(k, nk, CKA_KEY_TYPE, &aes, sizeof(aes));
	ATTR(k, nk, CKA_TOKEN, &no, sizeof(no));
	ATTR(k, nk, CKA_VALUE, known, sizeof(known));
	ATTR(k, nk, CKA_WRAP, &yes, sizeof(yes));
	ATTR(k, nk, CKA_UNWRAP, &yes, sizeof(yes));
	assert_int_equal(f->f->C_CreateObject(f->s, k, nk, &mine), CKR_OK);
	/* The user cannot make a trusted key of known value. */
	ATTR(k, nk, CKA_TRUSTED, &yes, sizeof(yes));
	rv = f->f->C_CreateObject(f->s, k, nk, &trusted);
	if (rv == CKR_OK)
		fail_msg("user created a CKA_TRUSTED key of known value");
	/* Unwrap as extractable: refused by the unwrap template. */
	nt = legit_tmpl(t, &cls, &kt);
	t[5].pValue = &yes;
	assert_int_equal(raw_unwrap(f, wk, blob, bloblen, CKM_AES_KEY_WRAP_PAD,
	    t, nt, &h), CKR_TEMPLATE_INCONSISTENT);
	/* Unwrap as allowed, then wrap under our key: not extractable. */
	nt = legit_tmpl(t, &cls, &kt);
	assert_int_equal(raw_unwrap(f, wk, blob, bloblen, CKM_AES_KEY_WRAP_PAD,
	    t, nt, &h), CKR_OK);
	outlen = sizeof(out);
	rv = f->f->C_WrapKey(f->s, &wm, mine, h, out, &outlen);
	if (rv == CKR_OK)
		fail_msg("unwrapped subscriber key re-wrapped under a known "
		    "key");
	assert_int_equal(rv, CKR_KEY_UNEXTRACTABLE);
	/* Nor made extractable afterwards (CKA_MODIFIABLE=false). */
	k[0].type = CKA_EXTRACTABLE;
	k[0].pValue = &yes;
	k[0].ulValueLen = sizeof(yes);
	assert_int_not_equal(f->f->C_SetAttributeValue(f->s, h, k, 1), CKR_OK);
	assert_int_not_equal(f->f->C_CopyObject(f->s, h, k, 1, &trusted),
	    CKR_OK);
	assert_int_equal(f->f->C_DestroyObject(f->s, h), CKR_OK);
	assert_int_equal(f->f->C_DestroyObject(f->s, mine), CKR_OK);
}

static void
test_attack_rewrap(void **state)
{
	struct fixture *f = *state;

	attack_rewrap(f, f->ecblob, f->ecbloblen, CKK_EC);
	attack_rewrap(f, f->rsablob, f->rsabloblen, CKK_RSA);
	no_private_keys_left(f);
}

/* Attack 3: the wrapping key as an AES-ECB/CBC oracle over the blob. */
static void
test_attack_decrypt_blob(void **state)
{
	struct fixture *f = *state;
	CK_OBJECT_HANDLE wk = raw_wkey(f, WKEY);
	unsigned char iv[16] = { 0 }, out[4096];
	CK_MECHANISM ecb = { CKM_AES_ECB, NULL, 0 };
	CK_MECHANISM cbc = { CKM_AES_CBC, iv, sizeof(iv) };
	CK_ULONG outlen;
	CK_RV rv;

	rv = f->f->C_DecryptInit(f->s, &ecb, wk);
	if (rv == CKR_OK) {
		outlen = sizeof(out);
		if (f->f->C_Decrypt(f->s, f->ecblob + 2, 16, out, &outlen) ==
		    CKR_OK)
			fail_msg("wrapping key decrypted blob with AES-ECB");
	}
	assert_int_not_equal(rv, CKR_OK);
	rv = f->f->C_DecryptInit(f->s, &cbc, wk);
	if (rv == CKR_OK) {
		outlen = sizeof(out);
		if (f->f->C_Decrypt(f->s, f->rsablob + 2, f->rsabloblen - 2,
		    out, &outlen) == CKR_OK)
			fail_msg("wrapping key decrypted blob with AES-CBC");
	}
	assert_int_not_equal(rv, CKR_OK);
}

/* (4) Damaged blobs fail cleanly: -1, a message, no signature. */
static void
test_tampered_blob(void **state)
{
	struct fixture *f = *state;
	unsigned char dg[32], *b, *sig = NULL;
	size_t siglen = 0, i;
	char err[256];
	struct {
		size_t	 pos;	/* byte flipped; SIZE_MAX: none */
		size_t	 cut;	/* bytes removed from the end */
		const char *want;
	} cases[] = {
		{ 10, 0, "C_UnwrapKey" },
		{ 40, 0, "C_UnwrapKey" },
		{ SIZE_MAX - 1, 0, "C_UnwrapKey" },	/* last byte */
		{ SIZE_MAX, 8, "C_UnwrapKey" },
		{ SIZE_MAX, 3, "not a version 1 blob" },
		{ 0, 0, "version" },
		{ 1, 0, "unknown key type" },
	};

	memset(dg, 0x5a, sizeof(dg));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		b = malloc(f->ecbloblen);
		assert_non_null(b);
		memcpy(b, f->ecblob, f->ecbloblen);
		if (cases[i].pos == SIZE_MAX - 1)
			b[f->ecbloblen - 1] ^= 0x01;
		else if (cases[i].pos != SIZE_MAX)
			b[cases[i].pos] ^= 0x20;
		err[0] = '\0';
		assert_int_equal(p11wrap_sign(f->tok, WKEY, b,
		    f->ecbloblen - cases[i].cut, f->ecpub, "SHA256",
		    P11WRAP_PAD_PKCS1, dg, sizeof(dg), &sig, &siglen, err,
		    sizeof(err)), -1);
		if (getenv("P11WRAP_TEST_VERBOSE") != NULL)
			fprintf(stderr, "case %zu: %s\n", i, err);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: %s", i, err);
		assert_null(sig);
		assert_int_equal(siglen, 0);
		free(b);
	}
	/*
	 * The key type byte says RSA, the expected public key is EC: the
	 * blob cannot hold that key, a mismatch as a moved blob's is (the
	 * SAM audits it as such), not -1 as every failure above.
	 */
	b = malloc(f->ecbloblen);
	assert_non_null(b);
	memcpy(b, f->ecblob, f->ecbloblen);
	b[1] = P11WRAP_BLOB_RSA2048;
	assert_int_equal(p11wrap_sign(f->tok, WKEY, b, f->ecbloblen, f->ecpub,
	    "SHA256", P11WRAP_PAD_PKCS1, dg, sizeof(dg), &sig, &siglen, err,
	    sizeof(err)), P11WRAP_E_MISMATCH);
	assert_non_null(strstr(err, "expected public key is not one"));
	assert_null(sig);
	/* ... and with an RSA public key, the unwrap itself fails: -1. */
	assert_int_equal(p11wrap_sign(f->tok, WKEY, b, f->ecbloblen, f->rsapub,
	    "SHA256", P11WRAP_PAD_PKCS1, dg, sizeof(dg), &sig, &siglen, err,
	    sizeof(err)), -1);
	assert_null(sig);
	free(b);
	/* Under the other wrapping key: CKR_GENERAL_ERROR from SoftHSM2. */
	assert_int_equal(p11wrap_sign(f->tok, WKEY2, f->ecblob, f->ecbloblen,
	    f->ecpub, "SHA256", P11WRAP_PAD_PKCS1, dg, sizeof(dg), &sig,
	    &siglen, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "C_UnwrapKey under \"" WKEY2 "\""));
	assert_null(sig);
	no_private_keys_left(f);
	/* The good blob still works afterwards. */
	sign_ok(f, f->ecblob, f->ecbloblen, f->ecpub, "SHA256",
	    P11WRAP_PAD_PKCS1);
}

/* (5) A blob moved to another subscriber's row signs nothing returned. */
static void
test_swapped_blob(void **state)
{
	struct fixture *f = *state;
	unsigned char *blob = NULL, *rblob = NULL, dg[32], *sig = NULL;
	size_t bloblen = 0, rbloblen = 0, siglen = 0;
	EVP_PKEY *pub = NULL, *rpub = NULL;
	char err[256] = "";

	memset(dg, 0x33, sizeof(dg));
	assert_int_equal(p11wrap_generate(f->tok, WKEY, P11_KEY_EC_P256, &blob,
	    &bloblen, &pub, err, sizeof(err)), 0);
	/* Not -1: the caller tells a wrong key from a failing token. */
	assert_int_equal(p11wrap_sign(f->tok, WKEY, blob, bloblen, f->ecpub,
	    "SHA256", P11WRAP_PAD_PKCS1, dg, sizeof(dg), &sig, &siglen, err,
	    sizeof(err)), P11WRAP_E_MISMATCH);
	assert_non_null(strstr(err, "does not verify with the expected "
	    "public key"));
	assert_null(sig);
	assert_int_equal(siglen, 0);
	assert_int_equal(p11wrap_generate(f->tok, WKEY, P11_KEY_RSA2048, &rblob,
	    &rbloblen, &rpub, err, sizeof(err)), 0);
	assert_int_equal(p11wrap_sign(f->tok, WKEY, rblob, rbloblen, f->rsapub,
	    "SHA256", P11WRAP_PAD_PKCS1, dg, sizeof(dg), &sig, &siglen, err,
	    sizeof(err)), P11WRAP_E_MISMATCH);
	assert_non_null(strstr(err, "does not verify"));
	assert_int_equal(p11wrap_sign(f->tok, WKEY, rblob, rbloblen, f->rsapub,
	    "SHA256", P11WRAP_PAD_PSS, dg, sizeof(dg), &sig, &siglen, err,
	    sizeof(err)), P11WRAP_E_MISMATCH);
	assert_null(sig);
	/* Each with its own public key: fine. */
	sign_ok(f, blob, bloblen, pub, "SHA256", P11WRAP_PAD_PKCS1);
	sign_ok(f, rblob, rbloblen, rpub, "SHA256", P11WRAP_PAD_PSS);
	free(blob);
	free(rblob);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(rpub);
	no_private_keys_left(f);
}

/* A bulk: one unwrap, every digest signed; a wrong public key gives none. */
static void
test_sign_many(void **state)
{
	struct fixture *f = *state;
	unsigned char dgs[5][32], *sigs[5], *rsigs[3];
	const unsigned char *dp[5];
	size_t lens[5], rlens[3], k;
	char err[256] = "";

	for (k = 0; k < 5; k++) {
		memset(dgs[k], (int)(0x40 + k), sizeof(dgs[k]));
		dp[k] = dgs[k];
	}
	if (p11wrap_sign_many(f->tok, WKEY, f->ecblob, f->ecbloblen, f->ecpub,
	    "SHA256", P11WRAP_PAD_PKCS1, dp, 5, 32, sigs, lens, err,
	    sizeof(err)) != 0)
		fail_msg("p11wrap_sign_many: %s", err);
	for (k = 0; k < 5; k++) {
		assert_int_equal(verify(f->ecpub, "SHA256", 0, dgs[k], 32,
		    sigs[k], lens[k]), 1);
		/* Each signature is over its own digest, not another's. */
		assert_int_not_equal(verify(f->ecpub, "SHA256", 0,
		    dgs[(k + 1) % 5], 32, sigs[k], lens[k]), 1);
		free(sigs[k]);
	}
	if (p11wrap_sign_many(f->tok, WKEY, f->rsablob, f->rsabloblen,
	    f->rsapub, "SHA256", P11WRAP_PAD_PSS, dp, 3, 32, rsigs, rlens, err,
	    sizeof(err)) != 0)
		fail_msg("p11wrap_sign_many (RSA-PSS): %s", err);
	for (k = 0; k < 3; k++) {
		assert_int_equal(verify(f->rsapub, "SHA256", 1, dgs[k], 32,
		    rsigs[k], rlens[k]), 1);
		free(rsigs[k]);
	}
	/* Another subscriber's public key: nothing at all is returned. */
	assert_int_equal(p11wrap_sign_many(f->tok, WKEY, f->rsablob,
	    f->rsabloblen, f->ecpub, "SHA256", P11WRAP_PAD_PKCS1, dp, 3, 32,
	    rsigs, rlens, err, sizeof(err)), P11WRAP_E_MISMATCH);
	for (k = 0; k < 3; k++)
		assert_null(rsigs[k]);
	assert_int_equal(p11wrap_sign_many(f->tok, WKEY, f->ecblob,
	    f->ecbloblen, f->ecpub, "SHA256", P11WRAP_PAD_PKCS1, dp, 0, 32,
	    rsigs, rlens, err, sizeof(err)), -1);
	no_private_keys_left(f);
}

/* (6) A wrapping key with default (or almost right) attributes. */
static void
test_check_refuses_weak_key(void **state)
{
	struct fixture *f = *state;
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	CK_ULONG len = 32, nt = 0;
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_MECHANISM_TYPE allowed = CKM_AES_KEY_WRAP_PAD;
	CK_OBJECT_CLASS pcls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_ATTRIBUTE t[24], u[12];
	CK_OBJECT_HANDLE h, h2;
	unsigned char *blob = NULL;
	size_t bloblen = 0;
	EVP_PKEY *pub = NULL;
	char err[256] = "";

	/* What a rejected or naive creation leaves: default attributes. */
	ATTR(t, nt, CKA_CLASS, &cls, sizeof(cls));
	ATTR(t, nt, CKA_KEY_TYPE, &aes, sizeof(aes));
	ATTR(t, nt, CKA_VALUE_LEN, &len, sizeof(len));
	ATTR(t, nt, CKA_TOKEN, &yes, sizeof(yes));
	ATTR(t, nt, CKA_PRIVATE, &yes, sizeof(yes));
	ATTR(t, nt, CKA_LABEL, "weak-default", strlen("weak-default"));
	assert_int_equal(f->f->C_GenerateKey(f->s, &gen, t, nt, &h), CKR_OK);
	assert_int_equal(p11wrap_check_wrapping_key(f->tok, "weak-default", err,
	    sizeof(err)), -1);
	fprintf(stderr, "default key: %s\n", err);
	assert_non_null(strstr(err, "wrapping key \"weak-default\""));
	assert_int_equal(p11wrap_generate(f->tok, "weak-default",
	    P11_KEY_EC_P256, &blob, &bloblen, &pub, err, sizeof(err)), -1);
	assert_null(blob);
	assert_null(pub);
	/* Everything right but what only the SO can set (CKA_TRUSTED). */
	nt = 0;
	(void)legit_tmpl(u, &pcls, &kt);
	ATTR(t, nt, CKA_CLASS, &cls, sizeof(cls));
	ATTR(t, nt, CKA_KEY_TYPE, &aes, sizeof(aes));
	ATTR(t, nt, CKA_VALUE_LEN, &len, sizeof(len));
	ATTR(t, nt, CKA_TOKEN, &yes, sizeof(yes));
	ATTR(t, nt, CKA_PRIVATE, &yes, sizeof(yes));
	ATTR(t, nt, CKA_LABEL, "weak-untrusted", strlen("weak-untrusted"));
	ATTR(t, nt, CKA_SENSITIVE, &yes, sizeof(yes));
	ATTR(t, nt, CKA_EXTRACTABLE, &no, sizeof(no));
	ATTR(t, nt, CKA_ENCRYPT, &no, sizeof(no));
	ATTR(t, nt, CKA_DECRYPT, &no, sizeof(no));
	ATTR(t, nt, CKA_SIGN, &no, sizeof(no));
	ATTR(t, nt, CKA_VERIFY, &no, sizeof(no));
	ATTR(t, nt, CKA_DERIVE, &no, sizeof(no));
	ATTR(t, nt, CKA_WRAP, &yes, sizeof(yes));
	ATTR(t, nt, CKA_UNWRAP, &yes, sizeof(yes));
	ATTR(t, nt, CKA_COPYABLE, &no, sizeof(no));
	ATTR(t, nt, CKA_ALLOWED_MECHANISMS, &allowed, sizeof(allowed));
	ATTR(t, nt, CKA_UNWRAP_TEMPLATE, u + 2, 10 * sizeof(CK_ATTRIBUTE));
	ATTR(t, nt, CKA_MODIFIABLE, &no, sizeof(no));
	assert_int_equal(f->f->C_GenerateKey(f->s, &gen, t, nt, &h2), CKR_OK);
	assert_int_equal(p11wrap_check_wrapping_key(f->tok, "weak-untrusted",
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "CKA_TRUSTED is false"));
	assert_int_equal(f->f->C_DestroyObject(f->s, h), CKR_OK);
	/* CKA_MODIFIABLE=false does not stop C_DestroyObject. */
	assert_int_equal(f->f->C_DestroyObject(f->s, h2), CKR_OK);
	assert_int_equal(p11wrap_check_wrapping_key(f->tok, WKEY, err,
	    sizeof(err)), 0);
}

/* The control: every attack works against the weak trusted key. */
static void
test_control_weak_key_leaks(void **state)
{
	struct fixture *f = *state;
	CK_OBJECT_HANDLE wk = raw_wkey(f, WEAK), hpub, hpriv, h, own;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY, scls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_EC, aes = CKK_AES;
	CK_MECHANISM akg = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG len = 32;
	CK_MECHANISM kg = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_MECHANISM wm = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_MECHANISM ecb = { CKM_AES_ECB, NULL, 0 };
	static const unsigned char p256[] = {
		0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
	};
	unsigned char blob[2 + 512], out[512];
	CK_ATTRIBUTE pubt[2], privt[8], t[4];
	CK_ULONG nown;
	CK_ULONG np = 0, nv = 0, nt = 0, wlen = sizeof(blob) - 2, outlen;
	char err[256] = "";

	ATTR(t, nt, CKA_CLASS, &scls, sizeof(scls));
	ATTR(t, nt, CKA_KEY_TYPE, &aes, sizeof(aes));
	ATTR(t, nt, CKA_VALUE_LEN, &len, sizeof(len));
	ATTR(t, nt, CKA_LABEL, "weak-default-ctl", strlen("weak-default-ctl"));
	assert_int_equal(f->f->C_GenerateKey(f->s, &akg, t, nt, &own), CKR_OK);
	nt = 0;
	ATTR(pubt, np, CKA_TOKEN, &no, sizeof(no));
	ATTR(pubt, np, CKA_EC_PARAMS, p256, sizeof(p256));
	ATTR(privt, nv, CKA_TOKEN, &no, sizeof(no));
	ATTR(privt, nv, CKA_PRIVATE, &yes, sizeof(yes));
	ATTR(privt, nv, CKA_SENSITIVE, &yes, sizeof(yes));
	ATTR(privt, nv, CKA_EXTRACTABLE, &yes, sizeof(yes));
	ATTR(privt, nv, CKA_WRAP_WITH_TRUSTED, &yes, sizeof(yes));
	ATTR(privt, nv, CKA_SIGN, &yes, sizeof(yes));
	assert_int_equal(f->f->C_GenerateKeyPair(f->s, &kg, pubt, np, privt,
	    nv, &hpub, &hpriv), CKR_OK);
	/* WRAP_WITH_TRUSTED is enforced: an untrusted key cannot wrap. */
	assert_int_equal(f->f->C_WrapKey(f->s, &wm, raw_find(f,
	    CKO_SECRET_KEY, "weak-default-ctl", &nown), hpriv, blob + 2, &wlen),
	    CKR_KEY_NOT_WRAPPABLE);
	wlen = sizeof(blob) - 2;
	assert_int_equal(f->f->C_WrapKey(f->s, &wm, wk, hpriv, blob + 2,
	    &wlen), CKR_OK);
	blob[0] = P11WRAP_BLOB_V1;
	blob[1] = P11WRAP_BLOB_EC_P256;
	f->f->C_DestroyObject(f->s, hpriv);
	f->f->C_DestroyObject(f->s, hpub);
	f->f->C_DestroyObject(f->s, own);
	/* Attack 1 works: unwrap non-sensitive, read CKA_VALUE. */
	ATTR(t, nt, CKA_CLASS, &cls, sizeof(cls));
	ATTR(t, nt, CKA_KEY_TYPE, &kt, sizeof(kt));
	ATTR(t, nt, CKA_SENSITIVE, &no, sizeof(no));
	ATTR(t, nt, CKA_EXTRACTABLE, &yes, sizeof(yes));
	assert_int_equal(raw_unwrap(f, wk, blob, 2 + wlen,
	    CKM_AES_KEY_WRAP_PAD, t, nt, &h), CKR_OK);
	assert_int_equal(leaks(f, h), 1);
	f->f->C_DestroyObject(f->s, h);
	/* Attack 3 works: AES-ECB decryption of the blob. */
	assert_int_equal(f->f->C_DecryptInit(f->s, &ecb, wk), CKR_OK);
	outlen = sizeof(out);
	assert_int_equal(f->f->C_Decrypt(f->s, blob + 2, 16, out, &outlen),
	    CKR_OK);
	/* And p11wrap refuses to use such a key. */
	assert_int_equal(p11wrap_check_wrapping_key(f->tok, WEAK, err,
	    sizeof(err)), -1);
	fprintf(stderr, "weak trusted key: %s\n", err);
	assert_non_null(strstr(err, "CKA_MODIFIABLE is true"));
	no_private_keys_left(f);
}

static void
test_lost_session(void **state)
{
	struct fixture *f = *state;

	sign_ok(f, f->ecblob, f->ecbloblen, f->ecpub, "SHA256",
	    P11WRAP_PAD_PKCS1);
	/* Closes the attacker's raw session too: reopen it after. */
	assert_int_equal(p11_test_drop_session(f->tok), 0);
	sign_ok(f, f->ecblob, f->ecbloblen, f->ecpub, "SHA256",
	    P11WRAP_PAD_PKCS1);
	assert_int_equal(p11_test_drop_session(f->tok), 0);
	sign_ok(f, f->rsablob, f->rsabloblen, f->rsapub, "SHA256",
	    P11WRAP_PAD_PKCS1);
	assert_int_equal(raw_open(f), 0);
}

/*
 * The token store away: -1 (a failure, the request may be tried again),
 * never P11WRAP_E_MISMATCH (signd's SAM audits that as a key that does not
 * match its certificate and answers 500). Back: signs again.
 */
static void
test_token_away_not_mismatch(void **state)
{
	struct fixture *f = *state;
	unsigned char dg[32], *sig = NULL;
	size_t siglen = 0;
	char away[200], err[256] = "";
	int r, back;

	memset(dg, 0x66, sizeof(dg));
	snprintf(away, sizeof(away), "%s/tokens-away", f->h.dir);
	assert_int_equal(rename(f->h.tokendir, away), 0);
	r = p11wrap_sign(f->tok, WKEY, f->ecblob, f->ecbloblen, f->ecpub,
	    "SHA256", P11WRAP_PAD_PKCS1, dg, sizeof(dg), &sig, &siglen, err,
	    sizeof(err));
	/* The store back before any check, so a failure spoils no other test. */
	back = rename(away, f->h.tokendir);
	assert_int_equal(back, 0);
	if (getenv("P11WRAP_TEST_VERBOSE") != NULL)
		fprintf(stderr, "token away: %d %s\n", r, err);
	if (r != -1)
		fail_msg("token away: %d (%s), want -1", r, err);
	assert_null(sig);
	assert_int_equal(siglen, 0);
	sign_ok(f, f->ecblob, f->ecbloblen, f->ecpub, "SHA256",
	    P11WRAP_PAD_PKCS1);
	assert_int_equal(raw_open(f), 0);
	no_private_keys_left(f);
}

/* Private key objects in the token now (session objects included). */
static CK_ULONG
private_keys(struct fixture *f)
{
	CK_ATTRIBUTE t[1];
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_OBJECT_HANDLE o[16];
	CK_ULONG nt = 0, n = 0, total = 0;

	ATTR(t, nt, CKA_CLASS, &cls, sizeof(cls));
	assert_int_equal(f->f->C_FindObjectsInit(f->s, t, nt), CKR_OK);
	do {
		assert_int_equal(f->f->C_FindObjects(f->s, o, 16, &n), CKR_OK);
		total += n;
	} while (n > 0);
	assert_int_equal(f->f->C_FindObjectsFinal(f->s), CKR_OK);
	return total;
}

static void
stats_are(struct fixture *f, unsigned long long hits,
    unsigned long long unwraps, unsigned long long evicted, size_t kept)
{
	struct p11wrap_cache_stats st;

	p11wrap_cache_stats(f->tok, &st);
	if (st.hits != hits || st.unwraps != unwraps || st.evicted != evicted ||
	    st.kept != kept)
		fail_msg("cache: hits %llu unwraps %llu evicted %llu kept %zu; "
		    "expected %llu %llu %llu %zu", st.hits, st.unwraps,
		    st.evicted, st.kept, hits, unwraps, evicted, kept);
	assert_int_equal(private_keys(f), kept);
}

/*
 * The unwrapped-key cache: a hot key signs without an unwrap; a kept key is
 * as sensitive as an unwrapped one; a blob kept for one public key and
 * presented with another is unwrapped again and refused; the least recently
 * used key is destroyed at the limit; a lost session forgets every key;
 * limit 0 destroys them all.
 */
static void
test_cache(void **state)
{
	struct fixture *f = *state;
	unsigned char *b2 = NULL, *b3 = NULL, dg[32], *sig = NULL;
	size_t b2len = 0, b3len = 0, siglen = 0;
	EVP_PKEY *p2 = NULL, *p3 = NULL;
	CK_OBJECT_HANDLE h;
	CK_ULONG n;
	char err[256] = "";

	assert_int_equal(p11wrap_generate(f->tok, WKEY, P11_KEY_EC_P256, &b2,
	    &b2len, &p2, err, sizeof(err)), 0);
	assert_int_equal(p11wrap_generate(f->tok, WKEY, P11_KEY_EC_P256, &b3,
	    &b3len, &p3, err, sizeof(err)), 0);
	assert_int_equal(p11wrap_cache_limit(f->tok, P11WRAP_CACHE_MAX + 1,
	    err, sizeof(err)), -1);
	assert_int_equal(p11wrap_cache_limit(f->tok, 2, err, sizeof(err)), 0);
	stats_are(f, 0, 0, 0, 0);
	sign_ok(f, f->ecblob, f->ecbloblen, f->ecpub, "SHA256",
	    P11WRAP_PAD_PKCS1);
	stats_are(f, 0, 1, 0, 1);
	sign_ok(f, f->ecblob, f->ecbloblen, f->ecpub, "SHA384",
	    P11WRAP_PAD_PKCS1);
	sign_ok(f, f->ecblob, f->ecbloblen, f->ecpub, "SHA256",
	    P11WRAP_PAD_PKCS1);
	stats_are(f, 2, 1, 0, 1);
	/* The kept key is no easier to read than any unwrapped one. */
	h = raw_find(f, CKO_PRIVATE_KEY, NULL, &n);
	assert_int_equal(n, 1);
	assert_int_equal(leaks(f, h), 0);
	/* The kept blob with another subscriber's public key: refused. */
	memset(dg, 0x44, sizeof(dg));
	assert_int_equal(p11wrap_sign(f->tok, WKEY, f->ecblob, f->ecbloblen,
	    p2, "SHA256", P11WRAP_PAD_PKCS1, dg, sizeof(dg), &sig, &siglen,
	    err, sizeof(err)), P11WRAP_E_MISMATCH);
	assert_null(sig);
	assert_non_null(strstr(err, "does not verify"));
	stats_are(f, 2, 2, 0, 1);
	/* RSA keys are kept too (and every RSA signature checked). */
	sign_ok(f, f->rsablob, f->rsabloblen, f->rsapub, "SHA256",
	    P11WRAP_PAD_PSS);
	sign_ok(f, f->rsablob, f->rsabloblen, f->rsapub, "SHA512",
	    P11WRAP_PAD_PKCS1);
	stats_are(f, 3, 3, 0, 2);
	/* Full: the least recently used (the EC key) goes. */
	sign_ok(f, b2, b2len, p2, "SHA256", P11WRAP_PAD_PKCS1);
	stats_are(f, 3, 4, 1, 2);
	sign_ok(f, f->rsablob, f->rsabloblen, f->rsapub, "SHA256",
	    P11WRAP_PAD_PKCS1);
	sign_ok(f, f->ecblob, f->ecbloblen, f->ecpub, "SHA256",
	    P11WRAP_PAD_PKCS1);
	stats_are(f, 4, 5, 2, 2);
	/* A lost session took the kept keys with it: unwrapped again. */
	assert_int_equal(p11_test_drop_session(f->tok), 0);
	sign_ok(f, b3, b3len, p3, "SHA256", P11WRAP_PAD_PKCS1);
	assert_int_equal(raw_open(f), 0);
	stats_are(f, 4, 6, 2, 1);
	sign_ok(f, b3, b3len, p3, "SHA256", P11WRAP_PAD_PKCS1);
	stats_are(f, 5, 6, 2, 1);
	/* A smaller limit destroys the surplus; 0 destroys everything. */
	sign_ok(f, b2, b2len, p2, "SHA256", P11WRAP_PAD_PKCS1);
	stats_are(f, 5, 7, 2, 2);
	assert_int_equal(p11wrap_cache_limit(f->tok, 1, err, sizeof(err)), 0);
	stats_are(f, 5, 7, 2, 1);
	assert_int_equal(p11wrap_cache_limit(f->tok, 0, err, sizeof(err)), 0);
	stats_are(f, 5, 7, 2, 0);
	sign_ok(f, b2, b2len, p2, "SHA256", P11WRAP_PAD_PKCS1);
	stats_are(f, 5, 8, 2, 0);
	no_private_keys_left(f);
	free(b2);
	free(b3);
	EVP_PKEY_free(p2);
	EVP_PKEY_free(p3);
}

/*
 * The cache against a model of exact LRU: 24 blobs signed in a random
 * (seeded) order through a cache of 8, then of 3: after every signature the
 * hits, unwraps, evictions and kept objects are the model's. Exercises the
 * hash index (insertions, deletions with wrap-around) and the use list.
 */
static void
test_cache_lru_model(void **state)
{
	enum { NB = 24, STEPS = 300 };
	struct fixture *f = *state;
	unsigned char *blob[NB];
	size_t len[NB], limit = 8, size = 0, i, j;
	EVP_PKEY *pub[NB];
	int order[NB];	/* the model: blob indexes, most recently used first */
	struct p11wrap_cache_stats base, st;
	unsigned long long hits = 0, unwraps = 0, evicted = 0;
	uint32_t seed = 12345;
	char err[256] = "";
	int b, step;

	for (i = 0; i < NB; i++)
		assert_int_equal(p11wrap_generate(f->tok, WKEY, P11_KEY_EC_P256,
		    &blob[i], &len[i], &pub[i], err, sizeof(err)), 0);
	assert_int_equal(p11wrap_cache_limit(f->tok, limit, err, sizeof(err)),
	    0);
	p11wrap_cache_stats(f->tok, &base);
	assert_int_equal(base.kept, 0);
	for (step = 0; step < STEPS; step++) {
		if (step == STEPS / 2) {
			/* Lowered: the least recently used go first. */
			limit = 3;
			assert_int_equal(p11wrap_cache_limit(f->tok, limit, err,
			    sizeof(err)), 0);
			if (size > limit)
				size = limit;
		}
		seed = seed * 1103515245u + 12345u;
		/* Skewed towards a few blobs, so that there are hits. */
		b = (int)((seed >> 16) % (step % 3 == 0 ? NB : 6));
		for (i = 0; i < size && order[i] != b; i++)
			;
		if (i < size)
			hits++;
		else {
			unwraps++;
			if (size == limit) {
				evicted++;
				size--;
			}
			i = size++;
		}
		for (j = i; j > 0; j--)
			order[j] = order[j - 1];
		order[0] = b;
		sign_ok(f, blob[b], len[b], pub[b], "SHA256",
		    P11WRAP_PAD_PKCS1);
		p11wrap_cache_stats(f->tok, &st);
		if (st.hits - base.hits != hits ||
		    st.unwraps - base.unwraps != unwraps ||
		    st.evicted - base.evicted != evicted || st.kept != size)
			fail_msg("step %d (blob %d): hits %llu unwraps %llu "
			    "evicted %llu kept %zu; the model says %llu %llu "
			    "%llu %zu", step, b, st.hits - base.hits,
			    st.unwraps - base.unwraps, st.evicted - base.evicted,
			    st.kept, hits, unwraps, evicted, size);
	}
	assert_int_equal(private_keys(f), size);
	assert_int_equal(p11wrap_cache_limit(f->tok, 0, err, sizeof(err)), 0);
	no_private_keys_left(f);
	for (i = 0; i < NB; i++) {
		free(blob[i]);
		EVP_PKEY_free(pub[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ceremony),
		cmocka_unit_test(test_ec_p256),
		cmocka_unit_test(test_rsa2048),
		cmocka_unit_test(test_wrapping_key_refuses_crypto),
		cmocka_unit_test(test_attack_unwrap_readable),
		cmocka_unit_test(test_attack_rewrap),
		cmocka_unit_test(test_attack_decrypt_blob),
		cmocka_unit_test(test_tampered_blob),
		cmocka_unit_test(test_swapped_blob),
		cmocka_unit_test(test_sign_many),
		cmocka_unit_test(test_check_refuses_weak_key),
		cmocka_unit_test(test_control_weak_key_leaks),
		cmocka_unit_test(test_lost_session),
		cmocka_unit_test(test_token_away_not_mismatch),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_lru_model),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
