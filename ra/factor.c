/*
 * Second factors of subscribers: one-time codes sent by email or SMS
 * (POST /v1/otp), phone verification by an SMS code (POST /v1/phone/verify),
 * the 6-digit PIN (POST /v1/pin: hashed only once its factor has passed, a
 * notice queued to the account's address), and the verifier every
 * sensitive action calls inside its transaction (ra_factor_verify; the
 * contract is in extern.h). The request parsers are in factor_request.c.
 *
 * A code is 6 digits drawn uniformly from the CSPRNG; it is stored only as
 * HMAC-SHA256 under rad's OTP key (ra.otp_key_file, 256 bits, read at
 * start-up before the sandbox), over the row's id, account, channel,
 * purpose and the code (and, for a sign code, its binding to a credential
 * and documents): a copy of the table alone does not give the codes
 * (10^6 SHA-256 guesses would, without the key), and a digest moved to
 * another row or purpose no longer matches. Codes live otp.ttl_seconds, are
 * used once, die after otp.max_attempts wrong tries, and an account may be
 * sent otp.per_hour of them. Wrong factors in a row (codes, PINs, TOTP
 * codes) lock the account's factors (factor_lockout.*) with back-off. The
 * TOTP branch is lib/factor.c factor_totp_sealed_match. An email OTP goes only to a
 * verified address: the account's own (POST /v1/email keeps it until the
 * new address's link is opened, and the new one is verified then).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "lib/audit.h"
#include "lib/db.h"
#include "lib/factor.h"
#include "lib/hex.h"
#include "lib/http.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "lib/text.h"
#include "ra/extern.h"

#define RA_TS_FMT		"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"

/*
 * Two statements, the lock first, for otp.per_hour to hold across rad
 * processes: the account row lock makes concurrent sends of one account
 * wait for each other, and under READ COMMITTED only a statement begun
 * after the wait sees the OTP that the transaction it waited for
 * committed. A count in the locking statement itself would use that
 * statement's snapshot, taken before the wait, and miss it.
 */
/*
 * The lock-out that applies is that of the scope where the code will be
 * checked (lib/factor.h): a password reset's (schema/057) or signd's
 * (schema/026) for their codes, the RA's for the rest. With the RA's for
 * all, whoever held a session could lock the RA factors and so keep the
 * owner from the SMS code of a password reset, the only way to end that
 * session; and a locked reset still sent codes that could not be used.
 */
static const struct db_stmt stmt_otp_account = {
	"ra_otp_send_account",
	"SELECT email, phone, phone_verified, "
	"coalesce(ceil(extract(epoch FROM CASE $2 "
	"WHEN 'password_reset' THEN reset_factor_locked_until "
	"WHEN 'sign' THEN sign_factor_locked_until "
	"ELSE factor_locked_until END - now())), 0)::bigint, "
	"email_verified, verified_once "
	"FROM ra_account WHERE id = $1 FOR UPDATE",
	2
};
/* The account's OTPs of the last hour, and seconds until the oldest leaves it. */
static const struct db_stmt stmt_otp_recent = {
	"ra_otp_send_recent",
	"SELECT count(*), coalesce(ceil(extract(epoch FROM min(created_at) + "
	"interval '1 hour' - now())), 0)::bigint FROM ra_otp "
	"WHERE account_id = $1 AND created_at > now() - interval '1 hour'",
	1
};
/*
 * SMS codes sent in the last hour to this account's phone number, for any
 * account (numbers are not unique): many accounts on one premium-rate or
 * victim number must not make the CA send SMS without end. Counted by the
 * number each code went to (ra_otp.phone, schema/039). The lock
 * (ra_otp_phone_lock, schema/082: pki_ra takes no other advisory lock)
 * makes the count exact across accounts and processes.
 *
 * Two budgets of otp.per_phone_hour each: the codes sent to accounts that
 * had verified the number (they proved they hold it) and the others, as
 * each code recorded it when sent (ra_otp.phone_verified, schema/076; as
 * the accounts are now, one could leave the number after its codes and
 * free the budget). With one budget, anybody could register an account
 * with a subscriber's number, no address verified, and spend the number's
 * hour on codes to change that account's address: the subscriber got no
 * SMS code (signing, the password reset's SMS step) for as long as that
 * went on. Only who holds the number fills the verified budget; a number
 * gets at most twice otp.per_phone_hour SMS codes an hour.
 */
