/*
 * hsm/p11.c against a throw-away SoftHSM2 token: token init, login, key
 * generation with the attributes p11.h promises (read back through raw
 * PKCS#11), duplicate labels, signing, and recovery from a lost session;
 * a key pair whose public key cannot be read is not left behind; a PIN
 * refused at a re-login is given to C_Login once only; a lock file that
 * is a link, a directory or a FIFO is refused, nothing created through it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <p11-kit/pkcs11.h>
#include <openssl/evp.h>

#include "hsm/p11.h"
#include "hsm/p11_priv.h"
#include "tests/unit/hsm/hsmtest.h"

#define TOKEN	"p11-test"

struct fixture {
	struct hsmtest		 h;
	struct p11_module	*mod;
	struct p11_token	*tok;
};

static int
setup(void **state)
{
	struct fixture *f;
	char err[256];

	if ((f = calloc(1, sizeof(*f))) == NULL || hsmtest_setup(&f->h) == -1)
		return -1;
	if ((f->mod = p11_module_load(f->h.module, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (p11_token_init(f->mod, TOKEN, HSMTEST_SO_PIN, HSMTEST_USER_PIN,
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	f->tok = p11_token_open(f->mod, TOKEN, HSMTEST_USER_PIN, NULL, err,
	    sizeof(err));
	if (f->tok == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	p11_token_close(f->tok);
	p11_module_free(f->mod);
	hsmtest_teardown(&f->h);
	free(f);
	return 0;
}

static void
test_keytype_names(void **state)
{
	enum p11_keytype t;

	assert_int_equal(p11_keytype_parse("ec-p256", &t), 0);
	assert_int_equal(t, P11_KEY_EC_P256);
	assert_string_equal(p11_keytype_name(P11_KEY_RSA3072), "rsa3072");
	assert_int_equal(p11_keytype_parse("dsa", &t), -1);
}

static void
test_token_init_twice(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";

	assert_int_equal(p11_token_init(f->mod, TOKEN, HSMTEST_SO_PIN,
	    HSMTEST_USER_PIN, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already exists"));
	/* Too long a label. */
	assert_int_equal(p11_token_init(f->mod,
	    "0123456789012345678901234567890123", HSMTEST_SO_PIN,
	    HSMTEST_USER_PIN, err, sizeof(err)), -1);
}

static void
count_tokens(const char *label, const char *serial, void *arg)
{
	if (strcmp(label, TOKEN) == 0)
		(*(int *)arg)++;
}

