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
};

/*
 * Creates or updates the entry dn (objectClass applicationProcess, with the
 * auxiliary classes pkiCA and deltaCRL; dn's first RDN is cn=...) and
 * replaces attribute
 * attr ("cACertificate;binary", "certificateRevocationList;binary",
 * "authorityRevocationList;binary", "deltaRevocationList;binary") with the
 * DER bytes. Returns 0, or -1 with a message in err.
 */
int	ldappub_put(const struct ldappub_conf *, const char *dn,
	    const char *attr, const unsigned char *der, size_t len,
	    char *err, size_t errlen);

#endif