static const struct db_stmt stmt_otp_phone_lock = {
	"ra_otp_send_phone_lock",
	"SELECT ra_otp_phone_lock(phone) FROM ra_account WHERE id = $1",
	1
};
static const struct db_stmt stmt_otp_recent_phone = {
	"ra_otp_send_recent_phone",
	"SELECT count(*), coalesce(ceil(extract(epoch FROM min(o.created_at) + "
	"interval '1 hour' - now())), 0)::bigint FROM ra_account s, ra_otp o "
	"WHERE s.id = $1 AND o.phone = s.phone AND o.channel = 'sms' AND "
	"o.created_at > now() - interval '1 hour' AND "
	"coalesce(o.phone_verified, false) = s.phone_verified",
	1
};
static const struct db_stmt stmt_otp_nextval = {
	"ra_otp_send_nextval",
	"SELECT nextval('ra_otp_id_seq')",
	0
};
/*
 * A sign code's credential (schema/061): one of the account's signing
 * credentials at signd, by signd's rule of ownership (sign_credential, the
 * rows credentials/list gives for the account), with what the code's
 * message names and whether its certificate can sign now (as the SAM
 * judges it, hsm/signd/samproc.c: neither revoked nor on hold, within its
 * validity, and so is its issuing CA's own certificate, schema/100, 103;
 * until 2026-12-07 a code was sent, and paid for, that signd would
 * refuse).
 */
static const struct db_stmt stmt_otp_credential = {
	"ra_otp_send_credential",
	"SELECT c.profile, c.serial, c.der, c.revoked_at IS NULL AND "
	"now() >= c.not_before AND now() <= c.not_after AND "
	"now() >= ri.not_before AND now() <= ri.not_after AND "
	"ri.revoked_at IS NULL "
	"FROM sign_credential sc JOIN certificate c ON c.id = sc.certificate_id "
	"JOIN ca_certificate_status ri ON ri.id = c.issuer_id "
	"WHERE sc.account_id = $1 AND sc.certificate_id = $2::bigint",
	2
};
static const struct db_stmt stmt_otp_insert = {
	"ra_otp_send_insert",
	"INSERT INTO ra_otp (id, account_id, channel, purpose, code_hmac, "
	"expires_at, max_attempts, phone, phone_verified, binding, "
	"credential_id) SELECT $1::bigint, a.id, $3::text, $4::text, "
	"$5::bytea, now() + make_interval(secs => $6::int), $7::int, CASE "
	"WHEN $3 = 'sms' THEN a.phone END, CASE WHEN $3 = 'sms' THEN "
	"a.phone_verified END, $8::bytea, $9::bigint FROM ra_account a "
	"WHERE a.id = $2::bigint "
	"RETURNING to_char(expires_at AT TIME ZONE 'UTC', " RA_TS_FMT ")",
	9
};
static const struct db_stmt stmt_phone_verified = {
	"ra_phone_verify_account",
	"UPDATE ra_account SET phone_verified = true, "
	"phone_verified_at = coalesce(phone_verified_at, now()) WHERE id = $1",
	1
};
/* Whether a PIN was replaced, and where and when to say so (ra_pin_notice). */
static const struct db_stmt stmt_pin_set = {
	"ra_pin_set_account",
	"UPDATE ra_account a SET pin_hash = $2, pin_set_at = now() "
	"FROM (SELECT id, pin_hash IS NOT NULL AS had FROM ra_account "
	"WHERE id = $1) o WHERE a.id = o.id RETURNING o.had, a.email, "
	RA_TS("now()"),
	2
};

/* What a transaction found, for the handler to answer. */
enum ra_factor_txn_outcome {
	RA_FTX_DONE = 0,
	RA_FTX_FACTOR,		/* ra_factor_respond() */
	RA_FTX_GUESSABLE,	/* a PIN from the subscriber's identity: 400 */
};

/* --- start-up ------------------------------------------------------------------- */

int
ra_factor_init(struct ra *ra, const char *key_file, char *err, size_t errlen)
{
	if (key_file == NULL) {
		snprintf(err, errlen, "ra.otp_key_file missing (the HMAC key of "
		    "one-time codes)");
		return -1;
	}
	if (factor_key_load(key_file, ra->fv.otp_key, err, errlen) == -1)
		return -1;
	ra->fv.lock_threshold = ra->policy->factor_lock_threshold;
	ra->fv.lock_base_s = ra->policy->factor_lock_base_s;
	ra->fv.lock_max_s = ra->policy->factor_lock_max_s;
	ra->fv.actor = "subscriber";
	ra->fv.lock_actor = "ra:lockout";
	return 0;
}

/* --- the verifier: lib/factor.c, shared with signd's SAM ---------------------------- */

/*
 * A factor sent with a password reset token: counted on the reset's own
 * lock-out (FACTOR_SCOPE_RESET, schema/057), so that whoever holds the
 * mailbox cannot lock the subscriber's factors, and audited as the reset's
 * other events are, by subscriber:unauthenticated (the account in the
 * details): the sender has proven a mailbox, not who they are.
 */
static int
ra_factor_check_reset(struct ra *ra, struct db *db, const char *account_id,
    const struct factor *f, struct factor_outcome *out)
{
	static const struct factor_origin origin = {
		.actor = "subscriber:unauthenticated",
	};
	struct factor_verifier fv = ra->fv;
	int rc;

	fv.scope = FACTOR_SCOPE_RESET;
	rc = factor_check_from(&fv, db, account_id, "password_reset", f,
	    &origin, out);
	factor_wipe(fv.otp_key, sizeof(fv.otp_key));
	return rc;
}