static void
test_token_list(void **state)
{
	struct fixture *f = *state;
	int n = 0;

	assert_int_equal(p11_token_list(f->mod, count_tokens, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(p11_token_label(f->tok), TOKEN);
}

static void
test_token_missing(void **state)
{
	struct fixture *f = *state;
	struct p11_token *t;
	char err[256] = "";

	t = p11_token_open(f->mod, "no-such-token", HSMTEST_USER_PIN, NULL,
	    err, sizeof(err));
	assert_null(t);
	assert_non_null(strstr(err, "not present"));
}

/* Reads boolean attributes of the object with class and label, raw. */
/*
 * A session of our own on the test token, in the module the p11 handle
 * loaded (its login covers this session too: same application).
 */
static CK_SESSION_HANDLE
own_session(struct fixture *f, CK_FUNCTION_LIST_PTR *fl, void **dl)
{
	CK_C_GetFunctionList gfl;
	CK_SLOT_ID slots[16];
	CK_ULONG nslots = 16, i;
	CK_SESSION_HANDLE s;
	CK_TOKEN_INFO ti;

	*dl = dlopen(f->h.module, RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(*dl);
	*(void **)&gfl = dlsym(*dl, "C_GetFunctionList");
	assert_int_equal(gfl(fl), CKR_OK);
	assert_int_equal((*fl)->C_GetSlotList(CK_TRUE, slots, &nslots), CKR_OK);
	for (i = 0; i < nslots; i++) {
		assert_int_equal((*fl)->C_GetTokenInfo(slots[i], &ti), CKR_OK);
		if (memcmp(ti.label, TOKEN, strlen(TOKEN)) == 0)
			break;
	}
	assert_true(i < nslots);
	assert_int_equal((*fl)->C_OpenSession(slots[i], CKF_SERIAL_SESSION,
	    NULL, NULL, &s), CKR_OK);
	return s;
}

static void
check_attrs(struct fixture *f, CK_OBJECT_CLASS cls, const char *label,
    const CK_ATTRIBUTE_TYPE *types, const CK_BBOOL *want, size_t n)
{
	void *dl;
	CK_FUNCTION_LIST_PTR fl;
	CK_ULONG found = 0;
	CK_SESSION_HANDLE s = own_session(f, &fl, &dl);
	CK_OBJECT_HANDLE o;
	CK_ATTRIBUTE tmpl[2];
	CK_BBOOL v;
	CK_ATTRIBUTE a;
	size_t k;

	tmpl[0].type = CKA_CLASS;
	tmpl[0].pValue = &cls;
	tmpl[0].ulValueLen = sizeof(cls);
	tmpl[1].type = CKA_LABEL;
	tmpl[1].pValue = (void *)label;
	tmpl[1].ulValueLen = strlen(label);
	assert_int_equal(fl->C_FindObjectsInit(s, tmpl, 2), CKR_OK);
	assert_int_equal(fl->C_FindObjects(s, &o, 1, &found), CKR_OK);
	assert_int_equal(fl->C_FindObjectsFinal(s), CKR_OK);
	assert_int_equal(found, 1);
	for (k = 0; k < n; k++) {
		a.type = types[k];
		a.pValue = &v;
		a.ulValueLen = sizeof(v);
		assert_int_equal(fl->C_GetAttributeValue(s, o, &a, 1), CKR_OK);
		if (v != want[k])
			fail_msg("key %s attribute 0x%lx is %d, want %d",
			    label, types[k], v, want[k]);
	}
	fl->C_CloseSession(s);
	dlclose(dl);
}

struct listed {
	int	n;
	int	bad;
};

static void
list_cb(const char *label, const char *type, int sens, int extr, void *arg)
{
	struct listed *l = arg;

	l->n++;
	if (!sens || extr || strncmp(label, "gen-", 4) != 0 ||
	    strcmp(label + 4, type) != 0)
		l->bad++;
}

static void
test_keygen_all_types(void **state)
{
	struct fixture *f = *state;
	static const char *types[] = {
		"ec-p256", "ec-p384", "rsa2048", "rsa3072", "rsa4096"
	};
	static const int bits[] = { 256, 384, 2048, 3072, 4096 };
	static const CK_ATTRIBUTE_TYPE privattrs[] = {
		CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, CKA_EXTRACTABLE,
		CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_SIGN,
		CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE
	};
	static const CK_BBOOL privwant[] = {
		CK_TRUE, CK_TRUE, CK_TRUE, CK_FALSE, CK_TRUE, CK_TRUE,
		CK_TRUE, CK_FALSE, CK_FALSE, CK_FALSE
	};
	static const CK_ATTRIBUTE_TYPE pubattrs[] = {
		CKA_TOKEN, CKA_VERIFY, CKA_ENCRYPT, CKA_WRAP
	};
	static const CK_BBOOL pubwant[] = {
		CK_TRUE, CK_TRUE, CK_FALSE, CK_FALSE
	};
	struct listed l = { 0, 0 };
	enum p11_keytype kt;
	EVP_PKEY *pub = NULL, *pub2 = NULL;
	char label[32], err[256];
	size_t i;

	for (i = 0; i < 5; i++) {
		assert_int_equal(p11_keytype_parse(types[i], &kt), 0);
		snprintf(label, sizeof(label), "gen-%s", types[i]);
		if (p11_key_generate(f->tok, label, kt, &pub, err,
		    sizeof(err)) == -1)
			fail_msg("%s", err);
		assert_int_equal(EVP_PKEY_get_bits(pub), bits[i]);
		assert_int_equal(p11_key_public(f->tok, label, &pub2, err,
		    sizeof(err)), 0);
		assert_int_equal(EVP_PKEY_eq(pub, pub2), 1);
		EVP_PKEY_free(pub);
		EVP_PKEY_free(pub2);
		check_attrs(f, CKO_PRIVATE_KEY, label, privattrs, privwant,
		    sizeof(privattrs) / sizeof(privattrs[0]));
		check_attrs(f, CKO_PUBLIC_KEY, label, pubattrs, pubwant,
		    sizeof(pubattrs) / sizeof(pubattrs[0]));
		assert_int_equal(p11_key_exists(f->tok, label, err,
		    sizeof(err)), 1);
	}
	assert_int_equal(p11_key_list(f->tok, list_cb, &l), 0);
	assert_true(l.n >= 5);
	assert_int_equal(l.bad, 0);
	assert_int_equal(p11_key_exists(f->tok, "gen-none", err, sizeof(err)),
	    0);
}

static void
test_keygen_duplicate(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *pub = NULL;
	char err[256] = "";

	assert_int_equal(p11_key_generate(f->tok, "dup", P11_KEY_EC_P256, &pub,
	    err, sizeof(err)), 0);
	EVP_PKEY_free(pub);
	pub = NULL;
	assert_int_equal(p11_key_generate(f->tok, "dup", P11_KEY_RSA2048, &pub,
	    err, sizeof(err)), -1);
	assert_null(pub);
	assert_non_null(strstr(err, "already exists"));
}

/* Signs a digest of msg and verifies it with the public key. */
static void
sign_verify(struct fixture *f, const char *label, const char *mdname)
{
	unsigned char dg[EVP_MAX_MD_SIZE], *sig = NULL;
	unsigned int dlen;
	size_t siglen;
	EVP_PKEY *pub = NULL;
	EVP_PKEY_CTX *ctx;
	EVP_MD *md;
	char err[256];

	md = EVP_MD_fetch(NULL, mdname, NULL);
	assert_non_null(md);
	assert_int_equal(EVP_Digest("hello", 5, dg, &dlen, md, NULL), 1);
	if (p11_sign_digest(f->tok, label, mdname, dg, dlen, &sig, &siglen,
	    err, sizeof(err)) == -1)
		fail_msg("%s", err);
	assert_int_equal(p11_key_public(f->tok, label, &pub, err, sizeof(err)),
	    0);
	ctx = EVP_PKEY_CTX_new(pub, NULL);
	assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
	assert_true(EVP_PKEY_CTX_set_signature_md(ctx, md) > 0);
	assert_int_equal(EVP_PKEY_verify(ctx, sig, siglen, dg, dlen), 1);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pub);
	EVP_MD_free(md);
	free(sig);
}

static void
test_sign_digest(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *pub = NULL;
	unsigned char dg[32] = { 0 }, *sig = NULL;
	size_t siglen;
	char err[256] = "";

	assert_int_equal(p11_key_generate(f->tok, "s-ec", P11_KEY_EC_P256,
	    &pub, err, sizeof(err)), 0);
	EVP_PKEY_free(pub);
	assert_int_equal(p11_key_generate(f->tok, "s-rsa", P11_KEY_RSA2048,
	    &pub, err, sizeof(err)), 0);
	EVP_PKEY_free(pub);
	sign_verify(f, "s-ec", "SHA256");
	sign_verify(f, "s-ec", "SHA384");
	sign_verify(f, "s-rsa", "SHA256");
	sign_verify(f, "s-rsa", "SHA512");

	assert_int_equal(p11_sign_digest(f->tok, "s-ec", "SHA1", dg, 20, &sig,
	    &siglen, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "SHA1 refused"));
	assert_int_equal(p11_sign_digest(f->tok, "s-ec", "SHA256", dg, 20,
	    &sig, &siglen, err, sizeof(err)), -1);
	assert_int_equal(p11_sign_digest(f->tok, "nope", "SHA256", dg, 32,
	    &sig, &siglen, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no private key labelled \"nope\""));
	assert_null(sig);
}

static void
test_lost_session(void **state)
{
	struct fixture *f = *state;

	sign_verify(f, "s-ec", "SHA256");
	/* The session and the login vanish underneath (token reset). */
	assert_int_equal(p11_test_drop_session(f->tok), 0);
	sign_verify(f, "s-ec", "SHA256");
	assert_int_equal(p11_test_drop_session(f->tok), 0);
	sign_verify(f, "s-rsa", "SHA256");
}

/*
 * Private key objects labelled label with CKA_TOKEN = token, seen from a
 * session of our own (session objects are visible to every session of the
 * application); when one exists, *sensitive_ok says whether it is
 * sensitive, not extractable and its private value unreadable.
 */
static CK_ULONG
count_keys(struct fixture *f, const char *label, CK_BBOOL token,
    int *sensitive_ok)
{
	void *dl;
	CK_FUNCTION_LIST_PTR fl;
	CK_ULONG found = 0;
	CK_SESSION_HANDLE s = own_session(f, &fl, &dl);
	CK_OBJECT_HANDLE o[4];
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[3] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_TOKEN, &token, sizeof(token) },
	};
	CK_BBOOL sens = CK_FALSE, extr = CK_TRUE;
	CK_ATTRIBUTE a[2] = {
		{ CKA_SENSITIVE, &sens, sizeof(sens) },
		{ CKA_EXTRACTABLE, &extr, sizeof(extr) },
	};
	unsigned char value[1024];
	CK_ATTRIBUTE v = { CKA_VALUE, value, sizeof(value) };
	CK_ATTRIBUTE d = { CKA_PRIVATE_EXPONENT, value, sizeof(value) };
	CK_RV rv, rv2;

	assert_int_equal(fl->C_FindObjectsInit(s, tmpl, 3), CKR_OK);
	assert_int_equal(fl->C_FindObjects(s, o, 4, &found), CKR_OK);
	assert_int_equal(fl->C_FindObjectsFinal(s), CKR_OK);
	if (found > 0 && sensitive_ok != NULL) {
		/* EC keys hold the secret in CKA_VALUE, RSA keys in CKA_PRIVATE_EXPONENT. */
		rv = fl->C_GetAttributeValue(s, o[0], &v, 1);
		rv2 = fl->C_GetAttributeValue(s, o[0], &d, 1);
		*sensitive_ok = fl->C_GetAttributeValue(s, o[0], a, 2) ==
		    CKR_OK && sens == CK_TRUE && extr == CK_FALSE &&
		    rv != CKR_OK && rv2 != CKR_OK &&
		    (rv == CKR_ATTRIBUTE_SENSITIVE ||
		    rv2 == CKR_ATTRIBUTE_SENSITIVE);
	}
	fl->C_CloseSession(s);
	dlclose(dl);
	return found;
}

