/*
 * Private interfaces of cad, the CA issuance worker (ca/README.md "cad").
 * pkictl shares lint.c's cad_lint_pubkey(), cad_lint_csr_subject() and
 * cad_lint() (ca/certcmd.c).
 */
#ifndef PKI_CAD_EXTERN_H
#define PKI_CAD_EXTERN_H

#include <limits.h>
#include <stddef.h>
#include <openssl/x509.h>

#include "hsm/signer.h"

struct config;
struct db;
struct profile;

#define CAD_MAX_PROFILES	8
#define CAD_SKIP_MAX		32	/* orders one worker puts aside at once */

/* An order whose attempt could not be recorded, left aside (issue.c). */
struct cad_skip {
	long long	 id;
	int		 count;		/* attempts left unrecorded in a row */
	long long	 until_ms;	/* CLOCK_MONOTONIC; 0: a free slot */
};

#define CAD_MARKER_SLOTS	64	/* cad processes sharing a cad.state_dir */
#define CAD_MARKER_MAX		256	/* bytes of a record, at most */
#define CAD_MARKER_SERIAL_MAX	40	/* hex digits: 20 octets (RFC 5280) */

/* A free marker slot that named an order (marker.c). */
struct cad_marker_found {
	int		 fd;		/* locked; -1 once done */
	int		 slot;
	long long	 order;
	char		 worker[128];	/* the actor that wrote it */
	/* The certificate it had signed and not stored; "" if none. */
	char		 serial[CAD_MARKER_SERIAL_MAX + 1];
};

/*
 * The in-flight marker (marker.c; ca/README.md "A worker that ends while
 * issuing"): fd is this process's slot in cad.state_dir, locked, naming
 * the order whose transaction is open; -1 without cad.state_dir
 * (cad.insecure_no_state_dir).
 */
struct cad_marker {
	int			 fd;
	int			 slot;
	int			 dfd;		/* the directory; until started */
	int			 set;		/* names an order now */
	int			 failing;	/* a write failed (logged once) */
	char			 dir[PATH_MAX];
	char			 path[PATH_MAX];
	char			 tail[160];	/* " worker=<actor>\n" */
	struct cad_marker_found	 found[CAD_MARKER_SLOTS];
	int			 nfound;
};

/*
 * A certificate the issuing key signed, or may have, for an order and that
 * was not stored, of which the database holds no trace yet: neither the
 * attempt's count (order.retry naming the serial) nor a cert.discard event
 * could be written (issue.c, cad_discard_keep). Until one is, the in-flight
 * marker keeps naming it (so a stop or crash leaves it to the next start)
 * and the worker claims no order. order[0] == '\0': none.
 */
struct cad_discard {
	char		 order[24];
	char		 serial[CAD_MARKER_SERIAL_MAX + 1];
	char		 error[512];	/* why it was discarded */
	char		 worker[128];	/* the worker that had it signed */
	int		 tries;		/* failed tries to record it */
	long long	 retry_ms;	/* CLOCK_MONOTONIC: the next try */
};

/* What main.c opens before the sandbox and issue.c uses per order. */
struct cad {
	const struct config	*cfg;
	struct db		*db;
	struct signer		*signer;
	EVP_PKEY		*ca_key;	/* signer_pkey(CERT, issuing key) */
	X509			*issuer;	/* borrowed from main's cadb_ca */
	long long		 issuer_id;
	int			 issuer_stopped;	/* its certificate revoked or held */
	/*
	 * CLOCK_MONOTONIC ms of the next look for orders naming an issuing
	 * CA that can no longer issue (issue.c, cad_claim_ended); 0: now.
	 */
	long long		 ended_next_ms;
	const char		*wrap_label;
	struct profile		*profiles[CAD_MAX_PROFILES];
	int			 nprofiles;
	/* The profiles' names, comma-separated: the claim takes only these. */
	char			 served[256];
	long			 max_validity_days;
	/*
	 * Retries (ca/README.md "Retries"): an order whose attempt failed is
	 * due again retry_backoff_ms later, doubled per failed attempt, at
	 * most retry_backoff_max_s; it fails only after max_attempts failed
	 * attempts and retry_hours since the first.
	 */
	long			 max_attempts;
	long			 retry_backoff_ms;
	long			 retry_backoff_max_s;
	long			 retry_hours;
	/*
	 * Set by cad_issue_one() when no order was due: milliseconds until
	 * the earliest pending order of this worker's profiles is due, or -1
	 * when none is waiting.
	 */
	long			 next_due_ms;
	/*
	 * Orders whose last attempt nothing could record (the database
	 * refused even the retry's count): the claim passes over them until
	 * until_ms, so one such order cannot stall this worker.
	 */
	struct cad_skip		 skip[CAD_SKIP_MAX];
	struct cad_discard	 discard;
	char			 actor[128];
	struct cad_marker	 marker;
};

