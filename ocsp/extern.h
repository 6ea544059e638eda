/*
 * Private interfaces of ocspd, the RFC 6960 / RFC 5019 OCSP responder.
 *
 *	request.c	the GET path decoder and the OCSPRequest parser (no
 *			state: the fuzz harness drives them)
 *	respond.c	issuers we serve, policy, building and signing responses
 *	cache.c		pre-signed responses in memory, keyed by issuer + serial
 *	sync.c		the maintenance thread: PostgreSQL load, LISTEN, polling
 *			reconciliation, pre-signing and refresh
 *	budget.c	the on-demand signing budget (live signatures a second)
 */
#ifndef PKI_OCSP_EXTERN_H
#define PKI_OCSP_EXTERN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include "hsm/signer.h"
#include "lib/cadb.h"
#include "lib/der.h"

struct config;
struct ocsp_blob;
struct ocsp_responder;

/* CertID hash algorithms we match (RFC 6960 §4.1.1; RFC 5019 §2.1.1: SHA-1). */
enum ocsp_hash {
	OCSP_HASH_SHA1 = 0,
	OCSP_HASH_SHA256,
	OCSP_HASH_SHA384,
	OCSP_HASH_SHA512,
	OCSP_NHASH
};

/*
 * The root and every live issuing CA (`pkictl ca issuing` allows
 * CADB_MAX_ISSUING, crld serves that many): one more made ocspd refuse to
 * start once they all had responders, every issuer's OCSP down with it.
 */
#define OCSP_MAX_ISSUERS	(CADB_MAX_ISSUING + 1)
#define OCSP_MAX_CERTIDS	16	/* CertIDs in one request; more: malformedRequest */
#define OCSP_MAX_SERIAL		32	/* octets; RFC 5280 §4.1.2.2 allows 20 */
#define OCSP_SERIAL_HEX		(2 * OCSP_MAX_SERIAL + 2)	/* BN_bn2hex, '-', NUL */
#define OCSP_MAX_NONCE		128	/* octets we echo: RFC 9654 §2.1 */
#define OCSP_MAX_PATH		4096	/* GET path bytes we decode */
#define OCSP_MAX_PREFIX		256	/* urls.ocsp's path, ocsp_url_prefix */

/* --- request.c ------------------------------------------------------------ */

/* One CertID of a request, decoded (borrowed pointers into the request). */
struct ocsp_certid {
	int		 hash;		/* enum ocsp_hash, or -1: not one we match */
	const unsigned char *name_hash;	/* issuerNameHash octets */
	int		 name_hash_len;
	const unsigned char *key_hash;	/* issuerKeyHash octets */
	int		 key_hash_len;
	char		 serial[OCSP_SERIAL_HEX];	/* ocsp_serial_canon() form */
	/*
	 * 1: hashAlgorithm parameters absent (RFC 5754 §2; any others but
	 * NULL are malformed), or not read (BER), so the CertID of a
	 * pre-signed response would differ from the client's in its
	 * encoding: answered live.
	 */
	int		 odd_params;
	OCSP_CERTID	*cid;		/* borrowed from req */
};

/* A parsed OCSPRequest (RFC 6960 §4.1.1). Free with ocsp_query_free(). */
struct ocsp_query {
	OCSP_REQUEST	*req;
	int		 nids;
	struct ocsp_certid ids[OCSP_MAX_CERTIDS];
	int		 has_nonce;	/* a nonce of 1..128 octets we may echo */
	/*
	 * 0 or > 128 octets, twice, or not an OCTET STRING and critical; one
	 * not an OCTET STRING and not critical sets neither: ignored.
	 */
	int		 bad_nonce;
	int		 critical_nonce; /* marked critical: refused unless echoed */
};

/*
 * RFC 6960 Appendix A.1 GET: path is "/" followed by the URL-encoding of the
 * base64 of the DER request; any number of '/' may lead ("//" + base64: a
 * client joining an AIA URL that ends in '/'). Percent escapes (%2B, %2F,
 * %3D, any %XX) are decoded, '+' and '/' are taken literally, then the
 * base64 (padding optional) is decoded. *der is malloc'd. Returns 0, or -1
 * when the path is not such an encoding (empty, bad escape, bad base64,
 * over OCSP_MAX_PATH).
 */
int	ocsp_path_decode(const char *path, unsigned char **der, size_t *len);

/*
 * The path of urls.ocsp, the responder URL our certificates' AIA carries
 * (RFC 5280 §4.2.2.1), without its trailing '/'s, into prefix: "" for
 * "http://host" and "http://host/", "/ocsp" for "http://host/ocsp/".
 * Clients GET {url}/{base64} (RFC 6960 Appendix A.1), so ocspd takes it
 * off GET paths (ocsp_path_unprefix). url NULL or "": "". Returns 0, or -1
 * when url is not http:// or https://, holds a query or a fragment, or its
 * path does not fit in prefixlen (prefix is then "").
 */
int	ocsp_url_prefix(const char *url, char *prefix, size_t prefixlen);

