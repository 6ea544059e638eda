/*
 * The PKCS#11 layer: raw Cryptoki through dlopen + C_GetFunctionList.
 * See p11.h for the contract and hsm/README.md for the design.
 *
 * A struct p11_token owns one read-write session on one token, the user PIN
 * (in a locked, non-dumpable page, for re-login after a lost session) and a
 * cache of object handles by class and label. When a call reports that the
 * session or the login is gone, the token is found again by label, a new
 * session is opened and the PIN given again, a bounded number of times with
 * back-off; the cache is dropped with the session. p11_token_run() (see
 * p11_priv.h) lends that session and recovery to the rest of hsm/
 * (p11wrap.c); p11util.c holds the helpers both use.
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hsm/p11.h"
#include "hsm/p11_priv.h"

#define P11_PIN_MAX		256
#define P11_RETRIES		3	/* reconnect attempts after a lost session */
#define P11_ID_LEN		16	/* random CKA_ID */

static const unsigned long p11_backoff_ms[P11_RETRIES] = { 10, 50, 200 };

struct p11_module {
	void			*dl;
	CK_FUNCTION_LIST_PTR	 f;
	/*
	 * Kept apart: a re-init whose C_Initialize fails leaves a module we
	 * still own but that is not initialized; the next session open tries
	 * C_Initialize again (owning it is what allows that).
	 */
	int			 owned;		/* we initialized it */
	int			 initialized;	/* C_Initialize holds now */
	unsigned long		 gen;		/* bumped at each C_Finalize */
};

/* A handle cache entry (p11_token_cache); dropped with the session. */
struct p11_key {
	char			 label[P11_KEYLABEL_MAX + 1];
	CK_OBJECT_CLASS		 cls;
	CK_OBJECT_HANDLE	 handle;
	CK_KEY_TYPE		 type;
};

struct p11_token {
	struct p11_module	*m;
	char			 label[P11_LABEL_LEN + 1];
	CK_SLOT_ID		 slot;
	CK_SESSION_HANDLE	 session;
	int			 have_session;
	unsigned long		 gen;		/* module gen of the session */
	char			*pin;		/* one mlock'd page */
	size_t			 pinlen;
	size_t			 pinpage;
	char			*lockpath;
	/* Opened at the first login and kept: a signer demoted since (its
	 * sandbox) may no longer be able to open a lock file root made. */
	int			 lockfd;
	struct p11_key		*keys;
	size_t			 nkeys;
	void			*sobj;		/* p11_token_attach */
	void			(*sobj_forget)(void *);
	void			(*sobj_free)(void *);
	int			 session_keys;	/* p11_token_session_keys */
	/*
	 * Why the module refused the kept PIN (CKR_PIN_INCORRECT,
	 * CKR_PIN_LOCKED, ...), CKR_OK until then. A refused PIN is never
	 * given again: on a hardware HSM each try counts towards locking it.
	 */
	CK_RV			 pin_refused;
};

static const struct {
	enum p11_keytype	 type;
	const char		*name;
} p11_keytypes[] = {
	{ P11_KEY_RSA2048, "rsa2048" },
	{ P11_KEY_RSA3072, "rsa3072" },
	{ P11_KEY_RSA4096, "rsa4096" },
	{ P11_KEY_EC_P256, "ec-p256" },
	{ P11_KEY_EC_P384, "ec-p384" },
};

static void
p11_sleep_ms(unsigned long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
p11_keytype_parse(const char *name, enum p11_keytype *out)
{
	size_t i;

	for (i = 0; i < sizeof(p11_keytypes) / sizeof(p11_keytypes[0]); i++) {
		if (strcmp(name, p11_keytypes[i].name) == 0) {
			*out = p11_keytypes[i].type;
			return 0;
		}
	}
	return -1;
}

const char *
p11_keytype_name(enum p11_keytype type)
{
	size_t i;

	for (i = 0; i < sizeof(p11_keytypes) / sizeof(p11_keytypes[0]); i++)
		if (p11_keytypes[i].type == type)
			return p11_keytypes[i].name;
	return "unknown";
}

/* Blank-pads label into a 32-byte CK_TOKEN_INFO label; -1 if too long. */
static int
p11_label_pad(const char *label, unsigned char out[P11_LABEL_LEN])
{
	size_t len = strlen(label);

	if (len == 0 || len > P11_LABEL_LEN)
		return -1;
	memset(out, ' ', P11_LABEL_LEN);
	memcpy(out, label, len);
	return 0;
}

/* Copies a blank-padded field into a NUL-terminated string, trimmed. */
static void
p11_field_str(const unsigned char *field, size_t flen, char *out,
    size_t outlen)
{
	size_t n = flen;

	while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\0'))
		n--;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, field, n);
	out[n] = '\0';
}

static struct p11_module *p11_module_open(const char *, int, char *, size_t);

struct p11_module *
p11_module_load(const char *path, char *err, size_t errlen)
{
	return p11_module_open(path, 0, err, errlen);
}

struct p11_module *
p11_module_load_child(const char *path, char *err, size_t errlen)
{
	return p11_module_open(path, 1, err, errlen);
}

/*
 * Loads and initializes the module. With child set, an "already
 * initialized" module is the state a parent left before fork(): it is
 * finalized and initialized again, so nothing (sessions, a login) is
 * inherited.
 */
