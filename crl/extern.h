/*
 * Private interfaces of crld, the CRL publisher.
 */
#ifndef PKI_CRL_EXTERN_H
#define PKI_CRL_EXTERN_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "lib/cadb.h"
#include "lib/crlgen.h"
#include "lib/ldappub.h"

struct config;
struct crl_publisher;
struct signer;

/* The issuing CAs crld serves at most (lib/cadb.h). */
#define CRL_MAX_ISSUING		CADB_MAX_ISSUING

/*
 * serve.c: what GET /crl/<name> answers, from memory. A document is an
 * index crl_cache_add() gave: the root's /crl/root.crl (the ARL) and
 * /crl/root.crt, and each issuing CA's /crl/NAME.crl, /crl/NAME-delta.crl
 * and /crl/NAME.crt.
 */
#define CRL_DOC_MAX		(2 + 3 * CRL_MAX_ISSUING)
#define CRL_DOC_NONE		(-1)

struct crl_cache;

/* Documents start empty (404). max_age: Cache-Control cap in seconds. */
struct crl_cache	*crl_cache_new(long max_age);
void			 crl_cache_free(struct crl_cache *);
/*
 * Adds a path (e.g. "/crl/issuing.crl") and its Content-Type, empty (503
 * until set); copied. optional: not counted as stale by /health while
 * absent (the ARL, signed only at a ceremony). The document's index, or
 * -1 when CRL_DOC_MAX are held or path is too long. Before or while
 * serving (a new issuing CA: crl/main.c).
 */
int	crl_cache_add(struct crl_cache *, const char *path, const char *ctype,
	    int optional);
/*
 * Takes path doc (crl_cache_add) out of service for good: it answers 404
 * like any path not served, is left out of /health, and its document is
 * dropped (what requests are still sending stays alive until they end).
 * Its slot is not reused. An issuing CA whose take failed half-way
 * (crl/main.c, crld_ca_take), or one past its grace (crld_watch_end).
 */
void	crl_cache_remove(struct crl_cache *, int doc);
/*
 * Replaces a document, taking der (malloc'd; freed with the document): what
 * was there stays alive for the requests still sending it. number: the CRL
 * number (a newer one only replaces an older one; 0 for certificates; one
 * with the number held but other bytes replaces it too, with an ALARM
 * logged: RFC 5280 §5.2.3 was broken by a restore or a failover, and the
 * caller's is the database's). expires: nextUpdate (0: now + a day). 0 or
 * -1.
 */
int	crl_cache_set(struct crl_cache *, int doc, unsigned char *der,
	    size_t len, long long number, time_t last_modified, time_t expires);
/* 1 when the document held has this number and other bytes than der. */
int	crl_cache_conflicts(struct crl_cache *, int doc, long long number,
	    const unsigned char *der, size_t len);
/* The number of the document held (0 when none). */
long long	crl_cache_number(struct crl_cache *, int doc);
/*
 * Whether the CRL held as doc lists the certificate of serial (hex): 1
 * yes, 0 no, -1 no document, or one or a serial that does not decode.
 */
int	crl_cache_lists(struct crl_cache *, int doc, const char *serial);
/*
 * Names an issuing CA whose CRLs this crld cannot sign (crl/main.c: its key
 * is missing): /health says "degraded" and lists it in "not_signed".
 * Once per name; -1 when CRL_MAX_ISSUING are named.
 */
int	crl_cache_not_signed(struct crl_cache *, const char *name);
/* Its key found since (crl/main.c): no longer in "not_signed". */
void	crl_cache_signed(struct crl_cache *, const char *name);
/*
 * Issuing CA name's own certificate is revoked or on hold by its issuer
 * (status "revoked" or "on-hold", reason: RFC 5280 §5.3.1 name, since:
 * the revocation time), or no longer is (status NULL): /health says
 * "degraded" and lists it in "ca_revoked". -1 when CRL_MAX_ISSUING are
 * listed.
 */
int	crl_cache_ca_revoked(struct crl_cache *, const char *name,
	    const char *status, const char *reason, const char *since);