int
ra_factor_check(struct ra *ra, struct db *db, const char *account_id,
    const char *purpose, const struct factor *f, struct factor_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->result = FACTOR_MALFORMED;
	if (ra_purpose_check(purpose) == -1) {
		log_err("ra_factor_check: unknown purpose %s", purpose);
		return -1;
	}
	if (strcmp(purpose, "password_reset") == 0)
		return ra_factor_check_reset(ra, db, account_id, f, out);
	return factor_check(&ra->fv, db, account_id, purpose, f, out);
}

int
ra_factor_verify(struct ra *ra, struct db *db, const char *account_id,
    const char *purpose, json_t *factor, struct factor_outcome *out)
{
	struct factor f;
	int rc;

	memset(out, 0, sizeof(*out));
	if (ra_factor_parse(factor, &f, out->detail, sizeof(out->detail)) ==
	    -1) {
		out->result = FACTOR_MALFORMED;
		return 0;
	}
	rc = ra_factor_check(ra, db, account_id, purpose, &f, out);
	ra_wipe(&f, sizeof(f));
	return rc;
}

int
ra_factor_respond(struct http_response *resp,
    const struct factor_outcome *o)
{
	switch (o->result) {
	case FACTOR_OK:
		break;
	case FACTOR_MALFORMED:
	case FACTOR_NOT_ENROLLED:
		return ra_problem(resp, 400, o->detail);
	case FACTOR_REFUSED:
	case FACTOR_WRONG:
		return ra_problem(resp, 401, o->detail);
	case FACTOR_LOCKED:
		return ra_too_many(resp, o->retry_after > 0 ? o->retry_after : 1,
		    o->detail);
	}
	return -1;
}

/* --- POST /v1/otp ------------------------------------------------------------------- */

/* What people call a signing credential of this certificate profile. */
static const char *
ra_credential_kind(const char *profile)
{
	if (strcmp(profile, "personal") == 0 ||
	    strcmp(profile, "subscriber") == 0)
		return "personal certificate";
	if (strcmp(profile, "corporate") == 0)
		return "employee certificate";
	if (strcmp(profile, "eseal") == 0)
		return "e-seal";
	return "signing certificate";
}

/*
 * The first CN of the subject of the certificate der (len bytes) into
 * name (size bytes, NUL-terminated): "" when there is none, when it is
 * not text a person reads (lib/text.h: it goes into an SMS and a mail),
 * or when it does not fit. 0, or -1 (logged) when der does not parse.
 */
static int
ra_credential_cn(const unsigned char *der, size_t len, char *name,
    size_t size)
{
	const unsigned char *p = der;
	const X509_NAME *subject;
	const X509_NAME_ENTRY *e;
	unsigned char *u = NULL;
	const char *why;
	X509 *x = NULL;
	long cp;
	int i, n, rc = -1;

	name[0] = '\0';
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		log_openssl(LOGL_ERR, "d2i_X509 (a signing credential)");
		goto out;
	}
	subject = X509_get_subject_name(x);
	if ((i = X509_NAME_get_index_by_NID(subject, NID_commonName,
	    -1)) >= 0 && (e = X509_NAME_get_entry(subject, i)) != NULL &&
	    (n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e))) > 0 &&
	    (size_t)n < size && text_check(u, (size_t)n, 0, &why, &cp) == 0) {
		memcpy(name, u, (size_t)n);
		name[n] = '\0';
	}
	rc = 0;
out:
	OPENSSL_free(u);
	X509_free(x);
	return rc;
}

/*
 * Fills t->cred from a row of stmt_otp_credential, or refuses: none
 * (another account's credential answers as an unknown one), or one that
 * cannot sign now. 1 when found and usable, 0 with t->refused, -1 on
 * our failure.
 */
static int
ra_otp_credential(struct db *db, struct ra_otp_issue *t)
{
	const char *v[2];
	unsigned char *der = NULL;
	size_t derlen = 0;
	PGresult *res = NULL;
	int rc = -1;

	v[0] = t->account_id;
	v[1] = t->credential;
	if ((res = db_exec(db, &stmt_otp_credential, v, NULL, NULL)) == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		t->refused = RA_OTP_NO_CREDENTIAL;
		rc = 0;
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 3), "t") != 0) {
		t->refused = RA_OTP_CREDENTIAL_UNUSABLE;
		rc = 0;
		goto out;
	}
	snprintf(t->cred.profile, sizeof(t->cred.profile), "%s",
	    PQgetvalue(res, 0, 0));
	snprintf(t->cred.kind, sizeof(t->cred.kind), "%s",
	    ra_credential_kind(PQgetvalue(res, 0, 0)));
	snprintf(t->cred.serial, sizeof(t->cred.serial), "%s",
	    PQgetvalue(res, 0, 1));
	if (db_bytea_value(PQgetvalue(res, 0, 2), &der, &derlen) == -1 ||
	    ra_credential_cn(der, derlen, t->cred.name,
	    sizeof(t->cred.name)) == -1)
		goto out;
	rc = 1;