static struct p11_module *
p11_module_open(const char *path, int child, char *err, size_t errlen)
{
	struct p11_module *m = NULL;
	CK_C_GetFunctionList getfl;
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;
	int rc = -1;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		p11_seterr(err, errlen, "calloc: %s", strerror(errno));
		goto out;
	}
	if ((m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		p11_seterr(err, errlen, "dlopen %s: %s", path, dlerror());
		goto out;
	}
	*(void **)&getfl = dlsym(m->dl, "C_GetFunctionList");
	if (getfl == NULL) {
		p11_seterr(err, errlen, "%s: no C_GetFunctionList", path);
		goto out;
	}
	if ((rv = getfl(&m->f)) != CKR_OK || m->f == NULL) {
		p11_seterr(err, errlen, "%s: C_GetFunctionList: %s", path,
		    p11_rvname(rv));
		goto out;
	}
	/* SoftHSM2 does no locking without CKF_OS_LOCKING_OK (HSM-NOTES). */
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = m->f->C_Initialize(&args);
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED && child) {
		m->f->C_Finalize(NULL);
		rv = m->f->C_Initialize(&args);
	}
	if (rv == CKR_OK)
		m->owned = 1;
	else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		p11_seterr(err, errlen, "%s: C_Initialize: %s", path,
		    p11_rvname(rv));
		goto out;
	}
	m->initialized = 1;
	rc = 0;
out:
	if (rc == -1) {
		p11_module_free(m);
		m = NULL;
	}
	return m;
}

void
p11_module_free(struct p11_module *m)
{
	if (m == NULL)
		return;
	if (m->owned && m->initialized && m->f != NULL)
		m->f->C_Finalize(NULL);
	if (m->dl != NULL)
		dlclose(m->dl);
	free(m);
}

/*
 * The slots with a token present, in *slots (the caller frees it) and *n.
 * A slot added between the two calls (SoftHSM2 adds an empty one after
 * each C_InitToken) makes the second CKR_BUFFER_TOO_SMALL: asked again.
 */
static int
p11_slots(struct p11_module *m, CK_SLOT_ID **slots, CK_ULONG *n, char *err,
    size_t errlen)
{
	CK_SLOT_ID *list = NULL, *grown;
	CK_ULONG count = 0;
	CK_RV rv;
	int attempt;

	*slots = NULL;
	*n = 0;
	for (attempt = 0; attempt < 3; attempt++) {
		if ((rv = m->f->C_GetSlotList(CK_TRUE, NULL, &count)) !=
		    CKR_OK)
			break;
		if (count == 0) {
			free(list);
			return 0;
		}
		if ((grown = realloc(list, count * sizeof(*list))) == NULL) {
			p11_seterr(err, errlen, "realloc: %s", strerror(errno));
			free(list);
			return -1;
		}
		list = grown;
		if ((rv = m->f->C_GetSlotList(CK_TRUE, list, &count)) ==
		    CKR_OK) {
			*slots = list;
			*n = count;
			return 0;
		}
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;
	}
	p11_seterr(err, errlen, "C_GetSlotList: %s", p11_rvname(rv));
	free(list);
	return -1;
}

/* See p11_priv.h. */
int
p11_slot_find(struct p11_module *m, const char *label, CK_SLOT_ID *slot,
    char *err, size_t errlen)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0, i;
	CK_TOKEN_INFO ti;
	unsigned char want[P11_LABEL_LEN];
	int rc = -1;

	if (p11_label_pad(label, want) == -1) {
		p11_seterr(err, errlen, "token label \"%s\": 1 to 32 bytes",
		    label);
		goto out;
	}
	if (p11_slots(m, &slots, &n, err, errlen) == -1)
		goto out;
	rc = 1;
	for (i = 0; i < n; i++) {
		if (m->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if ((ti.flags & CKF_TOKEN_INITIALIZED) == 0)
			continue;
		if (memcmp(ti.label, want, P11_LABEL_LEN) == 0) {
			*slot = slots[i];
			rc = 0;
			break;
		}
	}
	if (rc == 1)
		p11_seterr(err, errlen, "token \"%s\" not present", label);
out:
	free(slots);
	return rc;
}

int
p11_token_init(struct p11_module *m, const char *label, const char *so_pin,
    const char *user_pin, char *err, size_t errlen)
{
	CK_SLOT_ID *slots = NULL, slot = 0;
	CK_ULONG n = 0, i;
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	unsigned char plabel[P11_LABEL_LEN];
	CK_RV rv;
	int found = 0, r, rc = -1, login = 0;

	if (p11_label_pad(label, plabel) == -1) {
		p11_seterr(err, errlen, "token label \"%s\": 1 to 32 bytes",
		    label);
		goto out;
	}
	r = p11_slot_find(m, label, &slot, err, errlen);
	if (r == -1)
		goto out;
	if (r == 0) {
		p11_seterr(err, errlen, "token \"%s\" already exists", label);
		goto out;
	}
	if (p11_slots(m, &slots, &n, err, errlen) == -1)
		goto out;
	for (i = 0; i < n && !found; i++) {
		if (m->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if ((ti.flags & CKF_TOKEN_INITIALIZED) == 0) {
			slot = slots[i];
			found = 1;
		}
	}
	if (!found) {
		p11_seterr(err, errlen, "no uninitialized token to initialize "
		    "as \"%s\"", label);
		goto out;
	}
	rv = m->f->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin),
	    plabel);
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "C_InitToken \"%s\": %s", label,
		    p11_rvname(rv));
		goto out;
	}
	/* SoftHSM2 moves the new token to another slot id: look again. */
	if (p11_slot_find(m, label, &slot, err, errlen) != 0)
		goto out;
	rv = m->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
	    NULL, NULL, &s);
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "C_OpenSession \"%s\": %s", label,
		    p11_rvname(rv));
		goto out;
	}
	rv = m->f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin));
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "C_Login (SO) \"%s\": %s", label,
		    p11_rvname(rv));
		goto out;
	}
	login = 1;
	rv = m->f->C_InitPIN(s, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin));
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "C_InitPIN \"%s\": %s", label,
		    p11_rvname(rv));
		goto out;
	}
	rc = 0;
out:
	if (login)
		m->f->C_Logout(s);
	if (s != CK_INVALID_HANDLE)
		m->f->C_CloseSession(s);
	free(slots);
	return rc;
}