/*
 * path past prefix (ocsp_url_prefix) when it begins with prefix followed
 * by '/' ("/ocsp/MFEw..." -> "/MFEw..."), "/" when it is prefix itself,
 * path unchanged otherwise (prefix "", or a path without it: a proxy that
 * took it off already). A pointer into path, or to a constant.
 */
const char *ocsp_path_unprefix(const char *path, const char *prefix);

/*
 * Parses exactly one DER OCSPRequest: trailing bytes, more than
 * OCSP_MAX_CERTIDS CertIDs, no CertID, a serial over OCSP_MAX_SERIAL
 * octets, or a CertID of a hash we match (SHA-1, SHA-2) whose parameters
 * are neither NULL nor absent (RFC 5754 §2) are malformed. Fills q (cleared on entry); 0, or -1 for a
 * malformed request (q then holds nothing to free, but ocsp_query_free()
 * is safe).
 */
int	ocsp_query_parse(const unsigned char *der, size_t len,
	    struct ocsp_query *q);
void	ocsp_query_free(struct ocsp_query *);

/*
 * Serials are compared as upper-case hex without leading zeros: BN_bn2hex
 * keeps a leading '0' nibble ("035D..."), other writers do not; both forms
 * name the same certificate. Rewrites s in place.
 */
void	ocsp_serial_canon(char *s);

/*
 * Conditional GET (RFC 9110 §13), for a GET answered with blob b: 1 when
 * the answer is 304 Not Modified, 0 when it is b itself. inm is the
 * If-None-Match field value, NULL when absent. The caller asks only for
 * cacheable answers (a blob), never for live, error or POST ones.
 * "*", or a list of entity-tags (§8.8.3) one of which is b's by the weak
 * comparison (§8.8.3.2), is a 304; a value that is neither matches
 * nothing: the full answer. b's ETag is the first 64 bits of the
 * SHA-256 of its DER (ocsp_blob_new): an answer with other bytes (another
 * status, thisUpdate or signature), from this ocspd or another, has
 * another ETag.
 * If-Modified-Since is never asked (§13.1.3 lets a server ignore it):
 * Last-Modified (thisUpdate) counts whole seconds, and a status changed
 * within the second of an answer (a revocation moments after a
 * pre-signing, an ocspd sharing the port or restarted meanwhile) gives
 * "good" and "revoked" answers one Last-Modified.
 */
int	ocsp_not_modified(const struct ocsp_blob *b, const char *inm);

/* --- respond.c ------------------------------------------------------------ */

/* What we know of a serial. */
enum ocsp_state {
	OCSP_STATE_GOOD = 0,
	OCSP_STATE_REVOKED,
	OCSP_STATE_NONISSUED,	/* never issued by this issuer (RFC 6960 §2.2) */
};

struct ocsp_status {
	int		 state;		/* enum ocsp_state */
	int		 reason;	/* RFC 5280 CRLReason, -1: none */
	int64_t		 revoked_at;	/* Unix time (REVOKED) */
	int64_t		 invalidity;	/* Unix time, 0: none */
	/*
	 * notAfter of a certificate we issued (Unix time), 0: not known (a
	 * never-issued serial). Not part of the status: the cache drops the
	 * entry once it is past the policy's expired_grace (sync.c).
	 */
	int64_t		 not_after;
	/*
	 * OCSP_CA_OWN: the certificate's own status. Otherwise the issuing
	 * CA's own certificate is revoked or on hold and its status stands
	 * for the serial's (ocsp_status_under_ca): a certificate we issued
	 * (OCSP_CA_OVER_ISSUED) or a serial never issued
	 * (OCSP_CA_OVER_NONISSUED). Part of the status: a blob signed under
	 * one is not kept under another.
	 */
	int		 ca_over;
};

#define OCSP_CA_OWN		0
#define OCSP_CA_OVER_ISSUED	1
#define OCSP_CA_OVER_NONISSUED	2

/*
 * What we answer about a serial whose own status is own, when its
 * issuer's own certificate has status ca (as the issuer's issuer records
 * it), into out (ocsp/README.md "An issuing CA revoked"):
 * - ca not revoked: own.
 * - ca revoked for good (any reason but certificateHold): revoked,
 *   cACompromise, revocationTime the CA's, no invalidity date; unless own
 *   is revoked for good at or before that time, or on hold since before
 *   it: own (its time, reason and invalidity date), so revocationTime is
 *   the earlier of the two.
 *   A serial never issued too: whatever that CA's key signed is revoked.
 * - ca on hold: revoked, certificateHold, revocationTime the CA's hold
 *   time, unless own is revoked or on hold itself (its own); back to own
 *   once the CA is released.
 * not_after is own's.
 */
void	ocsp_status_under_ca(const struct ocsp_status *own,
	    const struct ocsp_status *ca, struct ocsp_status *out);

