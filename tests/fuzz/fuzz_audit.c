/*
 * libFuzzer harness: what pkiaudit parses from an auditor's files (lib/
 * auditseal.c): seal lines, inclusion proofs and event lines; and the tree
 * head text the audit key's signer checks before it signs (a head it
 * accepts, with or without a handover's "next" line, must be exactly what
 * auditseal_head_text() writes of what auditseal_head_parse() read). Each must be
 * refused or parsed within its limits, never crash; a parsed seal must
 * print back to a line that parses to the same seal, and a parsed proof is
 * checked against a key made at start-up, whose signatures are in no seed:
 * it must never verify.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "lib/auditseal.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static EVP_PKEY *
fixed_key(void)
{
	static EVP_PKEY *k;

	if (k == NULL)
		k = EVP_EC_gen("P-256");
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auditseal s, again;
	char head[512];
	int n;
	struct auditseal_proof p;
	char err[256], *line;
	json_error_t je;
	json_int_t v;
	json_t *o;
	uint64_t id;

	if (auditseal_seal_parse((const char *)data, size, &s, err,
	    sizeof(err)) == 0) {
		if ((line = auditseal_seal_json(&s)) == NULL)
			abort();
		if (auditseal_seal_parse(line, strlen(line), &again, err,
		    sizeof(err)) != 0 || memcmp(&s, &again, sizeof(s)) != 0)
			abort();
		free(line);
		(void)auditseal_seal_verify(&s, fixed_key(), err, sizeof(err));
	}
	if (auditseal_proof_parse((const char *)data, size, &p, err,
	    sizeof(err)) == 0) {
		if (auditseal_proof_verify(&p, fixed_key(), err,
		    sizeof(err)) == 0)
			abort();
		auditseal_proof_clear(&p);
	}
	/*
	 * Wherever jansson reads a line as an object with one positive
	 * integer "id" (its key written plainly, no NUL byte: jansson takes
	 * one for the end of its input), the scanner finds that id.
	 * The scanner also reads lines jansson refuses (numbers beyond int64,
	 * nesting beyond its depth), which a genuine event may hold.
	 */
	if (auditseal_event_id((const char *)data, size, &id) == 0 &&
	    id == 0)
		abort();
	if (size <= AUDITSEAL_LINE_MAX &&
	    memmem(data, size, "\\u", 2) == NULL &&
	    memchr(data, '\0', size) == NULL &&
	    (o = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
	    &je)) != NULL) {
		if (json_unpack(o, "{s:I}", "id", &v) == 0 && v > 0 &&
		    (auditseal_event_id((const char *)data, size, &id) != 0 ||
		    id != (uint64_t)v))
			abort();
		json_decref(o);
	}
	if (auditseal_head_check(data, size, "audit-1") == 0 &&
	    (size < 23 || memcmp(data, "pki-audit-tree-head-v1\n", 23) != 0 ||
	    data[size - 1] != '\n'))
		abort();
	if (auditseal_head_parse(data, size, &s) == 0 &&
	    ((n = auditseal_head_text(&s, head, sizeof(head))) <= 0 ||
	    (size_t)n != size || memcmp(head, data, size) != 0 ||
	    (s.next_key[0] != '\0' && !auditseal_label_ok(s.next_key))))
		abort();
	return 0;
}
