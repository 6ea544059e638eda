/*
 * policy/ra.conf: password rules, Argon2id cost, token lifetimes, lock-out
 * and rate limits. Read once at start-up; the code has no other copy of
 * these numbers than the defaults below (used when a key is absent).
 */
#include <string.h>

#include "lib/config.h"
#include "lib/log.h"
#include "lib/x509ext.h"
#include "ra/extern.h"

/*
 * A document version the subscriber must have consented to: 1 to
 * RA_VERSION_MAX characters of [A-Za-z0-9._-]. Default "1.0".
 */
static int
ra_policy_version(const struct config *c, const char *key,
    char out[RA_VERSION_MAX + 1])
{
	const char *v = config_get(c, key, "1.0");
	size_t n = strlen(v);

	if (n == 0 || n > RA_VERSION_MAX || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-") != n) {
		log_err("policy: %s must be 1 to %d characters of A-Z a-z 0-9 "
		    ". _ -", key, RA_VERSION_MAX);
		return -1;
	}
	memcpy(out, v, n + 1);
	return 0;
}

/*
 * RFC 5280 §5.3.1 CRLReason names (review.c, certificate.c and pkictl's
 * policy load): lib/x509ext.h's, as crld's, cad's and lib/publish.c's;
 * 8 (removeFromCRL) is no reason to revoke.
 */
int
ra_revocation_reason_code(const char *name)
{
	int code = x509ext_crl_reason_code(name);

	return code == 8 ? -1 : code;
}

const char *
ra_revocation_reason_name(int code)
{
	const char *name = x509ext_crl_reason_name(code);

	return name != NULL ? name : "unknown";
}

int
ra_policy_reason_allowed(const struct ra_policy *p, const char *name)
{
	int code;

	if ((code = ra_revocation_reason_code(name)) == -1 || code >= 32)
		return 0;
	return (p->review_revocation_reasons & (1U << code)) != 0;
}