/*
 * 1 when st is the answer for a serial the issuer never issued: st's own
 * (OCSP_STATE_NONISSUED) or its CA's revocation over it
 * (OCSP_CA_OVER_NONISSUED), else 0. Such an answer, when revoked, carries
 * the extended revoked definition extension (RFC 6960 §2.2, §4.4.8) and
 * has the never-issued validity and max-age (nonissued_validity_seconds,
 * nonissued_max_age_seconds), and counts against max_nonissued.
 */
int	ocsp_status_nonissued(const struct ocsp_status *st);

/* An issuer we answer for, with its delegated responder (RFC 6960 §4.2.2.2). */
struct ocsp_issuer {
	long long	 db_id;		/* ca_certificate.id of the issuer */
	char		 name[32];	/* "root", "issuing" */
	X509		*cert;		/* the issuer */
	X509		*rcert;		/* its responder certificate */
	char		 key_label[SIGNER_LABEL_MAX + 1];	/* in the HSM */
	/*
	 * A software responder key (tests, the fuzz harness), used when the
	 * responder has no sign function (ocsp_responder.sign).
	 */
	EVP_PKEY	*key;
	unsigned char	 name_hash[OCSP_NHASH][EVP_MAX_MD_SIZE];
	unsigned char	 key_hash[OCSP_NHASH][EVP_MAX_MD_SIZE];
	int		 hash_len[OCSP_NHASH];
	/*
	 * The issuer of this issuer's own certificate among ours (an index
	 * into the responder's iss[], -1: none, the root) and that
	 * certificate's serial (ocsp_serial_canon form): its row in
	 * `certificate`, which the parent answers for, says whether this
	 * issuer is revoked (ocsp_issuers_link).
	 */
	int		 parent;
	char		 serial[OCSP_SERIAL_HEX];
	/*
	 * The responder certificate's notAfter (Unix time; 0: no rcert):
	 * no response claims a nextUpdate past it (ocsp_next_update), since
	 * a relying party could not verify it then.
	 */
	int64_t		 rnot_after;
	/*
	 * What every response of this issuer carries, encoded once
	 * (ocsp_issuer_prepare): its ResponderID byKey (RFC 5019 §2.2.3),
	 * the signatureAlgorithm for sign_mdname, and certs [0]
	 * with the responder certificate.
	 */
	unsigned char	*respid_der, *sigalg_der, *certs_der;
	size_t		 respid_len, sigalg_len, certs_len;
	/*
	 * The digest its responses are signed with, as the signer names it
	 * ("SHA256"): the one the responder's key fixes (lib/sigdigest.h: an
	 * EC key's curve's; the policy's signing_digest for RSA).
	 */
	char		 sign_mdname[8];
};

/* Policy (policy/ocsp.conf), in seconds. */
struct ocsp_policy {
	long		 validity;	/* nextUpdate - thisUpdate */
	long		 refresh;	/* re-sign once a response is this old */
	long		 nonissued_validity;	/* for never-issued serials */
	/* Never-issued responses (one per serial and CertID hash) in memory. */
	long		 max_nonissued;
	/* Cache-Control max-age at most (RFC 5019 §6.2): issued, never-issued. */
	long		 max_age;
	long		 nonissued_max_age;
	int		 nonissued_unknown;	/* answer "unknown" instead */
	int		 echo_nonce;	/* 0: ignore nonces (RFC 5019 §4) */
	long		 poll_ms;	/* reconciliation period */
	/*
	 * On a hot standby: the data may be this far behind the primary
	 * (sync.c); further behind, the database counts as down.
	 */
	long		 max_standby_lag;
	/*
	 * Certificates whose notAfter is more than this before now are not
	 * kept nor pre-signed; a request for one is answered from the
	 * database (ocsp_lookup_fn). crld's crl.expired_grace_seconds idea.
	 */
	long		 expired_grace;
	const EVP_MD	*sign_md;
	char		 sign_mdname[8];	/* "SHA256", as the signer names it */
};

/* Reads policy/ocsp.conf's [ocsp] section; 0 or -1 with err. */
int	ocsp_policy_load(const struct config *, struct ocsp_policy *,
	    char *err, size_t errlen);

/*
 * How long a shared HTTP cache may keep an answer about st: the policy's
 * max_age, or nonissued_max_age for a serial never issued, its CA's
 * revocation over it or not (ocsp_status_nonissued; a certificate
 * issued a moment ago and not yet loaded is answered so until the next
 * poll; a CDN must not repeat that for the response's whole validity).
 */
long	ocsp_policy_max_age(const struct ocsp_policy *,
	    const struct ocsp_status *st);

/*
 * Fills the issuer's CertID hashes from iss->cert, rnot_after from
 * iss->rcert, its sign_mdname from the responder's key (mdname, the
 * policy's signing_digest, for an RSA key: lib/sigdigest.h), and the
 * encoded parts of its responses (respid_der, ...) for signatures with
 * that digest; 0 or -1. Until 2026-12-07 every issuer's responses were
 * signed with mdname, whatever the responder's curve. ocsp_issuer_clear()
 * frees them, the certificates and the key.
 */