int
p11_token_list(struct p11_module *m,
    void (*fn)(const char *label, const char *serial, void *arg), void *arg)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0, i;
	CK_TOKEN_INFO ti;
	char label[P11_LABEL_LEN + 1], serial[sizeof(ti.serialNumber) + 1];
	int rc = -1;

	if (p11_slots(m, &slots, &n, NULL, 0) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		if (m->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if ((ti.flags & CKF_TOKEN_INITIALIZED) == 0)
			continue;
		p11_field_str(ti.label, sizeof(ti.label), label, sizeof(label));
		p11_field_str(ti.serialNumber, sizeof(ti.serialNumber), serial,
		    sizeof(serial));
		fn(label, serial, arg);
	}
	rc = 0;
out:
	free(slots);
	return rc;
}

/* Forgets the session and the key handles found through it. */
static void
p11_session_drop(struct p11_token *t)
{
	/* A session from before a re-init is gone; its handle may be reused. */
	if (t->have_session && t->gen == t->m->gen)
		t->m->f->C_CloseSession(t->session);
	t->have_session = 0;
	t->session = CK_INVALID_HANDLE;
	t->nkeys = 0;
	/* The session's objects went with it. */
	if (t->sobj != NULL)
		t->sobj_forget(t->sobj);
}

/*
 * Initializes a module we own again: C_Finalize when it is initialized (a
 * new generation: every token of the module reconnects), then
 * C_Initialize, which rescans the slots. 0, or -1 with err and the module
 * left uninitialized, for the next p11_session_open to try again.
 */
static int
p11_module_reinit(struct p11_module *m, const char *label, char *err,
    size_t errlen)
{
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	if (m->initialized) {
		m->f->C_Finalize(NULL);
		m->initialized = 0;
		m->gen++;
	}
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	if ((rv = m->f->C_Initialize(&args)) != CKR_OK) {
		p11_seterr(err, errlen, "C_Initialize (re-init for token "
		    "\"%s\"): %s", label, p11_rvname(rv));
		return -1;
	}
	m->initialized = 1;
	return 0;
}

/*
 * Opens (creating it 0600) the token's lock file into t->lockfd. Opened as
 * root before the signer demotes, in a directory another user may once
 * have owned (the local stack's run/ before 2026-12-06): a link there is
 * not followed (it could make root create or open a file anywhere) and
 * anything but a regular file is refused. Returns 0 or -1 with err set.
 */
static int
p11_lock_open(struct p11_token *t, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if ((fd = open(t->lockpath, O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600)) == -1) {
		p11_seterr(err, errlen, "open %s: %s%s", t->lockpath,
		    strerror(errno), errno == ELOOP ? " (a symbolic link: "
		    "a lock file must be a regular file)" : "");
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		p11_seterr(err, errlen, "fstat %s: %s", t->lockpath,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		p11_seterr(err, errlen, "lock file %s is not a regular file",
		    t->lockpath);
		close(fd);
		return -1;
	}
	t->lockfd = fd;
	return 0;
}

/*
 * Finds the token by label again, opens a read-write session and logs in
 * with the kept PIN, under the flock when lockpath is set. Returns 0, -1, or
 * -2 when the PIN is refused, now or earlier (then without C_Login).
 */
static int
p11_session_open(struct p11_token *t, char *err, size_t errlen)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_RV rv;
	int locked = 0, rc = -1, r, reinit = 0;

	p11_session_drop(t);
	if (t->pin_refused != CKR_OK) {
		p11_seterr(err, errlen, "token \"%s\": the user PIN was refused "
		    "(%s) and is not given again, since each try counts towards "
		    "locking it; restart to read the PIN anew", t->label,
		    p11_rvname(t->pin_refused));
		rc = -2;
		goto out;
	}
	if (t->lockpath != NULL) {
		if (t->lockfd == -1 && p11_lock_open(t, err, errlen) == -1)
			goto out;
		while (flock(t->lockfd, LOCK_EX) == -1) {
			if (errno != EINTR) {
				p11_seterr(err, errlen, "flock %s: %s",
				    t->lockpath, strerror(errno));
				goto out;
			}
		}
		locked = 1;
	}
	/*
	 * A re-init whose C_Initialize failed: try again, once per open, so
	 * as often as the callers' bounded retries (p11_run) ask.
	 */
	if (t->m->owned && !t->m->initialized) {
		if (p11_module_reinit(t->m, t->label, err, errlen) == -1)
			goto out;
		reinit = 1;
	}
again:
	if ((r = p11_slot_find(t->m, t->label, &t->slot, err, errlen)) == 1 &&
	    t->m->owned && !reinit) {
		/*
		 * Modules scan their slots at C_Initialize (SoftHSM2 does):
		 * a token that went away and came back is only seen after a
		 * re-init. Every token of this module then reconnects.
		 */
		if (p11_module_reinit(t->m, t->label, err, errlen) == -1)
			goto out;
		r = p11_slot_find(t->m, t->label, &t->slot, err, errlen);
	}
	if (r != 0)
		goto out;
	rv = t->m->f->C_OpenSession(t->slot,
	    CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "C_OpenSession on token \"%s\": %s",
		    t->label, p11_rvname(rv));
		goto out;
	}
	rv = t->m->f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)t->pin,
	    t->pinlen);
	if (rv == CKR_USER_PIN_NOT_INITIALIZED && t->m->owned && !reinit) {
		/*
		 * SoftHSM2 reads a token's file at C_Initialize only, and
		 * another process's login rewrites it in place (HSM-NOTES):
		 * read half-written, or before its user PIN was set, the
		 * token stays without one in this process, and no retry
		 * helps. Read it again (under the flock, which every login
		 * takes), once.
		 */
		t->m->f->C_CloseSession(s);
		s = CK_INVALID_HANDLE;
		if (p11_module_reinit(t->m, t->label, err, errlen) == -1)
			goto out;
		reinit = 1;
		goto again;
	}
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		if (rv == CKR_PIN_INCORRECT)
			p11_seterr(err, errlen, "login to token \"%s\": wrong "
			    "user PIN (CKR_PIN_INCORRECT)", t->label);
		else
			p11_seterr(err, errlen, "C_Login to token \"%s\": %s",
			    t->label, p11_rvname(rv));
		/*
		 * Retrying a refused PIN would only count towards a lock:
		 * remember the refusal (later opens fail without C_Login)
		 * and wipe the PIN, which is of no use any more.
		 */
		if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED ||
		    rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE ||
		    rv == CKR_PIN_EXPIRED) {
			t->pin_refused = rv;
			OPENSSL_cleanse(t->pin, t->pinpage);
			t->pinlen = 0;
			rc = -2;
		}
		goto out;
	}
	t->session = s;
	t->have_session = 1;
	t->gen = t->m->gen;
	s = CK_INVALID_HANDLE;
	rc = 0;
