/*
 * The CA hierarchy as the ceremony recorded it (tables ca_certificate and
 * ca_key): a certificate by name ('root', 'issuing', 'ocsp-root',
 * 'ocsp-issuing', 'tsa') with the token and label of its key.
 */
#ifndef PKI_CADB_H
#define PKI_CADB_H

#include <openssl/x509.h>

struct db;

/*
 * The issuing CAs that may be live at once: crld serves at most this many
 * (the current one and those renewed whose certificates may still be
 * valid), and `pkictl ca issuing` refuses to make one more.
 */
#define CADB_MAX_ISSUING	8

struct cadb_ca {
	long long	 id;		/* ca_certificate.id */
	char		 name[32];
	char		 role[16];	/* root, issuing, ocsp, tsa */
	X509		*cert;		/* owned; cadb_clear() frees it */
	char		 token[64];	/* token label holding the key */
	char		 key_label[65];
};

/*
 * Loads the certificate named name. Returns 0, 1 when there is no such
 * certificate (the ceremony has not run), or -1 on a database or DER error
 * (logged). The caller clears ca with cadb_clear() in every case.
 */
int	cadb_load(struct db *, const char *name, struct cadb_ca *ca);
/*
 * As cadb_load(), the certificate of role to sign with when rotations made
 * several (`pkictl ca tsa`): of those whose own `certificate` row and
 * whose issuing CA's own row are neither revoked nor on hold, the newest
 * (by notBefore) valid now; when none is, the newest of them; when every
 * one is revoked or on hold (itself or its issuer), the same choice among
 * all (its user refuses to sign with it and says why). Until 2026-12-07
 * the dates alone chose: a newer revoked certificate won over a valid
 * one. Those rows are read through the view ca_certificate_status: the
 * caller's role needs SELECT on its id and revoked_at (pki_tsa:
 * schema/103). 1 when there is none at all.
 */
int	cadb_load_current(struct db *, const char *role, struct cadb_ca *ca);
/*
 * As cadb_load(), the issuer of child (a certificate cadb_load* loaded):
 * the issuing CA of a TSA certificate `pkictl ca tsa --issuer` made. 1
 * when child has none (the root).
 */
int	cadb_load_issuer_of(struct db *, const struct cadb_ca *child,
	    struct cadb_ca *ca);
void	cadb_clear(struct cadb_ca *);

/*
 * The RFC 4514 (XN_FLAG_RFC2253) text of a name, malloc'd, or NULL. utf8 0:
 * non-ASCII escaped as \XX, the form stored in certificate.subject; 1: as
 * UTF-8, for JSON (CSC's subjectDN/issuerDN).
 */
char	*cadb_name_text(const X509_NAME *, int utf8);

#endif