/*
 * The root's CRL (the ARL) served does not list a revocation, hold or
 * release of a certificate the root issued (crl/main.c, the CA watch):
 * since, the oldest such change (ISO 8601, Z), number, the ARL served;
 * since NULL: it lists them all. /health: "arl_behind", the ARL's path
 * stale, "degraded".
 */
void	crl_cache_arl_behind(struct crl_cache *, const char *since,
	    long long number);

/*
 * Issuing CA id, named name, that crld can never serve (why: crl/main.c,
 * crld_ca_refusal), at start-up or taken by the CA watch: /health says
 * "degraded" and lists it in "not_served" ({"id", "name", "why"}). Once
 * per id; -1 when CRL_NOT_SERVED_MAX are listed.
 */
#define CRL_NOT_SERVED_MAX	32
int	crl_cache_not_served(struct crl_cache *, long long id,
	    const char *name, const char *why);
/*
 * Issuing CA name is past its grace (crl/main.c, crld_watch_end): its
 * documents docs (n of them; CRL_DOC_NONE skipped) are removed as by
 * crl_cache_remove, it leaves "not_signed" and "ca_revoked", and /health
 * lists it in "ended" (not degraded: a CA ends). -1 when
 * CRL_MAX_ISSUING are listed.
 */
int	crl_cache_ended(struct crl_cache *, const char *name, const int *docs,
	    int n);
/*
 * How the database answered who (an issuing thread, the CA watch) at its
 * last try: unavailable 1 when no usable server answered (lib/db.h
 * db_unavailable(): a connection lost or refused, the server shutting
 * down, a command past its bound, a lock or statement past the role's;
 * or no connection could be made), 0 when it did. While one is
 * unavailable /health says "degraded", "database_ok" false and
 * "database_unavailable_since" the earliest time one was (a thread's
 * first failure of a row). A thread that stops says 0. -1 when
 * CRL_DB_USERS are unavailable at once.
 */
#define CRL_DB_USERS		(CRL_MAX_ISSUING + 1)
int	crl_cache_db(struct crl_cache *, const void *who, int unavailable);

/*
 * An issuance attempt of the issuing CA name (crl/issuer.c): error NULL
 * when a CRL was issued, else why it failed (no secret in it: a database's
 * or the signer's message; cut to CRL_ISSUE_ERROR_MAX). An attempt that
 * issued nothing because nothing was due is not one. /health gives each
 * CA's counts under "issuance" and says "degraded" while a CA's last
 * attempt failed. crl_cache_ended drops the CA's. -1 when
 * CRL_MAX_ISSUING CAs are counted.
 */
#define CRL_ISSUE_ERROR_MAX	256
int	crl_cache_issuance(struct crl_cache *, const char *name,
	    const char *error);

/* The HTTP handler (lib/http.h) over a struct crl_cache. */
struct http_request;
struct http_response;
int	crl_serve(void *cache, const struct http_request *,
	    struct http_response *);

/* issuer.c: the thread that issues the issuing CA's CRLs. */
struct crl_schedule {
	long	full_interval;		/* s between base CRLs */
	long	full_next_update;	/* s */
	long	delta_interval;		/* s between scheduled deltas */
	long	delta_next_update;	/* s */
	long	coalesce_ms;		/* quiet time after a revocation */
	long	coalesce_max_ms;	/* at most this long after the first */
	long	expired_grace;		/* s; crlgen_policy.expired_grace */
	long	publish_interval;	/* s between publish_run() (publisher.c) */
	long	reconcile_interval;	/* s between checks for lost notifications */
};

struct crl_ca {
	long long	 id;
	char		 name[32];
	X509		*cert;
	char		 key_label[65];
	char		 token[65];
	char		 dn[512];	/* LDAP entry; "" when no ldap.base */
	/* Its documents in the cache (CRL_DOC_NONE: none; the root has no delta). */
	int		 doc_full;
	int		 doc_delta;
	int		 doc_cert;
	char		 url[512];	/* ${urls::crl_base}/NAME.crl: its IDP */
	char		 delta_url[512];
};