/*
 * p11_token_session_keys: signing goes through one session copy per key,
 * as sensitive and unextractable as the token key; the copy goes with the
 * session and is made again after; off, the token key signs directly.
 */
static void
test_session_keys(void **state)
{
	struct fixture *f = *state;
	int ok = 0;

	assert_int_equal(count_keys(f, "s-ec", CK_FALSE, NULL), 0);
	p11_token_session_keys(f->tok, 1);
	sign_verify(f, "s-ec", "SHA256");
	sign_verify(f, "s-ec", "SHA384");
	sign_verify(f, "s-rsa", "SHA256");
	assert_int_equal(count_keys(f, "s-ec", CK_FALSE, &ok), 1);
	assert_true(ok);
	ok = 0;
	assert_int_equal(count_keys(f, "s-rsa", CK_FALSE, &ok), 1);
	assert_true(ok);
	assert_int_equal(count_keys(f, "s-ec", CK_TRUE, NULL), 1);
	/* A lost session took the copies; the next signature makes one. */
	assert_int_equal(p11_test_drop_session(f->tok), 0);
	assert_int_equal(count_keys(f, "s-ec", CK_FALSE, NULL), 0);
	sign_verify(f, "s-ec", "SHA256");
	sign_verify(f, "s-ec", "SHA256");
	assert_int_equal(count_keys(f, "s-ec", CK_FALSE, NULL), 1);
	/* Off: the token key itself, and no further copy. */
	p11_token_session_keys(f->tok, 0);
	assert_int_equal(p11_test_drop_session(f->tok), 0);
	sign_verify(f, "s-ec", "SHA256");
	assert_int_equal(count_keys(f, "s-ec", CK_FALSE, NULL), 0);
	assert_int_equal(count_keys(f, "s-ec", CK_TRUE, NULL), 1);
}

