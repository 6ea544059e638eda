/*
 * cad's lint: the checks a certificate passes before the issuing key signs
 * it. The profile's [ profile ] keys kind, key_types, subject_required,
 * subject_allowed and extensions_required (policy/README.md) say what
 * conforms; the rest is RFC 5280 and CA/Browser Forum practice.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/extern.h"
#include "ca/worker/extern.h"
#include "lib/json.h"
#include "lib/text.h"
#include "lib/x509ext.h"

#define LINT_JSON_MAX		4096
#define LINT_VALUE_MAX		128	/* attributes without an upper bound */
#define LINT_SERIAL_MIN_BITS	64	/* CA/B BR §7.1 */
#define LINT_SERIAL_MAX_OCTETS	20	/* RFC 5280 §4.1.2.2 */
#define LINT_QUOTE_MAX		32	/* characters of an order's key in a message */
#define LINT_URI_MAX		1024	/* an AIA or CRL distribution point URI */
/*
 * A certificate must still be valid this long after it is signed: one
 * the issuer's own expiry would cut shorter uses up its application for
 * nothing (the CA needs a new issuing certificate first).
 */
#define LINT_MIN_REMAINING_S	86400

/* Subject attributes cad knows, in the RDN order it writes them. */
static const char *const lint_rdn_order[] = {
	"C", "ST", "L", "O", "OU", "organizationIdentifier", "serialNumber",
	"CN", "emailAddress",
};
#define LINT_NRDN (sizeof(lint_rdn_order) / sizeof(lint_rdn_order[0]))

/*
 * Every message may end in PostgreSQL (issuance_order.last_error): one cut
 * by vsnprintf inside a UTF-8 sequence is cut before it (cad_text_clean).
 */
static void __attribute__((format(printf, 3, 4)))
lint_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	cad_text_clean(err);
}

/* 1 when word is an item of the comma-separated list, else 0. */
static int
lint_in_list(const char *list, const char *word)
{
	size_t n = strlen(word), len;
	const char *p = list;

	while (list != NULL && *p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		len = strcspn(p, ", ");
		if (len == n && strncmp(p, word, n) == 0)
			return 1;
		p += len;
	}
	return 0;
}

/*
 * The next item of the comma-separated list at *q into word (cut to
 * wordlen), *q moved past it: 1, or 0 at the list's end.
 */
static int
lint_list_next(const char **q, char *word, size_t wordlen)
{
	size_t len;

	*q += strspn(*q, ", ");
	if ((len = strcspn(*q, ", ")) == 0)
		return 0;
	snprintf(word, wordlen, "%.*s", (int)len, *q);
	*q += len;
	return 1;
}

/* 1 when a [profile] yes/no key v (may be NULL) says yes, else 0. */
static int
lint_yes(const char *v)
{
	return v != NULL && strcmp(v, "yes") == 0;
}

/* The profile's [profile] key, or an error naming it. */
static const char *
lint_key(const struct profile *p, const char *key, char *err, size_t errlen)
{
	const char *v = profile_get(p, key);

	if (v == NULL || *v == '\0')
		lint_err(err, errlen, "profile %s: [profile] %s missing (cad "
		    "serves only profiles with its lint keys)", profile_name(p),
		    key);
	return v;
}

void
cad_text_clean(char *s)
{
	unsigned char *u = (unsigned char *)s;
	size_t len = strlen(s), i = 0, at, k, n;
	long cp;

	while (i < len) {
		at = i;
		if ((cp = text_utf8_next(u, len, &i)) >= 0) {
			if (cp < 0x20 || cp == 0x7f)
				u[at] = '?';
			continue;
		}
		/* A lead byte whose sequence runs off the end: cut there. */
		n = (u[at] & 0xe0) == 0xc0 ? 1 : (u[at] & 0xf0) == 0xe0 ? 2 :
		    (u[at] & 0xf8) == 0xf0 ? 3 : 0;
		for (k = at + 1; k < len && (u[k] & 0xc0) == 0x80; k++)
			;
		if (n > 0 && k == len && len - at - 1 < n) {
			u[at] = '\0';
			return;
		}
		u[at] = '?';
		i = at + 1;
	}
}

/*
 * Quotes text from an order (a JSON key) for a message: printable ASCII as
 * is, anything else as its code point (U+00E9), at most LINT_QUOTE_MAX
 * characters, then "...". Never longer than out, always terminated.
 */
static const char *
lint_quote(const char *text, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len = strlen(text), i = 0, off = 0, chars = 0;
	char one[24];
	long cp;

	if (outlen == 0)
		return out;
	out[0] = '\0';
	while (i < len) {
		if (chars == LINT_QUOTE_MAX) {
			snprintf(one, sizeof(one), "...");
			i = len;
		} else if ((cp = text_utf8_next(s, len, &i)) >= 0x20 && cp < 0x7f)
			snprintf(one, sizeof(one), "%c", (int)cp);
		else
			snprintf(one, sizeof(one), "U+%04lX", cp < 0 ? 0xfffdL : cp);
		if (off + strlen(one) >= outlen)
			break;
		memcpy(out + off, one, strlen(one) + 1);
		off += strlen(one);
		chars++;
	}
	return out;
}

/*
 * RFC 5280 Appendix A's upper bounds (ub-common-name, ub-organization-name,
 * ub-organizational-unit-name, ub-serial-number 64; ub-locality-name,
 * ub-state-name 128), which OpenSSL also enforces when it builds the name;
 * for emailAddress OpenSSL's 128 (ub_email_address), below RFC 5280's 255,
 * since the name could not be built past it; LINT_VALUE_MAX for an
 * attribute X.520 leaves unbounded (organizationIdentifier).
 */
static size_t
lint_value_max(const char *attr)
{
	static const struct {
		const char	*attr;
		size_t		 max;
	} ub[] = {
		{ "CN", 64 }, { "O", 64 }, { "OU", 64 }, { "serialNumber", 64 },
		{ "L", 128 }, { "ST", 128 }, { "emailAddress", 128 },
	};
	size_t i;

	for (i = 0; i < sizeof(ub) / sizeof(ub[0]); i++)
		if (strcmp(attr, ub[i].attr) == 0)
			return ub[i].max;
	return LINT_VALUE_MAX;
}

/*
 * Judges a subject attribute's value, UTF-8 text of len bytes: not empty
 * nor only spaces (any space separator), no control character (C0, DEL,
 * C1; a NUL included), no bidirectional formatting character, no other
 * format character (Cf: invisible), no line or paragraph separator, no
 * private-use character nor noncharacter (they mean nothing between
 * strangers), no space at either end nor two in a row, no space but
 * U+0020 (U+00A0, U+3000 … look like one and compare otherwise), at most
 * lint_value_max(attr) characters (code points: the upper bounds of RFC
 * 5280 Appendix A count characters, not octets). 0, or -1 with err.
 */