out:
	if (s != CK_INVALID_HANDLE)
		t->m->f->C_CloseSession(s);
	if (locked)
		(void)flock(t->lockfd, LOCK_UN);
	return rc;
}

struct p11_token *
p11_token_open(struct p11_module *m, const char *label, const char *pin,
    const char *lock_dir, char *err, size_t errlen)
{
	struct p11_token *t = NULL;
	size_t pinlen;
	long pg;
	int attempt, r, rc = -1;

	if (strlen(label) == 0 || strlen(label) > P11_LABEL_LEN) {
		p11_seterr(err, errlen, "token label \"%s\": 1 to 32 bytes",
		    label);
		goto out;
	}
	if ((pinlen = strlen(pin)) == 0 || pinlen > P11_PIN_MAX) {
		p11_seterr(err, errlen, "user PIN for \"%s\": 1 to %d bytes",
		    label, P11_PIN_MAX);
		goto out;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		p11_seterr(err, errlen, "calloc: %s", strerror(errno));
		goto out;
	}
	t->m = m;
	t->session = CK_INVALID_HANDLE;
	t->lockfd = -1;
	snprintf(t->label, sizeof(t->label), "%s", label);
	if (lock_dir != NULL && asprintf(&t->lockpath, "%s/%s.lock", lock_dir,
	    label) == -1) {
		t->lockpath = NULL;
		p11_seterr(err, errlen, "asprintf: %s", strerror(errno));
		goto out;
	}
	/* The PIN lives in its own page: locked, not in core dumps. */
	if ((pg = sysconf(_SC_PAGESIZE)) <= 0)
		pg = 4096;
	t->pin = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->pin == MAP_FAILED) {
		t->pin = NULL;
		p11_seterr(err, errlen, "mmap: %s", strerror(errno));
		goto out;
	}
	t->pinpage = (size_t)pg;
	if (mlock(t->pin, t->pinpage) == -1) {
		p11_seterr(err, errlen, "mlock PIN page: %s", strerror(errno));
		goto out;
	}
	(void)madvise(t->pin, t->pinpage, MADV_DONTDUMP);
	memcpy(t->pin, pin, pinlen);
	t->pinlen = pinlen;
	/*
	 * Start-ups of several processes on one token can meet SoftHSM2
	 * rewriting its token file (HSM-NOTES): retry with back-off, but
	 * never a refused PIN.
	 */
	for (attempt = 0; (r = p11_session_open(t, err, errlen)) == -1 &&
	    attempt < P11_RETRIES; attempt++)
		p11_sleep_ms(p11_backoff_ms[attempt]);
	if (r != 0)
		goto out;
	rc = 0;
out:
	if (rc == -1) {
		p11_token_close(t);
		t = NULL;
	}
	return t;
}

void
p11_token_close(struct p11_token *t)
{
	if (t == NULL)
		return;
	/* No C_Logout: it would end other sessions' login (HSM-NOTES). */
	p11_session_drop(t);
	if (t->pin != NULL) {
		OPENSSL_cleanse(t->pin, t->pinpage);
		munlock(t->pin, t->pinpage);
		munmap(t->pin, t->pinpage);
	}
	if (t->lockfd != -1)
		close(t->lockfd);
	free(t->lockpath);
	free(t->keys);
	if (t->sobj != NULL)
		t->sobj_free(t->sobj);
	free(t);
}

const char *
p11_token_label(const struct p11_token *t)
{
	return t->label;
}

CK_FUNCTION_LIST_PTR
p11_module_funcs(struct p11_module *m)
{
	return m->f;
}

CK_SLOT_ID
p11_token_slot(struct p11_token *t)
{
	return t->slot;
}

int
p11_token_cached(struct p11_token *t, CK_OBJECT_CLASS cls, const char *label,
    CK_OBJECT_HANDLE *h, CK_KEY_TYPE *kt)
{
	size_t i;

	for (i = 0; i < t->nkeys; i++) {
		if (t->keys[i].cls == cls &&
		    strcmp(t->keys[i].label, label) == 0) {
			*h = t->keys[i].handle;
			if (kt != NULL)
				*kt = t->keys[i].type;
			return 1;
		}
	}
	return 0;
}

int
p11_token_cache(struct p11_token *t, CK_OBJECT_CLASS cls, const char *label,
    CK_OBJECT_HANDLE h, CK_KEY_TYPE kt)
{
	struct p11_key *nk;

	p11_token_uncache(t, cls, label);
	nk = reallocarray(t->keys, t->nkeys + 1, sizeof(*t->keys));
	if (nk == NULL)
		return -1;
	t->keys = nk;
	memset(&t->keys[t->nkeys], 0, sizeof(t->keys[t->nkeys]));
	snprintf(t->keys[t->nkeys].label, sizeof(t->keys[t->nkeys].label),
	    "%s", label);
	t->keys[t->nkeys].cls = cls;
	t->keys[t->nkeys].handle = h;
	t->keys[t->nkeys].type = kt;
	t->nkeys++;
	return 0;
}