/*
 * lint.c. cad_subject() builds the subject from an order's verified data
 * (a JSON object attribute → string) in a fixed RDN order, refusing an
 * attribute the profile does not allow, a missing required one, an empty or
 * over-long value, an emailAddress that is no mailbox (RFC 5280 §4.2.1.6).
 * New X509_NAME (caller frees) or NULL with why in err.
 */
X509_NAME	*cad_subject(const struct profile *, const char *json,
		    char *err, size_t errlen);
/*
 * The subscriber keys we certify, for cad's lint and `pkictl cert issue`:
 * RSA with a modulus of 2048 bits or more, odd and a multiple of 8 bits,
 * and a public exponent odd, >= 65537 and < 2^256 (CA/B BR §6.1.6, NIST
 * SP 800-89 §5.3.3; e = 1 lets anyone forge signatures); EC on P-256 or
 * P-384 by a named curve, never explicit parameters (RFC 5480 §2.1.1).
 * pub may be NULL (refused). 0 with its key type in kt ("ec-p256",
 * "ec-p384", "rsa2048", "rsa3072", "rsa4096", or "rsa-other", which no
 * profile's key_types names), or -1 with why in err (no "lint: " prefix).
 */
int		 cad_lint_pubkey(EVP_PKEY *pub, char *kt, size_t ktlen,
		    char *err, size_t errlen);
/* 0 when the key type is one of the profile's key_types, else -1 with err. */
int		 cad_lint_keytype(const struct profile *, const char *keytype,
		    char *err, size_t errlen);
/*
 * The subject part of cad_lint(), on an unsigned certificate x: the
 * subject not empty; every value UTF-8, not blank, at most 64 characters
 * for CN and 128 for the others (code points, RFC 5280 Appendix A), no
 * control, bidirectional formatting or other format (Cf) character, no
 * line separator, private-use or noncharacter, no space at either end,
 * doubled or other than U+0020; C an assigned ISO 3166-1 alpha-2 code;
 * every emailAddress and subjectAltName rfc822Name a mailbox (one '@', a
 * dot-atom local part, a domain of LDH labels: RFC 5280 §4.2.1.6); an
 * emailAddress only with the same address as a subjectAltName rfc822Name
 * (RFC 5280 §4.1.2.6), and no subjectAltName without a name.
 * With a profile p, every attribute must also be in its subject_allowed
 * (an OID OpenSSL does not name never is), appear once unless it is in
 * its subject_repeatable, and have an RDN of its own unless its
 * subject_multivalued is yes; p NULL skips those (the fuzz harness: the
 * values alone). 0, or -1 with the first failure in err.
 */
int		 cad_lint_subject(const struct profile *p, X509 *x, char *err,
		    size_t errlen);
/*
 * pkictl cert issue: the subject of x, a CSR's as its holder encoded it,
 * judged against profile p (not NULL), which must have subject_required
 * and subject_allowed: cad_lint_subject(p, ...), then every attribute of
 * subject_required present. 0, or -1 with the first failure in err.
 */
int		 cad_lint_csr_subject(const struct profile *p, X509 *x,
		    char *err, size_t errlen);
/*
 * Lints an unsigned certificate before it goes to the signer: profile
 * conformance (kind, subject attributes, required extensions present and
 * parsable, no extension the profile does not make, each as critical as
 * the profile makes it, not a CA), the key (cad_lint_pubkey(), one of
 * the profile's key_types, and the order's keytype), serial (positive, >= 64 bits,
 * <= 20 octets; RFC 5280 §4.1.2.2), issuer name, validity (notBefore <
 * notAfter <= issuer's notAfter, at most max_days days, at least a day
 * left), the subject (cad_lint_subject() with the profile's
 * subject_allowed), keyUsage present with digitalSignature, no
 * keyCertSign or cRLSign, no OCSPSigning, timeStamping or
 * anyExtendedKeyUsage; validity times in RFC 5280 §4.1.2.5's form; the
 * usages of the profile's kind (keyUsage, extendedKeyUsage; none an EC or
 * RSA key may not have: RFC 5480 §3, RFC 3279 §2.3.1); AIA, CRL DP and
 * freshestCRL locations absolute http URLs. 0, or -1 with the first
 * failure in err.
 */
int		 cad_lint(const struct profile *, X509 *, X509 *issuer,
		    const char *keytype, long max_days, char *err, size_t errlen);
/*
 * cad's start-up check of a profile it serves: its lint keys present, its
 * validity (validity_days + backdate_seconds) within max_days, and a test
 * certificate built from it (its own subject section, a fresh key of the
 * first of its key_types, never signed) for issuer passing cad_lint(). So a
 * profile every order would fail stops cad at start, not each order. 0, or
 * -1 with why in err.
 */
int		 cad_lint_profile(const struct profile *, X509 *issuer,
		    long max_days, char *err, size_t errlen);