int	ocsp_issuer_prepare(struct ocsp_issuer *, const char *mdname);
void	ocsp_issuer_clear(struct ocsp_issuer *);

/*
 * Fills parent and serial of iss[0..n) (prepared): the parent of an
 * issuer is the other one of ours that issued its certificate
 * (X509_check_issued), -1 when none does. 0, or -1 (a serial that does
 * not fit).
 */
int	ocsp_issuers_link(struct ocsp_issuer *iss, int n);


/*
 * Whether responder certificate x may sign at now (notBefore <= now <
 * notAfter): 1, else 0 (not yet valid, expired, or times that do not
 * parse). ocspd loads the newest such certificate of each issuer.
 */
int	ocsp_responder_valid(const X509 *x, time_t now);

/*
 * The nextUpdate of a response of iss with thisUpdate this_update:
 * this_update + validity, or the responder certificate's notAfter if
 * earlier (a response must not outlive the certificate that verifies it).
 */
int64_t	ocsp_next_update(const struct ocsp_issuer *iss, int64_t this_update,
	    long validity);

/*
 * The issuer (index into iss[0..n)) a CertID names, or -1 (RFC 6960
 * §4.1.1: issuerNameHash and issuerKeyHash both match).
 */
int	ocsp_issuer_find(const struct ocsp_issuer *iss, int n,
	    const struct ocsp_certid *);

/* One SingleResponse to sign. cid NULL: made from the issuer and serial. */
struct ocsp_single {
	OCSP_CERTID		*cid;	/* borrowed */
	int			 hash;	/* when cid is NULL */
	const char		*serial;	/* hex, when cid is NULL */
	struct ocsp_status	 st;
};

/*
 * The thisUpdate of a response about s[0..n) (RFC 6960 §4.2.2.1): synced,
 * the start of the last database read, or a later revocationTime among
 * them (at most OCSP_CLOCK_SKEW_S past now). A status may be newer than
 * synced: the maintenance thread applies what a read returned before it
 * publishes the read's time, and the database's clock may run ahead of
 * ours; a revoked answer must never claim to be older than its revocation.
 */
#define OCSP_CLOCK_SKEW_S	60	/* seconds a database clock may lead ours */
int64_t	ocsp_this_update(int64_t synced, const struct ocsp_single *s, int n,
	    time_t now);

/*
 * The ResponseData (RFC 6960 §4.2.1) of a response of iss, into tbs
 * (appended): thisUpdate this_update and nextUpdate ocsp_next_update(iss,
 * this_update, validity), ResponderID byKey (RFC 5019 §2.2.3), producedAt
 * produced_at, the nonce of req echoed when req is non-NULL, and the
 * extended revoked definition extension when a single is NONISSUED. The
 * SingleResponses and extensions are OpenSSL's encoding; the frame around
 * them is written here, so that what is signed is encoded once. 0 or -1.
 */
int	ocsp_tbs_make(const struct ocsp_issuer *iss, const struct ocsp_policy *,
	    const struct ocsp_single *s, int n, OCSP_REQUEST *req,
	    time_t this_update, long validity, time_t produced_at,
	    struct der *tbs);

/*
 * The OCSPResponse (successful, RFC 6960 §4.2.1) around a
 * BasicOCSPResponse of tbs, its signature sig (as the key gives it: DER
 * ECDSA-Sig-Value, or the RSA octets) and the responder certificate.
 * *der is OPENSSL_malloc'd. 0 or -1.
 */
int	ocsp_response_make(const struct ocsp_issuer *iss,
	    const unsigned char *tbs, size_t tbslen, const unsigned char *sig,
	    size_t siglen, unsigned char **der, size_t *len);

/*
 * Signs tbs with issuer's responder key and the policy's digest, now:
 * r->sign (ocspd: the calling thread's signer process), or without it
 * the issuer's software key. *sig is malloc'd. 0 or -1 (logged).
 */
int	ocsp_tbs_sign(struct ocsp_responder *r, int issuer,
	    const unsigned char *tbs, size_t tbslen, unsigned char **sig,
	    size_t *siglen);

/*
 * A whole response of issuer: ocsp_tbs_make (produced now),
 * ocsp_tbs_sign and ocsp_response_make. *der is OPENSSL_malloc'd. 0 or
 * -1 (logged).
 */
int	ocsp_sign(struct ocsp_responder *r, int issuer,
	    const struct ocsp_single *s, int n, OCSP_REQUEST *req,
	    time_t this_update, long validity, unsigned char **der,
	    size_t *len);

/* Unsigned error responses (RFC 6960 §4.2.1), static DER. */
extern const unsigned char ocsp_malformed_der[5];
extern const unsigned char ocsp_internal_der[5];
extern const unsigned char ocsp_trylater_der[5];
extern const unsigned char ocsp_unauthorized_der[5];

/* --- cache.c -------------------------------------------------------------- */