static int
lint_value(const char *attr, const unsigned char *s, size_t len, char *err,
    size_t errlen)
{
	size_t i = 0, chars = 0, max;
	long cp, odd_space = -1;
	int blank = 1, space = 0, edge = 0, doubled = 0;
	const char *what;

	max = lint_value_max(attr);
	while (i < len) {
		if ((cp = text_utf8_next(s, len, &i)) == -1) {
			lint_err(err, errlen, "lint: subject attribute %s is "
			    "not UTF-8", attr);
			return -1;
		}
		if ((what = text_hidden(cp)) != NULL) {
			lint_err(err, errlen, "lint: subject attribute %s holds "
			    "%s (U+%04lX)", attr, what, cp);
			return -1;
		}
		if (text_space(cp)) {
			if (chars == 0 || i == len)
				edge = 1;
			if (space)
				doubled = 1;
			if (cp != ' ' && odd_space == -1)
				odd_space = cp;
			space = 1;
		} else {
			blank = 0;
			space = 0;
		}
		chars++;
	}
	if (blank) {
		lint_err(err, errlen, "lint: subject attribute %s is empty",
		    attr);
		return -1;
	}
	if (edge || doubled) {
		lint_err(err, errlen, "lint: subject attribute %s %s", attr,
		    edge ? "begins or ends with a space" :
		    "holds two spaces in a row");
		return -1;
	}
	if (odd_space != -1) {
		lint_err(err, errlen, "lint: subject attribute %s holds a space "
		    "other than U+0020 (U+%04lX)", attr, odd_space);
		return -1;
	}
	if (chars > max) {
		lint_err(err, errlen, "lint: subject attribute %s is longer "
		    "than %zu characters (RFC 5280 Appendix A)", attr, max);
		return -1;
	}
	return 0;
}

/*
 * ISO 3166-1 alpha-2 codes assigned to countries and territories (249, as
 * of 2024; the iso-codes package's iso_3166-1.json). The user-assigned
 * codes (AA, QM..QZ, XA..XZ, ZZ; XK included) are nobody's country.
 */
static const char lint_iso3166[] =
    "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBV"
    "BWBYBZCACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERES"
    "ETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIE"
    "ILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLSLTLULVLY"
    "MAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNU"
    "NZOMPAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSM"
    "SNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVE"
    "VGVIVNVUWFWSYEYTZAZMZW";

/*
 * RFC 5280 §4.1.2.4 / X.520: countryName is PrintableString(2), an ISO 3166
 * alpha-2 code: two upper-case letters, and an assigned one. 0, or -1 with
 * err.
 */
static int
lint_country(const unsigned char *s, size_t len, char *err, size_t errlen)
{
	size_t i;

	if (len != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z') {
		lint_err(err, errlen, "lint: subject attribute C must be "
		    "two upper-case letters (ISO 3166)");
		return -1;
	}
	for (i = 0; i + 1 < sizeof(lint_iso3166); i += 2)
		if (lint_iso3166[i] == s[0] && lint_iso3166[i + 1] == s[1])
			return 0;
	lint_err(err, errlen, "lint: subject attribute C %c%c is not an ISO "
	    "3166-1 alpha-2 country code", s[0], s[1]);
	return -1;
}

/* X.680 §41.4: the characters a PrintableString may hold. */
static int
lint_printable(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr(" '()+,-./:=?", c) != NULL);
}

/*
 * The ASN.1 string type of a subject attribute's value (q names it): RFC
 * 5280 §4.1.2.4 has a DirectoryString be a PrintableString or a
 * UTF8String (TeletexString, BMPString and UniversalString only in names
 * of certificates issued before 2004); X.520 (RFC 5280 Appendix A) makes
 * countryName, serialNumber and dnQualifier PrintableString alone, PKCS #9
 * (RFC 2985) emailAddress and RFC 4519 domainComponent IA5String; a
 * PrintableString holds only X.680 §41.4's characters (OpenSSL decodes
 * one holding others as it came). cad builds its subjects so; a CSR's
 * subject, which `pkictl cert issue` copies as its holder encoded it, may
 * be otherwise. 0, or -1 with err.
 */
static int
lint_string_type(int nid, const char *q, const ASN1_STRING *v, char *err,
    size_t errlen)
{
	const unsigned char *s = ASN1_STRING_get0_data(v);
	int type = ASN1_STRING_type(v), i, ok;
	const char *want;

	switch (nid) {
	case NID_countryName:
	case NID_serialNumber:
	case NID_dnQualifier:
		ok = type == V_ASN1_PRINTABLESTRING;
		want = "a PrintableString";
		break;
	case NID_pkcs9_emailAddress:
	case NID_domainComponent:
		ok = type == V_ASN1_IA5STRING;
		want = "an IA5String";
		break;
	default:
		ok = type == V_ASN1_UTF8STRING || type == V_ASN1_PRINTABLESTRING;
		want = "a UTF8String or a PrintableString";
		break;
	}
	if (!ok) {
		lint_err(err, errlen, "lint: subject attribute %s is a %s, not "
		    "%s (RFC 5280 §4.1.2.4, Appendix A)", q,
		    ASN1_tag2str(type), want);
		return -1;
	}
	for (i = 0; type == V_ASN1_PRINTABLESTRING && i < ASN1_STRING_length(v);
	    i++)
		if (!lint_printable(s[i])) {
			lint_err(err, errlen, "lint: subject attribute %s is a "
			    "PrintableString holding byte 0x%02X, not one of "
			    "its characters (X.680 §41.4)", q, s[i]);
			return -1;
		}
	return 0;
}

/* RFC 5322 §3.2.3 atext: what a dot-atom's atoms are made of. */
static int
lint_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* A character of a value for a message: 'c' when printable ASCII. */
static void
lint_char(unsigned char c, char *out, size_t outlen)
{
	if (c > 0x20 && c < 0x7f)
		snprintf(out, outlen, "'%c'", c);
	else
		snprintf(out, outlen, "byte 0x%02X", c);
}

/*
 * RFC 5280 §4.2.1.6: an rfc822Name is a Mailbox (RFC 5321 §4.1.2), here
 * without its quoted-string and address-literal forms: local-part "@"
 * domain, one "@" only; the local part a dot-atom of RFC 5322 §3.2.3 atext
 * (no space, comma, quote; no dot at either end nor two in a row), at most
 * 64 octets (RFC 5321 §4.5.3.1.1); the domain at least two labels of
 * letters, digits and hyphens (RFC 1034 §3.5; no hyphen at either end),
 * each of 1 to 63 octets, at most 253 in all, the last not all digits (an
 * IPv4 address is no domain). The subject's emailAddress is copied into
 * one (email:copy), so it is judged the same. what names the value in err.
 * 0, or -1 with err.
 */