void
p11_token_attach(struct p11_token *t, void *state, void (*forget)(void *),
    void (*freefn)(void *))
{
	t->sobj = state;
	t->sobj_forget = forget;
	t->sobj_free = freefn;
}

void *
p11_token_attached(struct p11_token *t)
{
	return t->sobj;
}

/* Also after a stale handle (CKR_OBJECT_HANDLE_INVALID and the like). */
void
p11_token_uncache(struct p11_token *t, CK_OBJECT_CLASS cls, const char *label)
{
	size_t i;

	for (i = 0; i < t->nkeys; i++) {
		if (t->keys[i].cls == cls &&
		    strcmp(t->keys[i].label, label) == 0) {
			t->keys[i] = t->keys[--t->nkeys];
			return;
		}
	}
}

/*
 * Runs op with a working session, reconnecting and logging in again after a
 * lost session, up to P11_RETRIES times with back-off. op returns a CK_RV
 * and writes its own message for errors that are not a lost session.
 */
typedef CK_RV (*p11_op)(struct p11_token *, void *, char *, size_t);

static int
p11_run(struct p11_token *t, p11_op op, void *arg, const char *what,
    char *err, size_t errlen)
{
	CK_RV rv = CKR_OK;
	char why[256] = "";
	int attempt, fresh = 0, r;

	for (attempt = 0; attempt <= P11_RETRIES; attempt++) {
		if (attempt > 0)
			p11_sleep_ms(p11_backoff_ms[attempt - 1]);
		if (t->have_session && t->gen != t->m->gen)
			p11_session_drop(t);
		if (!t->have_session) {
			if ((r = p11_session_open(t, why, sizeof(why))) == -2) {
				p11_seterr(err, errlen, "%s: %s", what, why);
				return -1;
			}
			if (r == -1)
				continue;
			fresh = 1;
		}
		rv = op(t, arg, err, errlen);
		if (rv == CKR_OK)
			return 0;
		/*
		 * A key that is not found may be a token whose objects were
		 * away for a moment (SoftHSM2 drops them from a session
		 * that saw them vanish): look once more through a new
		 * session and login before saying it does not exist.
		 */
		if (rv == CKR_KEY_HANDLE_INVALID && !fresh) {
			p11_session_drop(t);
			attempt--;
			fresh = 1;
			continue;
		}
		if (!p11_rv_lost(rv))
			return -1;	/* op wrote err */
		snprintf(why, sizeof(why), "%s", p11_rvname(rv));
		p11_session_drop(t);
	}
	p11_seterr(err, errlen, "%s: token \"%s\" unavailable after %d "
	    "attempts to reconnect (%s)", what, t->label, P11_RETRIES, why);
	return -1;
}

struct p11_token_run_arg {
	p11_token_op	 op;
	void		*arg;
};

static CK_RV
p11_token_run_op(struct p11_token *t, void *varg, char *err, size_t errlen)
{
	struct p11_token_run_arg *r = varg;

	return r->op(t->m->f, t->session, r->arg, err, errlen);
}

int
p11_token_run(struct p11_token *t, p11_token_op op, void *arg,
    const char *what, char *err, size_t errlen)
{
	struct p11_token_run_arg r;

	r.op = op;
	r.arg = arg;
	return p11_run(t, p11_token_run_op, &r, what, err, errlen);
}

struct p11_gen_arg {
	const char		*label;
	enum p11_keytype	 type;
	EVP_PKEY		**pub;
};

