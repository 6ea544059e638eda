/*
 * Helpers every rad handler shares: RFC 9457 problem answers, content-type
 * checks, random tokens stored as SHA-256 digests, Argon2id hashing, and
 * Bearer-session authentication of subscribers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <argon2.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "lib/daemon.h"
#include "lib/db.h"
#include "lib/http.h"
#include "lib/log.h"
#include "ra/extern.h"

#define RA_SALT_BYTES		16	/* RFC 9106 §3.1: 128 bits */
#define RA_HASH_BYTES		32

static const struct db_stmt stmt_session_account = {
	"ra_common_session_account",
	"SELECT s.account_id, s.id FROM ra_session s "
	"WHERE s.token_sha256 = $1::bytea AND s.revoked_at IS NULL "
	"AND s.expires_at > now()",
	1
};

int
ra_problem(struct http_response *resp, int status, const char *detail)
{
	/* The title is the status's reason phrase (RFC 9457 §4.2.1). */
	return http_problem(resp, status, NULL, NULL, detail);
}

int
ra_too_many(struct http_response *resp, long retry_after, const char *detail)
{
	char s[32];

	snprintf(s, sizeof(s), "%ld", retry_after);
	if (http_add_header(resp, "Retry-After", s) == -1)
		return -1;
	return ra_problem(resp, 429, detail);
}

int
ra_unavailable(struct http_response *resp, long retry_after,
    const char *detail)
{
	char s[32];

	snprintf(s, sizeof(s), "%ld", retry_after);
	if (http_add_header(resp, "Retry-After", s) == -1)
		return -1;
	return ra_problem(resp, 503, detail);
}

int
ra_hash_admit(struct ra *ra, long n, struct http_response *resp)
{
	char detail[96];
	long wait;

	if ((wait = ra_bucket_take(&ra->hashes, n, daemon_now_ms())) == 0)
		return 1;
	snprintf(detail, sizeof(detail), "too many password checks at once; "
	    "try again in %ld s", wait);
	return ra_unavailable(resp, wait, detail) == -1 ? -1 : 0;
}

int
ra_unauthorized(struct http_response *resp, const char *detail)
{
	/* RFC 6750 §3. */
	if (http_add_header(resp, "WWW-Authenticate",
	    "Bearer realm=\"pki-ra\", error=\"invalid_token\"") == -1)
		return -1;
	return ra_problem(resp, 401, detail);
}

/* RFC 8259 §11: application/json, parameters allowed. */
int
ra_is_json(const struct http_request *req)
{
	return http_media_type_is(req, "application/json");
}

int
ra_sha256(const unsigned char *in, size_t len, unsigned char out[32])
{
	unsigned int n = 0;

	if (EVP_Digest(in, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32) {
		log_openssl(LOGL_ERR, "EVP_Digest(SHA-256)");
		return -1;
	}
	return 0;
}

/* A new random token: its text form for the client, its digest for us. */
int
ra_token_new(char text[RA_TOKEN_B64_LEN + 1], char **digest_param)
{
	unsigned char raw[RA_TOKEN_BYTES], md[32];
	int rc = -1;

	*digest_param = NULL;
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		log_openssl(LOGL_ERR, "RAND_bytes");
		goto out;
	}
	if (ra_sha256(raw, sizeof(raw), md) == -1)
		goto out;
	ra_token_encode(raw, text);
	if ((*digest_param = db_bytea_param(md, sizeof(md))) == NULL)
		goto out;
	rc = 0;
out:
	ra_wipe(raw, sizeof(raw));
	return rc;
}

/* The digest parameter of a presented token. NULL on failure. */
char *
ra_token_digest(const unsigned char raw[RA_TOKEN_BYTES])
{
	unsigned char md[32];

	if (ra_sha256(raw, RA_TOKEN_BYTES, md) == -1)
		return NULL;
	return db_bytea_param(md, sizeof(md));
}

/* Argon2id (RFC 9106) with a fresh salt, PHC string form. 0 or -1. */
int
ra_password_hash(const struct ra_policy *p, const char *pw, char *out,
    size_t outlen)
{
	unsigned char salt[RA_SALT_BYTES];
	size_t need;
	int r;

	if (RAND_bytes(salt, sizeof(salt)) != 1) {
		log_openssl(LOGL_ERR, "RAND_bytes");
		return -1;
	}
	need = argon2_encodedlen((uint32_t)p->argon2_t_cost,
	    (uint32_t)p->argon2_m_cost_kib, (uint32_t)p->argon2_parallelism,
	    RA_SALT_BYTES, RA_HASH_BYTES, Argon2_id);
	if (need > outlen) {
		log_err("argon2: encoded hash needs %zu bytes", need);
		return -1;
	}
	if ((r = argon2id_hash_encoded((uint32_t)p->argon2_t_cost,
	    (uint32_t)p->argon2_m_cost_kib, (uint32_t)p->argon2_parallelism, pw,
	    strlen(pw), salt, sizeof(salt), RA_HASH_BYTES, out, outlen)) !=
	    ARGON2_OK) {
		log_err("argon2id_hash_encoded: %s", argon2_error_message(r));
		return -1;
	}
	return 0;
}

/*
 * The presented Bearer token (RFC 6750 §2.1), as its digest parameter.
 * NULL when absent or malformed (*detail says which) or on failure.
 */