static int
lint_mailbox(const char *what, const unsigned char *s, size_t len, char *err,
    size_t errlen)
{
	const unsigned char *at, *dom, *end = s + len, *p, *label;
	char c[24];
	size_t llen, dlen, labels = 0;
	int digits = 1;

	if ((at = memchr(s, '@', len)) == NULL) {
		lint_err(err, errlen, "lint: %s is not a mailbox: no '@' (RFC "
		    "5280 §4.2.1.6)", what);
		return -1;
	}
	dom = at + 1;
	if (memchr(dom, '@', (size_t)(end - dom)) != NULL) {
		lint_err(err, errlen, "lint: %s is not a mailbox: more than one "
		    "'@' (RFC 5280 §4.2.1.6; no quoted local part)", what);
		return -1;
	}
	llen = (size_t)(at - s);
	if (llen == 0 || llen > 64) {
		lint_err(err, errlen, "lint: %s is not a mailbox: local part %s "
		    "(RFC 5321 §4.5.3.1.1)", what, llen == 0 ? "empty" :
		    "longer than 64 octets");
		return -1;
	}
	for (p = s; p < at; p++) {
		if (*p == '.' && p != s && p + 1 != at && p[-1] != '.')
			continue;
		if (*p == '.' || !lint_atext(*p)) {
			if (*p == '.')
				snprintf(c, sizeof(c), "'.' %s", p == s ||
				    p + 1 == at ? "at either end" : "doubled");
			else
				lint_char(*p, c, sizeof(c));
			lint_err(err, errlen, "lint: %s is not a mailbox: local "
			    "part not a dot-atom: %s (RFC 5322 §3.2.3)", what, c);
			return -1;
		}
	}
	dlen = (size_t)(end - dom);
	if (dlen == 0 || dlen > 253 || *dom == '[') {
		lint_err(err, errlen, "lint: %s is not a mailbox: domain %s "
		    "(RFC 5280 §4.2.1.6)", what, dlen == 0 ? "empty" : dlen > 253 ?
		    "longer than 253 octets" : "an address literal");
		return -1;
	}
	for (label = p = dom; p <= end; p++) {
		if (p < end && *p != '.') {
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '-')) {
				lint_char(*p, c, sizeof(c));
				lint_err(err, errlen, "lint: %s is not a mailbox: "
				    "domain holds %s, not a letter, digit or "
				    "hyphen (RFC 1034 §3.5)", what, c);
				return -1;
			}
			continue;
		}
		if (p == label || p - label > 63 || *label == '-' ||
		    p[-1] == '-') {
			lint_err(err, errlen, "lint: %s is not a mailbox: domain "
			    "label %s (RFC 1034 §3.5)", what, p == label ?
			    "empty" : p - label > 63 ? "longer than 63 octets" :
			    "begins or ends with a hyphen");
			return -1;
		}
		labels++;
		for (digits = 1; label < p && digits; label++)
			digits = *label >= '0' && *label <= '9';
		label = p + 1;
	}
	if (labels < 2 || digits) {
		lint_err(err, errlen, "lint: %s is not a mailbox: domain %s "
		    "(RFC 5280 §4.2.1.6)", what, labels < 2 ? "of one label" :
		    "ends with a numeric label (an IP address?)");
		return -1;
	}
	return 0;
}

int
cad_lint_keytype(const struct profile *p, const char *keytype, char *err,
    size_t errlen)
{
	const char *types;

	if ((types = lint_key(p, "key_types", err, errlen)) == NULL)
		return -1;
	if (!lint_in_list(types, keytype)) {
		lint_err(err, errlen, "lint: key type %s not allowed by profile "
		    "%s (%s)", keytype, profile_name(p), types);
		return -1;
	}
	return 0;
}

