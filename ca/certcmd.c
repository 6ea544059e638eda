/*
 * pkictl cert: issue a certificate from a CSR with a policy/ profile, revoke,
 * put on hold and release, show status. Each change is one transaction with
 * its audit event. Issuance forks a signer that may sign TBSCertificates with
 * the issuer's key only.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/extern.h"
#include "ca/worker/extern.h"
#include "hsm/signer.h"
#include "lib/audit.h"
#include "lib/cadb.h"
#include "lib/config.h"
#include "lib/csr.h"
#include "lib/db.h"
#include "lib/file.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/x509ext.h"

#define CSR_MAX_BYTES	(64 * 1024)
/* As cad's lint (ca/worker/lint.c LINT_MIN_REMAINING_S). */
#define CERT_ISSUER_MIN_REMAINING_S	86400

/*
 * RFC 5280 §5.3.1 CRLReason codes a certificate may be revoked with, named
 * by lib/x509ext.h (as crld, cad, rad and lib/publish.c name them);
 * removeFromCRL (8) is not a reason to revoke, 7 is unused.
 */
static const int cert_reasons[] = { 0, 1, 2, 3, 4, 5, 6, 9, 10 };

/* How long a revocation, hold or release waits for a lock (cert_lock_holders). */
#define CERT_LOCK_WAIT	"10s"

static int
cert_reason_code(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cert_reasons) / sizeof(cert_reasons[0]); i++) {
		if (strcasecmp(name, x509ext_crl_reason_name(cert_reasons[i])) ==
		    0)
			return cert_reasons[i];
	}
	return -1;
}

static const char *
cert_reason_name(int code)
{
	size_t i;

	for (i = 0; i < sizeof(cert_reasons) / sizeof(cert_reasons[0]); i++) {
		if (cert_reasons[i] == code)
			return x509ext_crl_reason_name(code);
	}
	return "?";
}

/*
 * Canonical serial: as BN_bn2hex writes it (upper case, whole octets, no
 * leading zero octet), the form the certificate table stores.
 */
