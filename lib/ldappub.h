/*
 * Publication of CA certificates and CRLs to an LDAP directory (RFC 4523
 * attributes on a certificationAuthority entry).
 */
#ifndef PKI_LDAPPUB_H
#define PKI_LDAPPUB_H

#include <stddef.h>

struct ldappub_conf {
	const char	*uri;		/* ldap://127.0.0.1:port or ldapi:// */
	const char	*bind_dn;	/* NULL: anonymous */
	const char	*bind_pw_file;	/* file holding the bind password */
	const char	*base;		/* ldap.base: subscriber entries go under it */
	long		 timeout_seconds; /* ldap.timeout_seconds; 0: 10 */
};

/* ldap.timeout_seconds: its default and bounds (ldappub_conf_timeout). */
#define LDAPPUB_TIMEOUT_DEFAULT_S	10
/*
 * Reads ldap.timeout_seconds into conf (1..120, default 10): how long one
 * operation may take; connecting, at most 5 s of it. 0, or -1 (logged).
 */
struct config;
int	ldappub_conf_timeout(const struct config *, struct ldappub_conf *);

/*
 * Creates or updates the entry dn (dn's first RDN is cn=...) and replaces
 * attribute attr with the bytes der. A CA entry (attr "cACertificate;binary",
 * "certificateRevocationList;binary", "authorityRevocationList;binary",
 * "deltaRevocationList;binary") is an applicationProcess with the auxiliary
 * classes pkiCA and deltaCRL; a subscriber entry (attr
 * "userCertificate;binary" or "description") an applicationProcess with
 * pkiUser, whose missing ou= parent is created. Returns 0, or -1 with a
 * message in err.
 */
int	ldappub_put(const struct ldappub_conf *, const char *dn,
	    const char *attr, const unsigned char *der, size_t len,
	    char *err, size_t errlen);

/*
 * The same over one connection kept for several puts (a publisher's batch):
 * opened by the first put, dropped after any failure so that the next put
 * connects again. Close it when the batch ends. After a failed put, down
 * says whether the directory itself failed rather than the entry: no
 * connection or bind (a directory that does not answer costs the connect or
 * operation time-out), or an operation ended by LDAP_SERVER_DOWN,
 * LDAP_TIMEOUT, LDAP_CONNECT_ERROR, LDAP_UNAVAILABLE or LDAP_BUSY. A
 * publisher stops its batch there: every further put would wait out the
 * same time-outs. One exception: a value of 1 MiB or more whose operation
 * ended with LDAP_SERVER_DOWN while a new connection binds at once was
 * refused for its size (OpenLDAP closes the connection on a request over
 * olcSockbufMaxIncomingAuth, 16 MiB - 1 by default): down stays 0, and
 * err (also logged) names the size and the limit.
 */
struct ldap;
struct ldappub_session {
	const struct ldappub_conf	*conf;
	struct ldap			*ld;
	int				 down;	/* of the last failed put */
};

void	ldappub_session_init(struct ldappub_session *,
	    const struct ldappub_conf *);
int	ldappub_session_put(struct ldappub_session *, const char *dn,
	    const char *attr, const unsigned char *der, size_t len,
	    char *err, size_t errlen);
void	ldappub_session_close(struct ldappub_session *);

#endif