static CK_RV
p11_gen_op(struct p11_token *t, void *varg, char *err, size_t errlen)
{
	struct p11_gen_arg *g = varg;
	CK_OBJECT_HANDLE objs[1], hpub = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE hpriv = CK_INVALID_HANDLE;
	CK_ULONG n = 0, bits = 0, npub = 0, npriv = 0;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM mech = { 0, NULL, 0 };
	CK_ATTRIBUTE pubt[12], privt[14];
	unsigned char id[P11_ID_LEN];
	unsigned char exp[] = { 0x01, 0x00, 0x01 };
	const void *oid = NULL;
	size_t oidlen = 0;
	CK_OBJECT_CLASS classes[2] = { CKO_PRIVATE_KEY, CKO_PUBLIC_KEY };
	CK_RV rv, rvpub, rvpriv;
	char why[256] = "";
	size_t i;

	for (i = 0; i < 2; i++) {
		if ((rv = p11_find_objects(t->m->f, t->session, classes[i],
		    g->label, 0, objs, 1, &n)) != CKR_OK) {
			p11_seterr(err, errlen, "C_FindObjects: %s",
			    p11_rvname(rv));
			return rv;
		}
		if (n > 0) {
			p11_seterr(err, errlen, "a key labelled \"%s\" already "
			    "exists in token \"%s\"", g->label, t->label);
			return CKR_FUNCTION_FAILED;
		}
	}
	if (RAND_bytes(id, sizeof(id)) != 1) {
		p11_seterr(err, errlen, "RAND_bytes failed");
		return CKR_FUNCTION_FAILED;
	}
	switch (g->type) {
	case P11_KEY_RSA2048:
		bits = 2048;
		break;
	case P11_KEY_RSA3072:
		bits = 3072;
		break;
	case P11_KEY_RSA4096:
		bits = 4096;
		break;
	case P11_KEY_EC_P256:
		oid = p11_oid_p256;
		oidlen = sizeof(p11_oid_p256);
		break;
	case P11_KEY_EC_P384:
		oid = p11_oid_p384;
		oidlen = sizeof(p11_oid_p384);
		break;
	default:
		p11_seterr(err, errlen, "unknown key type %d", (int)g->type);
		return CKR_FUNCTION_FAILED;
	}
	P11_ATTR(pubt, npub, CKA_TOKEN, &yes, sizeof(yes));
	P11_ATTR(pubt, npub, CKA_PRIVATE, &no, sizeof(no));
	P11_ATTR(pubt, npub, CKA_VERIFY, &yes, sizeof(yes));
	P11_ATTR(pubt, npub, CKA_ENCRYPT, &no, sizeof(no));
	P11_ATTR(pubt, npub, CKA_WRAP, &no, sizeof(no));
	P11_ATTR(pubt, npub, CKA_LABEL, g->label, strlen(g->label));
	P11_ATTR(pubt, npub, CKA_ID, id, sizeof(id));
	P11_ATTR(privt, npriv, CKA_TOKEN, &yes, sizeof(yes));
	P11_ATTR(privt, npriv, CKA_PRIVATE, &yes, sizeof(yes));
	P11_ATTR(privt, npriv, CKA_SENSITIVE, &yes, sizeof(yes));
	P11_ATTR(privt, npriv, CKA_EXTRACTABLE, &no, sizeof(no));
	P11_ATTR(privt, npriv, CKA_SIGN, &yes, sizeof(yes));
	P11_ATTR(privt, npriv, CKA_DECRYPT, &no, sizeof(no));
	P11_ATTR(privt, npriv, CKA_UNWRAP, &no, sizeof(no));
	P11_ATTR(privt, npriv, CKA_DERIVE, &no, sizeof(no));
	P11_ATTR(privt, npriv, CKA_LABEL, g->label, strlen(g->label));
	P11_ATTR(privt, npriv, CKA_ID, id, sizeof(id));
	if (oid == NULL) {
		mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		P11_ATTR(pubt, npub, CKA_MODULUS_BITS, &bits, sizeof(bits));
		P11_ATTR(pubt, npub, CKA_PUBLIC_EXPONENT, exp, sizeof(exp));
	} else {
		mech.mechanism = CKM_EC_KEY_PAIR_GEN;
		P11_ATTR(pubt, npub, CKA_EC_PARAMS, oid, oidlen);
	}
	rv = t->m->f->C_GenerateKeyPair(t->session, &mech, pubt, npub, privt,
	    npriv, &hpub, &hpriv);
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "C_GenerateKeyPair %s \"%s\": %s",
		    p11_keytype_name(g->type), g->label, p11_rvname(rv));
		return rv;
	}
	if (p11_pub_evp(t->m->f, t->session, hpub, g->pub, why,
	    sizeof(why)) == CKR_OK)
		return CKR_OK;
	/*
	 * A key pair whose public key we cannot return is of no use, and a
	 * ceremony cannot undo what it was never told of: take it out
	 * again. CKR_FUNCTION_FAILED, never a retry: when destroying fails
	 * too, the pair left behind would make it refuse the label.
	 */
	rvpriv = t->m->f->C_DestroyObject(t->session, hpriv);
	rvpub = t->m->f->C_DestroyObject(t->session, hpub);
	if (rvpriv == CKR_OK && rvpub == CKR_OK)
		p11_seterr(err, errlen, "key \"%s\" generated but its public "
		    "key could not be read (%s): destroyed again", g->label,
		    why);
	else
		p11_seterr(err, errlen, "key \"%s\" generated but its public "
		    "key could not be read (%s), and destroying it failed (%s): "
		    "the key pair is left in token \"%s\"", g->label, why,
		    p11_rvname(rvpriv != CKR_OK ? rvpriv : rvpub), t->label);
	return CKR_FUNCTION_FAILED;
}

int
p11_key_generate(struct p11_token *t, const char *label,
    enum p11_keytype type, EVP_PKEY **pub, char *err, size_t errlen)
{
	struct p11_gen_arg g;

	*pub = NULL;
	if (strlen(label) == 0 || strlen(label) > P11_KEYLABEL_MAX) {
		p11_seterr(err, errlen, "key label: 1 to %d bytes",
		    P11_KEYLABEL_MAX);
		return -1;
	}
	g.label = label;
	g.type = type;
	g.pub = pub;
	return p11_run(t, p11_gen_op, &g, "key generation", err, errlen);
}

struct p11_pub_arg {
	const char	*label;
	EVP_PKEY	**pub;
};

static CK_RV
p11_pub_op(struct p11_token *t, void *varg, char *err, size_t errlen)
{
	struct p11_pub_arg *a = varg;
	CK_OBJECT_HANDLE objs[2];
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = p11_find_objects(t->m->f, t->session, CKO_PUBLIC_KEY,
	    a->label, 0, objs, 2, &n)) != CKR_OK) {
		p11_seterr(err, errlen, "C_FindObjects: %s", p11_rvname(rv));
		return rv;
	}
	if (n != 1) {
		p11_seterr(err, errlen, n == 0 ? "no public key labelled "
		    "\"%s\" in token \"%s\"" : "several public keys labelled "
		    "\"%s\" in token \"%s\"", a->label, t->label);
		return CKR_FUNCTION_FAILED;
	}
	return p11_pub_evp(t->m->f, t->session, objs[0], a->pub, err, errlen);
}

int
p11_key_public(struct p11_token *t, const char *label, EVP_PKEY **pub,
    char *err, size_t errlen)
{
	struct p11_pub_arg a;

	*pub = NULL;
	a.label = label;
	a.pub = pub;
	return p11_run(t, p11_pub_op, &a, "public key", err, errlen);
}