char *
ra_bearer(const struct http_request *req, const char **detail)
{
	struct ra_token_req r;
	const char *h = http_bearer(req);
	char *digest;

	*detail = "a Bearer token is required (RFC 6750 §2.1)";
	if (h == NULL)
		return NULL;
	*detail = "unknown, expired or revoked token";
	if (ra_token_decode(h, r.token) == -1)
		return NULL;
	digest = ra_token_digest(r.token);
	ra_wipe(&r, sizeof(r));
	return digest;
}


int
ra_session_account(struct ra *ra, const struct http_request *req,
    struct http_response *resp, struct ra_subject *who)
{
	const char *v[1], *detail;
	char *digest = NULL;
	PGresult *res = NULL;
	int rc = -1;

	memset(who, 0, sizeof(*who));
	if ((digest = ra_bearer(req, &detail)) == NULL) {
		rc = ra_unauthorized(resp, detail) == -1 ? -1 : 0;
		goto out;
	}
	v[0] = digest;
	if ((res = db_exec(ra->db, &stmt_session_account, v, NULL,
	    NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		rc = ra_unauthorized(resp, "unknown, expired or revoked "
		    "token") == -1 ? -1 : 0;
		goto out;
	}
	snprintf(who->account_id, sizeof(who->account_id), "%s",
	    PQgetvalue(res, 0, 0));
	snprintf(who->session_id, sizeof(who->session_id), "%s",
	    PQgetvalue(res, 0, 1));
	rc = 1;
out:
	PQclear(res);
	free(digest);
	return rc;
}

int
ra_path_id(const char *path, const char *prefix, const char *suffix,
    char out[24])
{
	size_t plen = strlen(prefix), n;
	const char *p, *end;

	out[0] = '\0';
	if (strncmp(path, prefix, plen) != 0)
		return -1;
	p = path + plen;
	for (end = p; *end >= '0' && *end <= '9'; end++)
		;
	n = (size_t)(end - p);
	if (n == 0 || n > 18 || *p == '0' || strcmp(end, suffix) != 0)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

const char *
ra_actor(char out[RA_ACTOR_MAX], const char *account_id)
{
	snprintf(out, RA_ACTOR_MAX, "subscriber:%s", account_id);
	return out;
}

int
ra_subscriber_json(struct ra *ra, const struct http_request *req,
    struct http_response *resp, struct ra_subject *who)
{
	int a;

	if ((a = ra_session_account(ra, req, resp, who)) != 1)
		return a;
	if (!ra_is_json(req))
		return ra_problem(resp, 415, "the body must be application/json") ==
		    -1 ? -1 : 0;
	return 1;
}

/*
 * ra_subscriber_post's steps; bare: the request takes no member, so that no
 * body at all needs no content type either.
 */
static int
ra_subscriber_start(struct ra *ra, const struct http_request *req,
    struct http_response *resp, struct ra_subject *who, const char *prefix,
    const char *suffix, char id[24], const char *not_found, int bare)
{
	int a;

	if ((a = ra_session_account(ra, req, resp, who)) != 1)
		return a;
	if (ra_path_id(req->path, prefix, suffix, id) == -1)
		return ra_problem(resp, 404, not_found) == -1 ? -1 : 0;
	if ((!bare || req->body_len > 0) && !ra_is_json(req))
		return ra_problem(resp, 415, "the body must be application/json") ==
		    -1 ? -1 : 0;
	return 1;
}

int
ra_subscriber_post(struct ra *ra, const struct http_request *req,
    struct http_response *resp, struct ra_subject *who, const char *prefix,
    const char *suffix, char id[24], const char *not_found)
{
	return ra_subscriber_start(ra, req, resp, who, prefix, suffix, id,
	    not_found, 0);
}

int
ra_subscriber_post_bare(struct ra *ra, const struct http_request *req,
    struct http_response *resp, struct ra_subject *who, const char *prefix,
    const char *suffix, char id[24], const char *not_found)
{
	char detail[192];
	int a;

	if ((a = ra_subscriber_start(ra, req, resp, who, prefix, suffix, id,
	    not_found, 1)) != 1)
		return a;
	if (ra_parse_empty(req->body, req->body_len, detail,
	    sizeof(detail)) == -1)
		return ra_problem(resp, 400, detail) == -1 ? -1 : 0;
	return 1;
}

int
ra_list_begin(const struct http_request *req, struct http_response *resp,
    int which, struct ra_list_query *lq, char lim[16], char off[24])
{
	char qs[RA_REVIEW_QUERY_MAX + 2], detail[192];

	if (http_query(req, qs, sizeof(qs)) == -1)
		return ra_problem(resp, 400, "query string too long") == -1 ?
		    -1 : 0;
	if (ra_parse_list_query(qs, which, lq, detail, sizeof(detail)) == -1)
		return ra_problem(resp, 400, detail) == -1 ? -1 : 0;
	snprintf(lim, 16, "%ld", lq->per_page);
	snprintf(off, 24, "%ld", (lq->page - 1) * lq->per_page);
	return 1;
}

int
ra_list_respond(struct http_response *resp, const char *member, json_t *a,
    const char *total, const struct ra_list_query *lq)
{
	json_t *o;
	int rc;

	if ((o = json_pack("{s:O, s:I, s:I, s:I}", member, a, "total",
	    (json_int_t)strtoll(total, NULL, 10), "page",
	    (json_int_t)lq->page, "per_page", (json_int_t)lq->per_page)) ==
	    NULL)
		return -1;
	rc = http_respond_json(resp, 200, o);
	json_decref(o);
	return rc;
}