X509_NAME *
cad_subject(const struct profile *p, const char *text, char *err,
    size_t errlen)
{
	const char *required, *allowed, *key, *v;
	char quoted[LINT_QUOTE_MAX * 6 + 8];
	X509_NAME *name = NULL, *ret = NULL;
	json_error_t jerr;
	json_t *root = NULL, *val;
	size_t i, n;

	if ((required = lint_key(p, "subject_required", err, errlen)) == NULL ||
	    (allowed = lint_key(p, "subject_allowed", err, errlen)) == NULL)
		goto out;
	if ((root = json_load_bounded(text, strlen(text), LINT_JSON_MAX,
	    &jerr)) == NULL) {
		lint_err(err, errlen, "lint: subject is not a JSON object: %s",
		    jerr.text);
		goto out;
	}
	json_object_foreach(root, key, val) {
		for (i = 0; i < LINT_NRDN; i++)
			if (strcmp(key, lint_rdn_order[i]) == 0)
				break;
		if (i == LINT_NRDN || !lint_in_list(allowed, key)) {
			/* The key is the order's: quoted, bounded. */
			lint_err(err, errlen, "lint: subject attribute %s not "
			    "allowed by profile %s (%s)", lint_quote(key, quoted,
			    sizeof(quoted)), profile_name(p), allowed);
			goto out;
		}
		if (!json_is_string(val)) {
			lint_err(err, errlen, "lint: subject attribute %s is not "
			    "a string", key);
			goto out;
		}
	}
	if ((name = X509_NAME_new()) == NULL) {
		lint_err(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < LINT_NRDN; i++) {
		key = lint_rdn_order[i];
		if ((val = json_object_get(root, key)) == NULL) {
			if (lint_in_list(required, key)) {
				lint_err(err, errlen, "lint: subject attribute "
				    "%s required by profile %s is missing", key,
				    profile_name(p));
				goto out;
			}
			continue;
		}
		v = json_string_value(val);
		n = json_string_length(val);
		if (lint_value(key, (const unsigned char *)v, n, err,
		    errlen) == -1)
			goto out;
		if (strcmp(key, "C") == 0 && lint_country((const unsigned char *)v,
		    n, err, errlen) == -1)
			goto out;
		if (strcmp(key, "emailAddress") == 0 && lint_mailbox("subject "
		    "emailAddress", (const unsigned char *)v, n, err,
		    errlen) == -1)
			goto out;
		if (X509_NAME_add_entry_by_txt(name, key, strcmp(key, "C") == 0 ||
		    strcmp(key, "serialNumber") == 0 ? MBSTRING_ASC :
		    MBSTRING_UTF8, (const unsigned char *)v, (int)n, -1, 0) != 1) {
			lint_err(err, errlen, "lint: subject attribute %s: value "
			    "refused by its ASN.1 type", key);
			goto out;
		}
	}
	ret = name;
	name = NULL;
out:
	json_decref(root);
	X509_NAME_free(name);
	return ret;
}

int
cad_lint_pubkey(EVP_PKEY *pub, char *kt, size_t ktlen, char *err,
    size_t errlen)
{
	BIGNUM *n = NULL, *e = NULL;
	char group[64], enc[32], val[32];
	size_t glen = 0, elen = 0;
	int bits, rc = -1;

	if (ktlen > 0)
		kt[0] = '\0';
	if (pub == NULL) {
		lint_err(err, errlen, "no public key");
		goto out;
	}
	if (EVP_PKEY_is_a(pub, "RSA")) {
		if (EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
		    EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
			lint_err(err, errlen, "RSA key without a modulus or "
			    "public exponent");
			goto out;
		}
		bits = BN_num_bits(n);
		if (bits < 2048) {
			lint_err(err, errlen, "RSA key of %d bits: at least "
			    "2048", bits);
			goto out;
		}
		if (bits % 8 != 0 || !BN_is_odd(n)) {
			lint_err(err, errlen, "RSA modulus of %d bits%s: it must "
			    "be odd and a multiple of 8 bits (CA/B BR §6.1.6)",
			    bits, BN_is_odd(n) ? "" : ", even");
			goto out;
		}
		/* e = 1 verifies any "signature" equal to its encoded message. */
		if (!BN_is_odd(e) || BN_num_bits(e) < 17 ||
		    BN_num_bits(e) > 256) {
			if (BN_num_bits(e) <= 32)
				snprintf(val, sizeof(val), "%lu",
				    (unsigned long)BN_get_word(e));
			else
				snprintf(val, sizeof(val), "of %d bits",
				    BN_num_bits(e));
			lint_err(err, errlen, "RSA public exponent %s refused: "
			    "it must be odd, at least 65537 and below 2^256 "
			    "(CA/B BR §6.1.6, NIST SP 800-89 §5.3.3)", val);
			goto out;
		}
		snprintf(kt, ktlen, "%s", bits == 2048 ? "rsa2048" :
		    bits == 3072 ? "rsa3072" : bits == 4096 ? "rsa4096" :
		    "rsa-other");
	} else if (EVP_PKEY_is_a(pub, "EC")) {
		/*
		 * OpenSSL 3 names explicit parameters that match a known curve
		 * by that curve, and X509_set_pubkey() copies them: the
		 * encoding tells (RFC 5480 §2.1.1: namedCurve only).
		 */
		if (EVP_PKEY_get_utf8_string_param(pub,
		    OSSL_PKEY_PARAM_EC_ENCODING, enc, sizeof(enc), &elen) != 1 ||
		    strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) != 0) {
			lint_err(err, errlen, "EC key with explicit curve "
			    "parameters: a named curve only (RFC 5480 §2.1.1)");
			goto out;
		}
		if (EVP_PKEY_get_utf8_string_param(pub,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
		    &glen) != 1) {
			lint_err(err, errlen, "EC key without a named curve");
			goto out;
		}
		if (strcmp(group, "prime256v1") != 0 &&
		    strcmp(group, "secp384r1") != 0) {
			lint_err(err, errlen, "EC curve %s refused (P-256, "
			    "P-384 only)", group);
			goto out;
		}
		snprintf(kt, ktlen, "%s", strcmp(group, "prime256v1") == 0 ?
		    "ec-p256" : "ec-p384");
	} else {
		lint_err(err, errlen, "%s key: RSA or EC only",
		    EVP_PKEY_get0_type_name(pub) != NULL ?
		    EVP_PKEY_get0_type_name(pub) : "unknown");
		goto out;
	}
	rc = 0;
out:
	BN_free(n);
	BN_free(e);
	return rc;
}

/*
 * Key type and size: cad_lint_pubkey(), then one of the profile's
 * key_types and the one the order asked for.
 */
static int
lint_key_size(const struct profile *p, EVP_PKEY *pub, const char *keytype,
    char *err, size_t errlen)
{
	char kt[16], why[256];

	if (cad_lint_pubkey(pub, kt, sizeof(kt), why, sizeof(why)) == -1) {
		lint_err(err, errlen, "lint: subject key: %s", why);
		return -1;
	}
	if (cad_lint_keytype(p, kt, err, errlen) == -1)
		return -1;
	if (strcmp(kt, keytype) != 0) {
		lint_err(err, errlen, "lint: subject key is %s, the order asks "
		    "for %s", kt, keytype);
		return -1;
	}
	return 0;
}

/*
 * Every extension is one the profile's extension section makes, once, and
 * as critical as it makes it (keyUsage, basicConstraints, ...).
 */
static int
lint_extensions_as_profiled(const struct profile *p, X509 *x, char *err,
    size_t errlen)
{
	X509_EXTENSION *ext;
	const ASN1_OBJECT *obj;
	char name[80];
	int i, n, crit;

	n = X509_get_ext_count(x);
	for (i = 0; i < n; i++) {
		ext = X509_get_ext(x, i);
		obj = X509_EXTENSION_get_object(ext);
		if (OBJ_obj2nid(obj) != NID_undef)
			snprintf(name, sizeof(name), "%s",
			    OBJ_nid2sn(OBJ_obj2nid(obj)));
		else if (OBJ_obj2txt(name, sizeof(name), obj, 1) <= 0)
			snprintf(name, sizeof(name), "?");
		if ((crit = profile_ext_critical(p, obj)) == -1) {
			lint_err(err, errlen, "lint: extension %s is not one "
			    "profile %s makes", name, profile_name(p));
			return -1;
		}
		if (X509_get_ext_by_OBJ(x, obj, i) >= 0) {
			lint_err(err, errlen, "lint: extension %s appears more "
			    "than once (RFC 5280 §4.2)", name);
			return -1;
		}
		if ((X509_EXTENSION_get_critical(ext) != 0) != crit) {
			lint_err(err, errlen, "lint: extension %s is %s, profile "
			    "%s makes it %s", name, crit ? "not critical" :
			    "critical", profile_name(p), crit ? "critical" :
			    "not critical");
			return -1;
		}
	}
	return 0;
}

/*
 * RFC 5280 §4.1.2.6: an e-mail address in the subject is also a
 * subjectAltName rfc822Name, and §4.2.1.6: a subjectAltName holds a name,
 * and an rfc822Name is a mailbox (lint_mailbox). Each emailAddress of the
 * subject must be a mailbox and one of its rfc822Names.
 */
