/*
 * The signer's check of CMS SignedAttributes (RFC 5652 §5.3), the bytes a
 * time-stamp token's or a CMS signature's signer signs, by a streaming DER
 * walk (hsm/derwalk.h): no allocation. Decoding them as a STACK_OF
 * X509_ATTRIBUTE allocated an object for every attribute, type and value
 * and cost a time-stamp signer about 4 us a token, some 7 % of its CPU.
 *
 *	SignedAttributes ::= SET SIZE (1..MAX) OF Attribute
 *	Attribute ::= SEQUENCE {
 *		attrType	OBJECT IDENTIFIER,
 *		attrValues	SET OF AttributeValue }
 *
 * What must be there (RFC 5652 §5.3, §11.1, §11.2): a content-type
 * attribute and a message-digest attribute, each once and with exactly one
 * value, an OBJECT IDENTIFIER and an OCTET STRING; for a time-stamp token
 * the content type is id-ct-TSTInfo (RFC 3161 §2.4.2). A signing-time
 * attribute may be there, once, with one value (§11.3): a UTCTime for
 * 1950 through 2049, a GeneralizedTime otherwise, each in RFC 5280's form
 * (lib/der.h der_get_time), so that signer_tst_policy can hold a token's
 * signingTime to its genTime. Every TLV is strict DER, and nothing follows
 * the SET.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hsm/derwalk.h"
#include "hsm/extern.h"
#include "lib/der.h"

/* The contents octets of the OIDs we look for. */
static const unsigned char oid_content_type[] = {	/* 1.2.840.113549.1.9.3 */
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03 };
static const unsigned char oid_message_digest[] = {	/* 1.2.840.113549.1.9.4 */
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04 };
static const unsigned char oid_signing_time[] = {	/* 1.2.840.113549.1.9.5 */
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05 };
static const unsigned char oid_tstinfo[] = {	/* 1.2.840.113549.1.9.16.1.4 */
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x04 };

/* RFC 5652 §11.3: UTCTime from 1950-01-01 up to 2050-01-01, not after. */
#define ATTRS_UTC_FROM	((time_t)-631152000)
#define ATTRS_UTC_UNTIL	((time_t)2524608000)

static int
attrs_oid_is(const struct dwin *v, const unsigned char *oid, size_t len)
{
	return v->left == len && memcmp(v->p, oid, len) == 0;
}

/*
 * A value's contents where X.690 constrains them, as OpenSSL's decoding of
 * an ANY checks them: universal types that are primitive only, a BOOLEAN
 * of one octet, a NULL of none, INTEGER and ENUMERATED in the fewest
 * octets, a BIT STRING's unused bits, an OID's subidentifiers, a
 * BMPString's and UniversalString's character widths. A constructed
 * universal type other than SEQUENCE and SET (BER), a primitive SEQUENCE or
 * SET, and end-of-contents are refused.
 */
static int
attrs_value_ok(const struct tlv *v)
{
	const struct dwin *c = &v->val;

	if ((v->tag & 0xe0) == 0x20 && v->tag != TAG_SEQUENCE &&
	    v->tag != TAG_SET)
		return -1;
	/* End-of-contents is BER's; SEQUENCE and SET are constructed only. */
	if (v->tag == 0x00 || v->tag == 0x10 || v->tag == 0x11)
		return -1;
	switch (v->tag) {
	case TAG_BOOLEAN:
		return c->left == 1 ? 0 : -1;
	case TAG_INTEGER:
	case 0x0a:		/* ENUMERATED */
		return derwalk_int_ok(c, c->left);
	case 0x03:		/* BIT STRING */
		return c->left >= 1 && c->p[0] <= 7 &&
		    (c->left > 1 || c->p[0] == 0) ? 0 : -1;
	case 0x05:		/* NULL */
		return c->left == 0 ? 0 : -1;
	case TAG_OID:
		return derwalk_oid_ok(c);
	case 0x1c:		/* UniversalString */
		return c->left % 4 == 0 ? 0 : -1;
	case 0x1e:		/* BMPString */
		return c->left % 2 == 0 ? 0 : -1;
	}
	return 0;
}

/*
 * An Attribute's values (a SET's contents): 1 with *val when there is
 * exactly one, 0 when there are none or several, -1 when one is malformed.
 */
static int
attrs_single(struct dwin values, struct tlv *val)
{
	struct tlv v;
	int n = 0;

	while (values.left > 0) {
		if (derwalk_next(&values, &v) == -1 || attrs_value_ok(&v) == -1)
			return -1;
		if (n++ == 0)
			*val = v;
	}
	return n == 1;
}

