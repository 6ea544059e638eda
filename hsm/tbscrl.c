/*
 * The signer's check of a TBSCertList (RFC 5280 §5.1.1) by a streaming DER
 * walk: every TLV is checked in place (strict DER: definite, minimal
 * lengths) and nothing is allocated, so a CRL of millions of entries costs
 * no more memory than its bytes. d2i_X509_CRL_INFO allocates several objects
 * per entry: for 1,000,000 entries that is hundreds of MiB in the one
 * process that holds the HSM session.
 *
 *	TBSCertList ::= SEQUENCE {
 *		version			Version OPTIONAL,	-- if present, v2 (1)
 *		signature		AlgorithmIdentifier,
 *		issuer			Name,
 *		thisUpdate		Time,
 *		nextUpdate		Time OPTIONAL,
 *		revokedCertificates	SEQUENCE OF SEQUENCE {
 *			userCertificate		CertificateSerialNumber,
 *			revocationDate		Time,
 *			crlEntryExtensions	Extensions OPTIONAL } OPTIONAL,
 *		crlExtensions		[0] EXPLICIT Extensions OPTIONAL }
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hsm/derwalk.h"
#include "hsm/extern.h"
#include "lib/der.h"

#define TAG_CTX0	0xa0

/*
 * signer_tbscrl_policy: how far thisUpdate may be from the signer's clock
 * (ahead: clocks differ; behind: the time a CRL of millions of entries
 * takes to make on a loaded machine).
 */
#define TBSCRL_SKEW_S		300
#define TBSCRL_MAX_AGE_S	3600

/* RFC 5280 §4.1.2.2: serials up to 20 octets; one more for a leading 0x00. */
#define TBSCRL_SERIAL_MAX	21

/* What every refusal starts with. */
#define TBSCRL_BAD	"to-be-signed bytes do not decode as a TBSCertList " \
	"(RFC 5280 §5.1)"

/*
 * A Time (RFC 5280 §5.1.2.4): the next TLV, a UTCTime or GeneralizedTime
 * as der_get_time() reads it (lib/der.h), its value in *out.
 */
static int
der_time(struct dwin *d, time_t *out)
{
	struct tlv t;

	if (derwalk_next(d, &t) == -1)
		return -1;
	return der_get_time(t.tag, t.val.p, t.val.left, out);
}

static int
der_is_time(const struct dwin *d)
{
	return d->left > 0 && (d->p[0] == TAG_UTCTIME || d->p[0] == TAG_GENTIME);
}

/* AlgorithmIdentifier ::= SEQUENCE { OID, parameters ANY OPTIONAL } */
static int
der_algorithm(struct dwin *d)
{
	struct tlv seq, oid, param;

	if (derwalk_want(d, TAG_SEQUENCE, &seq) == -1 ||
	    derwalk_want(&seq.val, TAG_OID, &oid) == -1 ||
	    derwalk_oid_ok(&oid.val) == -1)
		return -1;
	if (seq.val.left > 0 && derwalk_next(&seq.val, &param) == -1)
		return -1;
	return seq.val.left == 0 ? 0 : -1;
}

/* Name ::= SEQUENCE OF SET OF SEQUENCE { OID, ANY } (RFC 5280 §4.1.2.4). */
static int
der_name(struct dwin *d)
{
	struct tlv name, rdn, atv, oid, val;

	if (derwalk_want(d, TAG_SEQUENCE, &name) == -1)
		return -1;
	while (name.val.left > 0) {
		if (derwalk_want(&name.val, TAG_SET, &rdn) == -1 ||
		    rdn.val.left == 0)
			return -1;
		while (rdn.val.left > 0) {
			if (derwalk_want(&rdn.val, TAG_SEQUENCE, &atv) == -1 ||
			    derwalk_want(&atv.val, TAG_OID, &oid) == -1 ||
			    derwalk_oid_ok(&oid.val) == -1 ||
			    derwalk_next(&atv.val, &val) == -1 ||
			    atv.val.left != 0)
				return -1;
		}
	}
	return 0;
}

/*
 * Extensions ::= SEQUENCE SIZE (1..MAX) OF SEQUENCE { OID, critical BOOLEAN
 * DEFAULT FALSE, OCTET STRING } (RFC 5280 §4.1): DER leaves a FALSE
 * default out, so a present BOOLEAN is TRUE (0xff).
 */
static int
der_extensions(struct dwin *d)
{
	struct tlv exts, ext, oid, crit, val;
	int r;

	if (derwalk_want(d, TAG_SEQUENCE, &exts) == -1 || exts.val.left == 0)
		return -1;
	while (exts.val.left > 0) {
		if (derwalk_want(&exts.val, TAG_SEQUENCE, &ext) == -1 ||
		    derwalk_want(&ext.val, TAG_OID, &oid) == -1 ||
		    derwalk_oid_ok(&oid.val) == -1)
			return -1;
		if ((r = derwalk_opt(&ext.val, TAG_BOOLEAN, &crit)) == -1 ||
		    (r == 1 && (crit.val.left != 1 || crit.val.p[0] != 0xff)))
			return -1;
		if (derwalk_want(&ext.val, TAG_OCTETSTRING, &val) == -1 ||
		    ext.val.left != 0)
			return -1;
	}
	return 0;
}