/*
 * The module's own function list, which p11.c calls through (SoftHSM2's
 * is one writable static table: the tests below put counting or failing
 * functions in it for a while, then the real ones back).
 */
static CK_FUNCTION_LIST_PTR
module_funcs(struct fixture *f, void **dl)
{
	CK_C_GetFunctionList gfl;
	CK_FUNCTION_LIST_PTR fl = NULL;

	*dl = dlopen(f->h.module, RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(*dl);
	*(void **)&gfl = dlsym(*dl, "C_GetFunctionList");
	assert_int_equal(gfl(&fl), CKR_OK);
	return fl;
}

/* Sets the user PIN of TOKEN as SO (no user may be logged in). */
static void
so_set_user_pin(struct fixture *f, const char *pin)
{
	void *dl;
	CK_FUNCTION_LIST_PTR fl = module_funcs(f, &dl);
	CK_SLOT_ID slots[16];
	CK_ULONG nslots = 16, i;
	CK_SESSION_HANDLE s;
	CK_TOKEN_INFO ti;

	assert_int_equal(fl->C_GetSlotList(CK_TRUE, slots, &nslots), CKR_OK);
	for (i = 0; i < nslots; i++) {
		assert_int_equal(fl->C_GetTokenInfo(slots[i], &ti), CKR_OK);
		if (memcmp(ti.label, TOKEN, strlen(TOKEN)) == 0)
			break;
	}
	assert_true(i < nslots);
	assert_int_equal(fl->C_OpenSession(slots[i], CKF_SERIAL_SESSION |
	    CKF_RW_SESSION, NULL, NULL, &s), CKR_OK);
	assert_int_equal(fl->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)HSMTEST_SO_PIN,
	    strlen(HSMTEST_SO_PIN)), CKR_OK);
	assert_int_equal(fl->C_InitPIN(s, (CK_UTF8CHAR_PTR)pin, strlen(pin)),
	    CKR_OK);
	assert_int_equal(fl->C_Logout(s), CKR_OK);
	assert_int_equal(fl->C_CloseSession(s), CKR_OK);
	dlclose(dl);
}