out:
	free(der);
	PQclear(res);
	return rc;
}

static int
ra_otp_deliver(struct ra *ra, const struct ra_otp_issue *t, const char *email,
    const char *phone, const char *code)
{
	char text[1024], what[512], ref[FACTOR_BINDING_REF_SIZE];
	long min = (ra->policy->otp_ttl_s + 59) / 60;
	size_t slen = strlen(t->cred.serial);
	int sms = strcmp(t->channel, "sms") == 0, rc;

	/*
	 * A sign code names its documents (count and reference), which the
	 * subscriber compares with what the application shows beside them,
	 * and the key it lets them be signed with (schema/061): which kind of
	 * credential, which certificate — in an SMS by the kind and the
	 * serial's last four digits only (the whole serial, up to 40 digits,
	 * would split the message into several parts; the certificate's name,
	 * a person's full name, is not sent to an SMS gateway and the
	 * operators behind it since 2026-12-07), in a mail with its name and
	 * whole serial.
	 */
	if (t->binding != NULL) {
		factor_binding_ref(t->binding, ref);
		snprintf(what, sizeof(what), "signing %u document(s), ref %s, "
		    "with your %s%s%s%s (serial %s%s)", t->documents, ref,
		    t->cred.kind, !sms && t->cred.name[0] != '\0' ? " \"" : "",
		    sms ? "" : t->cred.name,
		    !sms && t->cred.name[0] != '\0' ? "\"" : "",
		    sms && slen > 4 ? "ending " : "",
		    sms && slen > 4 ? t->cred.serial + slen - 4 : t->cred.serial);
	} else
		snprintf(what, sizeof(what), "%s", t->purpose);
	if (sms) {
		snprintf(text, sizeof(text), "PKI RA code %s for %s, valid %ld "
		    "min. Never share it.", code, what, min);
		rc = ra_sms_send(ra->sms, phone, text);
	} else {
		snprintf(text, sizeof(text), "Your one-time code for %s is\r\n"
		    "\r\n    %s\r\n\r\nIt is valid for %ld minutes and can be "
		    "used once. Never share it; we will never ask for it.\r\n",
		    what, code, min);
		rc = ra_mail_send(ra->mailer, email, "Your one-time code",
		    text);
	}
	ra_wipe(text, sizeof(text));
	return rc;
}

/*
 * 1 when a (count, seconds until the oldest leaves the hour) row has
 * reached limit; *retry_after then at least 1.
 */
static int
ra_otp_over(const PGresult *recent, long limit, long *retry_after)
{
	if (strtol(PQgetvalue(recent, 0, 0), NULL, 10) < limit)
		return 0;
	if ((*retry_after = strtol(PQgetvalue(recent, 0, 1), NULL, 10)) < 1)
		*retry_after = 1;
	return 1;
}