/*
 * A signing-time value (RFC 5652 §11.3) into *t: the type its year calls
 * for, in RFC 5280's form. 0 or -1.
 */
static int
attrs_signing_time(const struct tlv *v, time_t *t)
{
	if ((v->tag != TAG_UTCTIME && v->tag != TAG_GENTIME) ||
	    der_get_time(v->tag, v->val.p, v->val.left, t) == -1)
		return -1;
	if (v->tag == TAG_GENTIME && *t >= ATTRS_UTC_FROM &&
	    *t < ATTRS_UTC_UNTIL)
		return -1;
	return 0;
}

int
signer_attrs_check(const unsigned char *tbs, size_t len, int tstinfo,
    char *err, size_t errlen)
{
	struct signer_attrs a;

	return signer_attrs_parse(tbs, len, tstinfo, &a, err, errlen);
}

int
signer_attrs_parse(const unsigned char *tbs, size_t len, int tstinfo,
    struct signer_attrs *out, char *err, size_t errlen)
{
	const char *what = tstinfo ?
	    "time-stamp SignedAttributes (RFC 3161 §2.4.2)" :
	    "CMS SignedAttributes (RFC 5652 §5.3)";
	struct dwin in = { tbs, len };
	struct tlv set, attr, type, values, val, ct, md;
	int nct = 0, nmd = 0, nst = 0, ct_ok = 0, md_ok = 0, st_ok = 0, r;
	time_t st = 0;

	memset(out, 0, sizeof(*out));
	if (derwalk_want(&in, TAG_SET, &set) == -1 || set.val.left == 0)
		goto bad;
	if (in.left != 0)
		return derwalk_fail(err, errlen, what, "%zu trailing bytes",
		    in.left);
	memset(&ct, 0, sizeof(ct));
	memset(&md, 0, sizeof(md));
	while (set.val.left > 0) {
		if (derwalk_want(&set.val, TAG_SEQUENCE, &attr) == -1 ||
		    derwalk_want(&attr.val, TAG_OID, &type) == -1 ||
		    derwalk_oid_ok(&type.val) == -1 ||
		    derwalk_want(&attr.val, TAG_SET, &values) == -1 ||
		    attr.val.left != 0 ||
		    (r = attrs_single(values.val, &val)) == -1)
			goto bad;
		if (attrs_oid_is(&type.val, oid_content_type,
		    sizeof(oid_content_type))) {
			nct++;
			ct_ok = r == 1 && val.tag == TAG_OID &&
			    derwalk_oid_ok(&val.val) == 0;
			ct = val;
		} else if (attrs_oid_is(&type.val, oid_message_digest,
		    sizeof(oid_message_digest))) {
			nmd++;
			md_ok = r == 1 && val.tag == TAG_OCTETSTRING;
			md = val;
		} else if (attrs_oid_is(&type.val, oid_signing_time,
		    sizeof(oid_signing_time))) {
			nst++;
			st_ok = r == 1 && attrs_signing_time(&val, &st) == 0;
		}
	}
	/* RFC 5652 §5.3: each attribute once, with exactly one value. */
	if (nct != 1 || !ct_ok)
		return derwalk_fail(err, errlen, what, "%s content-type attribute "
		    "(RFC 5652 §11.1)", nct == 0 ? "no" : "malformed");
	if (nmd != 1 || !md_ok)
		return derwalk_fail(err, errlen, what, "%s message-digest "
		    "attribute (RFC 5652 §11.2)", nmd == 0 ? "no" : "malformed");
	if (tstinfo && !attrs_oid_is(&ct.val, oid_tstinfo, sizeof(oid_tstinfo)))
		return derwalk_fail(err, errlen, what, "content type is not "
		    "id-ct-TSTInfo");
	/* §11.3: at most once, with exactly one value. */
	if (nst > 1 || (nst == 1 && !st_ok))
		return derwalk_fail(err, errlen, what, "%s signing-time "
		    "attribute (RFC 5652 §11.3)", nst > 1 ? "more than one" :
		    "malformed");
	out->digest = md.val.p;
	out->digestlen = md.val.left;
	out->signing_time_set = nst == 1;
	out->signing_time = st;
	return 0;
bad:
	snprintf(err, errlen, "to-be-signed bytes do not decode as %s", what);
	return -1;
}
