/* Sealed audit trail formats; see auditseal.h and audit/README.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/auditseal.h"
#include "lib/hex.h"

#define AUDITSEAL_HEAD_MAGIC	"pki-audit-tree-head-v1"

static void
auditseal_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

int
auditseal_label_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return i > 0 && i <= AUDITSEAL_LABEL_MAX;
}

int
auditseal_head_text(const struct auditseal *s, char *buf, size_t len)
{
	char root[2 * MERKLE_HASH + 1], next[2 * AUDITSEAL_SPKI_HASH + 1];
	int n, m;

	hex_encode(s->root, MERKLE_HASH, root);
	n = snprintf(buf, len, AUDITSEAL_HEAD_MAGIC "\nseal %llu\nsize %llu\n"
	    "root %s\ntime %s\nkey %s\n", (unsigned long long)s->id,
	    (unsigned long long)s->tree_size, root, s->sealed_at, s->key);
	if (n < 0 || (size_t)n >= len)
		return -1;
	if (s->next_key[0] == '\0')
		return n;
	/* A handover seal (audit/README.md "Rotating the audit key"). */
	hex_encode(s->next_spki_sha256, AUDITSEAL_SPKI_HASH, next);
	m = snprintf(buf + n, len - (size_t)n, "next %s %s\n", s->next_key,
	    next);
	return m < 0 || (size_t)m >= len - (size_t)n ? -1 : n + m;
}

int
auditseal_head_parse(const unsigned char *text, size_t len,
    struct auditseal *s)
{
	unsigned long long id, size;
	char buf[512], root[2 * MERKLE_HASH + 1];
	char next[2 * AUDITSEAL_SPKI_HASH + 1];
	size_t n;
	int r, pos = -1;

	memset(s, 0, sizeof(*s));
	/* Bounded, NUL-free copy: sscanf reads a string. */
	if (len == 0 || len >= sizeof(buf) || memchr(text, '\0', len) != NULL)
		return -1;
	memcpy(buf, text, len);
	buf[len] = '\0';
	r = sscanf(buf, AUDITSEAL_HEAD_MAGIC "\nseal %llu\nsize %llu\nroot "
	    "%64[0-9a-f]\ntime %39[!-~]\nkey %64[!-~]\n%n", &id, &size, root,
	    s->sealed_at, s->key, &pos);
	if (r != 5 || pos < 0 || hex_decode(root, s->root, sizeof(s->root),
	    &n) == -1 || n != MERKLE_HASH)
		goto bad;
	/* The optional last line: "next LABEL SHA256HEX". */
	if (buf[pos] != '\0') {
		if (sscanf(buf + pos, "next %64[!-~] %64[0-9a-f]", s->next_key,
		    next) != 2 || hex_decode(next, s->next_spki_sha256,
		    sizeof(s->next_spki_sha256), &n) == -1 ||
		    n != AUDITSEAL_SPKI_HASH)
			goto bad;
	}
	s->id = id;
	s->tree_size = size;
	/* Exactly the text auditseal_head_text() makes of what was read. */
	r = auditseal_head_text(s, buf, sizeof(buf));
	if (r > 0 && (size_t)r == len && memcmp(buf, text, len) == 0)
		return 0;
bad:
	memset(s, 0, sizeof(*s));
	return -1;
}

int
auditseal_head_check(const unsigned char *text, size_t len,
    const char *key_label)
{
	struct auditseal s;

	if (auditseal_head_parse(text, len, &s) == -1 ||
	    strcmp(s.key, key_label) != 0)
		return -1;
	return 0;
}

int
auditseal_spki_sha256(EVP_PKEY *pub, unsigned char md[AUDITSEAL_SPKI_HASH])
{
	unsigned char *der = NULL;
	int len, rc = -1;

	if ((len = i2d_PUBKEY(pub, &der)) > 0 && EVP_Digest(der, (size_t)len,
	    md, NULL, EVP_sha256(), NULL) == 1)
		rc = 0;
	OPENSSL_free(der);
	return rc;
}

/* A public key's DER SubjectPublicKeyInfo is far below this. */
#define AUDITSEAL_SPKI_B64_MAX	4096

char *
auditseal_spki_b64(EVP_PKEY *pub)
{
	unsigned char *der = NULL;
	char *out = NULL;
	int len;

	if ((len = i2d_PUBKEY(pub, &der)) <= 0 ||
	    len > AUDITSEAL_SPKI_B64_MAX / 4 * 3 ||
	    (out = malloc(((size_t)len + 2) / 3 * 4 + 1)) == NULL)
		goto out;
	(void)EVP_EncodeBlock((unsigned char *)out, der, len);
out:
	OPENSSL_free(der);
	return out;
}