/* Type name of a private key object ("ec-p256", "rsa2048", ...). */
static void
p11_key_typename(struct p11_token *t, CK_OBJECT_HANDLE o, char *out,
    size_t outlen)
{
	CK_FUNCTION_LIST_PTR f = t->m->f;
	CK_ULONG kt = 0;
	unsigned char *v = NULL;
	size_t vlen = 0;

	snprintf(out, outlen, "unknown");
	if (p11_attr_ulong(f, t->session, o, CKA_KEY_TYPE, &kt) != CKR_OK)
		return;
	if (kt == CKK_RSA) {
		if (p11_attr_get(f, t->session, o, CKA_MODULUS, &v, &vlen) ==
		    CKR_OK)
			snprintf(out, outlen, "rsa%zu", vlen * 8);
	} else if (kt == CKK_EC) {
		if (p11_attr_get(f, t->session, o, CKA_EC_PARAMS, &v,
		    &vlen) != CKR_OK)
			return;
		if (vlen == sizeof(p11_oid_p256) &&
		    memcmp(v, p11_oid_p256, vlen) == 0)
			snprintf(out, outlen, "ec-p256");
		else if (vlen == sizeof(p11_oid_p384) &&
		    memcmp(v, p11_oid_p384, vlen) == 0)
			snprintf(out, outlen, "ec-p384");
		else
			snprintf(out, outlen, "ec");
	}
	free(v);
}

int
p11_key_list(struct p11_token *t,
    void (*fn)(const char *label, const char *type, int sensitive,
    int extractable, void *arg), void *arg)
{
	CK_OBJECT_HANDLE objs[256];
	CK_ULONG n = 0, i;
	unsigned char *lab = NULL;
	size_t lablen;
	char label[P11_KEYLABEL_MAX + 1], type[16];
	int sens, extr, rc = -1;

	if (t->have_session && t->gen != t->m->gen)
		p11_session_drop(t);
	if (!t->have_session && p11_session_open(t, NULL, 0) != 0)
		goto out;
	if (p11_find_objects(t->m->f, t->session, CKO_PRIVATE_KEY, NULL, 0,
	    objs, 256, &n) != CKR_OK)
		goto out;
	for (i = 0; i < n; i++) {
		free(lab);
		lab = NULL;
		if (p11_attr_get(t->m->f, t->session, objs[i], CKA_LABEL, &lab,
		    &lablen) != CKR_OK)
			goto out;
		if (lablen > P11_KEYLABEL_MAX)
			lablen = P11_KEYLABEL_MAX;
		memcpy(label, lab, lablen);
		label[lablen] = '\0';
		if (p11_attr_bool(t->m->f, t->session, objs[i], CKA_SENSITIVE,
		    &sens) != CKR_OK ||
		    p11_attr_bool(t->m->f, t->session, objs[i],
		    CKA_EXTRACTABLE, &extr) != CKR_OK)
			goto out;
		p11_key_typename(t, objs[i], type, sizeof(type));
		fn(label, type, sens, extr, arg);
	}
	rc = 0;
out:
	free(lab);
	return rc;
}

/*
 * Finds the private key labelled label through the handle cache. Returns
 * CKR_OK, or an error with err written (a lost session is left to p11_run).
 */
static CK_RV
p11_key_lookup(struct p11_token *t, const char *label, CK_OBJECT_HANDLE *h,
    CK_KEY_TYPE *kt, char *err, size_t errlen)
{
	CK_OBJECT_HANDLE objs[2], copy;
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE tmpl[1] = { { CKA_TOKEN, &no, sizeof(no) } };
	CK_ULONG n = 0;
	CK_RV rv;

	if (p11_token_cached(t, CKO_PRIVATE_KEY, label, h, kt))
		return CKR_OK;
	/* Token objects only: a session copy (below) has the same label. */
	if ((rv = p11_find_objects(t->m->f, t->session, CKO_PRIVATE_KEY,
	    label, 1, objs, 2, &n)) != CKR_OK) {
		p11_seterr(err, errlen, "C_FindObjects: %s", p11_rvname(rv));
		return rv;
	}
	if (n != 1) {
		p11_seterr(err, errlen, n == 0 ? "no private key labelled "
		    "\"%s\" in token \"%s\"" : "several private keys labelled "
		    "\"%s\" in token \"%s\"", label, t->label);
		return CKR_KEY_HANDLE_INVALID;
	}
	if ((rv = p11_attr_ulong(t->m->f, t->session, objs[0], CKA_KEY_TYPE,
	    kt)) != CKR_OK) {
		p11_seterr(err, errlen, "C_GetAttributeValue CKA_KEY_TYPE: %s",
		    p11_rvname(rv));
		return rv;
	}
	if (*kt != CKK_RSA && *kt != CKK_EC) {
		p11_seterr(err, errlen, "key \"%s\": unsupported type 0x%lx",
		    label, *kt);
		return CKR_KEY_TYPE_INCONSISTENT;
	}
	/*
	 * SoftHSM2 checks a token object's files on every use (openat, flock,
	 * read, close: ~20 system calls a signature); a copy made a session
	 * object inside the same token signs without them. It stays as
	 * sensitive and unextractable as the original (a copy cannot change
	 * those) and goes with the session. A module that refuses the copy
	 * signs with the token object.
	 */
	if (t->session_keys && t->m->f->C_CopyObject(t->session, objs[0], tmpl,
	    1, &copy) == CKR_OK)
		objs[0] = copy;
	if (p11_token_cache(t, CKO_PRIVATE_KEY, label, objs[0], *kt) == -1) {
		p11_seterr(err, errlen, "reallocarray: %s", strerror(errno));
		return CKR_HOST_MEMORY;
	}
	*h = objs[0];
	return CKR_OK;
}

void
p11_token_session_keys(struct p11_token *t, int on)
{
	t->session_keys = on;
	t->nkeys = 0;	/* looked up again, copied or not */
}