/*
 * One issuing thread's: one per issuing CA (crl/main.c), the first (the
 * CA named issuing, when it is still served) also loading the root's ARL.
 */
struct crl_issuer_conf {
	const char		*conninfo;
	const char		*actor;		/* "crld:<instance>" */
	struct crl_ca		*issuing;	/* signed online */
	struct crl_ca		*root;		/* served only (ARL from the ceremony); NULL: another thread's */
	struct crlgen_issuer	 gen;		/* for issuing */
	struct crlgen_policy	 full;		/* complete CRLs */
	struct crlgen_policy	 delta;		/* delta CRLs */
	struct crl_schedule	 sched;
	struct ldappub_conf	 ldap;
	int			 ldap_enabled;
	struct signer		*signer;
	const char		*digest;
	struct crl_cache	*cache;
	/* Kicked after each issuance; NULL: no LDAP publication. */
	struct crl_publisher	*publisher;
	/*
	 * 1: the signer cannot sign for issuing (its key is not in the
	 * token, or not its certificate's: crl/main.c). The thread still
	 * serves its CRLs (those of out_dir, then crl_current's, whoever
	 * issued them) and issues none.
	 */
	int			 key_missing;
};

/*
 * thread.c: the thread a part of crld runs in (issuer, publisher): its
 * mutex (the stop flag and the owner's shared fields), the stop flag, and
 * a non-blocking wake-up pipe that kick and stop write to and the thread's
 * poll() watches (wake[0]).
 */
struct crl_thread {
	const char	*name;		/* of log lines */
	pthread_t	 thread;
	pthread_mutex_t	 mtx;
	int		 wake[2];
	int		 started;
	int		 stop;		/* under mtx */
};
/* Starts fn(arg) in t; 0, or -1 with err and nothing left to undo. */
int	crl_thread_start(struct crl_thread *t, const char *name,
	    void *(*fn)(void *), void *arg, char *err, size_t errlen);
void	crl_thread_wake(struct crl_thread *);
/* Empties the wake-up pipe. */
void	crl_thread_drain(struct crl_thread *);
int	crl_thread_stopping(struct crl_thread *);
/* Sets stop, wakes the thread, joins it, closes the pipe. */
void	crl_thread_stop(struct crl_thread *);

/*
 * cas.c: out_dir/crld-cas.json (crl/main.c writes it at each start-up that
 * reached the database, and reads it at one that did not), from its bytes
 * alone. out_dir is crld's demoted user's, and the file names the keys the
 * signer is granted CRLs with (crl/main.c crld_grant): what a compromised
 * crld wrote there is read as root at the next restart during an outage.
 */
#define CRL_CAS_FILE		"crld-cas.json"
#define CRL_CAS_FILE_MAX	(256 * 1024)
/*
 * The key labels of issuing CAs: `pkictl ca init` names the first
 * CRL_CAS_FIRST_KEY (ca/extern.h CA_KEY_ISSUING), `pkictl ca issuing` the
 * next ones CRL_CAS_RENEWED_KEY and a number (ca/ceremony.c,
 * ceremony_next: issuing-2, ...), which crld grants beforehand.
 */
#define CRL_CAS_FIRST_KEY	"issuing-ca-1"
#define CRL_CAS_RENEWED_KEY	"issuing-"

/* The CAs of the file: certificates owned (crl_cas_clear frees them). */
struct crl_cas {
	struct cadb_ca	 root;
	struct cadb_ca	 issuing[CRL_MAX_ISSUING];
	size_t		 nissuing;	/* 1 to CRL_MAX_ISSUING */
};

/*
 * Parses text (len bytes, at most CRL_CAS_FILE_MAX) as crl/main.c writes
 * it: an object with "root" and "issuing" ({id, name, token, key_label,
 * cert}, cert the DER as lower-case hex, exactly one certificate, no
 * unknown key; names "root" and "issuing") and "issuing_cas", the list of
 * 1 to CRL_MAX_ISSUING issuing CAs (a file without it, of an older crld,
 * gives the one in "issuing"). Each id positive, each string short enough
 * for struct cadb_ca (nothing cut), each issuing CA's key_label one
 * crl_cas_key_label_ok() takes. 0 with out filled (clear it with
 * crl_cas_clear), or -1 with why in err, which never quotes the file (it
 * may be written by crld's demoted user), and out cleared.
 * tests/fuzz/fuzz_crld_cas.c.
 */