/* A signed response, immutable once made; reference counted. */
struct ocsp_blob {
	unsigned int	 refs;
	int64_t		 this_update;
	int64_t		 next_update;
	long		 max_age;	/* ocsp_policy_max_age() of its status */
	char		 etag[24];	/* "\"<16 hex>\"" */
	char		 last_modified[32];	/* HTTP-date of this_update */
	size_t		 len;
	unsigned char	 der[];
};

/* The IMF-fixdate (RFC 9110 §5.6.7) of t into buf (len >= 30). */
void		 ocsp_http_date(int64_t t, char *buf, size_t len);

/*
 * Copies der into a new blob (refs 1) that shared HTTP caches may keep
 * max_age seconds at most; NULL on allocation failure.
 */
struct ocsp_blob *ocsp_blob_new(const unsigned char *der, size_t len,
		    int64_t this_update, int64_t next_update, long max_age);
void		 ocsp_blob_ref(struct ocsp_blob *);
void		 ocsp_blob_unref(struct ocsp_blob *);

/*
 * The Cache-Control max-age of b sent at now (RFC 5019 §6.2): b->max_age,
 * never past nextUpdate, never negative. expires (len >= 32) gets the
 * HTTP-date now + that, so that HTTP/1.0 caches, which read Expires only,
 * keep it no longer than the others.
 */
long		 ocsp_blob_max_age(const struct ocsp_blob *b, time_t now,
		    char *expires, size_t len);

struct ocsp_cache;

struct ocsp_cache *ocsp_cache_new(void);
void		 ocsp_cache_free(struct ocsp_cache *);

enum {
	OCSP_CACHE_MISS = 0,	/* no entry */
	OCSP_CACHE_STATUS,	/* entry, but no unexpired blob for this hash */
	OCSP_CACHE_HIT,		/* *blob set (a reference to unref) */
};

/*
 * Looks issuer + serial up; fills *st for STATUS and HIT, *blob for HIT
 * when now < next_update. Records now as the time the hash was last asked
 * for: the refresher keeps a SHA-2 response pre-signed while it is asked
 * for (ocsp_cache_due).
 */
int	ocsp_cache_lookup(struct ocsp_cache *, int issuer, const char *serial,
	    int hash, time_t now, struct ocsp_status *st, struct ocsp_blob **blob);

/*
 * Sets the status of a certificate we issued (inserting it). A changed
 * status drops every blob of the entry at once, so a stale answer is never
 * served; a never-issued entry becomes an issued one. Returns 1 when the
 * status changed, 0 when not, -1 on allocation failure.
 */
int	ocsp_cache_set_status(struct ocsp_cache *, int issuer,
	    const char *serial, const struct ocsp_status *st);

/*
 * Stores blob (the cache takes a reference) for issuer + serial + hash,
 * unless the entry's status differs from st (it changed while signing).
 * For a NONISSUED st (or one the issuer's revocation stands over,
 * OCSP_CA_OVER_NONISSUED) the entry is created when absent; never-issued blobs
 * are bounded by max_nonissued in all (blobs, not serials: each serial may
 * hold one per CertID hash, ~1 KB each). 0 stored, 1 not stored, -1
 * failure.
 */
int	ocsp_cache_put(struct ocsp_cache *, int issuer, const char *serial,
	    int hash, const struct ocsp_status *st, struct ocsp_blob *blob,
	    long max_nonissued);

/* Work for the refresher: a blob to (re)sign. serial is a copy. */
struct ocsp_due {
	int			 issuer;
	int			 hash;
	char			 serial[OCSP_SERIAL_HEX];
	struct ocsp_status	 st;
};

/*
 * Records ca as the status of issuer's own certificate (state GOOD or
 * REVOKED, reason, revoked_at: its row under its own issuer). Lookups and
 * ocsp_cache_due then give every serial of issuer ocsp_status_under_ca()
 * of its own status, and ocsp_cache_put compares with that. A change
 * drops every blob of issuer's certificates and every never-issued entry
 * of issuer, at once, as ocsp_cache_set_status does for one: the
 * refresher signs them again. 1 when the status changed, 0 when not.
 */
int	ocsp_cache_set_ca_status(struct ocsp_cache *, int issuer,
	    const struct ocsp_status *ca);
/* The status of issuer's own certificate ocsp_cache_set_ca_status set. */
void	ocsp_cache_ca_status(struct ocsp_cache *, int issuer,
	    struct ocsp_status *ca);

/*
 * Drops the entry of a certificate we issued (never a never-issued one),
 * with its blobs; 1 when there was one, 0 when not.
 */
int	ocsp_cache_drop(struct ocsp_cache *, int issuer, const char *serial);

/*
 * Drops every issued entry whose notAfter is known and at or before
 * cutoff (now minus the policy's expired_grace), taking each shard lock in
 * turn. Returns how many were dropped.
 */
size_t	ocsp_cache_expire(struct ocsp_cache *, int64_t cutoff);