static int
lint_email(X509 *x, char *err, size_t errlen)
{
	X509_NAME *subj = X509_get_subject_name(x);
	const ASN1_STRING *addr;
	GENERAL_NAMES *gens = NULL;
	GENERAL_NAME *g;
	int crit, i = -1, k, found, rc = -1;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	if (gens == NULL && crit != -1) {
		lint_err(err, errlen, "lint: subjectAltName does not parse");
		goto out;
	}
	if (gens != NULL && sk_GENERAL_NAME_num(gens) == 0) {
		lint_err(err, errlen, "lint: subjectAltName without a name "
		    "(RFC 5280 §4.2.1.6)");
		goto out;
	}
	for (k = 0; gens != NULL && k < sk_GENERAL_NAME_num(gens); k++) {
		g = sk_GENERAL_NAME_value(gens, k);
		if (g->type == GEN_EMAIL && lint_mailbox("subjectAltName "
		    "rfc822Name", ASN1_STRING_get0_data(g->d.rfc822Name),
		    (size_t)ASN1_STRING_length(g->d.rfc822Name), err,
		    errlen) == -1)
			goto out;
	}
	while ((i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress,
	    i)) >= 0) {
		addr = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
		if (lint_mailbox("subject emailAddress",
		    ASN1_STRING_get0_data(addr), (size_t)ASN1_STRING_length(addr),
		    err, errlen) == -1)
			goto out;
		found = 0;
		for (k = 0; gens != NULL && k < sk_GENERAL_NAME_num(gens); k++) {
			g = sk_GENERAL_NAME_value(gens, k);
			if (g->type == GEN_EMAIL &&
			    ASN1_STRING_length(g->d.rfc822Name) ==
			    ASN1_STRING_length(addr) &&
			    memcmp(ASN1_STRING_get0_data(g->d.rfc822Name),
			    ASN1_STRING_get0_data(addr),
			    (size_t)ASN1_STRING_length(addr)) == 0)
				found = 1;
		}
		if (!found) {
			lint_err(err, errlen, "lint: subject emailAddress "
			    "without the same subjectAltName rfc822Name (RFC "
			    "5280 §4.1.2.6)");
			goto out;
		}
	}
	rc = 0;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

/*
 * RFC 5280 §4.1.2.5: a validity time through 2049 is a UTCTime
 * (YYMMDDHHMMSSZ, §4.1.2.5.1), from 2050 a GeneralizedTime
 * (YYYYMMDDHHMMSSZ, §4.1.2.5.2). 0, or -1 with err.
 */
static int
lint_time_form(const ASN1_TIME *t, const char *which, char *err,
    size_t errlen)
{
	struct tm tm;
	int len = ASN1_STRING_length(t), type = ASN1_STRING_type(t), want;

	if (ASN1_TIME_to_tm(t, &tm) != 1) {
		lint_err(err, errlen, "lint: %s does not parse", which);
		return -1;
	}
	want = tm.tm_year + 1900 < 2050 ? V_ASN1_UTCTIME :
	    V_ASN1_GENERALIZEDTIME;
	if (type != want) {
		lint_err(err, errlen, "lint: %s in %d is a %s (RFC 5280 "
		    "§4.1.2.5: UTCTime through 2049, GeneralizedTime from "
		    "2050)", which, tm.tm_year + 1900, type == V_ASN1_UTCTIME ?
		    "UTCTime" : "GeneralizedTime");
		return -1;
	}
	if (len != (want == V_ASN1_UTCTIME ? 13 : 15) ||
	    ASN1_STRING_get0_data(t)[len - 1] != 'Z') {
		lint_err(err, errlen, "lint: %s is not in the form "
		    "YY[YY]MMDDHHMMSSZ (RFC 5280 §4.1.2.5)", which);
		return -1;
	}
	return 0;
}

/*
 * What each order kind's certificate may carry (ca/README.md "The lint",
 * policy/README.md): a subscriber's key signs, through signd, and nothing
 * else; a person's certificate may protect e-mail (S/MIME), a seal may not
 * (it is not a mailbox). Extended key usages by OID: id-kp-emailProtection
 * (RFC 5280 §4.2.1.12) and id-kp-documentSigning (RFC 9336).
 */
#define LINT_EKU_EMAIL		"1.3.6.1.5.5.7.3.4"
#define LINT_EKU_DOCSIGN	"1.3.6.1.5.5.7.3.36"

static const struct lint_kind {
	const char	*kind;
	uint32_t	 ku;		/* keyUsage bits allowed */
	const char	*eku[3];	/* extended key usages allowed */
} lint_kinds[] = {
	{ "personal", KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION,
	    { LINT_EKU_EMAIL, LINT_EKU_DOCSIGN, NULL } },
	{ "corporate", KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION,
	    { LINT_EKU_EMAIL, LINT_EKU_DOCSIGN, NULL } },
	{ "eseal", KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION,
	    { LINT_EKU_DOCSIGN, NULL, NULL } },
};

static const struct {
	uint32_t	 bit;
	const char	*name;
} lint_ku_names[] = {
	{ KU_DIGITAL_SIGNATURE, "digitalSignature" },
	{ KU_NON_REPUDIATION, "nonRepudiation" },
	{ KU_KEY_ENCIPHERMENT, "keyEncipherment" },
	{ KU_DATA_ENCIPHERMENT, "dataEncipherment" },
	{ KU_KEY_AGREEMENT, "keyAgreement" },
	{ KU_KEY_CERT_SIGN, "keyCertSign" },
	{ KU_CRL_SIGN, "cRLSign" },
	{ KU_ENCIPHER_ONLY, "encipherOnly" },
	{ KU_DECIPHER_ONLY, "decipherOnly" },
};

/* The name of the first bit of bits (a keyUsage), or "?". */
static const char *
lint_ku_name(uint32_t bits)
{
	size_t i;

	for (i = 0; i < sizeof(lint_ku_names) / sizeof(lint_ku_names[0]); i++)
		if ((bits & lint_ku_names[i].bit) != 0)
			return lint_ku_names[i].name;
	return "?";
}

/*
 * keyUsage and extendedKeyUsage against the key's algorithm (RFC 5480 §3:
 * an EC key never keyEncipherment nor dataEncipherment; RFC 3279 §2.3.1:
 * an RSA key never keyAgreement, encipherOnly nor decipherOnly) and the
 * allow-list of the profile's kind. 0, or -1 with err.
 */
