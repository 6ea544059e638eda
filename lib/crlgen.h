/*
 * Issuing a CRL (RFC 5280 §5) from the status registry (table certificate)
 * by streaming: the TBSCertList DER is written entry by entry into one
 * buffer straight from a binary COPY (db_copy_rows: one libpq buffer a row,
 * no PGresult), signed through a callback (the signer process), and the
 * outer CertificateList appended in place; it goes to crl_current by COPY
 * in 64 KiB chunks (db_copy_bytea). No X509_CRL object is built: a CRL of
 * 1,000,000 entries (~47 MB of DER) costs the caller that one buffer,
 * which the result hands over (crlgen_result.buf), and no other copy.
 *
 * Shared by crld (the issuing CA's complete and delta CRLs) and pkictl (the
 * root's CRL, the ARL, made at a ceremony). Tables: schema/005_crl.sql.
 */
#ifndef PKI_CRLGEN_H
#define PKI_CRLGEN_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

struct db;

/* Whose CRL. */
struct crlgen_issuer {
	long long	 id;		/* ca_certificate.id */
	const char	*name;		/* ca_certificate.name: files NAME.crl, NAME-delta.crl */
	X509		*cert;		/* borrowed: issuer name, key identifier */
	/*
	 * "SHA256", "SHA384" or "SHA512": the one sigdigest_for_key() gives
	 * for cert's key (another is refused: the signer signs with it).
	 */
	const char	*digest;
};

/* How (policy/crl.conf). */
struct crlgen_policy {
	const char	*url;		/* IDP distributionPoint: our certificates' CDP */
	const char	*delta_url;	/* Freshest CRL (§5.2.6) of complete CRLs; NULL: none */
	long		 next_update;	/* seconds from thisUpdate to nextUpdate */
	/*
	 * An entry stays until the certificate's notAfter is this many seconds
	 * before thisUpdate (RFC 5280 §3.3: at least one regularly scheduled
	 * CRL after expiry must still list it).
	 */
	long		 expired_grace;
	const char	*out_dir;	/* NAME.crl / NAME-delta.crl written there; NULL: none */
	const char	*ldap_dn;	/* the CA's directory entry; NULL: not queued */
	int		 arl;		/* the root's: authorityRevocationList too */
	/*
	 * The number is at least this (0: no floor): one above the highest
	 * the caller has served or written. RFC 5280 §5.2.3 wants numbers
	 * strictly increasing, and crl_state lives only in the database: an
	 * asynchronous failover or a point-in-time restore can set it back
	 * below numbers relying parties already hold. crl_state is raised
	 * to it (audited, crl.number_raised) in the issuing transaction.
	 */
	long long	 min_number;
	long		 interval;	/* s between scheduled ones (CRLGEN_IF_DUE) */
};

enum crlgen_kind {
	CRLGEN_FULL = 1,	/* complete CRL, after a revocation */
	CRLGEN_BASE = 2,	/* complete CRL on the schedule: deltas refer to it */
	CRLGEN_DELTA = 3,	/* delta CRL (§5.2.4) on the newest base */
};

/* Skip when the newest CRL of this kind already covers every change. */
#define CRLGEN_IF_CHANGED	0x01
/*
 * A scheduled base or delta (crld): skip when the newest base (CRLGEN_BASE)
 * or the newest delta on the newest base (CRLGEN_DELTA) is younger than
 * crlgen_policy.interval minus a
 * slack (a tenth of it, 1 to 60 s), judged in the locked transaction:
 * several instances then issue the schedule once, not once each. Never
 * skipped once the newest complete CRL (CRLGEN_BASE) or the newest delta
 * (CRLGEN_DELTA), the one served, is past crlgen_renew_by(): it may come
 * from an instance with a shorter nextUpdate, or from before a policy
 * change, and expire long before this policy's interval is over.
 * crlgen_result.due_in says when it is due (the earlier of the two).
 */
#define CRLGEN_IF_DUE		0x02

/*
 * The time by which a CRL valid from this_update to next_update (seconds;
 * absolute or relative to one origin) should have a successor: its
 * nextUpdate less a margin, a quarter of its validity but at most
 * CRLGEN_RENEW_MARGIN_MAX_S, for the build, the signer's round trip, a
 * failure's back-off (crld: up to 30 s) and relying parties' clocks.
 * RFC 5280 §5.1.2.5: a new CRL is issued on or before nextUpdate.
 */
#define CRLGEN_RENEW_MARGIN_MAX_S	300
double	crlgen_renew_by(double this_update, double next_update);

/* Signs tbs (a DER TBSCertList); *sig malloc'd. 0, or -1 with err. */
typedef int	(*crlgen_sign_fn)(void *arg, const unsigned char *tbs,
		    size_t tbslen, unsigned char **sig, size_t *siglen,
		    char *err, size_t errlen);