/*
 * Collects up to max entries needing a signature: an issued entry with no
 * SHA-1 blob (always pre-signed) or no blob for a SHA-2 hash last asked
 * for after asked_after, or such a blob whose this_update is at or before
 * stale_before. A SHA-2 blob not asked for since asked_after (now minus
 * the refresh period) is dropped, and not signed again until asked.
 * Never-issued entries whose blob expires before now + their validity / 2
 * are dropped instead. Resumes where the previous call stopped; returns
 * the count. One call walks at most OCSP_DUE_BUDGET hash buckets (a full
 * pass over 1,000,000 certificates took 110 ms, once a second) and holds
 * a shard's lock for at most OCSP_DUE_HOLD buckets at a time (a shard of
 * 1,000,000 held it 1.7 ms, while lookups on it waited): a pass over a
 * large cache takes several calls.
 */
#define OCSP_DUE_BUDGET	65536
#define OCSP_DUE_HOLD	1024
size_t	ocsp_cache_due(struct ocsp_cache *, int64_t stale_before,
	    int64_t asked_after, time_t now, struct ocsp_due *out, size_t max);

struct ocsp_cache_stats {
	size_t	 entries;	/* issued certificates */
	size_t	 nonissued;	/* cached never-issued serials */
	size_t	 blobs;
	size_t	 unsigned_entries;	/* issued, no SHA-1 blob yet */
	size_t	 stale;		/* blobs past their refresh time */
	size_t	 expired;	/* blobs past nextUpdate */
	/*
	 * The earliest nextUpdate of the SHA-1 responses of certificates we
	 * issued (0: none): until then the cache answers each of them, as
	 * RFC 5019 clients ask, without a signature. Never-issued answers
	 * (an hour, dropped half-way) and SHA-2 variants (kept only while
	 * asked for) are left out: they said nothing about that.
	 */
	int64_t	 oldest_next_update;
};

/*
 * The figures /health reports. Counting them walks every entry, taking
 * each shard lock in turn, so an unauthenticated GET /health must not
 * cause one per request: a count is made at most once per second of now
 * (a clock set back counts again), and within that second its figures
 * (with the stale_before of then) are returned. While another thread
 * counts, the figures of the second before are returned rather than
 * waited for; older ones are not. So what callers get is less than 2 s
 * old, and a client that asks twice in a second may see no change.
 */
void	ocsp_cache_stats(struct ocsp_cache *, int64_t stale_before, time_t now,
	    struct ocsp_cache_stats *);

/* --- budget.c ------------------------------------------------------------- */

/*
 * How many signatures ocspd makes on demand (ocsp/README.md "On-demand
 * signing"): per_second for all clients together, per_client for each
 * client address (an IPv6 one's /64); 0: no such bound. Each bucket holds
 * one second's worth (at least one signature) and refills continuously.
 * NULL on allocation failure or a negative rate. Thread-safe; free with
 * ocsp_budget_free (NULL accepted).
 */
struct ocsp_budget;
#define OCSP_BUDGET_LOG_MS	60000	/* one log line a minute at most */
struct ocsp_budget *ocsp_budget_new(long per_second, long per_client);
void	ocsp_budget_free(struct ocsp_budget *);
/*
 * Takes one signature for client (its address; NULL or "" counts as one
 * client) at now_ms (monotonic): 1 when both its bucket and that of all
 * clients had one (both taken), 0 when either had none (nothing taken).
 * b NULL: always 1.
 */
int	ocsp_budget_take(struct ocsp_budget *b, const char *client,
	    long long now_ms);
/*
 * Counts a refusal's outcome: answered from the cache without the
 * request's nonce (nonce_dropped 1), or tryLater (0); logs the counts
 * since the last such line at most once per OCSP_BUDGET_LOG_MS.
 */
void	ocsp_budget_refused(struct ocsp_budget *b, int nonce_dropped,
	    long long now_ms);
/* The refusals' outcomes since start (/health); 0 for b NULL. */
void	ocsp_budget_counts(struct ocsp_budget *b, uint64_t *nonce_dropped,
	    uint64_t *try_later);

/* --- sync.c (and ocsp_answer, respond.c) ------------------------------------ */

/*
 * Asks the database about serials[0..n) of issuer (an index into iss),
 * which the cache does not hold: certificates expired past the policy's
 * expired_grace, issued since the last poll, or serials never issued.
 * One round trip for all n (n <= OCSP_MAX_CERTIDS). Returns 0 with st[i]
 * the status of serials[i]: GOOD or REVOKED as recorded (not_after set),
 * or NONISSUED when issuer never issued it; -1 when the database cannot
 * say now (unreachable, busy, lagging, the query timed out): the caller
 * answers tryLater rather than guess. *data_at: the time the answer is
 * known correct as of (on a hot standby, the primary's time of the data).
 * Called from the HTTP threads; thread-safe.
 */
typedef int (*ocsp_lookup_fn)(void *arg, int issuer,
	    const char *const *serials, int n, struct ocsp_status *st,
	    int64_t *data_at);

