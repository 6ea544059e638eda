/*
 * cad's lint: the checks a certificate passes before the issuing key signs
 * it. The profile's [ profile ] keys kind, key_types, subject_required,
 * subject_allowed and extensions_required (policy/README.md) say what
 * conforms; the rest is RFC 5280 and CA/Browser Forum practice.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/extern.h"
#include "ca/worker/extern.h"
#include "lib/json.h"

#define LINT_JSON_MAX		4096
#define LINT_VALUE_MAX		128	/* ub-organization-name etc.: 64 or 128 */
#define LINT_CN_MAX		64	/* ub-common-name, RFC 5280 Appendix A */
#define LINT_SERIAL_MIN_BITS	64	/* CA/B BR §7.1 */
#define LINT_SERIAL_MAX_OCTETS	20	/* RFC 5280 §4.1.2.2 */
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

static void __attribute__((format(printf, 3, 4)))
lint_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
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

/*
 * The next code point of the UTF-8 text s[*i..len), or -1 when it is not
 * well-formed UTF-8 (overlong forms, surrogates and values above U+10FFFF
 * included); advances *i.
 */
static long
lint_utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	static const long min[4] = { 0, 0x80, 0x800, 0x10000 };
	unsigned char c = s[(*i)++];
	long cp;
	int n, k;

	if (c < 0x80)
		return c;
	n = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 :
	    (c & 0xf8) == 0xf0 ? 3 : 0;
	if (n == 0 || len - *i < (size_t)n)
		return -1;
	cp = c & (0x3f >> n);
	for (k = 0; k < n; k++) {
		if ((s[*i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[(*i)++] & 0x3f);
	}
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	return cp;
}

/*
 * A bidirectional formatting character: the embeddings and overrides
 * (U+202A..U+202E), the isolates (U+2066..U+2069) and the marks (U+200E,
 * U+200F, U+061C). In a name they make it read other than it is stored.
 */
static int
lint_bidi(long cp)
{
	return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 &&
	    cp <= 0x2069) || cp == 0x200e || cp == 0x200f || cp == 0x061c;
}

/*
 * Judges a subject attribute's value, UTF-8 text of len bytes: not empty
 * nor only spaces, no control character (C0, DEL, C1; a NUL included), no
 * bidirectional formatting character, at most LINT_CN_MAX characters for
 * CN and LINT_VALUE_MAX for the others (code points: the upper bounds of
 * RFC 5280 Appendix A count characters, not octets). 0, or -1 with err.
 */
static int
lint_value(const char *attr, const unsigned char *s, size_t len, char *err,
    size_t errlen)
{
	size_t i = 0, chars = 0, max;
	long cp;
	int blank = 1;

	max = strcmp(attr, "CN") == 0 ? LINT_CN_MAX : LINT_VALUE_MAX;
	while (i < len) {
		if ((cp = lint_utf8_next(s, len, &i)) == -1) {
			lint_err(err, errlen, "lint: subject attribute %s is "
			    "not UTF-8", attr);
			return -1;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			lint_err(err, errlen, "lint: subject attribute %s holds "
			    "a control character (U+%04lX)", attr, cp);
			return -1;
		}
		if (lint_bidi(cp)) {
			lint_err(err, errlen, "lint: subject attribute %s holds "
			    "a bidirectional formatting character (U+%04lX)",
			    attr, cp);
			return -1;
		}
		if (cp != ' ' && cp != 0xa0)
			blank = 0;
		chars++;
	}
	if (blank) {
		lint_err(err, errlen, "lint: subject attribute %s is empty",
		    attr);
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
 * RFC 5280 §4.1.2.4 / X.520: countryName is PrintableString(2), an ISO 3166
 * alpha-2 code. 0, or -1 with err.
 */
static int
lint_country(const unsigned char *s, size_t len, char *err, size_t errlen)
{
	if (len != 2 || !isupper(s[0]) || !isupper(s[1])) {
		lint_err(err, errlen, "lint: subject attribute C must be "
		    "two upper-case letters (ISO 3166)");
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
			lint_err(err, errlen, "lint: subject attribute %s not "
			    "allowed by profile %s (%s)", key, profile_name(p),
			    allowed);
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

/*
 * Key type and size: RSA >= 2048 bits, EC on P-256 or P-384 only, one of
 * the profile's key_types and the one the order asked for.
 */
static int
lint_key_size(const struct profile *p, EVP_PKEY *pub, const char *keytype,
    char *err, size_t errlen)
{
	char group[64];
	size_t glen = 0;
	const char *kt;

	if (EVP_PKEY_is_a(pub, "RSA")) {
		if (EVP_PKEY_get_bits(pub) < 2048) {
			lint_err(err, errlen, "lint: RSA key of %d bits (2048 at "
			    "least)", EVP_PKEY_get_bits(pub));
			return -1;
		}
		kt = EVP_PKEY_get_bits(pub) == 2048 ? "rsa2048" :
		    EVP_PKEY_get_bits(pub) == 3072 ? "rsa3072" :
		    EVP_PKEY_get_bits(pub) == 4096 ? "rsa4096" : "rsa-other";
	} else if (EVP_PKEY_is_a(pub, "EC")) {
		if (EVP_PKEY_get_utf8_string_param(pub, "group", group,
		    sizeof(group), &glen) != 1) {
			lint_err(err, errlen, "lint: EC key without a named curve");
			return -1;
		}
		kt = strcmp(group, "prime256v1") == 0 ? "ec-p256" :
		    strcmp(group, "secp384r1") == 0 ? "ec-p384" : NULL;
		if (kt == NULL) {
			lint_err(err, errlen, "lint: EC curve %s refused (P-256, "
			    "P-384 only)", group);
			return -1;
		}
	} else {
		lint_err(err, errlen, "lint: subject key is neither RSA nor EC");
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
 * subjectAltName rfc822Name, and §4.2.1.6: a subjectAltName holds a name.
 * Each emailAddress of the subject must be one of its rfc822Names.
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
	while ((i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress,
	    i)) >= 0) {
		addr = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
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
		if (p != NULL && (nid == NID_undef || !lint_in_list(profile_get(p,
		    "subject_allowed"), q))) {
			lint_err(err, errlen, "lint: subject attribute %s not "
			    "allowed by profile %s", nid == NID_undef ? "?" : q,
			    profile_name(p));
			goto out;
		}
		if (nid == NID_undef) {
			if (OBJ_obj2txt(oid, sizeof(oid), obj, 1) <= 0)
				snprintf(oid, sizeof(oid), "?");
			q = oid;
		}
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
cad_lint(const struct profile *p, X509 *x, X509 *issuer, const char *keytype,
    long max_days, char *err, size_t errlen)
{
	const char *kind, *exts, *why;
	char word[64];
	const ASN1_INTEGER *sn;
	BIGNUM *bn = NULL;
	EVP_PKEY *pub;
	const char *q;
	size_t len;
	int nid, days, secs, rc = -1;
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
	for (q = exts; *q != '\0'; q += len) {
		while (*q == ' ' || *q == ',')
			q++;
		if ((len = strcspn(q, ", ")) == 0)
			break;
		snprintf(word, sizeof(word), "%.*s", (int)len, q);
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
	if ((why = profile_ca_usage(x)) != NULL) {
		lint_err(err, errlen, "lint: %s: refused for a subscriber",
		    why);
		goto out;
	}
	rc = 0;
out:
	BN_free(bn);
	return rc;
}