int
ra_otp_issue(struct ra *ra, struct db *db, struct ra_otp_issue *t)
{
	char actor[RA_ACTOR_MAX];
	const struct ra_policy *p = ra->policy;
	const char *v[9];
	char code[RA_OTP_DIGITS + 1], ttl[24], max[24], *digest = NULL;
	char *binding = NULL, bhex[2 * FACTOR_BINDING_LEN + 1];
	unsigned char mac[32];
	PGresult *res = NULL, *recent = NULL, *res2 = NULL, *res3 = NULL;
	json_t *details = NULL;
	int rc = -1;

	memset(code, 0, sizeof(code));
	memset(mac, 0, sizeof(mac));
	memset(&t->cred, 0, sizeof(t->cred));
	t->refused = RA_OTP_ISSUED;
	v[0] = t->account_id;
	v[1] = t->purpose;
	if ((res = db_exec(db, &stmt_otp_account, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	if ((t->retry_after = strtol(PQgetvalue(res, 0, 3), NULL, 10)) > 0) {
		t->refused = RA_OTP_LOCKED;
		goto out;
	}
	/* A sign code is for one key of the account's own (schema/061). */
	if (t->credential != NULL && ra_otp_credential(db, t) != 1)
		goto out;
	/*
	 * A verified phone, a PIN and TOTP only once the account has proven
	 * its mailbox: whoever registered someone else's address must not make
	 * that account look used and keep it from being replaced (account.c,
	 * ra/README.md "Stale unverified accounts"). Codes that change the
	 * address, the password or the phone leave nothing the stale test
	 * looks at, and fix a mistyped address.
	 */
	if (strcmp(PQgetvalue(res, 0, 5), "t") != 0 &&
	    (strcmp(t->purpose, "phone_verify") == 0 ||
	    strcmp(t->purpose, "set_pin") == 0 ||
	    strcmp(t->purpose, "totp_enrol") == 0)) {
		t->refused = RA_OTP_NEVER_VERIFIED;
		goto out;
	}
	if ((recent = db_exec(db, &stmt_otp_recent, v, NULL, NULL)) == NULL ||
	    PQntuples(recent) != 1)
		goto out;
	if (ra_otp_over(recent, p->otp_per_hour, &t->retry_after)) {
		t->refused = RA_OTP_RATE;
		goto out;
	}
	if (strcmp(t->channel, "sms") == 0) {
		PQclear(recent);
		recent = NULL;
		if (db_exec_ok(db, &stmt_otp_phone_lock, v) == -1 ||
		    (recent = db_exec(db, &stmt_otp_recent_phone, v, NULL,
		    NULL)) == NULL || PQntuples(recent) != 1)
			goto out;
		if (ra_otp_over(recent, p->otp_per_phone_hour,
		    &t->retry_after)) {
			t->refused = RA_OTP_PHONE_RATE;
			goto out;
		}
	}
	if (strcmp(t->purpose, "phone_verify") == 0 &&
	    strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
		t->refused = RA_OTP_PHONE_VERIFIED;
		goto out;
	}
	if (strcmp(t->channel, "email") == 0 &&
	    strcmp(PQgetvalue(res, 0, 4), "t") != 0) {
		t->refused = RA_OTP_EMAIL_UNVERIFIED;
		goto out;
	}
	if ((res2 = db_exec(db, &stmt_otp_nextval, NULL, NULL, NULL)) == NULL ||
	    PQntuples(res2) != 1)
		goto out;
	snprintf(t->id, sizeof(t->id), "%s", PQgetvalue(res2, 0, 0));
	if (ra_otp_code_new(code) == -1 ||
	    factor_otp_mac(ra->fv.otp_key, t->id, t->account_id, t->channel,
	    t->purpose, code, t->binding, mac) == -1 ||
	    (digest = db_bytea_param(mac, sizeof(mac))) == NULL ||
	    (t->binding != NULL && (binding = db_bytea_param(t->binding,
	    FACTOR_BINDING_LEN)) == NULL))
		goto out;
	snprintf(ttl, sizeof(ttl), "%ld", p->otp_ttl_s);
	snprintf(max, sizeof(max), "%ld", p->otp_max_attempts);
	v[0] = t->id;
	v[1] = t->account_id;
	v[2] = t->channel;
	v[3] = t->purpose;
	v[4] = digest;
	v[5] = ttl;
	v[6] = max;
	v[7] = binding;
	v[8] = t->credential;
	if ((res3 = db_exec(db, &stmt_otp_insert, v, NULL, NULL)) == NULL ||
	    PQntuples(res3) != 1)
		goto out;
	snprintf(t->expires, sizeof(t->expires), "%s", PQgetvalue(res3, 0, 0));
	if ((details = json_pack("{s:s, s:s, s:s, s:s}", "account_id",
	    t->account_id, "channel", t->channel, "purpose", t->purpose,
	    "client", t->client)) == NULL)
		goto out;
	/*
	 * Which key and documents: an auditor links the code to its
	 * sign.authorize (certificate_id there).
	 */
	if (t->binding != NULL) {
		hex_encode(t->binding, FACTOR_BINDING_LEN, bhex);
		if (json_object_set_new(details, "binding", json_string(bhex)) ==
		    -1 || json_object_set_new(details, "documents",
		    json_integer((json_int_t)t->documents)) == -1 ||
		    json_object_set_new(details, "credential_id",
		    json_string(t->credential)) == -1)
			goto out;
	}
	if (audit_append(db, t->actor != NULL ? t->actor :
	    ra_actor(actor, t->account_id), "ra.otp.send",
	    "ra_otp", t->id, details, NULL) == -1)
		goto out;
	/* Sent before COMMIT: a failed send leaves no OTP behind. */
	if (ra_otp_deliver(ra, t, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
	    code) == -1) {
		t->refused = RA_OTP_SEND_FAILED;
		goto out;
	}
	rc = 0;
out:
	ra_wipe(code, sizeof(code));
	ra_wipe(mac, sizeof(mac));
	json_decref(details);
	free(digest);
	free(binding);
	PQclear(res3);
	PQclear(res2);
	PQclear(recent);
	PQclear(res);
	return rc;
}

int
ra_otp_refusal_respond(struct http_response *resp,
    const struct ra_otp_issue *t)
{
	switch (t->refused) {
	case RA_OTP_LOCKED:
		return ra_too_many(resp, t->retry_after, strcmp(t->purpose,
		    "password_reset") == 0 ? "the password reset of this "
		    "account is locked after repeated wrong factors; try "
		    "again later" : strcmp(t->purpose, "sign") == 0 ?
		    "signing with this account is locked after repeated "
		    "wrong factors; try again later" : "second factors of "
		    "this account are locked after repeated wrong codes or "
		    "PINs; try again later");
	case RA_OTP_RATE:
		return ra_too_many(resp, t->retry_after, "too many one-time "
		    "codes for this account in the last hour (policy "
		    "otp.per_hour)");
	case RA_OTP_PHONE_RATE:
		return ra_too_many(resp, t->retry_after, "too many SMS codes "
		    "to this phone number in the last hour, for any account "
		    "(policy otp.per_phone_hour)");
	case RA_OTP_PHONE_VERIFIED:
		return ra_problem(resp, 409, "the phone number is already "
		    "verified");
	case RA_OTP_EMAIL_UNVERIFIED:
		return ra_problem(resp, 409, "the email address is not "
		    "verified (open the link sent to it); use sms");
	case RA_OTP_NEVER_VERIFIED:
		return ra_problem(resp, 403, "verify your email address first "
		    "(open the link sent to it): the phone, the PIN and TOTP "
		    "come after");
	case RA_OTP_NO_CREDENTIAL:
		return ra_problem(resp, 404, "credential_id: no such signing "
		    "credential of this account");
	case RA_OTP_CREDENTIAL_UNUSABLE:
		return ra_problem(resp, 409, "credential_id: its certificate, "
		    "or its issuing CA's, is revoked, suspended, expired or "
		    "not yet valid; it cannot sign");
	case RA_OTP_SEND_FAILED:
		if (http_add_header(resp, "Retry-After", "60") == -1)
			return -1;
		return ra_problem(resp, 503, "the code could not be sent; "
		    "nothing was stored");
	case RA_OTP_ISSUED:
		break;
	}
	return -1;
}

struct ra_otp_txn {
	struct ra		*ra;
	struct ra_otp_issue	 is;
};

static int
ra_otp_txn(struct db *db, void *arg)
{
	struct ra_otp_txn *t = arg;

	return ra_otp_issue(t->ra, db, &t->is);
}

int
ra_otp_send(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_otp_req r;
	struct ra_otp_txn t;
	char detail[256], ref[FACTOR_BINDING_REF_SIZE];
	json_t *o = NULL, *cred = NULL;
	int rc = -1, a;

	memset(&t, 0, sizeof(t));
	if ((a = ra_subscriber_json(ra, req, resp, &who)) != 1)
		return a;
	if (ra_parse_otp_request(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	t.ra = ra;
	t.is.account_id = who.account_id;
	t.is.channel = r.channel;
	t.is.purpose = r.purpose;
	t.is.client = req->remote_addr;
	if (r.documents > 0) {
		t.is.credential = r.credential;
		t.is.binding = r.binding;
		t.is.documents = r.documents;
	}
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_otp_txn,
	    &t) == -1) {
		if (t.is.refused != RA_OTP_ISSUED)
			rc = ra_otp_refusal_respond(resp, &t.is);
		goto out;
	}
	log_info("otp: %s OTP %s for account %s sent (%s)%s%s", r.purpose,
	    t.is.id, who.account_id, r.channel, r.documents > 0 ?
	    ", for credential " : "", r.credential);
	if ((o = json_pack("{s:I, s:s, s:s, s:s}", "otp_id",
	    (json_int_t)strtoll(t.is.id, NULL, 10), "expires_at", t.is.expires,
	    "channel", r.channel, "purpose", r.purpose)) == NULL)
		goto out;
	/* What the message names, for the application to show beside it. */
	if (r.documents > 0) {
		factor_binding_ref(r.binding, ref);
		if ((cred = json_pack("{s:s, s:s, s:s, s:s}", "id",
		    r.credential, "profile", t.is.cred.profile, "kind",
		    t.is.cred.kind, "serial", t.is.cred.serial)) == NULL ||
		    (t.is.cred.name[0] != '\0' && json_object_set_new(cred,
		    "name", json_string(t.is.cred.name)) == -1) ||
		    json_object_set_new(o, "documents",
		    json_integer((json_int_t)r.documents)) == -1 ||
		    json_object_set_new(o, "binding_ref", json_string(ref)) ==
		    -1 || json_object_set(o, "credential", cred) == -1)
			goto out;
	}
	rc = http_respond_json(resp, 201, o);
out:
	json_decref(cred);
	json_decref(o);
	return rc;
}

/* --- POST /v1/phone/verify ------------------------------------------------------------ */

struct ra_phone_txn {
	struct ra			*ra;
	const char			*account_id;
	const struct factor		*factor;
	const char			*client;
	enum ra_factor_txn_outcome	 outcome;
	struct factor_outcome	 fo;
};

static int
ra_phone_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_phone_txn *t = arg;
	const char *v[1];
	json_t *details = NULL;
	int rc = -1;

	t->outcome = RA_FTX_DONE;
	if (ra_factor_check(t->ra, db, t->account_id, "phone_verify",
	    t->factor, &t->fo) == -1)
		goto out;
	if (t->fo.result != FACTOR_OK) {
		t->outcome = RA_FTX_FACTOR;
		rc = 0;		/* commit the failure record, nothing else */
		goto out;
	}
	v[0] = t->account_id;
	if (db_exec_ok(db, &stmt_phone_verified, v) == -1)
		goto out;
	if ((details = json_pack("{s:I, s:s}", "otp_id",
	    (json_int_t)t->fo.otp_id, "client", t->client)) == NULL ||
	    audit_append(db, ra_actor(actor, t->account_id), "ra.phone.verify",
	    "ra_account", t->account_id, details, NULL) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	return rc;
}

int
ra_phone_verify(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_phone_verify_req r;
	struct factor f;
	struct ra_phone_txn t;
	char detail[256];
	json_t *o = NULL;
	int rc = -1, a;

	memset(&f, 0, sizeof(f));
	memset(&t, 0, sizeof(t));
	if ((a = ra_subscriber_json(ra, req, resp, &who)) != 1)
		return a;
	if (ra_parse_phone_verify(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	f.type = FACTOR_OTP;
	f.otp_id = r.otp_id;
	memcpy(f.secret, r.code, sizeof(f.secret));
	ra_wipe(&r, sizeof(r));
	t.ra = ra;
	t.account_id = who.account_id;
	t.factor = &f;
	t.client = req->remote_addr;
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_phone_txn,
	    &t) == -1)
		goto out;
	if (t.outcome == RA_FTX_FACTOR) {
		rc = ra_factor_respond(resp, &t.fo);
		goto out;
	}
	log_info("phone: account %s verified its phone (OTP %lld)",
	    who.account_id, t.fo.otp_id);
	if ((o = json_pack("{s:I, s:b}", "id", (json_int_t)strtoll(
	    who.account_id, NULL, 10), "phone_verified", 1)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	ra_wipe(&f, sizeof(f));
	json_decref(o);
	return rc;
}

/* --- POST /v1/pin ------------------------------------------------------------------------ */

/*
 * The new PIN is hashed (Argon2id at the password cost, tens of
 * milliseconds on rad's one HTTP thread) only once the factor has passed,
 * inside the transaction: a wrong, unknown or locked-out factor costs no
 * Argon2id, so a session cannot stall rad by looping refused requests. The
 * account row stays locked (FOR UPDATE, taken by the verifier) during the
 * hash, as it does while the verifier checks a PIN factor: that holds up
 * only other requests on this account, and the factor's check, its OTP's
 * consumption and the new PIN commit together, with nothing between them
 * (hashing between two transactions would need the factor checked again).
 * The hash is kept in the transaction's state: a retried transaction
 * (db_transaction) does not compute it again.
 */
struct ra_pin_txn {
	struct ra			*ra;
	const char			*account_id;
	const struct factor		*factor;
	const char			*pin;		/* the new PIN */
	const char			*client;
	enum ra_factor_txn_outcome	 outcome;
	struct factor_outcome	 fo;
	int				 replaced;
	char				 hash[256];	/* of pin, once computed */
};

/* How the notice names the factor that authorized a change. */
static const char *
ra_factor_kind_text(const char *kind)
{
	if (strcmp(kind, "otp") == 0)
		return "a one-time code sent to you";
	if (strcmp(kind, "pin") == 0)
		return "your previous PIN";
	if (strcmp(kind, "totp") == 0)
		return "your authenticator app";
	return "a second factor";
}

/*
 * Queues the notice of a PIN set or replaced to the account's address, in
 * the change's transaction (ra_mail_queue): the owner learns of a PIN they
 * did not set, which would authorize everything a PIN does. 0 or -1.
 */
static int
ra_pin_notice(struct db *db, const struct ra_pin_txn *t, const char *to,
    const char *at)
{
	char *body = NULL;
	int rc;

	if (asprintf(&body, "%s on %s (UTC), authorized by %s.\r\n\r\nThe "
	    "PIN authorizes every sensitive action of your account (agreements, "
	    "revocations, account changes) and remote signatures.\r\n\r\nIf "
	    "you did not do this, contact us at once.\r\n", t->replaced ?
	    "The PIN of your account was changed" : "A PIN was set for your "
	    "account", at, ra_factor_kind_text(t->fo.kind)) == -1) {
		log_err("pin: asprintf: out of memory");
		return -1;
	}
	rc = ra_mail_queue(db, to, t->replaced ? "Your PIN was changed" :
	    "A PIN was set for your account", body);
	free(body);
	return rc;
}

/*
 * A PIN whoever knows the subscriber's identity tries first: six digits in
 * a row of a NIK the account submitted (digits 7-12 are the date of birth,
 * DDMMYY, 40 added to the day for women), or the date of birth it typed,
 * as DDMMYY, YYMMDD or MMDDYY. The NIK is the serialNumber of the
 * certificate's subject, which signd's credentials/info gives every
 * signing service and LDAP publishes, and a service may name any user:
 * the lock-out's five tries would often be enough. Identities submitted
 * after the PIN was set are not compared (only its hash is kept).
 */
static const struct db_stmt stmt_pin_identity = {
	"ra_pin_identity",
	"SELECT k.nik, to_char(k.birth_date, 'DDMMYY'), "
	"to_char(k.birth_date, 'YYMMDD'), to_char(k.birth_date, 'MMDDYY') "
	"FROM ra_kyc k JOIN ra_application a ON a.id = k.application_id "
	"WHERE a.account_id = $1",
	1
};

/* 1 when pin comes from the account's identity (above), 0 not, -1 error. */
static int
ra_pin_from_identity(struct db *db, const char *account_id, const char *pin)
{
	const char *v[1] = { account_id }, *nik;
	PGresult *res;
	size_t i, len;
	int row, col, found = 0;

	if ((res = db_exec(db, &stmt_pin_identity, v, NULL, NULL)) == NULL)
		return -1;
	for (row = 0; row < PQntuples(res) && !found; row++) {
		nik = PQgetvalue(res, row, 0);
		len = strlen(nik);
		for (i = 0; i + RA_PIN_DIGITS <= len && !found; i++)
			found = memcmp(nik + i, pin, RA_PIN_DIGITS) == 0;
		for (col = 1; col <= 3 && !found; col++)
			found = strcmp(PQgetvalue(res, row, col), pin) == 0;
	}
	PQclear(res);
	return found;
}

static int
ra_pin_txn(struct db *db, void *arg)
{
	char actor[RA_ACTOR_MAX];
	struct ra_pin_txn *t = arg;
	const char *v[2];
	PGresult *res = NULL;
	json_t *details = NULL;
	int rc = -1;

	t->outcome = RA_FTX_DONE;
	/* Before the factor: a refused PIN uses up no code. */
	switch (ra_pin_from_identity(db, t->account_id, t->pin)) {
	case 0:
		break;
	case 1:
		t->outcome = RA_FTX_GUESSABLE;
		goto out;	/* nothing written: roll back */
	default:
		goto out;
	}
	if (ra_factor_check(t->ra, db, t->account_id, "set_pin", t->factor,
	    &t->fo) == -1)
		goto out;
	if (t->fo.result != FACTOR_OK) {
		t->outcome = RA_FTX_FACTOR;
		rc = 0;		/* commit the failure record, nothing else */
		goto out;
	}
	if (t->hash[0] == '\0' && ra_password_hash(t->ra->policy, t->pin,
	    t->hash, sizeof(t->hash)) == -1)
		goto out;
	v[0] = t->account_id;
	v[1] = t->hash;
	if ((res = db_exec(db, &stmt_pin_set, v, NULL, NULL)) == NULL ||
	    PQntuples(res) != 1)
		goto out;
	t->replaced = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (t->fo.otp_id > 0)
		details = json_pack("{s:s, s:I, s:b, s:s}", "factor", t->fo.kind,
		    "otp_id", (json_int_t)t->fo.otp_id, "replaced", t->replaced,
		    "client", t->client);
	else
		details = json_pack("{s:s, s:b, s:s}", "factor", t->fo.kind,
		    "replaced", t->replaced, "client", t->client);
	if (details == NULL || audit_append(db, ra_actor(actor, t->account_id), "ra.pin.set",
	    "ra_account", t->account_id, details, NULL) == -1 ||
	    ra_pin_notice(db, t, PQgetvalue(res, 0, 1),
	    PQgetvalue(res, 0, 2)) == -1)
		goto out;
	rc = 0;
out:
	json_decref(details);
	PQclear(res);
	return rc;
}

int
ra_pin_set(struct ra *ra, const struct http_request *req,
    struct http_response *resp)
{
	struct ra_subject who;
	struct ra_pin_req r;
	struct ra_pin_txn t;
	char detail[256];
	json_t *o = NULL;
	int rc = -1, a;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if ((a = ra_subscriber_json(ra, req, resp, &who)) != 1)
		return a;
	if (ra_parse_pin_set(req->body, req->body_len, &r, detail,
	    sizeof(detail)) == -1) {
		rc = ra_problem(resp, 400, detail);
		goto out;
	}
	t.ra = ra;
	t.account_id = who.account_id;
	t.factor = &r.factor;
	t.pin = r.pin;
	t.client = req->remote_addr;
	/* Before the PIN's Argon2id hash (common.c). */
	if ((a = ra_hash_admit(ra, 1, resp)) != 1) {
		rc = a;
		goto out;
	}
	if (db_transaction(ra->db, NULL, RA_TXN_ATTEMPTS, ra_pin_txn, &t) == -1) {
		if (t.outcome == RA_FTX_GUESSABLE)
			rc = ra_problem(resp, 400, "pin: too easy to guess for "
			    "whoever knows your identity (six digits of your "
			    "NIK, or your date of birth)");
		goto out;
	}
	if (t.outcome == RA_FTX_FACTOR) {
		rc = ra_factor_respond(resp, &t.fo);
		goto out;
	}
	log_info("pin: account %s %s its PIN (authorized by %s), notice queued",
	    who.account_id, t.replaced ? "replaced" : "set", t.fo.kind);
	if ((o = json_pack("{s:I, s:b, s:b}", "id", (json_int_t)strtoll(
	    who.account_id, NULL, 10), "pin_set", 1, "replaced",
	    t.replaced)) == NULL)
		goto out;
	rc = http_respond_json(resp, 200, o);
out:
	ra_wipe(&t, sizeof(t));
	ra_wipe(&r, sizeof(r));
	json_decref(o);
	return rc;
}