struct crlgen_result {
	int		 issued;	/* 0: skipped (CRLGEN_IF_CHANGED, _IF_DUE) */
	double		 due_in;	/* skipped by CRLGEN_IF_DUE: due in s (> 0) */
	long long	 number;
	long long	 base_number;	/* deltas; else 0 */
	long long	 entries;
	long long	 max_seq;
	time_t		 this_update;
	time_t		 next_update;
	unsigned char	*buf;		/* malloc'd; der points into it */
	const unsigned char *der;	/* the CertificateList */
	size_t		 len;
	char		 sha256[65];	/* hex */
	double		 t_build;	/* seconds: query and TBS */
	/*
	 * CPU seconds the calling thread spent in t_build: on a shared machine
	 * the wall time is mostly other processes' (PostgreSQL's share of the
	 * query is in neither).
	 */
	double		 t_build_cpu;
	double		 t_sign;	/* signature round trip */
	double		 t_record;	/* database rows, publication queue, audit, commit */
};

/*
 * Issues one CRL of kind for issuer in its own transaction (REPEATABLE READ,
 * retried on serialization failures): takes the issuer's crl_state row lock
 * and its next number, streams the entries, signs through sign(sign_arg,
 * ...), records the crl and crl_current rows, queues LDAP publication and
 * appends the "crl.issue" audit event by actor; after the commit, writes the
 * file under out_dir (atomically). A delta needs a base CRL of the issuer.
 * Returns 0 (res filled; free with crlgen_result_clear()) or -1 with err.
 */
int	crlgen_issue(struct db *, const char *actor,
	    const struct crlgen_issuer *, const struct crlgen_policy *,
	    enum crlgen_kind, int flags, crlgen_sign_fn sign, void *sign_arg,
	    struct crlgen_result *res, char *err, size_t errlen);
/*
 * 0 when the database has the migrations crlgen's statements use
 * (CRLGEN_SCHEMA_MIN); otherwise -1 and a message that says to migrate.
 * crld calls it at start-up: against an older schema it refuses to start
 * and says why, rather than fail at its first delta.
 */
#define CRLGEN_SCHEMA_MIN	24
int	crlgen_schema_check(struct db *, char *err, size_t errlen);
void	crlgen_result_clear(struct crlgen_result *);

/*
 * Reads dir/name, at most max bytes, into *der (malloc'd, the caller frees
 * it) and *len. 0 read, 1 when there is no such file (nothing allocated),
 * or -1 with err. Safe under crld's seccomp filter (SANDBOX_NET_FILES):
 * it probes with lstat(2), not access(2), which the filter does not allow.
 * dir/name must be a regular file (lib/file.h file_read_regular): a
 * symbolic link, even a dangling one, or a FIFO there is an error, not
 * followed or waited on (out_dir is crld's demoted user's).
 */
int	crlgen_read_file(const char *dir, const char *name, size_t max,
	    unsigned char **der, size_t *len, char *err, size_t errlen);

/*
 * Writes len bytes to dir/name through a temporary file, fsync and rename,
 * so readers see the old file or the new one. 0, or -1 with err.
 */
int	crlgen_write_file(const char *dir, const char *name,
	    const unsigned char *der, size_t len, char *err, size_t errlen);

/*
 * Raises issuer_id's crl_state.next_number to min_number when it is below
 * (crld, at each connection: see crlgen_policy.min_number), in its own
 * transaction with a crl.number_raised audit event by actor. 1 when
 * raised, 0 when it was not below, -1 with err.
 */
int	crlgen_number_floor(struct db *, const char *actor, long long issuer_id,
	    const char *issuer_name, long long min_number, char *err,
	    size_t errlen);

/* What crlgen_file_check read from a CRL. */
struct crlgen_file_info {
	long long	 number;	/* CRL Number (§5.2.3) */
	long long	 base_number;	/* Delta CRL Indicator (§5.2.4); 0: complete */
	time_t		 this_update;
	time_t		 next_update;	/* 0: absent */
};

/*
 * Checks a CertificateList read back from a file (crld's start-up while
 * the database is down: crl/main.c) against its issuer's certificate: the
 * DER shape of the outer SEQUENCE and of the TBSCertList up to its
 * extensions, walked without a structure per entry (a CRL of 1,000,000
 * entries is ~47 MB), nothing trailing (RFC 5280 §5.1); thisUpdate and
 * nextUpdate in §4.1.2.5's forms (der_get_time, lib/der.h); the issuer is
 * cert's subject (§5.1.2.3); both signature algorithms are the same
 * (§5.1.1.2); the signature verifies with cert's key; a CRL Number is
 * present. Fills *info. 0, or -1 with err.
 */
int	crlgen_file_check(const unsigned char *der, size_t len, X509 *cert,
	    struct crlgen_file_info *info, char *err, size_t errlen);

/* The file name of a CRL: NAME.crl, NAME-delta.crl. */
void	crlgen_file_name(const char *issuer_name, int delta, char *out,
	    size_t outlen);

#endif