int
ra_word_in(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	if (n == 0)
		return 0;
	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ' ' || p[-1] == ',') &&
		    (p[n] == ' ' || p[n] == ',' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/*
 * review.four_eyes_kinds: words among the application kinds (and eseal),
 * matched against an application's kind and its profile (ra/review.c);
 * review.revocation_reasons: RFC 5280 §5.3.1 names, certificateHold and
 * removeFromCRL excluded (a hold is its own request: review.holds).
 */
/*
 * rekey.reminder_days: up to four distinct day counts, 1 to
 * rekey.window_days (a reminder asks to rekey, which the window must then
 * allow), kept as an SQL int[] literal; empty for none.
 */
static int
ra_policy_reminders(const struct config *c, struct ra_policy *p)
{
	const char *v;
	char buf[64], *w, *save = NULL, *end;
	long days, seen[4];
	size_t i, n = 0, len = 0;
	int given;

	/* Unset: the defaults that fit the window (a site's smaller window). */
	given = (v = config_get(c, "rekey.reminder_days", NULL)) != NULL;
	if (!given)
		v = p->rekey_window_days >= 30 ? "30 7" :
		    p->rekey_window_days >= 7 ? "7" : "";
	if (strlen(v) >= sizeof(buf)) {
		log_err("policy: rekey.reminder_days too long");
		return -1;
	}
	memcpy(buf, v, strlen(v) + 1);
	len = (size_t)snprintf(p->rekey_reminder_days,
	    sizeof(p->rekey_reminder_days), "{");
	for (w = strtok_r(buf, " \t,", &save); w != NULL;
	    w = strtok_r(NULL, " \t,", &save)) {
		days = strtol(w, &end, 10);
		if (*end != '\0' || days < 1 || days > p->rekey_window_days) {
			log_err("policy: rekey.reminder_days: \"%s\" is not a "
			    "number of days from 1 to rekey.window_days (%ld)", w,
			    p->rekey_window_days);
			return -1;
		}
		for (i = 0; i < n; i++)
			if (seen[i] == days) {
				log_err("policy: rekey.reminder_days: %ld twice",
				    days);
				return -1;
			}
		if (n == sizeof(seen) / sizeof(seen[0])) {
			log_err("policy: rekey.reminder_days: at most 4");
			return -1;
		}
		seen[n++] = days;
		len += (size_t)snprintf(p->rekey_reminder_days + len,
		    sizeof(p->rekey_reminder_days) - len, "%s%ld",
		    n > 1 ? "," : "", days);
	}
	snprintf(p->rekey_reminder_days + len, sizeof(p->rekey_reminder_days) -
	    len, "}");
	return 0;
}

static int
ra_policy_review(const struct config *c, struct ra_policy *p)
{
	static const char *const kinds[] = { "personal", "corporate", "eseal",
	    "rekey", "rekyc", NULL };
	const char *v;
	char buf[256], *w, *save = NULL;
	size_t n;
	int i, code;

	v = config_get(c, "review.four_eyes_kinds", "corporate eseal");
	if (strlen(v) >= sizeof(buf) || strlen(v) + 2 >=
	    sizeof(p->review_four_eyes_kinds)) {
		log_err("policy: review.four_eyes_kinds too long");
		return -1;
	}
	memcpy(buf, v, strlen(v) + 1);
	n = 0;
	p->review_four_eyes_kinds[n++] = ' ';
	for (w = strtok_r(buf, " \t,", &save); w != NULL;
	    w = strtok_r(NULL, " \t,", &save)) {
		for (i = 0; kinds[i] != NULL && strcmp(kinds[i], w) != 0; i++)
			;
		if (kinds[i] == NULL) {
			log_err("policy: review.four_eyes_kinds: unknown kind "
			    "\"%s\"", w);
			return -1;
		}
		n += (size_t)snprintf(p->review_four_eyes_kinds + n,
		    sizeof(p->review_four_eyes_kinds) - n, "%s ", w);
	}
	v = config_get(c, "review.revocation_reasons", "unspecified "
	    "keyCompromise affiliationChanged superseded cessationOfOperation "
	    "privilegeWithdrawn");
	if (strlen(v) >= sizeof(buf)) {
		log_err("policy: review.revocation_reasons too long");
		return -1;
	}
	memcpy(buf, v, strlen(v) + 1);
	p->review_revocation_reasons = 0;
	for (w = strtok_r(buf, " \t,", &save); w != NULL;
	    w = strtok_r(NULL, " \t,", &save)) {
		if ((code = ra_revocation_reason_code(w)) == -1 || code == 6) {
			log_err("policy: review.revocation_reasons: \"%s\" is "
			    "not an RFC 5280 reason an officer may use", w);
			return -1;
		}
		p->review_revocation_reasons |= 1U << code;
	}
	if (p->review_revocation_reasons == 0) {
		log_err("policy: review.revocation_reasons is empty");
		return -1;
	}
	return config_get_bool(c, "review.holds", 0, &p->review_holds);
}

/* A name of [a-z][a-z0-9-]* (a profile, a key type), at most outlen - 1. */
static int
ra_policy_word(const struct config *c, const char *key, const char *def,
    char *out, size_t outlen)
{
	const char *v = config_get(c, key, def);
	size_t n = strlen(v);

	if (n == 0 || n >= outlen || v[0] < 'a' || v[0] > 'z' ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != n) {
		log_err("policy: %s must be 1 to %zu characters of a-z 0-9 -, "
		    "starting with a letter", key, outlen - 1);
		return -1;
	}
	memcpy(out, v, n + 1);
	return 0;
}

/*
 * agreement.profile is the profile of a person's own certificate (kyc.c
 * puts it in every personal application): not one that cad lints as
 * another kind, nor a CA's, nor the company pseudo-profile of schema/018.
 */
static int
ra_policy_personal_profile(const char *profile)
{
	static const char *const others[] = { "corporate", "eseal", "company",
	    "root", "issuing-ca", "ocsp-responder", "tsa", NULL };
	int i;

	for (i = 0; others[i] != NULL; i++)
		if (strcmp(profile, others[i]) == 0) {
			log_err("policy: agreement.profile %s is not a profile "
			    "of a person's own certificate", profile);
			return -1;
		}
	return 0;
}

int
ra_policy_load(const struct config *c, struct ra_policy *p)
{
	memset(p, 0, sizeof(*p));
	if (config_get_long(c, "password.min_length", 9, 1, 128,
	    &p->pw_min_len) == -1 ||
	    config_get_long(c, "password.max_length", 128, 1, RA_PASSWORD_MAX,
	    &p->pw_max_len) == -1 ||
	    config_get_bool(c, "password.require_upper", 1, &p->pw_upper) == -1 ||
	    config_get_bool(c, "password.require_lower", 1, &p->pw_lower) == -1 ||
	    config_get_bool(c, "password.require_digit", 1, &p->pw_digit) == -1 ||
	    config_get_bool(c, "password.require_symbol", 1,
	    &p->pw_symbol) == -1 ||
	    /* RFC 9106 §4 and OWASP's floor: t ≥ 2 with m ≥ 19 MiB. */
	    config_get_long(c, "password.argon2_t_cost", 2, 1, 64,
	    &p->argon2_t_cost) == -1 ||
	    config_get_long(c, "password.argon2_m_cost_kib", 19456, 8192,
	    4 * 1024 * 1024, &p->argon2_m_cost_kib) == -1 ||
	    config_get_long(c, "password.argon2_parallelism", 1, 1, 16,
	    &p->argon2_parallelism) == -1 ||
	    config_get_long(c, "email_verification.ttl_seconds", 86400, 60,
	    30 * 86400, &p->verify_ttl_s) == -1 ||
	    config_get_long(c, "email_verification.per_hour", 3, 1, 100,
	    &p->verify_per_hour) == -1 ||
	    config_get_long(c, "email_verification.per_day", 6, 1, 1000,
	    &p->verify_per_day) == -1 ||
	    /* account.c: a floor of one day, whatever ttl_seconds says */
	    config_get_long(c, "email_verification.unverified_account_days", 7,
	    1, 365, &p->unverified_days) == -1 ||
	    /* reset.c (ra/README.md "Password reset") */
	    config_get_long(c, "password_reset.ttl_seconds", 1800, 300, 86400,
	    &p->reset_ttl_s) == -1 ||
	    config_get_long(c, "password_reset.per_hour", 3, 1, 100,
	    &p->reset_per_hour) == -1 ||
	    config_get_long(c, "password_reset.min_interval_seconds", 60, 10,
	    3600, &p->reset_gap_s) == -1 ||
	    config_get_long(c, "session.ttl_seconds", 3600, 60, 7 * 86400,
	    &p->session_ttl_s) == -1 ||
	    config_get_long(c, "lockout.threshold", 5, 1, 100,
	    &p->lockout_threshold) == -1 ||
	    config_get_long(c, "lockout.base_seconds", 60, 1, 86400,
	    &p->lockout_base_s) == -1 ||
	    config_get_long(c, "lockout.max_seconds", 3600, 1, 7 * 86400,
	    &p->lockout_max_s) == -1 ||
	    config_get_long(c, "rate.register_per_minute", 30, 1, 100000,
	    &p->register_per_min) == -1 ||
	    config_get_long(c, "rate.login_per_minute", 30, 1, 100000,
	    &p->login_per_min) == -1 ||
	    config_get_long(c, "rate.password_reset_per_minute", 10, 1, 100000,
	    &p->reset_per_min) == -1 ||
	    /* officer.c */
	    config_get_long(c, "officer.session_ttl_seconds", 900, 60, 86400,
	    &p->officer_session_ttl_s) == -1 ||
	    config_get_long(c, "officer.login_per_minute", 30, 1, 100000,
	    &p->officer_login_per_min) == -1)
		return -1;
	/* factor.c: one-time codes and the factor lock-out. */
	if (config_get_long(c, "otp.ttl_seconds", 300, 30, 900,
	    &p->otp_ttl_s) == -1 ||
	    config_get_long(c, "otp.max_attempts", 3, 1, 10,
	    &p->otp_max_attempts) == -1 ||
	    config_get_long(c, "otp.per_hour", 10, 1, 100,
	    &p->otp_per_hour) == -1 ||
	    config_get_long(c, "otp.per_phone_hour", 10, 1, 1000,
	    &p->otp_per_phone_hour) == -1 ||
	    config_get_long(c, "factor_lockout.threshold", 5, 1, 100,
	    &p->factor_lock_threshold) == -1 ||
	    config_get_long(c, "factor_lockout.base_seconds", 300, 1, 86400,
	    &p->factor_lock_base_s) == -1 ||
	    config_get_long(c, "factor_lockout.max_seconds", 3600, 1, 7 * 86400,
	    &p->factor_lock_max_s) == -1)
		return -1;
	/* KYC (ra/README.md "Applications"). */
	if (config_get_long(c, "kyc.min_age", 17, 17, 120,
	    &p->kyc_min_age) == -1 ||
	    config_get_long(c, "kyc.image_max_bytes", 2 * 1024 * 1024, 1024,
	    RA_IMAGE_HARD_MAX, &p->kyc_image.max_bytes) == -1 ||
	    config_get_long(c, "kyc.image_min_side_px", 64, 1, 4096,
	    &p->kyc_image.min_side) == -1 ||
	    config_get_long(c, "kyc.image_max_side_px", 8000, 64,
	    RA_IMAGE_SIDE_HARD_MAX, &p->kyc_image.max_side) == -1 ||
	    config_get_long(c, "kyc.image_max_pixels", 40000000L, 4096,
	    RA_IMAGE_PIXELS_HARD_MAX, &p->kyc_image.max_pixels) == -1 ||
	    config_get_long(c, "kyc.min_liveness", 70, 0, 100,
	    &p->kyc_min_liveness) == -1 ||
	    config_get_long(c, "kyc.min_match", 70, 0, 100,
	    &p->kyc_min_match) == -1 ||
	    config_get_long(c, "kyc.unissued_evidence_days", 90, 1, 3650,
	    &p->kyc_erase_days) == -1 ||
	    config_get_long(c, "kyc.issued_evidence_days", 3650, 1, 36500,
	    &p->kyc_erase_issued_days) == -1 ||
	    config_get_long(c, "kyc.per_day", 3, 1, 100,
	    &p->kyc_per_day) == -1 ||
	    /* pkictl purge (ra/README.md "Retention") */
	    config_get_long(c, "retention.ended_days", 30, 1, 3650,
	    &p->purge_days) == -1 ||
	    ra_policy_version(c, "kyc.privacy_policy_version",
	    p->kyc_privacy_version) == -1 ||
	    ra_policy_version(c, "kyc.subscriber_agreement_version",
	    p->kyc_agreement_version) == -1 ||
	    ra_policy_version(c, "kyc.guarantee_policy_version",
	    p->kyc_guarantee_version) == -1)
		return -1;
	/* An image of the least size must fit: else none would. */
	if (p->kyc_image.min_side > p->kyc_image.max_side ||
	    p->kyc_image.min_side * p->kyc_image.min_side >
	    p->kyc_image.max_pixels) {
		log_err("policy: kyc.image_min_side_px is over "
		    "kyc.image_max_side_px, or its square over "
		    "kyc.image_max_pixels: no image would be accepted");
		return -1;
	}
	/* review.c: four-eyes kinds and the reasons officers may revoke for. */
	if (ra_policy_review(c, p) == -1)
		return -1;
	/* certificate.c, notifier.c (ra/README.md "Certificates"). */
	if (ra_policy_word(c, "agreement.profile", "personal",
	    p->agreement_profile, sizeof(p->agreement_profile)) == -1 ||
	    ra_policy_word(c, "agreement.key_type", "ec-p256",
	    p->agreement_key_type, sizeof(p->agreement_key_type)) == -1 ||
	    ra_policy_version(c, "agreement.version",
	    p->agreement_version) == -1 ||
	    config_get_long(c, "rekey.window_days", 30, 1, 3660,
	    &p->rekey_window_days) == -1 ||
	    config_get_long(c, "notifier.interval_seconds", 5, 1, 3600,
	    &p->notifier_interval_s) == -1)
		return -1;
	if (ra_policy_personal_profile(p->agreement_profile) == -1)
		return -1;
	if (ra_policy_reminders(c, p) == -1)
		return -1;
	if (strcmp(p->agreement_key_type, "ec-p256") != 0 &&
	    strcmp(p->agreement_key_type, "ec-p384") != 0 &&
	    strcmp(p->agreement_key_type, "rsa2048") != 0 &&
	    strcmp(p->agreement_key_type, "rsa3072") != 0 &&
	    strcmp(p->agreement_key_type, "rsa4096") != 0) {
		log_err("policy: agreement.key_type must be one of ec-p256, "
		    "ec-p384, rsa2048, rsa3072, rsa4096 (schema/007)");
		return -1;
	}
	/* corporate.c (ra/README.md "Corporate"). */
	if (config_get_long(c, "corporate.invite_ttl_seconds", 7 * 86400, 600,
	    30 * 86400, &p->corporate_invite_ttl_s) == -1 ||
	    config_get_long(c, "corporate.claim_ttl_seconds", 7 * 86400, 3600,
	    30 * 86400, &p->corporate_claim_ttl_s) == -1 ||
	    config_get_long(c, "corporate.claim_resend_interval_seconds", 600,
	    60, 86400, &p->corporate_claim_resend_s) == -1 ||
	    config_get_long(c, "corporate.invite_company_per_hour", 20, 1, 1000,
	    &p->corporate_invite_company_hour) == -1 ||
	    config_get_long(c, "corporate.invite_address_per_day", 3, 1, 100,
	    &p->corporate_invite_address_day) == -1)
		return -1;
	if (p->pw_min_len > p->pw_max_len) {
		log_err("policy: password.min_length > password.max_length");
		return -1;
	}
	return 0;
}