static CK_C_Login	real_login;
static int		user_logins;

static CK_RV
counting_login(CK_SESSION_HANDLE s, CK_USER_TYPE type, CK_UTF8CHAR_PTR pin,
    CK_ULONG len)
{
	if (type == CKU_USER)
		user_logins++;
	return real_login(s, type, pin, len);
}

/*
 * The user PIN changes underneath a handle (as an SO would reset it) and
 * the session is lost: the kept PIN is refused once, and never given to
 * C_Login again however many requests follow (on a hardware HSM each try
 * counts towards locking the PIN); each request fails at once, naming the
 * token and the refusal.
 */
/*
 * In a child process: the token "late" (initialize it with only an SO PIN
 * when so_only, else set its user PIN); exits 0 or 1.
 */
#define LATE	"late"
static void
late_child(const char *module, int so_only)
{
	struct p11_module *m;
	CK_FUNCTION_LIST_PTR fl;
	CK_SLOT_ID slots[16], slot = 0;
	CK_ULONG n = 16, i;
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE s;
	unsigned char label[32];
	char err[256];
	int found = 0;

	if ((m = p11_module_load_child(module, err, sizeof(err))) == NULL)
		_exit(1);
	fl = p11_module_funcs(m);
	if (so_only) {
		memset(label, ' ', sizeof(label));
		memcpy(label, LATE, strlen(LATE));
		if (fl->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
			_exit(1);
		for (i = 0; i < n && !found; i++)
			if (fl->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
			    (ti.flags & CKF_TOKEN_INITIALIZED) == 0) {
				slot = slots[i];
				found = 1;
			}
		_exit(found && fl->C_InitToken(slot,
		    (CK_UTF8CHAR_PTR)HSMTEST_SO_PIN, strlen(HSMTEST_SO_PIN),
		    label) == CKR_OK ? 0 : 1);
	}
	if (p11_slot_find(m, LATE, &slot, err, sizeof(err)) != 0 ||
	    fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
	    NULL, &s) != CKR_OK ||
	    fl->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)HSMTEST_SO_PIN,
	    strlen(HSMTEST_SO_PIN)) != CKR_OK ||
	    fl->C_InitPIN(s, (CK_UTF8CHAR_PTR)HSMTEST_USER_PIN,
	    strlen(HSMTEST_USER_PIN)) != CKR_OK)
		_exit(1);
	_exit(0);
}