int
p11_key_exists(struct p11_token *t, const char *label, char *err,
    size_t errlen)
{
	CK_OBJECT_HANDLE objs[1];
	CK_ULONG n = 0;
	int attempt, r;
	CK_RV rv;

	if (p11_token_cached(t, CKO_PRIVATE_KEY, label, &objs[0], NULL))
		return 1;
	for (attempt = 0; attempt <= P11_RETRIES; attempt++) {
		if (attempt > 0)
			p11_sleep_ms(p11_backoff_ms[attempt - 1]);
		if (t->have_session && t->gen != t->m->gen)
			p11_session_drop(t);
		if (!t->have_session) {
			if ((r = p11_session_open(t, err, errlen)) == -2)
				return -1;
			if (r == -1)
				continue;
		}
		rv = p11_find_objects(t->m->f, t->session, CKO_PRIVATE_KEY,
		    label, 0, objs, 1, &n);
		if (rv == CKR_OK)
			return n > 0;
		p11_seterr(err, errlen, "C_FindObjects: %s", p11_rvname(rv));
		if (!p11_rv_lost(rv))
			return -1;
		p11_session_drop(t);
	}
	return -1;
}

static CK_RV
p11_key_destroy_op(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, void *varg,
    char *err, size_t errlen)
{
	static const CK_OBJECT_CLASS classes[] = {
		CKO_PRIVATE_KEY, CKO_PUBLIC_KEY
	};
	const char *label = varg;
	CK_OBJECT_HANDLE objs[8];
	CK_ULONG n, i;
	size_t c;
	CK_RV rv;

	for (c = 0; c < sizeof(classes) / sizeof(classes[0]); c++) {
		/* Session copies (p11_token_session_keys) too. */
		rv = p11_find_objects(f, s, classes[c], label, 0, objs, 8, &n);
		for (i = 0; rv == CKR_OK && i < n; i++)
			rv = f->C_DestroyObject(s, objs[i]);
		if (rv != CKR_OK) {
			p11_seterr(err, errlen, "destroying \"%s\": %s", label,
			    p11_rvname(rv));
			return rv;
		}
	}
	return CKR_OK;
}

int
p11_key_destroy(struct p11_token *t, const char *label, char *err,
    size_t errlen)
{
	int rc;

	rc = p11_token_run(t, p11_key_destroy_op, (void *)label, "key destroy",
	    err, errlen);
	p11_token_uncache(t, CKO_PRIVATE_KEY, label);
	p11_token_uncache(t, CKO_PUBLIC_KEY, label);
	return rc;
}

struct p11_sign_arg {
	const char		*label;
	const unsigned char	*in;	/* DigestInfo (RSA) or digest (EC) */
	size_t			 inlen;
	const unsigned char	*digest;
	size_t			 dlen;
	unsigned char		**sig;
	size_t			*siglen;
};

static CK_RV
p11_sign_op(struct p11_token *t, void *varg, char *err, size_t errlen)
{
	struct p11_sign_arg *a = varg;
	CK_OBJECT_HANDLE key;
	CK_KEY_TYPE kt;
	CK_MECHANISM mech = { 0, NULL, 0 };
	unsigned char buf[P11_SIG_MAX], *der = NULL;
	CK_ULONG len = sizeof(buf);
	size_t derlen = 0;
	const unsigned char *in;
	size_t inlen;
	CK_RV rv;
	int again;

	for (again = 0; again < 2; again++) {
		if ((rv = p11_key_lookup(t, a->label, &key, &kt, err,
		    errlen)) != CKR_OK)
			return rv;
		if (kt == CKK_RSA) {
			mech.mechanism = CKM_RSA_PKCS;
			in = a->in;
			inlen = a->inlen;
		} else {
			mech.mechanism = CKM_ECDSA;
			in = a->digest;
			inlen = a->dlen;
		}
		rv = t->m->f->C_SignInit(t->session, &mech, key);
		if (rv == CKR_OK) {
			len = sizeof(buf);
			rv = t->m->f->C_Sign(t->session, (CK_BYTE_PTR)in,
			    inlen, buf, &len);
		}
		if (rv == CKR_KEY_HANDLE_INVALID ||
		    rv == CKR_OBJECT_HANDLE_INVALID) {
			/* Stale cached handle: look the label up once more. */
			p11_token_uncache(t, CKO_PRIVATE_KEY, a->label);
			continue;
		}
		break;
	}
	if (rv != CKR_OK) {
		p11_seterr(err, errlen, "C_Sign with key \"%s\": %s", a->label,
		    p11_rvname(rv));
		return rv;
	}
	if (mech.mechanism == CKM_ECDSA) {
		if (p11_ecdsa_der(buf, len, &der, &derlen) == -1) {
			p11_seterr(err, errlen, "ECDSA signature of %lu bytes: "
			    "DER encoding failed", (unsigned long)len);
			return CKR_FUNCTION_FAILED;
		}
		if ((*a->sig = malloc(derlen)) == NULL) {
			OPENSSL_free(der);
			return CKR_HOST_MEMORY;
		}
		memcpy(*a->sig, der, derlen);
		*a->siglen = derlen;
		OPENSSL_free(der);
	} else {
		if ((*a->sig = malloc(len)) == NULL)
			return CKR_HOST_MEMORY;
		memcpy(*a->sig, buf, len);
		*a->siglen = len;
	}
	return CKR_OK;
}

int
p11_sign_digest(struct p11_token *t, const char *label, const char *mdname,
    const unsigned char *digest, size_t dlen, unsigned char **sig,
    size_t *siglen, char *err, size_t errlen)
{
	struct p11_sign_arg a;
	const struct p11_digest *d;
	unsigned char di[P11_DIGESTINFO_MAX];

	*sig = NULL;
	*siglen = 0;
	if ((d = p11_digest_find(mdname, dlen, err, errlen)) == NULL)
		return -1;
	memcpy(di, d->prefix, d->prefixlen);
	memcpy(di + d->prefixlen, digest, dlen);
	a.label = label;
	a.in = di;
	a.inlen = d->prefixlen + dlen;
	a.digest = digest;
	a.dlen = dlen;
	a.sig = sig;
	a.siglen = siglen;
	return p11_run(t, p11_sign_op, &a, "signature", err, errlen);
}

int
p11_test_drop_session(struct p11_token *t)
{
	if (t->m->f->C_CloseAllSessions(t->slot) != CKR_OK)
		return -1;
	return 0;
}