int	crl_cas_parse(const unsigned char *text, size_t len,
	    struct crl_cas *out, char *err, size_t errlen);
void	crl_cas_clear(struct crl_cas *);
/*
 * 1 when label is an issuing CA's key label: CRL_CAS_FIRST_KEY, or
 * CRL_CAS_RENEWED_KEY and a number from 1 to 999999999 without a leading
 * zero; else 0.
 */
int	crl_cas_key_label_ok(const char *label);
/*
 * 1 when an issuing CA's name can be a file name in out_dir and a path
 * under /crl/: 1 to 31 of [A-Za-z0-9._-], not starting with '.' or '-'
 * (the characters profiles allow in ${issuer::name}: ca/profile.c).
 */
int	crl_cas_name_ok(const char *name);

struct crl_issuer;

/*
 * A notification crld LISTENs for (crl/issuer.c), from its payload alone:
 * certificate_status "<issuer_id>:<serial>" (schema/004, 006; the serial
 * upper-case hex, 1 to 40 digits: schema/055) or crl_issued
 * "<issuer_id>:<kind>:<number>" (schema/005; kind full or delta). The
 * numbers are decimal, no sign or leading zero, within a long long
 * (strtoll, errno checked), and the payload must end where the format
 * does. Any database role may NOTIFY: 0 with out filled, or -1 for
 * anything else (another channel too). tests/fuzz/fuzz_notify.c.
 */
struct crl_notify {
	int		 issued;	/* crl_issued; else certificate_status */
	long long	 issuer_id;
	int		 delta;		/* crl_issued: kind delta, else full */
	long long	 number;	/* crl_issued */
};
int	crl_notify_parse(const char *channel, const char *payload,
	    struct crl_notify *out);

/*
 * Starts the issuing thread: loads what is current into the cache, issues
 * a base CRL and a delta when due, then follows the schedule and LISTENs
 * for revocations (certificate_status) and other instances' CRLs
 * (crl_issued). NULL with err.
 */
struct crl_issuer	*crl_issuer_start(const struct crl_issuer_conf *,
			    char *err, size_t errlen);
/* Asks for a base CRL (and a delta) now: SIGHUP. */
void			 crl_issuer_kick(struct crl_issuer *);
void			 crl_issuer_stop(struct crl_issuer *);

/*
 * publisher.c: the thread that publishes the LDAP queue (publish_run) on a
 * database connection of its own, so that a silent directory (libldap's
 * time-outs: lib/ldappub.c) never holds up CRL issuance. Started only when
 * conf->ldap_enabled; reads conninfo, actor, ldap and
 * sched.publish_interval, whose strings must outlive it. NULL with err.
 */
struct crl_publisher	*crl_publisher_start(const struct crl_issuer_conf *,
			    char *err, size_t errlen);
/* A round now (a CRL was just queued). NULL: a no-op. */
void			 crl_publisher_kick(struct crl_publisher *);
/*
 * Stops and frees it; NULL: a no-op. A round inside an LDAP call first
 * waits out libldap's time-out (lib/ldappub.c: 5 s to connect, 10 s per
 * operation; ~10 s against a directory that never answers the bind).
 */
void			 crl_publisher_stop(struct crl_publisher *);

/*
 * One base CRL and one delta for conf's issuing CA, then returns (crld
 * --once, for benchmarks): prints their timings as one JSON line each on
 * stdout.
 */
int	crl_issue_once(const struct crl_issuer_conf *);

/* The signing callback for crlgen: signer_sign(SIGNER_KIND_CRL, ...). */
int	crl_sign(void *conf, const unsigned char *tbs, size_t tbslen,
	    unsigned char **sig, size_t *siglen, char *err, size_t errlen);

#endif