static int
cert_serial(const char *in, char *out, size_t outlen)
{
	BIGNUM *bn = NULL;
	char *hex = NULL;
	size_t n;
	int rc = -1;

	if (strncasecmp(in, "0x", 2) == 0)
		in += 2;
	n = strlen(in);
	if (n == 0 || n > 2 * 20 + 8 || strspn(in, "0123456789abcdefABCDEF") != n)
		return -1;
	if (BN_hex2bn(&bn, in) == 0 || BN_is_zero(bn) ||
	    (hex = BN_bn2hex(bn)) == NULL || strlen(hex) >= outlen)
		goto out;
	memcpy(out, hex, strlen(hex) + 1);
	rc = 0;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

/* Reads a PEM or DER PKCS#10 request and checks its self-signature (proof of possession). */
static X509_REQ *
cert_read_csr(const char *path)
{
	X509_REQ *req;
	unsigned char *buf;
	size_t n;
	char err[512];

	if (file_read_capped(path, CSR_MAX_BYTES, &buf, &n, err,
	    sizeof(err)) == -1) {
		log_err("CSR: %s", err);
		return NULL;
	}
	/* lib/csr.c, which tests/fuzz/fuzz_lint.c feeds any bytes. */
	if ((req = csr_parse(buf, n, err, sizeof(err))) == NULL)
		log_openssl(LOGL_ERR, "CSR %s: %s", path, err);
	free(buf);
	return req;
}

/* The issuer named name: a CA certificate of role root or issuing. */
static int
cert_load_issuer(struct db *db, const char *name, struct cadb_ca *is)
{
	int rc;

	if ((rc = cadb_load(db, name, is)) == -1)
		return -1;
	if (rc == 1 || (strcmp(is->role, "root") != 0 &&
	    strcmp(is->role, "issuing") != 0)) {
		log_err("no issuing CA named %s (see `pkictl ca status`)", name);
		return -1;
	}
	return 0;
}

/*
 * Whether the issuing CA may sign now: its certificate neither revoked
 * nor on hold (its row in certificate, which its issuer answers from),
 * and valid for at least CERT_ISSUER_MIN_REMAINING_S more (profile_build
 * clamps a certificate's notAfter to its issuer's: an issuer that has
 * ended gives one whose notAfter is before its notBefore). 0 usable, 1
 * not (logged), -1 error.
 */
static int
cert_issuer_usable(struct db *db, const struct cadb_ca *is)
{
	static const struct db_stmt stmt = { "ca_certcmd_issuer_status",
		"SELECT c.revocation_reason, to_char(c.revoked_at AT TIME ZONE "
		"'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM certificate c "
		"JOIN ca_certificate r ON r.issuer_id = c.issuer_id AND "
		"r.serial = c.serial WHERE r.id = $1 AND c.revoked_at IS NOT "
		"NULL", 1 };
	const char *values[1];
	char id[32];
	time_t soon = time(NULL) + CERT_ISSUER_MIN_REMAINING_S;
	PGresult *res;
	int rc = 0;

	snprintf(id, sizeof(id), "%lld", is->id);
	values[0] = id;
	if ((res = db_exec(db, &stmt, values, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		log_err("issuer %s: its certificate was %s at %s (%s): it signs "
		    "nothing more", is->name, atoi(PQgetvalue(res, 0, 0)) == 6 ?
		    "put on hold" : "revoked", PQgetvalue(res, 0, 1),
		    cert_reason_name(atoi(PQgetvalue(res, 0, 0))));
		rc = 1;
	} else if (X509_cmp_time(X509_get0_notAfter(is->cert), &soon) <= 0) {
		log_err("issuer %s: its certificate ends in less than %d hours, "
		    "or has ended: issue under a newer issuing CA (`pkictl ca "
		    "issuing`, then --issuer issuing-N)", is->name,
		    CERT_ISSUER_MIN_REMAINING_S / 3600);
		rc = 1;
	}
	PQclear(res);
	return rc;
}

struct cert_issue_txn {
	const char	*actor;
	long long	 issuer_id;
	const char	*profile;
	X509		*cert;
	int		 refused;	/* out: the issuer revoked or held meanwhile */
	int		 reason;	/* out: refused: its revocation reason */
	char		 revoked_at[32];	/* out: refused: when */
};

/*
 * Records the signed certificate, after locking the issuing CA's own
 * certificate row FOR SHARE and finding it neither revoked nor on hold:
 * cert_issuer_usable() ran before signing, outside this transaction, and
 * a revocation or hold committed since would otherwise not be seen (a
 * certificate recorded, OCSP answering good, under a revoked CA). A
 * revocation under way waits for this transaction, or this one for it
 * and then sees it. Refused: nothing written, t->refused set, 0.
 */
static int
cert_issue_record(struct db *db, void *arg)
{
	static const struct db_stmt stmt = { "ca_certcmd_issuer_lock",
		"SELECT c.revocation_reason, to_char(c.revoked_at AT TIME ZONE "
		"'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM certificate c "
		"JOIN ca_certificate r ON r.issuer_id = c.issuer_id AND "
		"r.serial = c.serial WHERE r.id = $1 FOR SHARE OF c", 1 };
	struct cert_issue_txn *t = arg;
	const char *values[1];
	char id[32];
	PGresult *res;
	long long cid;

	t->refused = 0;
	snprintf(id, sizeof(id), "%lld", t->issuer_id);
	values[0] = id;
	if ((res = db_exec(db, &stmt, values, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 1)) {
		t->refused = 1;
		t->reason = atoi(PQgetvalue(res, 0, 0));
		snprintf(t->revoked_at, sizeof(t->revoked_at), "%s",
		    PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	if (t->refused)
		return 0;
	return certstore_add_issued(db, t->actor, t->issuer_id, t->profile,
	    t->cert, &cid);
}

/*
 * --out, opened before anything is signed but not truncated yet (a refusal
 * must leave an existing file as it was); *created: ours to remove. An
 * existing --out must be a regular file of one name: not a symbolic link
 * (O_NOFOLLOW; followed, pkictl run as root overwrote the file the link
 * names), not a hard link to a file of another name, not a FIFO or device
 * (O_NONBLOCK: a FIFO without a reader would block the open). NULL logged.
 */
static FILE *
cert_out_open(const char *path, int *created)
{
	struct stat st;
	FILE *f;
	int fd, flags;

	*created = 0;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) != -1)
		*created = 1;
	else if (errno == EEXIST)
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ELOOP)
			log_err("--out %s: a symbolic link: refused (name the "
			    "file itself)", path);
		else
			log_err("--out %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		log_err("--out %s: fstat: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("--out %s: not a regular file: refused", path);
		goto fail;
	}
	if (st.st_nlink != 1) {
		log_err("--out %s: a file with %ju names (hard links): refused",
		    path, (uintmax_t)st.st_nlink);
		goto fail;
	}
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		log_err("--out %s: fcntl: %s", path, strerror(errno));
		goto fail;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		log_err("--out %s: fdopen: %s", path, strerror(errno));
		goto fail;
	}
	return f;
fail:
	close(fd);
	if (*created)
		(void)unlink(path);
	*created = 0;
	return NULL;
}

/* A certificate the issuing key signed and pkictl then discarded. */
struct cert_discard {
	const char	*actor, *issuer, *serial, *why;
	long long	 issuer_id;
};

static int
cert_discard_record(struct db *db, void *arg)
{
	const struct cert_discard *d = arg;
	char id[24];

	snprintf(id, sizeof(id), "%lld", d->issuer_id);
	return audit_append_new(db, d->actor, "cert.discard",
	    "ca_certificate", id, json_pack("{s:s, s:s, s:s}", "issuer",
	    d->issuer, "serial", d->serial, "error", d->why));
}

static int
cert_issue(const struct config *cfg, const char *actor, const char *issuer_name,
    const char *profile_name, const char *csr_path, const char *out_path)
{
	struct cadb_ca is;
	struct cert_issue_txn txn;
	struct cert_discard disc;
	struct signer *signer = NULL;
	struct profile *prof = NULL;
	struct db *db = NULL;
	X509_REQ *req = NULL;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	FILE *outf = NULL;
	BIO *out = NULL;
	char err[512], xid[PKICTL_XID_MAX], kt[16], *serial_hex;
	long max_days;
	int created = 0, irc, committed, rc = PKICTL_EXIT_FAIL;

	memset(&is, 0, sizeof(is));
	if ((req = cert_read_csr(csr_path)) == NULL)
		goto out;
	/* The key as cad's lint judges its own (ca/worker/lint.c). */
	if (cad_lint_pubkey(X509_REQ_get0_pubkey(req), kt, sizeof(kt), err,
	    sizeof(err)) == -1) {
		log_err("the CSR's key: %s", err);
		rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	/* The output first: a certificate that cannot be handed out is not issued. */
	if (out_path != NULL && (outf = cert_out_open(out_path, &created)) ==
	    NULL)
		goto out;
	if ((prof = profile_load(config_get(cfg, "pki.policy_dir", "policy"),
	    profile_name, issuer_name, cfg, err, sizeof(err))) == NULL) {
		log_err("%s", err);
		goto out;
	}
	if ((db = pkictl_db(cfg)) == NULL || cert_load_issuer(db, issuer_name, &is) == -1)
		goto out;
	/* The root key signs only at ceremonies (pkictl ca init, crl arl). */
	if (strcmp(is.role, "issuing") != 0) {
		log_err("issuer %s (%s): only an issuing CA signs outside a "
		    "ceremony", issuer_name, is.role);
		rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	if ((irc = cert_issuer_usable(db, &is)) != 0) {
		if (irc == 1)
			rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	if ((signer = pkictl_signer_for(cfg, &is, SIGNER_KIND_CERT)) == NULL)
		goto out;
	if ((key = signer_pkey(signer, SIGNER_KIND_CERT, is.key_label, err,
	    sizeof(err))) == NULL) {
		log_err("signer: %s", err);
		goto out;
	}
	if ((cert = profile_build(prof, X509_REQ_get_subject_name(req),
	    X509_REQ_get0_pubkey(req), NULL, is.cert, NULL, err,
	    sizeof(err))) == NULL) {
		log_err("issue: %s", err);
		goto out;
	}
	/*
	 * CA certificates, and the delegated OCSP responder's and the TSA's
	 * (one per issuer, their keys in the HSM), come from ceremonies only:
	 * any CSR's key holding one could sign status or time for us. Judged
	 * before the issuing key signs anything.
	 */
	if (X509_check_ca(cert) != 0 ||
	    x509ext_ca_usage(X509_get0_extensions(cert)) != NULL) {
		log_err("profile %s makes a CA, OCSP responder or TSA "
		    "certificate: refused outside a ceremony", profile_name);
		rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	/*
	 * The subject is the CSR's, as its holder wrote it: judged as cad
	 * judges its own (ca/worker/lint.c) before the issuing key signs it,
	 * or the CA signs an over-long CN, a control or bidirectional
	 * formatting character, an emailAddress without its subjectAltName;
	 * and against the profile's subject_allowed and subject_required,
	 * or it signs any attribute the CSR's writer chose (an OID nobody
	 * verified, a second CN, several attributes in one RDN).
	 */
	if (cad_lint_csr_subject(prof, cert, err, sizeof(err)) == -1) {
		log_err("CSR %s refused, nothing signed: %s", csr_path, err);
		rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	/*
	 * A profile of cad's (one with a kind: personal, corporate, eseal)
	 * gets cad's whole lint, as cad gives its own certificates: its
	 * key_types (an RSA size other than 2048, 3072 or 4096 bits is in
	 * none), the kind's usages, cad.max_validity_days; until 2026-12-07
	 * an RSA-4096 key was signed under eseal, which excludes it. Any
	 * other profile (subscriber) by its key_types when it names them.
	 */
	if (profile_get(prof, "kind") != NULL) {
		if (config_get_long(cfg, "cad.max_validity_days", 1096, 1,
		    30 * 366, &max_days) == -1)
			goto out;
		if (cad_lint(prof, cert, is.cert, kt, max_days, err,
		    sizeof(err)) == -1) {
			log_err("CSR %s refused, nothing signed: %s", csr_path,
			    err);
			rc = PKICTL_EXIT_REFUSED;
			goto out;
		}
	} else if (profile_get(prof, "key_types") != NULL &&
	    cad_lint_keytype(prof, kt, err, sizeof(err)) == -1) {
		log_err("CSR %s refused, nothing signed: %s", csr_path, err);
		rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	if (profile_sign(prof, cert, X509_REQ_get0_pubkey(req), is.cert, key,
	    err, sizeof(err)) == -1) {
		log_err("issue: %s", err);
		goto out;
	}
	memset(&txn, 0, sizeof(txn));
	txn.actor = actor;
	txn.issuer_id = is.id;
	txn.profile = profile_name;
	txn.cert = cert;
	irc = pkictl_transaction(db, NULL, 3, cert_issue_record, &txn, xid);
	if (txn.refused) {
		serial_hex = certstore_serial_hex(cert);
		log_err("issuer %s: its certificate was %s at %s (%s) while "
		    "this certificate (serial %s) was being signed: it signs "
		    "nothing more; the signed certificate was discarded (not "
		    "recorded, not published, never handed out)", issuer_name,
		    txn.reason == 6 ? "put on hold" : "revoked", txn.revoked_at,
		    cert_reason_name(txn.reason), serial_hex != NULL ?
		    serial_hex : "?");
		/*
		 * The issuing key signed it: the trail says so, as cad's
		 * cert.discard does for its own (ca/README.md "Certificates
		 * signed and discarded"), in a transaction of its own.
		 */
		disc.actor = actor;
		disc.issuer = issuer_name;
		disc.issuer_id = is.id;
		disc.serial = serial_hex != NULL ? serial_hex : "?";
		disc.why = txn.reason == 6 ? "the issuing CA was put on hold "
		    "while it was signed" : "the issuing CA was revoked while "
		    "it was signed";
		if (db_transaction(db, NULL, 3, cert_discard_record, &disc) ==
		    -1)
			log_err("recording the discarded certificate %s in the "
			    "audit trail failed: this line is its only trace",
			    disc.serial);
		OPENSSL_free(serial_hex);
		rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	if (irc == -1) {
		/*
		 * The answer to COMMIT may have been lost after the server
		 * committed: then the certificate is issued (OCSP answers
		 * good, LDAP publishes it) and is written out as usual; until
		 * 2026-12-07 pkictl said "it was not issued", and a run again
		 * gave the key a second certificate.
		 */
		if ((committed = pkictl_xact_committed(cfg, xid)) == 0) {
			log_err("recording the certificate failed; it was not "
			    "issued");
			goto out;
		}
		if (committed == -1) {
			serial_hex = certstore_serial_hex(cert);
			log_err("recording the certificate: whether it "
			    "committed is unknown (the database does not "
			    "answer, or the COMMIT still waits); once it "
			    "answers, `pkictl cert status --issuer %s --serial "
			    "%s` tells; do not issue it again before",
			    issuer_name, serial_hex != NULL ? serial_hex : "?");
			OPENSSL_free(serial_hex);
			goto out;
		}
		log_warn("the answer to COMMIT was lost, but the certificate "
		    "and its audit event were committed: issued");
	}
	if ((outf != NULL && ftruncate(fileno(outf), 0) == -1) ||
	    (out = BIO_new_fp(outf != NULL ? outf : stdout, BIO_NOCLOSE)) ==
	    NULL || PEM_write_bio_X509(out, cert) != 1 || BIO_flush(out) != 1 ||
	    (outf != NULL && fflush(outf) != 0)) {
		log_err("certificate recorded but not written; `pkictl cert status` "
		    "finds it");
		goto out;
	}
	rc = PKICTL_EXIT_OK;
out:
	BIO_free(out);
	if (outf != NULL && fclose(outf) != 0 && rc == PKICTL_EXIT_OK) {
		log_err("--out %s: %s", out_path, strerror(errno));
		rc = PKICTL_EXIT_FAIL;
	}
	if (rc != PKICTL_EXIT_OK && created)
		(void)unlink(out_path);	/* a file we made and did not fill */
	X509_free(cert);
	EVP_PKEY_free(key);
	signer_close(signer);
	cadb_clear(&is);
	X509_REQ_free(req);
	profile_free(prof);
	db_close(db);
	return rc;
}

/* Why a revocation, hold or release changed nothing. */
enum cert_why {
	CERT_WHY_NO_ISSUER,	/* no CA certificate of that name */
	CERT_WHY_NO_CERT,	/* none of that serial under it */
	CERT_WHY_REVOKED,	/* revoked, for another reason than a hold */
	CERT_WHY_HELD,		/* a hold of one already on hold */
	CERT_WHY_NOT_HELD,	/* a release of one not on hold */
	CERT_WHY_EXPIRED,	/* a hold or a release of one that has expired */
};

struct cert_change {
	const char	*actor;
	const char	*issuer;
	const char	*serial;
	int		 reason;		/* -1: release a hold */
	const char	*invalidity;		/* may be NULL */
	const char	*nonce;			/* this run's, in its audit event */
	int		 found;
	int		 appended;		/* out: the change and its event, not yet committed */
	char		 ca_name[64];		/* out: a hold refused on this CA certificate */
	int		 ca_key_compromise;	/* out: keyCompromise refused: a CA certificate */
	int		 arl_due;		/* out: the root issued it: the ARL must be signed again */
	enum cert_why	 why;			/* out: why nothing changed (!found) */
	char		 reason_was[32];	/* out: CERT_WHY_REVOKED: its reason */
	char		 not_after[32];		/* out: CERT_WHY_EXPIRED: when */
};

/*
 * Whether a certificate is a CA's: ca_name, its root or issuing CA row's
 * name ("" none), or der_hex (its DER in hex) with basicConstraints cA
 * (RFC 5280 §4.2.1.9). 1 or 0; an undecodable DER is no CA's.
 */
static int
cert_is_ca(const char *ca_name, const char *der_hex)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *x = NULL;
	size_t n, len = strlen(der_hex) / 2;
	int ca = 0;

	if (*ca_name != '\0')
		return 1;
	if (len == 0 || (der = malloc(len)) == NULL ||
	    hex_decode(der_hex, der, len, &n) == -1)
		goto out;
	p = der;
	if ((x = d2i_X509(NULL, &p, (long)n)) == NULL)
		goto out;
	ca = (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
out:
	X509_free(x);
	free(der);
	return ca;
}

static int
cert_change_txn(struct db *db, void *arg)
{
	/*
	 * A revocation of a certificate on hold without --invalidity-date
	 * keeps the date the hold recorded (RFC 5280 §5.3.2: when the key was
	 * compromised or the certificate otherwise became invalid, which
	 * turning the hold into a revocation does not move); any other
	 * revocation without one has none. A hold of a certificate that has
	 * expired is refused (as rad refuses it, 409): it can sign nothing
	 * more, and its release would tell its subscriber it can.
	 */
	static const struct db_stmt stmt_revoke = { "ca_certcmd_revoke",
		"UPDATE certificate SET revoked_at = now(), revocation_reason = "
		"$3::smallint, invalidity_date = coalesce($4::timestamptz, "
		"CASE WHEN revocation_reason = 6 THEN invalidity_date END), "
		"revoked_by = $5 WHERE issuer_id = (SELECT id FROM ca_certificate "
		"WHERE name = $1) AND serial = $2 AND (revoked_at IS NULL OR "
		"(revocation_reason = 6 AND $3::smallint <> 6)) AND ($3::smallint "
		"<> 6 OR not_after > now()) RETURNING id, "
		"to_char(invalidity_date AT TIME ZONE 'UTC', "
		"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", 5 };
	/*
	 * A release only while the certificate is valid: one that expired on
	 * hold stays as it was (no "valid again, can sign" notice, no
	 * removeFromCRL entry); a revocation for another reason still takes it.
	 */
	static const struct db_stmt stmt_release = { "ca_certcmd_release",
		"UPDATE certificate SET revoked_at = NULL, revocation_reason = NULL, "
		"invalidity_date = NULL, revoked_by = $3 WHERE issuer_id = "
		"(SELECT id FROM ca_certificate WHERE name = $1) AND serial = $2 "
		"AND revocation_reason = 6 AND not_after > now() RETURNING id", 3 };
	static const struct db_stmt stmt_notice = { "ca_certcmd_notice",
		"SELECT ra_queue_status_notice($1::bigint, $2, $3, $4)", 4 };
	/*
	 * Why nothing changed: no row, no issuer of that name; c.id NULL,
	 * no such certificate under it; else its state.
	 */
	static const struct db_stmt stmt_state = { "ca_certcmd_state",
		"SELECT c.id IS NOT NULL, c.revoked_at IS NOT NULL, "
		"c.revocation_reason, c.not_after <= now(), to_char(c.not_after AT "
		"TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM "
		"ca_certificate i LEFT JOIN certificate "
		"c ON c.issuer_id = i.id AND c.serial = $2 WHERE i.name = $1", 2 };
	/* One of the CA's own certificates (schema/070): its name. */
	static const struct db_stmt stmt_ca_cert = { "ca_certcmd_ca_cert",
		"SELECT r.name FROM ca_certificate r WHERE r.issuer_id = (SELECT "
		"id FROM ca_certificate WHERE name = $1) AND r.serial = $2", 2 };
	/*
	 * Whether the certificate is a CA's: the name of its root or issuing
	 * CA row ("" when none), and its DER (hex) for basicConstraints.
	 */
	static const struct db_stmt stmt_is_ca = { "ca_certcmd_is_ca",
		"SELECT coalesce((SELECT r.name FROM ca_certificate r WHERE "
		"r.issuer_id = c.issuer_id AND r.serial = c.serial AND r.role IN "
		"('root', 'issuing')), ''), encode(c.der, 'hex') FROM certificate "
		"c JOIN ca_certificate i ON i.id = c.issuer_id WHERE i.name = $1 "
		"AND c.serial = $2", 2 };
	static const struct db_stmt stmt_lock_bound = { "ca_certcmd_lock_bound",
		"SET LOCAL lock_timeout = '" CERT_LOCK_WAIT "'", 0 };
	/* The issuer is the root: its ARL lists what it issued. */
	static const struct db_stmt stmt_issuer_root = { "ca_certcmd_issuer_root",
		"SELECT role = 'root' FROM ca_certificate WHERE name = $1", 1 };
	struct cert_change *c = arg;
	const char *values[5];
	char reason[8];
	PGresult *res;
	json_t *details = NULL;
	int expired = 0, root, rc = -1;

	c->found = 0;
	c->appended = 0;
	c->ca_name[0] = '\0';
	c->ca_key_compromise = 0;
	c->arl_due = 0;
	/*
	 * pki_admin has no lock_timeout of its own (schema/058): a session
	 * holding the certificate's row (an application role may take it,
	 * FOR UPDATE, and leave its transaction open) would hold this
	 * revocation for ever. Bounded here; cmd_cert names the holders.
	 */
	if (db_exec_ok(db, &stmt_lock_bound, NULL) == -1)
		return -1;
	snprintf(reason, sizeof(reason), "%d", c->reason);
	values[0] = c->issuer;
	values[1] = c->serial;
	/*
	 * A CA certificate (an issuing CA, an OCSP responder, a TSA) is not
	 * suspended: its hold would leave everything it signed in doubt
	 * meanwhile, and the CA/Browser Forum's Baseline Requirements allow
	 * no suspension of a CA's certificates. certificateHold is for
	 * subscribers; a CA certificate is revoked, for good.
	 */
	if (c->reason == 6) {
		if ((res = db_exec(db, &stmt_ca_cert, values, NULL, NULL)) ==
		    NULL)
			return -1;
		if (PQntuples(res) == 1)
			snprintf(c->ca_name, sizeof(c->ca_name), "%s",
			    PQgetvalue(res, 0, 0));
		PQclear(res);
		if (c->ca_name[0] != '\0')
			return 0;	/* nothing changed: the caller refuses */
	}
	/*
	 * RFC 5280 §5.3.1: a CA's key compromised is cACompromise, which
	 * relying parties (and our ARL) tell from a subscriber's
	 * keyCompromise. Until 2026-12-07 keyCompromise was taken.
	 */
	if (c->reason == 1) {
		if ((res = db_exec(db, &stmt_is_ca, values, NULL, NULL)) ==
		    NULL)
			return -1;
		if (PQntuples(res) == 1 && cert_is_ca(PQgetvalue(res, 0, 0),
		    PQgetvalue(res, 0, 1))) {
			c->ca_key_compromise = 1;
			snprintf(c->ca_name, sizeof(c->ca_name), "%s",
			    PQgetvalue(res, 0, 0));
		}
		PQclear(res);
		if (c->ca_key_compromise)
			return 0;	/* nothing changed: the caller refuses */
	}
	if ((res = db_exec(db, &stmt_issuer_root, values, NULL, NULL)) == NULL)
		return -1;
	root = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (c->reason >= 0) {
		values[2] = reason;
		values[3] = c->invalidity;
		values[4] = c->actor;
		res = db_exec(db, &stmt_revoke, values, NULL, NULL);
	} else {
		values[2] = c->actor;
		res = db_exec(db, &stmt_release, values, NULL, NULL);
	}
	if (res == NULL)
		return -1;
	if ((c->found = PQntuples(res)) == 0) {
		/*
		 * Nothing to change: the caller explains why, told apart here
		 * (a mistyped serial or issuer is no "already revoked").
		 */
		PQclear(res);
		if ((res = db_exec(db, &stmt_state, values, NULL, NULL)) == NULL)
			goto out;
		if (PQntuples(res) == 1) {
			expired = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
			snprintf(c->not_after, sizeof(c->not_after), "%s",
			    PQgetvalue(res, 0, 4));
		}
		if (PQntuples(res) == 0)
			c->why = CERT_WHY_NO_ISSUER;
		else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
			c->why = CERT_WHY_NO_CERT;
		else if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
			c->why = c->reason == 6 && expired ? CERT_WHY_EXPIRED :
			    CERT_WHY_NOT_HELD;
		else if (atoi(PQgetvalue(res, 0, 2)) == 6)
			c->why = c->reason < 0 && expired ? CERT_WHY_EXPIRED :
			    CERT_WHY_HELD;
		else {
			c->why = CERT_WHY_REVOKED;
			snprintf(c->reason_was, sizeof(c->reason_was), "%s",
			    cert_reason_name(atoi(PQgetvalue(res, 0, 2))));
		}
		rc = 0;
		goto out;
	}
	/*
	 * The date stored, which may be the hold's (stmt_revoke); the nonce
	 * finds this run's event after a lost answer to COMMIT (cmd_cert).
	 */
	details = json_pack("{s:s, s:s, s:s?, s:s?, s:s}", "issuer", c->issuer,
	    "serial", c->serial, "reason", c->reason >= 0 ?
	    cert_reason_name(c->reason) : NULL, "invalidity_date",
	    c->reason >= 0 && !PQgetisnull(res, 0, 1) ? PQgetvalue(res, 0, 1) :
	    NULL, "nonce", c->nonce);
	/*
	 * The root's CRL (the ARL) is signed only at a ceremony: until the
	 * next one, CRL-checking relying parties do not see this change
	 * (cmd_cert tells the operator; crld's /health says "arl_behind").
	 */
	c->arl_due = root;
	if (details == NULL || (root && json_object_set_new(details,
	    "arl_due", json_true()) == -1) || audit_append(db, c->actor,
	    c->reason >= 0 ? "cert.revoke" : "cert.release", "certificate",
	    PQgetvalue(res, 0, 0), details, NULL) == -1)
		goto out;
	/* The subscriber is told, through rad's mail outbox (schema/034). */
	values[0] = PQgetvalue(res, 0, 0);
	values[1] = c->reason < 0 ? "released" : c->reason == 6 ?
	    "suspended" : "revoked";
	values[2] = c->reason >= 0 ? cert_reason_name(c->reason) : "";
	values[3] = "the certification authority";
	if (db_exec_ok(db, &stmt_notice, values) == -1)
		goto out;
	c->appended = 1;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

/*
 * After CERT_LOCK_WAIT spent waiting for a lock: the other sessions that
 * may hold it, so that the operator can find, and if need be end, the one
 * in the way: those holding a lock on the certificate table stronger than
 * a plain read's (AccessShareLock: every reader holds one and blocks
 * nothing; FOR UPDATE takes RowShareLock, an UPDATE RowExclusiveLock), and
 * those holding an advisory lock (the signing lock of schema/049, taken by
 * a signature in progress). Only the pid, role and application name of
 * another role's session are visible to pki_admin (no pg_read_all_stats).
 */
static void
cert_lock_holders(struct db *db, const char *issuer, const char *serial)
{
	static const struct db_stmt stmt_holders = { "ca_certcmd_lock_holders",
		"SELECT DISTINCT l.pid, coalesce(a.usename, '?'), "
		"coalesce(nullif(a.application_name, ''), '-'), l.locktype FROM "
		"pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE "
		"l.granted AND l.pid <> pg_backend_pid() AND ((l.relation = "
		"'certificate'::regclass AND l.mode <> 'AccessShareLock') OR "
		"l.locktype = 'advisory') ORDER BY 1 LIMIT 20", 0 };
	PGresult *res;
	int i;

	log_err("certificate %s of issuer %s: nothing changed: it stayed locked "
	    "by another session for %s", serial, issuer, CERT_LOCK_WAIT);
	if ((res = db_exec(db, &stmt_holders, NULL, NULL, NULL)) == NULL)
		return;
	for (i = 0; i < PQntuples(res); i++)
		log_err("  may be held by backend %s (role %s, application %s, "
		    "%s lock): a superuser sees what it runs in "
		    "pg_stat_activity, and may end it with "
		    "pg_terminate_backend(%s); then run this again",
		    PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		    PQgetvalue(res, i, 2), strcmp(PQgetvalue(res, i, 3),
		    "advisory") == 0 ? "a signing" : "a row or write",
		    PQgetvalue(res, i, 0));
	PQclear(res);
}

/*
 * An invalidity date: YYYY-MM-DDTHH:MM:SS[.fff]Z, a real date and time
 * (strptime takes February 30 and second 60, which timegm makes March 2
 * and the next minute; PostgreSQL refused the first: exit 1, not 2), not
 * after now. 0 or -1.
 */
static int
cert_invalidity_ok(const char *s)
{
	struct tm tm, want, back;
	const char *end;
	time_t t;
	size_t n;

	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*end == '.') {
		n = strspn(end + 1, "0123456789");
		if (n == 0 || n > 6)
			return -1;
		end += 1 + n;
	}
	if (strcmp(end, "Z") != 0)
		return -1;
	want = tm;
	if ((t = timegm(&tm)) == (time_t)-1 || gmtime_r(&t, &back) == NULL ||
	    back.tm_year != want.tm_year || back.tm_mon != want.tm_mon ||
	    back.tm_mday != want.tm_mday || back.tm_hour != want.tm_hour ||
	    back.tm_min != want.tm_min || back.tm_sec != want.tm_sec)
		return -1;
	return t <= time(NULL) ? 0 : -1;
}

/* Prints one certificate's status; 0 found, -1 not found or error. */
static int
cert_status(struct db *db, const char *issuer, const char *serial)
{
	static const struct db_stmt stmt = { "ca_certcmd_status",
		"SELECT c.subject, c.profile, to_char(c.not_after AT TIME ZONE 'UTC', "
		"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), to_char(c.revoked_at AT TIME ZONE "
		"'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), c.revocation_reason FROM "
		"certificate c JOIN ca_certificate i ON i.id = c.issuer_id WHERE "
		"i.name = $1 AND c.serial = $2", 2 };
	const char *values[2] = { issuer, serial };
	PGresult *res;
	int rc = -1;

	if ((res = db_exec(db, &stmt, values, NULL, NULL)) == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		printf("serial %s issuer %s\nsubject %s\nprofile %s\nnot_after %s\n",
		    serial, issuer, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
		    PQgetvalue(res, 0, 2));
		if (PQgetisnull(res, 0, 3))
			printf("status good\n");
		else
			printf("status %s %s reason %s\n",
			    atoi(PQgetvalue(res, 0, 4)) == 6 ? "on-hold" : "revoked",
			    PQgetvalue(res, 0, 3),
			    cert_reason_name(atoi(PQgetvalue(res, 0, 4))));
		rc = 0;
	} else
		fprintf(stderr, "pkictl: no certificate %s from issuer %s\n", serial,
		    issuer);
	PQclear(res);
	return rc;
}

int
cmd_cert(const struct config *cfg, const char *actor, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "issuer", required_argument, NULL, 'i' },
		{ "profile", required_argument, NULL, 'p' },
		{ "csr", required_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' },
		{ "serial", required_argument, NULL, 's' },
		{ "reason", required_argument, NULL, 'r' },
		{ "invalidity-date", required_argument, NULL, 'd' },
		{ "sign-arl", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	/* The options each verb takes, by their letters above. */
	static const struct {
		const char	*verb, *takes;
	} verbs[] = {
		{ "issue", "ipco" }, { "revoke", "isrdA" }, { "release", "isA" },
		{ "status", "is" },
	};
	const char *verb = argv[0], *issuer = "issuing", *profile = NULL;
	const char *csr = NULL, *out = NULL, *serial_in = NULL, *reason = NULL;
	const char *invalidity = NULL, *takes = NULL;
	struct cert_change change;
	struct db *db = NULL;
	unsigned char rnd[16];
	char serial[128], nonce[2 * sizeof(rnd) + 1];
	size_t i;
	int ch, recorded, sign_arl = 0, rc = PKICTL_EXIT_FAIL;
	char xid[PKICTL_XID_MAX];

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verb, verbs[i].verb) == 0)
			takes = verbs[i].takes;
	if (takes == NULL)
		return PKICTL_EXIT_USAGE;
	while ((ch = pkictl_getopt(argc, argv, opts)) != -1) {
		/*
		 * An option the verb does not use is refused, not ignored: a
		 * release given --reason, or a status given --profile, would
		 * otherwise run as if the operator had not asked for it.
		 */
		if (ch != '?' && ch != ':' && strchr(takes, ch) == NULL) {
			for (i = 0; opts[i].name != NULL && opts[i].val != ch; i++)
				;
			log_err("cert %s: --%s is not an option of %s", verb,
			    opts[i].name != NULL ? opts[i].name : "?", verb);
			return PKICTL_EXIT_USAGE;
		}
		switch (ch) {
		case 'i': issuer = optarg; break;
		case 'p': profile = optarg; break;
		case 'c': csr = optarg; break;
		case 'o': out = optarg; break;
		case 's': serial_in = optarg; break;
		case 'r': reason = optarg; break;
		case 'd': invalidity = optarg; break;
		case 'A': sign_arl = 1; break;
		default: return PKICTL_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return PKICTL_EXIT_USAGE;
	if (strcmp(verb, "issue") == 0) {
		if (profile == NULL || csr == NULL)
			return PKICTL_EXIT_USAGE;
		return cert_issue(cfg, actor, issuer, profile, csr, out);
	}
	if (serial_in == NULL || cert_serial(serial_in, serial, sizeof(serial)) == -1) {
		log_err("--serial: a hexadecimal serial number is required");
		return PKICTL_EXIT_USAGE;
	}
	memset(&change, 0, sizeof(change));
	change.actor = actor;
	change.issuer = issuer;
	change.serial = serial;
	change.invalidity = invalidity;
	if (invalidity != NULL && cert_invalidity_ok(invalidity) == -1) {
		log_err("--invalidity-date: YYYY-MM-DDTHH:MM:SSZ (UTC), not in the "
		    "future (RFC 5280 §5.3.2: when the key was known or suspected "
		    "to be compromised)");
		return PKICTL_EXIT_USAGE;
	}
	if (strcmp(verb, "revoke") == 0) {
		if (reason == NULL || (change.reason = cert_reason_code(reason)) < 0) {
			log_err("--reason: one of unspecified, keyCompromise, "
			    "cACompromise, affiliationChanged, superseded, "
			    "cessationOfOperation, certificateHold, "
			    "privilegeWithdrawn, aACompromise");
			return PKICTL_EXIT_USAGE;
		}
	} else if (strcmp(verb, "release") == 0)
		change.reason = -1;
	else if (strcmp(verb, "status") != 0)
		return PKICTL_EXIT_USAGE;
	if ((db = pkictl_db(cfg)) == NULL)
		goto out;
	if (strcmp(verb, "status") == 0) {
		rc = cert_status(db, issuer, serial) == 0 ? PKICTL_EXIT_OK :
		    PKICTL_EXIT_FAIL;
		goto out;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		log_openssl(LOGL_ERR, "RAND_bytes");
		goto out;
	}
	hex_encode(rnd, sizeof(rnd), nonce);
	change.nonce = nonce;
	if (pkictl_transaction(db, NULL, 3, cert_change_txn, &change,
	    xid) == -1) {
		/*
		 * The change and its event were written and COMMIT failed: its
		 * answer may have been lost after the server committed (the
		 * connection cut), or the COMMIT still be under way. Ask, or
		 * the operator takes a done revocation for a failed one, and
		 * its retry is refused as "already revoked".
		 */
		if (!change.appended) {
			if (strcmp(db_last_sqlstate(db), "55P03") == 0)
				cert_lock_holders(db, issuer, serial);
			goto out;
		}
		recorded = pkictl_xact_committed(cfg, xid);
		if (recorded == 0) {
			log_err("certificate %s of issuer %s: nothing was "
			    "committed", serial, issuer);
			goto out;
		}
		if (recorded == -1) {
			log_err("certificate %s of issuer %s: whether the change "
			    "committed is unknown (the database does not "
			    "answer, or the COMMIT still waits); once it "
			    "answers, `pkictl cert status` tells, or look for "
			    "its audit event with nonce %s", serial, issuer,
			    nonce);
			goto out;
		}
		log_warn("certificate %s of issuer %s: the answer to COMMIT "
		    "was lost, but the change and its audit event (nonce %s) "
		    "were committed", serial, issuer, nonce);
	}
	if (change.ca_key_compromise) {
		fprintf(stderr, "pkictl: refused: certificate %s of issuer %s is "
		    "a CA certificate%s%s: a CA's key compromised is "
		    "cACompromise, not keyCompromise (RFC 5280 §5.3.1); nothing "
		    "changed\n", serial, issuer, change.ca_name[0] != '\0' ?
		    ", of " : " (basicConstraints cA)", change.ca_name);
		rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	if (change.ca_name[0] != '\0') {
		fprintf(stderr, "pkictl: refused: certificate %s of issuer %s is "
		    "the CA certificate %s: certificateHold is for subscribers' "
		    "certificates; a CA certificate is revoked with another "
		    "reason\n", serial, issuer, change.ca_name);
		rc = PKICTL_EXIT_REFUSED;
		goto out;
	}
	/*
	 * Nothing changed: a serial or issuer that does not exist is a
	 * failure (exit 1, as `cert status` says it), not the refusal (3) a
	 * script may take for "already done".
	 */
	if (!change.found) {
		rc = PKICTL_EXIT_REFUSED;
		switch (change.why) {
		case CERT_WHY_NO_ISSUER:
			fprintf(stderr, "pkictl: no issuer named %s (see `pkictl "
			    "ca status`)\n", issuer);
			rc = PKICTL_EXIT_FAIL;
			break;
		case CERT_WHY_NO_CERT:
			fprintf(stderr, "pkictl: no certificate with serial %s "
			    "under issuer %s\n", serial, issuer);
			rc = PKICTL_EXIT_FAIL;
			break;
		case CERT_WHY_REVOKED:
			fprintf(stderr, "pkictl: refused: certificate %s of issuer "
			    "%s is already revoked (%s)\n", serial, issuer,
			    change.reason_was);
			break;
		case CERT_WHY_HELD:
			fprintf(stderr, "pkictl: refused: certificate %s of issuer "
			    "%s is already on hold\n", serial, issuer);
			break;
		case CERT_WHY_NOT_HELD:
			fprintf(stderr, "pkictl: refused: certificate %s of issuer "
			    "%s is not on hold\n", serial, issuer);
			break;
		case CERT_WHY_EXPIRED:
			fprintf(stderr, "pkictl: refused: certificate %s of issuer "
			    "%s expired at %s: only a valid certificate is put on "
			    "hold or released (it is still revoked with another "
			    "reason)\n", serial, issuer, change.not_after);
			break;
		}
		goto out;
	}
	printf("certificate %s %s\n", serial, change.reason < 0 ? "released" :
	    change.reason == 6 ? "on hold" : "revoked");
	rc = PKICTL_EXIT_OK;
	/*
	 * The root issued it: its OCSP answers the change now, but its CRL
	 * (the ARL) is signed only at a ceremony, and CRL-checking relying
	 * parties accept what they accepted until the next one. The CA/B
	 * Forum's Baseline Requirements (§4.9.7) want it within 24 hours
	 * of a subordinate CA's revocation. Until 2026-12-07 nothing said so.
	 */
	if (change.arl_due && !sign_arl)
		fprintf(stderr, "pkictl: certificate %s was issued by the root: "
		    "its OCSP answers the change now, but the root's CRL (the "
		    "ARL, root.crl) does not list it until it is signed again: "
		    "run `pkictl crl arl` now (or `cert %s --sign-arl`; "
		    "Baseline Requirements §4.9.7: within 24 hours)\n", serial,
		    verb);
	else if (sign_arl && !change.arl_due)
		fprintf(stderr, "pkictl: --sign-arl: certificate %s was not "
		    "issued by the root: no ARL signed\n", serial);
	else if (sign_arl) {
		/*
		 * A transaction of its own, after the change committed: an ARL
		 * that fails leaves the change done (OCSP answers it) and says
		 * so.
		 */
		db_close(db);
		db = NULL;
		if ((rc = arl_issue(cfg, actor)) != PKICTL_EXIT_OK)
			log_err("certificate %s: the change is committed, but "
			    "the ARL was not signed: run `pkictl crl arl`",
			    serial);
	}
out:
	db_close(db);
	return rc;
}