/*
 * A lookup asked of the lookup thread (ocsp_lookup_submit_fn), so that
 * the event loop that asks it waits for nothing: the caller fills issuer,
 * n and serials, done and arg; the thread fills rc (0, or -1: tryLater),
 * st and data_at as ocsp_lookup_fn does, then calls done(lk, arg) from
 * its own thread, exactly once; done must not block.
 */
struct ocsp_lookup {
	int			 issuer;
	int			 n;
	char			 serials[OCSP_MAX_CERTIDS][OCSP_SERIAL_HEX];
	int			 rc;
	struct ocsp_status	 st[OCSP_MAX_CERTIDS];
	int64_t			 data_at;
	void			(*done)(struct ocsp_lookup *, void *arg);
	void			*arg;
	/* The thread's own. */
	double			 queued_ms;	/* monotonic */
	struct ocsp_lookup	*next;
};
/*
 * Queues lk: 0, and done will be called; -1 (the queue is full or the
 * thread stopping): not queued, done will not be called.
 */
typedef int (*ocsp_lookup_submit_fn)(void *arg, struct ocsp_lookup *lk);

/* The responder's shared state: issuers, policy, cache, freshness. */
struct ocsp_responder {
	struct ocsp_issuer	 iss[OCSP_MAX_ISSUERS];
	int			 niss;
	/*
	 * urls.ocsp's path ("/ocsp"; "" for none), taken off GET paths
	 * (ocsp_path_unprefix): until 2026-12-07 a responder URL with a
	 * path broke every GET, POST working.
	 */
	char			 url_prefix[OCSP_MAX_PREFIX];
	/*
	 * Live CAs (root, issuing, not ended) with no responder certificate
	 * at start: their certificates get unauthorized; /health degraded.
	 */
	char			 not_served[OCSP_MAX_ISSUERS][64];
	int			 nnot_served;
	struct ocsp_policy	 pol;
	struct ocsp_cache	*cache;
	/*
	 * Unix time as of which the status table is known to be correct
	 * (atomic): the start of the last successful read, or on a hot
	 * standby the primary's time of the data it had replayed, if earlier.
	 */
	int64_t			 synced_at;
	int			 db_ok;		/* atomic; 0 too when lagging */
	int			 db_standby;	/* atomic: polling a replica */
	/*
	 * atomic: seconds the standby's data was behind at the last poll;
	 * OCSP_LAG_NONE on a primary, OCSP_LAG_UNKNOWN when the standby
	 * could not say (nothing replayed yet).
	 */
	int64_t			 standby_lag;
	uint64_t		 signed_live;	/* atomic counters */
	uint64_t		 signed_ahead;
	/* atomic: live signatures asked of the loops' signers, not yet come */
	uint64_t		 signatures_in_flight;
	/*
	 * The loops' signatures on demand, bounded (budget.c); NULL: no
	 * bound (the unit tests, the fuzz harness).
	 */
	struct ocsp_budget	*budget;
	/*
	 * What a serial missing from the cache is (ocsp_sync_start sets it
	 * before serving). NULL (the fuzz harness): never issued.
	 */
	ocsp_lookup_fn		 lookup;
	/*
	 * The same on the lookup thread (sync.c), for the event loops; NULL:
	 * they call lookup themselves (the unit tests, the fuzz harness).
	 */
	ocsp_lookup_submit_fn	 lookup_submit;
	void			*lookup_arg;
	/*
	 * atomic: the lookups the lookup connection was asked (sync.c
	 * ocsp_sync_lookup) that came back without the database's answer
	 * (no answer in time, a connection that cannot be made, a lock):
	 * tryLater for their requests. How many in all, how many of the
	 * last in a row (0 after one that succeeded), and the time of the
	 * last that succeeded (0: none yet). Only lookups tried count:
	 * while the maintenance thread finds the database down none is.
	 */
	uint64_t		 lookups_tried;	/* in all, for /health */
	uint64_t		 lookups_failed;
	uint64_t		 lookups_failed_run;
	int64_t			 lookup_ok_at;
	/*
	 * Signs tbs with issuer's responder key, digest mdname, in the
	 * calling thread (ocspd: through that thread's signer process,
	 * main.c); *sig malloc'd; 0 or -1 (logged). NULL: the issuers'
	 * software keys (tests, the fuzz harness).
	 */
	int			(*sign)(void *arg, const struct ocsp_issuer *,
				    const char *mdname, const unsigned char *tbs,
				    size_t tbslen, unsigned char **sig,
				    size_t *siglen);
	void			*sign_arg;
};

#define OCSP_LAG_NONE		(-1)
#define OCSP_LAG_UNKNOWN	(-2)

struct ocsp_sync;

/*
 * Loads every certificate of our issuers into r->cache (synchronously, so
 * the daemon starts with a complete status table), then starts the
 * maintenance thread: LISTEN certificate_status on its connection, an
 * incremental reconciliation query on each notification and every
 * pol.poll_ms, pre-signing and refresh in batches. NULL with err.
 */
struct ocsp_sync *ocsp_sync_start(struct ocsp_responder *r,
		    const char *conninfo, char *err, size_t errlen);