static void
run_late_child(const char *module, int so_only)
{
	pid_t pid;
	int status;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		late_child(module, so_only);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * SoftHSM2 reads a token's file at C_Initialize only: a process that read
 * it before another process set the user PIN (or while a login rewrote
 * it, HSM-NOTES) answers CKR_USER_PIN_NOT_INITIALIZED to every login
 * until it reads the file again. p11_token_open does, once, and logs in.
 */
static void
test_login_reads_token_again(void **state)
{
	struct fixture *f = *state;
	struct p11_token *t;
	char err[256] = "";

	run_late_child(f->h.module, 1);
	/* This process now sees "late" without a user PIN: refused. */
	assert_null(p11_token_open(f->mod, LATE, HSMTEST_USER_PIN, NULL, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "CKR_USER_PIN_NOT_INITIALIZED"));
	/* Another process sets it: the next open reads the token again. */
	run_late_child(f->h.module, 0);
	t = p11_token_open(f->mod, LATE, HSMTEST_USER_PIN, NULL, err,
	    sizeof(err));
	if (t == NULL)
		fail_msg("open after the PIN was set elsewhere: %s", err);
	p11_token_close(t);
	/* The fixture's token reconnects after the module's re-init. */
	assert_int_equal(p11_key_exists(f->tok, "no-such-key", err,
	    sizeof(err)), 0);
}

static void
test_pin_refused_once(void **state)
{
	struct fixture *f = *state;
	struct p11_token *t;
	CK_FUNCTION_LIST_PTR fl;
	unsigned char dg[32] = { 0 }, *sig = NULL;
	size_t siglen;
	char err[512] = "";
	void *dl;
	int i;

	t = p11_token_open(f->mod, TOKEN, HSMTEST_USER_PIN, NULL, err,
	    sizeof(err));
	if (t == NULL)
		fail_msg("%s", err);
	/* Ends every session of the slot and the login (f->tok's too). */
	assert_int_equal(p11_test_drop_session(t), 0);
	so_set_user_pin(f, "a-new-user-pin");
	fl = module_funcs(f, &dl);
	real_login = fl->C_Login;
	fl->C_Login = counting_login;
	user_logins = 0;
	for (i = 0; i < 4; i++) {
		assert_int_equal(p11_sign_digest(t, "s-ec", "SHA256", dg, 32,
		    &sig, &siglen, err, sizeof(err)), -1);
		assert_null(sig);
		if (strstr(err, "\"" TOKEN "\"") == NULL ||
		    strstr(err, "PIN") == NULL)
			fail_msg("unclear error (%d): %s", i, err);
	}
	assert_int_equal(p11_key_exists(t, "s-ec", err, sizeof(err)), -1);
	fl->C_Login = real_login;
	dlclose(dl);
	if (user_logins != 1)
		fail_msg("%d user logins with a refused PIN, want 1",
		    user_logins);
	if (strstr(err, "\"" TOKEN "\": the user PIN was refused") == NULL)
		fail_msg("unclear error: %s", err);
	p11_token_close(t);
	/* The PIN back: the fixture's handle logs in again. */
	so_set_user_pin(f, HSMTEST_USER_PIN);
	sign_verify(f, "s-ec", "SHA256");
}

static CK_C_GetAttributeValue	real_getattr;
static CK_RV			getattr_rv;

static CK_RV
failing_getattr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR a,
    CK_ULONG n)
{
	return getattr_rv;
}