int
signer_tbscrl_check(const unsigned char *tbs, size_t len, char *err,
    size_t errlen)
{
	struct dwin in = { tbs, len }, d;
	struct tlv seq, t, list, entry, serial;
	time_t when;
	size_t n = 0;
	int v2 = 0, r;

	if (derwalk_want(&in, TAG_SEQUENCE, &seq) == -1)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "not a DER SEQUENCE");
	if (in.left != 0) {
		snprintf(err, errlen, "%zu trailing bytes after a TBSCertList "
		    "(RFC 5280 §5.1)", in.left);
		return -1;
	}
	d = seq.val;
	if ((r = derwalk_opt(&d, TAG_INTEGER, &t)) == -1 || (r == 1 &&
	    (t.val.left != 1 || t.val.p[0] != 1)))
		return derwalk_fail(err, errlen, TBSCRL_BAD, "version must be v2 when "
		    "present (§5.1.2.1)");
	v2 = r == 1;
	if (der_algorithm(&d) == -1)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "bad signature "
		    "AlgorithmIdentifier (§5.1.2.2)");
	if (der_name(&d) == -1)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "bad issuer Name (§5.1.2.3)");
	/* Values too, not only the shape: a date that does not exist is bad. */
	if (der_time(&d, &when) == -1)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "bad thisUpdate (§5.1.2.4)");
	if (der_is_time(&d) && der_time(&d, &when) == -1)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "bad nextUpdate (§5.1.2.5)");
	if ((r = derwalk_opt(&d, TAG_SEQUENCE, &list)) == -1)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "bad revokedCertificates "
		    "(§5.1.2.6)");
	if (r == 1) {
		/* §5.1.2.6: absent, not empty, when nothing is revoked. */
		if (list.val.left == 0)
			return derwalk_fail(err, errlen, TBSCRL_BAD, "empty "
			    "revokedCertificates (§5.1.2.6)");
		while (list.val.left > 0) {
			n++;
			if (derwalk_want(&list.val, TAG_SEQUENCE, &entry) == -1 ||
			    derwalk_want(&entry.val, TAG_INTEGER, &serial) == -1 ||
			    derwalk_int_ok(&serial.val, TBSCRL_SERIAL_MAX) == -1 ||
			    der_time(&entry.val, &when) == -1)
				return derwalk_fail(err, errlen, TBSCRL_BAD, "revoked "
				    "entry %zu: bad serial or revocationDate "
				    "(§5.1.2.6)", n);
			if (entry.val.left > 0 && (!v2 ||
			    der_extensions(&entry.val) == -1 ||
			    entry.val.left != 0))
				return derwalk_fail(err, errlen, TBSCRL_BAD, "revoked "
				    "entry %zu: bad crlEntryExtensions "
				    "(§5.3)", n);
		}
	}
	if ((r = derwalk_opt(&d, TAG_CTX0, &t)) == -1 || (r == 1 && (!v2 ||
	    der_extensions(&t.val) == -1 || t.val.left != 0)))
		return derwalk_fail(err, errlen, TBSCRL_BAD, "bad crlExtensions "
		    "(§5.1.2.7)");
	if (d.left != 0)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "unexpected field after "
		    "crlExtensions");
	return 0;
}

/* crlNumber, 2.5.29.20 (RFC 5280 §5.2.3): the OID's contents. */
static const unsigned char tbscrl_crl_number[] = { 0x55, 0x1d, 0x14 };

int
signer_tbscrl_policy(const unsigned char *tbs, size_t len, time_t now,
    long max_validity_s, char *err, size_t errlen)
{
	struct dwin in = { tbs, len }, d;
	struct tlv seq, t, exts, ext, oid;
	time_t this_update, next_update;
	int r, numbered = 0;

	if (derwalk_want(&in, TAG_SEQUENCE, &seq) == -1)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "not a DER SEQUENCE");
	d = seq.val;
	if (derwalk_opt(&d, TAG_INTEGER, &t) == -1 || der_algorithm(&d) == -1 ||
	    der_name(&d) == -1 || der_time(&d, &this_update) == -1)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "bad TBSCertList head");
	if (!der_is_time(&d) || der_time(&d, &next_update) == -1)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "no nextUpdate (RFC 5280 "
		    "§5.1.2.5: a conforming CA includes it)");
	/* The list is skipped whole: signer_tbscrl_check walked it. */
	if (derwalk_opt(&d, TAG_SEQUENCE, &t) == -1)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "bad revokedCertificates");
	if ((r = derwalk_opt(&d, TAG_CTX0, &t)) == 1 &&
	    derwalk_want(&t.val, TAG_SEQUENCE, &exts) == 0) {
		while (exts.val.left > 0 && !numbered) {
			if (derwalk_want(&exts.val, TAG_SEQUENCE, &ext) == -1 ||
			    derwalk_want(&ext.val, TAG_OID, &oid) == -1)
				return derwalk_fail(err, errlen, TBSCRL_BAD, "bad "
				    "crlExtensions");
			numbered = oid.val.left == sizeof(tbscrl_crl_number) &&
			    memcmp(oid.val.p, tbscrl_crl_number,
			    sizeof(tbscrl_crl_number)) == 0;
		}
	}
	if (!numbered)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "no CRL Number (RFC 5280 "
		    "§5.2.3: a conforming CA includes it)");
	if (this_update > now + TBSCRL_SKEW_S)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "thisUpdate %lld s ahead of "
		    "the signer's clock (at most %d)",
		    (long long)(this_update - now), TBSCRL_SKEW_S);
	if (this_update < now - TBSCRL_MAX_AGE_S)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "thisUpdate %lld s in the "
		    "past (at most %d: a CRL is signed when it is made)",
		    (long long)(now - this_update), TBSCRL_MAX_AGE_S);
	if (next_update <= this_update)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "nextUpdate not after "
		    "thisUpdate");
	if (next_update - this_update > max_validity_s)
		return derwalk_fail(err, errlen, TBSCRL_BAD, "valid for %lld s, more than "
		    "the signer allows (%ld s: hsm.crl_max_validity_seconds)",
		    (long long)(next_update - this_update), max_validity_s);
	return 0;
}