static int
lint_usages(const struct profile *p, const char *kind, X509 *x,
    EVP_PKEY *pub, char *err, size_t errlen)
{
	const struct lint_kind *k = NULL;
	EXTENDED_KEY_USAGE *eku = NULL;
	char oid[80];
	uint32_t ku = X509_get_key_usage(x), bad;
	size_t i;
	int j, m, crit, rc = -1;

	for (i = 0; i < sizeof(lint_kinds) / sizeof(lint_kinds[0]); i++)
		if (strcmp(lint_kinds[i].kind, kind) == 0)
			k = &lint_kinds[i];
	if (k == NULL) {
		lint_err(err, errlen, "lint: profile %s: kind %s unknown "
		    "(personal, corporate, eseal)", profile_name(p), kind);
		goto out;
	}
	if (EVP_PKEY_is_a(pub, "EC") && (bad = ku & (KU_KEY_ENCIPHERMENT |
	    KU_DATA_ENCIPHERMENT)) != 0) {
		lint_err(err, errlen, "lint: keyUsage %s with an EC key (RFC "
		    "5480 §3)", lint_ku_name(bad));
		goto out;
	}
	if (EVP_PKEY_is_a(pub, "RSA") && (bad = ku & (KU_KEY_AGREEMENT |
	    KU_ENCIPHER_ONLY | KU_DECIPHER_ONLY)) != 0) {
		lint_err(err, errlen, "lint: keyUsage %s with an RSA key (RFC "
		    "3279 §2.3.1)", lint_ku_name(bad));
		goto out;
	}
	if ((bad = ku & ~k->ku) != 0) {
		lint_err(err, errlen, "lint: keyUsage %s not allowed for kind "
		    "%s (profile %s)", lint_ku_name(bad), kind, profile_name(p));
		goto out;
	}
	eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	if (eku == NULL && crit != -1) {
		lint_err(err, errlen, "lint: extendedKeyUsage does not parse");
		goto out;
	}
	for (j = 0; eku != NULL && j < sk_ASN1_OBJECT_num(eku); j++) {
		if (OBJ_obj2txt(oid, sizeof(oid), sk_ASN1_OBJECT_value(eku, j),
		    1) <= 0)
			snprintf(oid, sizeof(oid), "?");
		for (m = 0; m < 3 && k->eku[m] != NULL; m++)
			if (strcmp(k->eku[m], oid) == 0)
				break;
		if (m == 3 || k->eku[m] == NULL) {
			lint_err(err, errlen, "lint: extendedKeyUsage %s (%s) not "
			    "allowed for kind %s (profile %s)", OBJ_nid2sn(
			    OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, j))), oid, kind,
			    profile_name(p));
			goto out;
		}
	}
	rc = 0;
out:
	EXTENDED_KEY_USAGE_free(eku);
	return rc;
}

/*
 * An absolute http URL: "http://", a host name or address (letters,
 * digits, '.', '-'; or an IPv6 literal in brackets), an optional port, then
 * nothing or a path of printable ASCII without spaces (RFC 3986 §3; RFC
 * 5280 §4.2.2.1 and §4.2.1.13: relying parties fetch these over HTTP).
 */
static int
lint_http_url(const ASN1_IA5STRING *uri)
{
	const unsigned char *s = ASN1_STRING_get0_data(uri);
	int len = ASN1_STRING_length(uri), i = 7, host;

	if (len <= 7 || len > LINT_URI_MAX || memcmp(s, "http://", 7) != 0)
		return -1;
	if (s[i] == '[') {
		for (i++; i < len && (isxdigit(s[i]) || s[i] == ':' ||
		    s[i] == '.'); i++)
			;
		if (i == 8 || i == len || s[i++] != ']')
			return -1;
	} else {
		for (host = i; i < len && (isalnum(s[i]) || s[i] == '.' ||
		    s[i] == '-'); i++)
			;
		if (i == host || s[host] == '.' || s[host] == '-')
			return -1;
	}
	if (i < len && s[i] == ':') {
		for (host = ++i; i < len && isdigit(s[i]); i++)
			;
		if (i == host || i - host > 5)
			return -1;
	}
	if (i < len && s[i] != '/')
		return -1;
	for (; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || strchr("\"<>\\^`{|}",
		    s[i]) != NULL)
			return -1;
	return 0;
}

/* Each name a URI, each an http URL (what); 0, or -1 with err. */
static int
lint_uri_names(const GENERAL_NAMES *names, const char *what, char *err,
    size_t errlen)
{
	const GENERAL_NAME *g;
	int i;

	if (names == NULL || sk_GENERAL_NAME_num(names) == 0) {
		lint_err(err, errlen, "lint: %s without a URI", what);
		return -1;
	}
	for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		g = sk_GENERAL_NAME_value(names, i);
		if (g->type != GEN_URI || lint_http_url(g->d.uniformResourceIdentifier)
		    == -1) {
			lint_err(err, errlen, "lint: %s is not an absolute http "
			    "URL (http://host/...)", what);
			return -1;
		}
	}
	return 0;
}

/*
 * authorityInfoAccess (OCSP and caIssuers only), crlDistributionPoints and
 * freshestCRL: every location an absolute http URL, each distribution
 * point a full name (RFC 5280 §4.2.2.1, §4.2.1.13, §4.2.1.15). 0, or -1.
 */
static int
lint_uris(X509 *x, char *err, size_t errlen)
{
	static const int dp_nids[] = { NID_crl_distribution_points,
	    NID_freshest_crl };
	AUTHORITY_INFO_ACCESS *aia = NULL;
	CRL_DIST_POINTS *dps = NULL;
	ACCESS_DESCRIPTION *ad;
	DIST_POINT *dp;
	const char *what;
	size_t n;
	int i, crit, nid, rc = -1;

	aia = X509_get_ext_d2i(x, NID_info_access, &crit, NULL);
	if (aia == NULL && crit != -1) {
		lint_err(err, errlen, "lint: authorityInfoAccess does not parse");
		goto out;
	}
	for (i = 0; aia != NULL && i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
		ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		nid = OBJ_obj2nid(ad->method);
		if (nid != NID_ad_OCSP && nid != NID_ad_ca_issuers) {
			lint_err(err, errlen, "lint: authorityInfoAccess method "
			    "other than OCSP and caIssuers (RFC 5280 §4.2.2.1)");
			goto out;
		}
		if (ad->location->type != GEN_URI || lint_http_url(
		    ad->location->d.uniformResourceIdentifier) == -1) {
			lint_err(err, errlen, "lint: authorityInfoAccess %s is "
			    "not an absolute http URL (http://host/...)",
			    nid == NID_ad_OCSP ? "OCSP" : "caIssuers");
			goto out;
		}
	}
	for (n = 0; n < sizeof(dp_nids) / sizeof(dp_nids[0]); n++) {
		what = dp_nids[n] == NID_freshest_crl ? "freshestCRL" :
		    "crlDistributionPoints";
		dps = X509_get_ext_d2i(x, dp_nids[n], &crit, NULL);
		if (dps == NULL && crit != -1) {
			lint_err(err, errlen, "lint: %s does not parse", what);
			goto out;
		}
		for (i = 0; dps != NULL && i < sk_DIST_POINT_num(dps); i++) {
			dp = sk_DIST_POINT_value(dps, i);
			if (dp->distpoint == NULL || dp->distpoint->type != 0) {
				lint_err(err, errlen, "lint: %s without a full "
				    "name (RFC 5280 §4.2.1.13)", what);
				goto out;
			}
			if (lint_uri_names(dp->distpoint->name.fullname, what,
			    err, errlen) == -1)
				goto out;
		}
		CRL_DIST_POINTS_free(dps);
		dps = NULL;
	}
	rc = 0;
out:
	AUTHORITY_INFO_ACCESS_free(aia);
	CRL_DIST_POINTS_free(dps);
	return rc;
}