/* Objects of class cls labelled label, token or session, seen raw. */
static CK_ULONG
count_objects(struct fixture *f, CK_OBJECT_CLASS cls, const char *label)
{
	void *dl;
	CK_FUNCTION_LIST_PTR fl;
	CK_SESSION_HANDLE s = own_session(f, &fl, &dl);
	CK_OBJECT_HANDLE o[4];
	CK_ULONG found = 0;
	CK_ATTRIBUTE tmpl[2] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};

	assert_int_equal(fl->C_FindObjectsInit(s, tmpl, 2), CKR_OK);
	assert_int_equal(fl->C_FindObjects(s, o, 4, &found), CKR_OK);
	assert_int_equal(fl->C_FindObjectsFinal(s), CKR_OK);
	fl->C_CloseSession(s);
	dlclose(dl);
	return found;
}

/*
 * C_GenerateKeyPair succeeds but the public key cannot be read (an error,
 * then a lost session): the new pair is destroyed again, so nothing is
 * left behind and the same label can be generated afterwards.
 */
static void
test_keygen_pub_fails(void **state)
{
	struct fixture *f = *state;
	static const CK_RV rvs[] = { CKR_FUNCTION_FAILED, CKR_DEVICE_REMOVED };
	CK_FUNCTION_LIST_PTR fl;
	EVP_PKEY *pub = NULL;
	char err[512] = "";
	void *dl;
	size_t i;
	int r;

	for (i = 0; i < sizeof(rvs) / sizeof(rvs[0]); i++) {
		fl = module_funcs(f, &dl);
		real_getattr = fl->C_GetAttributeValue;
		getattr_rv = rvs[i];
		fl->C_GetAttributeValue = failing_getattr;
		r = p11_key_generate(f->tok, "gen-nopub", P11_KEY_EC_P256, &pub,
		    err, sizeof(err));
		fl->C_GetAttributeValue = real_getattr;
		dlclose(dl);
		assert_int_equal(r, -1);
		assert_null(pub);
		assert_int_equal(count_objects(f, CKO_PRIVATE_KEY, "gen-nopub"),
		    0);
		assert_int_equal(count_objects(f, CKO_PUBLIC_KEY, "gen-nopub"),
		    0);
		if (strstr(err, "destroyed again") == NULL)
			fail_msg("%s", err);
	}
	if (p11_key_generate(f->tok, "gen-nopub", P11_KEY_EC_P256, &pub, err,
	    sizeof(err)) == -1)
		fail_msg("the label again: %s", err);
	EVP_PKEY_free(pub);
}