/*
 * Makes the NUL-terminated text s safe to store as PostgreSQL text and to
 * log, in place: a UTF-8 sequence cut at the end (vsnprintf into a short
 * buffer) is cut off; any other byte that is not well-formed UTF-8, and
 * every C0 control and DEL, becomes '?'.
 */
void		 cad_text_clean(char *s);

/*
 * issue.c. Claims one due pending order (FOR UPDATE SKIP LOCKED) and issues
 * it in one transaction. 1 when an order was finished (done or failed), 0
 * when none was due, or none may be claimed while a discarded certificate
 * waits for its trace (c->discard; next_due_ms set), -1 on a transient
 * failure (the order stays pending with last_error, attempts counted and
 * next_attempt_at backed off, unless it was given up).
 */
int		 cad_issue_one(struct cad *);
struct profile	*cad_profile(const struct cad *, const char *name);
/*
 * At start, for a marker slot that named an order (f, from
 * cad_marker_open()): the process that wrote it ended while issuing that
 * order, and the attempt rolled back with it. Counts one failed attempt
 * and backs the order off, or gives it up, as after any failed attempt
 * (ca/README.md "Retries"), audited as order.retry or order.fail in the
 * same transaction, with last_error saying the worker ended while issuing
 * it. An order that is no longer pending (it committed after all, or
 * another worker finished it) or that does not exist is left as it is,
 * logged; so is one another backend still holds after 2 s (the ended
 * process's own holds it until it notices its client is gone; else a
 * worker issuing it now). When the database refuses the count, this worker
 * puts the order aside (as cad_issue_one does). A serial the record
 * names that the count does not name (not recorded, or the order not
 * counted and that certificate not its stored one) is audited cert.discard
 * on the order; when even that is refused, it goes into c->discard (and
 * the own marker: cad_discard_mark) if that is free. 1 when counted, 0
 * when left as it is, -1 when not recorded, -2 when a serial it names has
 * no trace anywhere but this record, which must then stay as it is.
 */
int		 cad_recover(struct cad *, const struct cad_marker_found *f);
/*
 * After cad_recover() of every marker found: the own marker names the
 * certificate of c->discard, if any, whose trace is still to be recorded.
 */
void		 cad_discard_mark(struct cad *);

/*
 * marker.c. cad_marker_init() before anything else (fd -1: every call
 * below then does nothing). cad_marker_open() (before the sandbox; dir
 * not writable by others) takes the first slot of dir no running cad
 * holds as this process's own, made 0600 when missing and locked while
 * the process lives, and every free slot's record: those that name an
 * order are in m->found (locked), the others are emptied (a garbage
 * record with a warning), other free slots removed. actor: the worker
 * named in each record. 0, or -1 with err (no slot free, dir unusable).
 */
void		 cad_marker_init(struct cad_marker *);
int		 cad_marker_open(struct cad_marker *, const char *dir,
		    const char *actor, char *err, size_t errlen);
/* Empties (own) or removes (another's) found slot i once it is counted. */
void		 cad_marker_done(struct cad_marker *, int i);
/*
 * End of start-up: closes the directory and the found slots not done (their
 * records stay for a later start). Afterwards only the own slot's
 * descriptor is used.
 */
void		 cad_marker_release(struct cad_marker *);
/*
 * Before the order's transaction does anything after its claim: the slot
 * names order_id (pwrite, no fsync). After the transaction ended (commit or
 * rollback): cad_marker_clear() empties it (ftruncate; nothing when not
 * set). A failed write is logged once until one works again; issuance goes
 * on (only a crash in that time would not be counted).
 */
void		 cad_marker_set(struct cad_marker *, const char *order_id);
/*
 * Just before the issuing key is asked to sign the order's certificate:
 * the record also names its serial (upper-case hex), so that a crash
 * before the COMMIT leaves a trace of a certificate signed, or being
 * signed, and never stored (cad_recover puts it in the order's last_error
 * and audit).
 */
void		 cad_marker_signed(struct cad_marker *, const char *order_id,
		    const char *serial);
void		 cad_marker_clear(struct cad_marker *);
void		 cad_marker_close(struct cad_marker *);
/*
 * A record, "order=<id>[ signed=<serial>] worker=<actor>\n" (what follows
 * its first newline is ignored: a record written over a longer one whose
 * emptying failed). 1 with *order (> 0), serial (CAD_MARKER_SERIAL_MAX + 1
 * bytes: 1 to 40 upper-case hex digits, or "") and worker (NUL-terminated,
 * cleaned as cad_text_clean() does) when buf holds one; 0 when len is 0;
 * -1 for anything else (no newline, a NUL, another form, an id of 0 or
 * past bigint, a serial empty, too long or not upper-case hex, a worker
 * name empty or of wlen bytes or more).
 */
int		 cad_marker_parse(const char *buf, size_t len, long long *order,
		    char *serial, char *worker, size_t wlen);

#endif