void		 ocsp_sync_stop(struct ocsp_sync *);

/*
 * A certificate_status notification's payload, "<issuer_id>:<serial>"
 * (schema/004, 006), from its text alone: the issuer id decimal digits
 * within a long long (strtoll, errno checked), the serial as the table
 * stores it (schema/055: upper-case hex, 1 to OCSP_NOTIFY_SERIAL_MAX
 * digits), nothing else. Anyone may NOTIFY the channel: 0 with *issuer
 * and serial (NUL-terminated) set, or -1 (another channel too) with
 * *issuer 0 and serial empty. Whether the issuer is ours is the
 * caller's question (sync.c ocsp_sync_notified). tests/fuzz/fuzz_notify.c.
 */
#define OCSP_NOTIFY_SERIAL_MAX	40
int		 ocsp_notify_parse(const char *channel, const char *payload,
		    long long *issuer, char serial[OCSP_NOTIFY_SERIAL_MAX + 1]);

/*
 * respond.c. Answers one DER OCSPRequest: *der is either a blob's bytes (then *blob
 * holds the reference to drop) or OPENSSL_malloc'd (*blob NULL), or one of
 * the static error responses (*blob NULL, *owned 0). *cacheable says
 * whether HTTP caches may keep it (a pre-signed answer: one CertID, with
 * NULL hash parameters, and no nonce echoed). Returns 0, or -1 only when
 * nothing at all can be answered.
 */
int	ocsp_answer(struct ocsp_responder *, const unsigned char *req,
	    size_t len, const unsigned char **der, size_t *derlen,
	    struct ocsp_blob **blob, int *owned, int *cacheable);

/*
 * A response to be signed (ocsp_answer_begin): its ResponseData, and
 * what ocsp_answer_finish needs to make the answer of it.
 */
struct ocsp_pending {
	int			 issuer;
	struct der		 tbs;	/* ResponseData, to be signed */
	/* A single CertID, no nonce: cached once signed (blob). */
	int			 keep;
	int			 hash;
	char			 serial[OCSP_SERIAL_HEX];
	struct ocsp_status	 st;
	int64_t			 this_update, next_update;
	/*
	 * Set by the caller after ocsp_pending_init: a request that needs
	 * the database makes ocsp_answer_begin return 2 (below) instead of
	 * calling r->lookup in the calling thread.
	 */
	int			 defer_lookup;
	/*
	 * Set by the caller after ocsp_pending_init: the request's nonce is
	 * not echoed (RFC 9654 §2.1, RFC 5019 §4 let a responder ignore
	 * it), so that a single CertID is answered from the cache as
	 * without one; ocspd does so when it is over its signing budget.
	 */
	int			 no_nonce;
	/* The request, kept between begin's 2 and ocsp_answer_looked_up. */
	struct ocsp_query	 q;
	struct ocsp_single	 s[OCSP_MAX_CERTIDS];
	int			 miss[OCSP_MAX_CERTIDS];	/* in q.ids */
	int			 nmiss;
	int			 live;
	int64_t			 synced;
};
void	ocsp_pending_init(struct ocsp_pending *);
void	ocsp_pending_clear(struct ocsp_pending *);

/*
 * ocsp_answer in two halves, for a caller that has signatures made
 * elsewhere while it serves other requests: begin answers as
 * ocsp_answer does (0) unless the answer needs a signature; then it
 * returns 1 with p (initialized by the caller) holding the ResponseData
 * to sign with p->issuer's responder key and the policy's digest.
 * finish makes the answer from that signature (sig NULL: signing failed,
 * answered internalError), with ocsp_answer's outputs. -1: nothing at
 * all can be answered.
 * With p->defer_lookup, begin returns 2 when serials missing from the
 * cache must be asked of the database: ocsp_answer_lookup_of fills a
 * struct ocsp_lookup with them, and once it is answered (wherever),
 * ocsp_answer_looked_up goes on from its results as begin would have:
 * 0 (answered: tryLater when lk->rc is -1) or 1 (p holds the
 * ResponseData to sign), or -1.
 */
int	ocsp_answer_begin(struct ocsp_responder *, const unsigned char *req,
	    size_t reqlen, const unsigned char **der, size_t *derlen,
	    struct ocsp_blob **blob, int *owned, int *cacheable,
	    struct ocsp_pending *p);
void	ocsp_answer_lookup_of(const struct ocsp_pending *p,
	    struct ocsp_lookup *lk);
int	ocsp_answer_looked_up(struct ocsp_responder *, struct ocsp_pending *p,
	    const struct ocsp_lookup *lk, const unsigned char **der,
	    size_t *derlen, struct ocsp_blob **blob, int *owned,
	    int *cacheable);
int	ocsp_answer_finish(struct ocsp_responder *, struct ocsp_pending *p,
	    const unsigned char *sig, size_t siglen,
	    const unsigned char **der, size_t *derlen,
	    struct ocsp_blob **blob, int *owned, int *cacheable);

#endif