static void
test_wrong_pin(void **state)
{
	struct fixture *f = *state;
	struct p11_module *m;
	struct p11_token *t;
	char err[256] = "";

	/*
	 * SoftHSM keeps one login per application: log the good handle's
	 * session out of the picture by testing in a child process.
	 */
	pid_t pid = fork();
	int status;

	assert_true(pid != -1);
	if (pid == 0) {
		if ((m = p11_module_load_child(f->h.module, err,
		    sizeof(err))) == NULL)
			_exit(2);
		t = p11_token_open(m, TOKEN, "wrong-pin", f->h.lockdir, err,
		    sizeof(err));
		if (t != NULL || strstr(err, "wrong user PIN") == NULL) {
			fprintf(stderr, "unexpected: %s\n", err);
			_exit(3);
		}
		p11_module_free(m);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * The token's lock file, opened as root in a directory another user may
 * have owned: a link planted at its name is not followed (no file is made
 * where it points), and a directory or FIFO is not taken for a lock.
 */
static void
test_lock_file_refused(void **state)
{
	struct fixture *f = *state;
	struct p11_token *t;
	struct stat st;
	char dir[192], lock[256], victim[256], err[512] = "";

	snprintf(dir, sizeof(dir), "%s/planted", f->h.dir);
	snprintf(lock, sizeof(lock), "%s/%s.lock", dir, TOKEN);
	snprintf(victim, sizeof(victim), "%s/victim", f->h.dir);
	assert_int_equal(mkdir(dir, 0700), 0);

	/* A dangling link: O_CREAT would make its target. */
	assert_int_equal(symlink(victim, lock), 0);
	t = p11_token_open(f->mod, TOKEN, HSMTEST_USER_PIN, dir, err,
	    sizeof(err));
	assert_null(t);
	if (strstr(err, "symbolic link") == NULL)
		fail_msg("link: %s", err);
	assert_int_equal(lstat(victim, &st), -1);
	/* A link to an existing file. */
	assert_int_equal(hsmtest_writefile(victim, "x", 0600), 0);
	t = p11_token_open(f->mod, TOKEN, HSMTEST_USER_PIN, dir, err,
	    sizeof(err));
	assert_null(t);
	if (strstr(err, "symbolic link") == NULL)
		fail_msg("link to a file: %s", err);
	assert_int_equal(unlink(lock), 0);

	assert_int_equal(mkfifo(lock, 0600), 0);
	t = p11_token_open(f->mod, TOKEN, HSMTEST_USER_PIN, dir, err,
	    sizeof(err));
	assert_null(t);
	if (strstr(err, "not a regular file") == NULL)
		fail_msg("FIFO: %s", err);
	assert_int_equal(unlink(lock), 0);

	assert_int_equal(mkdir(lock, 0700), 0);
	t = p11_token_open(f->mod, TOKEN, HSMTEST_USER_PIN, dir, err,
	    sizeof(err));
	assert_null(t);
	assert_int_equal(rmdir(lock), 0);

	/* A regular file (made here) is the lock. */
	t = p11_token_open(f->mod, TOKEN, HSMTEST_USER_PIN, dir, err,
	    sizeof(err));
	if (t == NULL)
		fail_msg("regular lock file: %s", err);
	assert_int_equal(lstat(lock, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	p11_token_close(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keytype_names),
		cmocka_unit_test(test_token_init_twice),
		cmocka_unit_test(test_token_list),
		cmocka_unit_test(test_token_missing),
		cmocka_unit_test(test_wrong_pin),
		cmocka_unit_test(test_keygen_all_types),
		cmocka_unit_test(test_keygen_duplicate),
		cmocka_unit_test(test_sign_digest),
		cmocka_unit_test(test_lost_session),
		cmocka_unit_test(test_session_keys),
		cmocka_unit_test(test_keygen_pub_fails),
		cmocka_unit_test(test_pin_refused_once),
		cmocka_unit_test(test_login_reads_token_again),
		cmocka_unit_test(test_lock_file_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