int
cad_lint_subject(const struct profile *p, X509 *x, char *err, size_t errlen)
{
	X509_NAME *subj = X509_get_subject_name(x);
	X509_NAME_ENTRY *e;
	const ASN1_OBJECT *obj;
	unsigned char *utf8 = NULL;
	char oid[80];
	const char *q;
	int i, n, nid, ulen, rc = -1;

	/* Non-empty, no empty attribute, only the profile's. */
	if ((n = X509_NAME_entry_count(subj)) == 0) {
		lint_err(err, errlen, "lint: empty subject");
		goto out;
	}
	for (i = 0; i < n; i++) {
		e = X509_NAME_get_entry(subj, i);
		obj = X509_NAME_ENTRY_get_object(e);
		nid = OBJ_obj2nid(obj);
		q = nid == NID_commonName ? "CN" : nid == NID_countryName ? "C" :
		    OBJ_nid2sn(nid);
		/* An OID OpenSSL does not name: its dotted form (digits, dots). */
		if (nid == NID_undef) {
			if (OBJ_obj2txt(oid, sizeof(oid), obj, 1) <= 0)
				snprintf(oid, sizeof(oid), "?");
			q = oid;
		}
		if (p != NULL && (nid == NID_undef || !lint_in_list(profile_get(p,
		    "subject_allowed"), q))) {
			lint_err(err, errlen, "lint: subject attribute %s not "
			    "allowed by profile %s", q, profile_name(p));
			goto out;
		}
		/*
		 * A CSR's subject may put several attributes in one RDN, or
		 * one attribute in several: only where the profile says so.
		 */
		if (p != NULL && i > 0 && X509_NAME_ENTRY_set(e) ==
		    X509_NAME_ENTRY_set(X509_NAME_get_entry(subj, i - 1)) &&
		    !lint_yes(profile_get(p, "subject_multivalued"))) {
			lint_err(err, errlen, "lint: subject attribute %s shares "
			    "an RDN with another (a multi-valued RDN): not "
			    "allowed by profile %s (subject_multivalued)", q,
			    profile_name(p));
			goto out;
		}
		if (p != NULL && X509_NAME_get_index_by_NID(subj, nid, i) >= 0 &&
		    !lint_in_list(profile_get(p, "subject_repeatable"), q)) {
			lint_err(err, errlen, "lint: subject attribute %s appears "
			    "more than once: not allowed by profile %s "
			    "(subject_repeatable)", q, profile_name(p));
			goto out;
		}
		if (lint_string_type(nid, q, X509_NAME_ENTRY_get_data(e), err,
		    errlen) == -1)
			goto out;
		if ((ulen = ASN1_STRING_to_UTF8(&utf8,
		    X509_NAME_ENTRY_get_data(e))) < 0) {
			lint_err(err, errlen, "lint: subject attribute %s: no "
			    "UTF-8 form", q);
			goto out;
		}
		if (lint_value(q, utf8, (size_t)ulen, err, errlen) == -1 ||
		    (nid == NID_countryName && lint_country(utf8, (size_t)ulen,
		    err, errlen) == -1))
			goto out;
		OPENSSL_free(utf8);
		utf8 = NULL;
	}
	if (lint_email(x, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	OPENSSL_free(utf8);
	return rc;
}

int
cad_lint_csr_subject(const struct profile *p, X509 *x, char *err,
    size_t errlen)
{
	X509_NAME *subj = X509_get_subject_name(x);
	const char *required, *q;
	char word[64];
	int nid;

	if ((required = profile_get(p, "subject_required")) == NULL ||
	    *required == '\0' || profile_get(p, "subject_allowed") == NULL ||
	    *profile_get(p, "subject_allowed") == '\0') {
		lint_err(err, errlen, "profile %s: [profile] subject_required "
		    "or subject_allowed missing: a CSR's subject is signed only "
		    "within them (policy/README.md)", profile_name(p));
		return -1;
	}
	if (cad_lint_subject(p, x, err, errlen) == -1)
		return -1;
	q = required;
	while (lint_list_next(&q, word, sizeof(word))) {
		if ((nid = OBJ_sn2nid(word)) == NID_undef) {
			lint_err(err, errlen, "lint: profile %s requires an "
			    "unknown subject attribute %s", profile_name(p),
			    word);
			return -1;
		}
		if (X509_NAME_get_index_by_NID(subj, nid, -1) < 0) {
			lint_err(err, errlen, "lint: subject attribute %s "
			    "required by profile %s is missing", word,
			    profile_name(p));
			return -1;
		}
	}
	return 0;
}

int
cad_lint(const struct profile *p, X509 *x, X509 *issuer, const char *keytype,
    long max_days, char *err, size_t errlen)
{
	const char *kind, *exts, *why;
	char word[64];
	const ASN1_INTEGER *sn;
	BIGNUM *bn = NULL;
	EVP_PKEY *pub;
	const char *q;
	int nid, days, secs, cmp, rc = -1;
	time_t soon = time(NULL) + LINT_MIN_REMAINING_S;

	if ((kind = lint_key(p, "kind", err, errlen)) == NULL ||
	    (exts = lint_key(p, "extensions_required", err, errlen)) == NULL)
		goto out;
	if (X509_get_version(x) != X509_VERSION_3) {
		lint_err(err, errlen, "lint: not a v3 certificate");
		goto out;
	}
	sn = X509_get0_serialNumber(x);
	if ((bn = ASN1_INTEGER_to_BN(sn, NULL)) == NULL || BN_is_negative(bn) ||
	    BN_num_bits(bn) < LINT_SERIAL_MIN_BITS ||
	    BN_num_bytes(bn) > LINT_SERIAL_MAX_OCTETS - 1) {
		lint_err(err, errlen, "lint: serial must be positive, of at "
		    "least %d bits and at most %d octets (RFC 5280 §4.1.2.2)",
		    LINT_SERIAL_MIN_BITS, LINT_SERIAL_MAX_OCTETS);
		goto out;
	}
	if (X509_NAME_cmp(X509_get_issuer_name(x),
	    X509_get_subject_name(issuer)) != 0) {
		lint_err(err, errlen, "lint: issuer name is not the issuing CA's");
		goto out;
	}
	/* Validity: ordered, within the issuer's, at most max_days. */
	if (ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
	    X509_get0_notAfter(x)) != 1 || days < 0 || secs < 0 ||
	    (days == 0 && secs == 0)) {
		lint_err(err, errlen, "lint: notAfter is not after notBefore");
		goto out;
	}
	if (days > max_days || (days == max_days && secs > 0)) {
		lint_err(err, errlen, "lint: validity of %d days %d s exceeds "
		    "the cap of %ld days (cad.max_validity_days)", days, secs,
		    max_days);
		goto out;
	}
	if (ASN1_TIME_compare(X509_get0_notAfter(x),
	    X509_get0_notAfter(issuer)) > 0) {
		lint_err(err, errlen, "lint: valid beyond the issuer (RFC 5280 "
		    "§6.1.3)");
		goto out;
	}
	/* -1 before, -2 a time that does not compare: refused alike. */
	cmp = ASN1_TIME_compare(X509_get0_notBefore(x),
	    X509_get0_notBefore(issuer));
	if (cmp != 0 && cmp != 1) {
		lint_err(err, errlen, "lint: valid before the issuer");
		goto out;
	}
	if (lint_time_form(X509_get0_notBefore(x), "notBefore", err,
	    errlen) == -1 || lint_time_form(X509_get0_notAfter(x), "notAfter",
	    err, errlen) == -1)
		goto out;
	if (X509_cmp_time(X509_get0_notAfter(x), &soon) <= 0) {
		lint_err(err, errlen, "lint: notAfter is less than %d hours "
		    "away (the issuing CA's certificate ends then)",
		    LINT_MIN_REMAINING_S / 3600);
		goto out;
	}
	if (cad_lint_subject(p, x, err, errlen) == -1)
		goto out;
	if ((pub = X509_get0_pubkey(x)) == NULL) {
		lint_err(err, errlen, "lint: no subject public key");
		goto out;
	}
	if (lint_key_size(p, pub, keytype, err, errlen) == -1)
		goto out;
	/* Extensions: each required one present; all parse; an end entity. */
	q = exts;
	while (lint_list_next(&q, word, sizeof(word))) {
		if ((nid = OBJ_sn2nid(word)) == NID_undef) {
			lint_err(err, errlen, "lint: profile %s names an unknown "
			    "extension %s", profile_name(p), word);
			goto out;
		}
		if (X509_get_ext_by_NID(x, nid, -1) < 0) {
			lint_err(err, errlen, "lint: required extension %s "
			    "missing", word);
			goto out;
		}
	}
	if (lint_extensions_as_profiled(p, x, err, errlen) == -1)
		goto out;
	if ((X509_get_extension_flags(x) & EXFLAG_INVALID) != 0) {
		lint_err(err, errlen, "lint: an extension does not parse");
		goto out;
	}
	if (X509_check_ca(x) != 0) {
		lint_err(err, errlen, "lint: a CA certificate: refused outside "
		    "a ceremony");
		goto out;
	}
	/* Without the extension OpenSSL reports every usage: test the flag. */
	if ((X509_get_extension_flags(x) & EXFLAG_KUSAGE) == 0) {
		lint_err(err, errlen, "lint: no keyUsage (a subscriber's key "
		    "signs: digitalSignature; RFC 5280 §4.2.1.3)");
		goto out;
	}
	if ((X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE) == 0) {
		lint_err(err, errlen, "lint: keyUsage lacks digitalSignature");
		goto out;
	}
	if ((why = x509ext_ca_usage(X509_get0_extensions(x))) != NULL) {
		lint_err(err, errlen, "lint: %s: refused for a subscriber",
		    why);
		goto out;
	}
	if (lint_usages(p, kind, x, pub, err, errlen) == -1 ||
	    lint_uris(x, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	BN_free(bn);
	return rc;
}

/*
 * A key of type kt ("ec-p256", "rsa2048", …) for the start-up check: made
 * here, never stored. NULL for a type cad does not issue.
 */
static EVP_PKEY *
lint_dummy_key(const char *kt)
{
	if (strcmp(kt, "ec-p256") == 0)
		return EVP_EC_gen("P-256");
	if (strcmp(kt, "ec-p384") == 0)
		return EVP_EC_gen("P-384");
	if (strcmp(kt, "rsa2048") == 0)
		return EVP_RSA_gen(2048);
	if (strcmp(kt, "rsa3072") == 0)
		return EVP_RSA_gen(3072);
	if (strcmp(kt, "rsa4096") == 0)
		return EVP_RSA_gen(4096);
	return NULL;
}

int
cad_lint_profile(const struct profile *p, X509 *issuer, long max_days,
    char *err, size_t errlen)
{
	const char *types;
	char kt[16], why[512];
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	long span;
	size_t len;
	int rc = -1;

	if (lint_key(p, "kind", err, errlen) == NULL ||
	    lint_key(p, "subject_required", err, errlen) == NULL ||
	    lint_key(p, "subject_allowed", err, errlen) == NULL ||
	    lint_key(p, "extensions_required", err, errlen) == NULL ||
	    (types = lint_key(p, "key_types", err, errlen)) == NULL)
		goto out;
	/* The lint counts notBefore (backdated) to notAfter: so does this. */
	span = profile_validity_days(p) * 86400 + profile_backdate_seconds(p);
	if (span > max_days * 86400) {
		lint_err(err, errlen, "profile %s: validity_days %ld and "
		    "backdate_seconds %ld make certificates of %ld days %ld s, "
		    "over cad.max_validity_days %ld: every order would fail "
		    "lint (raise the cap to %ld or shorten the profile)",
		    profile_name(p), profile_validity_days(p),
		    profile_backdate_seconds(p), span / 86400, span % 86400,
		    max_days, (span + 86399) / 86400);
		goto out;
	}
	/* The first of key_types. */
	types += strspn(types, " ,");
	len = strcspn(types, " ,");
	snprintf(kt, sizeof(kt), "%.*s", (int)len, types);
	if ((key = lint_dummy_key(kt)) == NULL) {
		lint_err(err, errlen, "profile %s: key_types starts with %s "
		    "(ec-p256, ec-p384, rsa2048, rsa3072, rsa4096)",
		    profile_name(p), kt);
		goto out;
	}
	if ((x = profile_build(p, NULL, key, NULL, issuer, NULL, why,
	    sizeof(why))) == NULL) {
		lint_err(err, errlen, "profile %s: a test certificate cannot "
		    "be built: %s", profile_name(p), why);
		goto out;
	}
	if (cad_lint(p, x, issuer, kt, max_days, why, sizeof(why)) == -1) {
		lint_err(err, errlen, "profile %s: a test certificate fails "
		    "the lint: %s", profile_name(p), why);
		goto out;
	}
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}