EVP_PKEY *
auditseal_spki_from_b64(const char *b64)
{
	const unsigned char *p;
	unsigned char *der = NULL, *again = NULL;
	EVP_PKEY *k = NULL;
	size_t len = strlen(b64), pad = 0;
	int n, m;

	if (len == 0 || len % 4 != 0 || len > AUDITSEAL_SPKI_B64_MAX ||
	    (der = malloc(len / 4 * 3)) == NULL)
		goto out;
	/* EVP_DecodeBlock counts the padding's bytes as zeros. */
	if (b64[len - 1] == '=')
		pad = b64[len - 2] == '=' ? 2 : 1;
	if ((n = EVP_DecodeBlock(der, (const unsigned char *)b64,
	    (int)len)) < 0 || (size_t)n < pad)
		goto out;
	n -= (int)pad;
	p = der;
	if ((k = d2i_PUBKEY(NULL, &p, n)) == NULL || p != der + n ||
	    (m = i2d_PUBKEY(k, &again)) != n || memcmp(again, der,
	    (size_t)n) != 0) {
		EVP_PKEY_free(k);
		k = NULL;
	}
out:
	OPENSSL_free(again);
	free(der);
	return k;
}

static json_t *
auditseal_seal_object(const struct auditseal *s)
{
	char root[2 * MERKLE_HASH + 1], sig[2 * AUDITSEAL_SIG_MAX + 1];
	char next[2 * AUDITSEAL_SPKI_HASH + 1];
	json_t *o;

	hex_encode(s->root, MERKLE_HASH, root);
	hex_encode(s->sig, s->siglen, sig);
	o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s}", "seal",
	    (json_int_t)s->id, "tree_size", (json_int_t)s->tree_size, "root",
	    root, "sealed_at", s->sealed_at, "key", s->key, "signature", sig);
	if (o == NULL || s->next_key[0] == '\0')
		return o;
	/* Only in a handover seal: older lines stay as they were. */
	hex_encode(s->next_spki_sha256, AUDITSEAL_SPKI_HASH, next);
	if (json_object_set_new(o, "next_key", json_pack("{s:s, s:s}",
	    "label", s->next_key, "public_key_sha256", next)) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *
auditseal_seal_json(const struct auditseal *s)
{
	json_t *o;
	char *out;

	if ((o = auditseal_seal_object(s)) == NULL)
		return NULL;
	out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return out;
}

/* A seal from its JSON object; 0 or -1 with err. */
static int
auditseal_seal_from(json_t *o, struct auditseal *s, char *err, size_t errlen)
{
	json_int_t id, size;
	json_t *next = NULL;
	const char *root, *at, *key, *sig, *nlabel, *nhash;
	memset(s, 0, sizeof(*s));
	if (json_unpack(o, "{s:I, s:I, s:s, s:s, s:s, s:s, s?o !}", "seal", &id,
	    "tree_size", &size, "root", &root, "sealed_at", &at, "key", &key,
	    "signature", &sig, "next_key", &next) != 0) {
		auditseal_err(err, errlen, "a seal needs exactly seal, "
		    "tree_size, root, sealed_at, key and signature (and "
		    "next_key in a handover seal)");
		return -1;
	}
	if (next != NULL) {
		if (json_unpack(next, "{s:s, s:s !}", "label", &nlabel,
		    "public_key_sha256", &nhash) != 0 ||
		    !auditseal_label_ok(nlabel) || hex_decode(nhash,
		    s->next_spki_sha256, AUDITSEAL_SPKI_HASH, NULL) == -1) {
			memset(s, 0, sizeof(*s));
			auditseal_err(err, errlen, "next_key: exactly label (1 "
			    "to 64 printable ASCII characters, no space) and "
			    "public_key_sha256 (64 lower-case hex digits)");
			return -1;
		}
		memcpy(s->next_key, nlabel, strlen(nlabel) + 1);
	}
	if (id <= 0 || size <= 0) {
		auditseal_err(err, errlen, "seal and tree_size must be positive");
		return -1;
	}
	s->id = (uint64_t)id;
	s->tree_size = (uint64_t)size;
	if (hex_decode(root, s->root, MERKLE_HASH, NULL) == -1) {
		auditseal_err(err, errlen, "root: 64 lower-case hex digits");
		return -1;
	}
	if (strlen(at) == 0 || strlen(at) >= sizeof(s->sealed_at) ||
	    strlen(key) == 0 || strlen(key) >= sizeof(s->key)) {
		auditseal_err(err, errlen, "sealed_at or key: empty or too long");
		return -1;
	}
	/* Printable ASCII only: they go into the signed text as they are. */
	if (!auditseal_label_ok(at) || !auditseal_label_ok(key))
		goto bad_text;
	memcpy(s->sealed_at, at, strlen(at) + 1);
	memcpy(s->key, key, strlen(key) + 1);
	if (hex_decode(sig, s->sig, sizeof(s->sig), &s->siglen) == -1 ||
	    s->siglen == 0) {
		auditseal_err(err, errlen, "signature: lower-case hex, at most "
		    "256 bytes");
		return -1;
	}
	return 0;
bad_text:
	auditseal_err(err, errlen, "sealed_at and key: printable ASCII only");
	return -1;
}

int
auditseal_seal_parse(const char *line, size_t len, struct auditseal *s,
    char *err, size_t errlen)
{
	json_error_t je;
	json_t *o;
	int rc;

	if (len > AUDITSEAL_LINE_MAX ||
	    (o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		auditseal_err(err, errlen, "not a JSON seal line");
		return -1;
	}
	rc = auditseal_seal_from(o, s, err, errlen);
	json_decref(o);
	return rc;
}

int
auditseal_seal_verify(const struct auditseal *s, EVP_PKEY *pub, char *err,
    size_t errlen)
{
	char head[512];
	EVP_MD_CTX *c = NULL;
	int n, rc = -1;

	if ((n = auditseal_head_text(s, head, sizeof(head))) == -1) {
		auditseal_err(err, errlen, "tree head too long");
		return -1;
	}
	if ((c = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, pub) == 1 &&
	    EVP_DigestVerify(c, s->sig, s->siglen, (unsigned char *)head,
	    (size_t)n) == 1)
		rc = 0;
	else
		auditseal_err(err, errlen, "the seal's signature does not "
		    "verify with the audit public key");
	EVP_MD_CTX_free(c);
	return rc;
}

char *
auditseal_proof_json(const struct auditseal_proof *p)
{
	char hex[2 * MERKLE_HASH + 1];
	json_t *o, *path, *seal;
	char *out = NULL;
	size_t i;

	if ((path = json_array()) == NULL)
		return NULL;
	for (i = 0; i < p->npath; i++) {
		hex_encode(p->path[i], MERKLE_HASH, hex);
		if (json_array_append_new(path, json_string(hex)) == -1) {
			json_decref(path);
			return NULL;
		}
	}
	if ((seal = auditseal_seal_object(&p->seal)) == NULL) {
		json_decref(path);
		return NULL;
	}
	o = json_pack("{s:s, s:I, s:I, s:o, s:o}", "event", p->event,
	    "leaf_index", (json_int_t)p->leaf_index, "tree_size",
	    (json_int_t)p->tree_size, "path", path, "seal", seal);
	if (o != NULL)
		out = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	return out;
}

void
auditseal_proof_clear(struct auditseal_proof *p)
{
	free(p->event);
	memset(p, 0, sizeof(*p));
}

int
auditseal_proof_parse(const char *text, size_t len, struct auditseal_proof *p,
    char *err, size_t errlen)
{
	json_error_t je;
	json_t *o, *path, *seal, *h;
	json_int_t idx, size;
	const char *event;
	size_t i;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	if (len > 4 * AUDITSEAL_LINE_MAX ||
	    (o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		auditseal_err(err, errlen, "not a JSON proof");
		return -1;
	}
	if (json_unpack(o, "{s:s, s:I, s:I, s:o, s:o !}", "event", &event,
	    "leaf_index", &idx, "tree_size", &size, "path", &path, "seal",
	    &seal) != 0 || !json_is_array(path)) {
		auditseal_err(err, errlen, "a proof needs exactly event, "
		    "leaf_index, tree_size, path (an array) and seal");
		goto out;
	}
	if (idx < 0 || size <= 0 || idx >= size ||
	    json_array_size(path) > MERKLE_DEPTH) {
		auditseal_err(err, errlen, "leaf_index, tree_size or path out "
		    "of range");
		goto out;
	}
	p->leaf_index = (uint64_t)idx;
	p->tree_size = (uint64_t)size;
	json_array_foreach(path, i, h) {
		if (!json_is_string(h) || hex_decode(json_string_value(h),
		    p->path[i], MERKLE_HASH, NULL) == -1) {
			auditseal_err(err, errlen, "path: hashes of 64 "
			    "lower-case hex digits");
			goto out;
		}
	}
	p->npath = json_array_size(path);
	if (auditseal_seal_from(seal, &p->seal, err, errlen) == -1)
		goto out;
	if (p->seal.tree_size != p->tree_size) {
		auditseal_err(err, errlen, "the proof's tree_size is not its "
		    "seal's");
		goto out;
	}
	if ((p->event = strdup(event)) == NULL) {
		auditseal_err(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		auditseal_proof_clear(p);
	json_decref(o);
	return rc;
}

int
auditseal_proof_verify(const struct auditseal_proof *p, EVP_PKEY *pub,
    char *err, size_t errlen)
{
	unsigned char leaf[MERKLE_HASH];

	if (auditseal_seal_verify(&p->seal, pub, err, errlen) == -1)
		return -1;
	merkle_leaf_hash(p->event, strlen(p->event), leaf);
	if (merkle_inclusion_verify(leaf, p->leaf_index, p->tree_size,
	    (const unsigned char (*)[MERKLE_HASH])p->path, p->npath,
	    p->seal.root) == -1) {
		auditseal_err(err, errlen, "the event is not at leaf_index in "
		    "the sealed tree (changed event or path)");
		return -1;
	}
	return 0;
}

/* Index of the first non-blank byte of s from i (len when none). */
static size_t
auditseal_skip_ws(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
	    s[i] == '\r'))
		i++;
	return i;
}

/*
 * The event's "id": a scanner, not a JSON parser. It follows strings
 * (with their escapes) and the depth of objects and arrays, and reads
 * the value of the top-level key written "id" (not one of details',
 * not one in a string). jansson parsed the whole line: an integer beyond
 * int64 (1e19 is 10000000000000000000 in jsonb's text) or nesting beyond
 * its depth limit anywhere in details made a genuine sealed event
 * "not sealed" to pkiaudit prove. The line itself is checked by its hash.
 */
int
auditseal_event_id(const char *line, size_t len, uint64_t *id)
{
	size_t i, j, depth = 0, kstart = 0, ndig;
	uint64_t v = 0;
	int in_str = 0, esc = 0, expect_key = 0, is_key = 0, found = 0;
	char c;

	*id = 0;
	if (len > AUDITSEAL_LINE_MAX)
		return -1;
	if ((i = auditseal_skip_ws(line, len, 0)) == len || line[i] != '{')
		return -1;
	for (; i < len; i++) {
		c = line[i];
		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if ((unsigned char)c < 0x20)
				return -1;
			else if (c == '"') {
				in_str = 0;
				if (!is_key || i - kstart != 2 ||
				    memcmp(line + kstart, "id", 2) != 0)
					continue;
				if (found)
					return -1;	/* twice */
				found = 1;
				j = auditseal_skip_ws(line, len, i + 1);
				if (j == len || line[j] != ':')
					return -1;
				j = auditseal_skip_ws(line, len, j + 1);
				/* 1 .. INT64_MAX, digits only (no sign, 0, .5, e). */
				if (j == len || line[j] < '1' || line[j] > '9')
					return -1;
				for (v = 0, ndig = 0; j < len && line[j] >= '0' &&
				    line[j] <= '9'; j++, ndig++) {
					if (ndig == 19 || v > ((uint64_t)INT64_MAX -
					    (uint64_t)(line[j] - '0')) / 10)
						return -1;
					v = v * 10 + (uint64_t)(line[j] - '0');
				}
				j = auditseal_skip_ws(line, len, j);
				if (j == len || (line[j] != ',' && line[j] != '}'))
					return -1;
				i = j - 1;	/* the loop reads the ',' or '}' */
			}
			continue;
		}
		switch (c) {
		case '"':
			in_str = 1;
			is_key = depth == 1 && expect_key;
			expect_key = 0;
			kstart = i + 1;
			break;
		case '{':
		case '[':
			if (++depth == 1)
				expect_key = 1;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return -1;
			if (--depth == 0) {
				if (auditseal_skip_ws(line, len, i + 1) != len ||
				    !found)
					return -1;
				*id = v;
				return 0;
			}
			break;
		case ',':
			if (depth == 1)
				expect_key = 1;
			break;
		default:
			break;
		}
	}
	return -1;	/* not closed */
}
