-- 045_ra_password_reset: two account-security gaps of issue 3
-- (ra/README.md "Password reset", "Stale unverified accounts").
--
-- 1. A subscriber who forgot the password asks POST /v1/password/forgot
--    for a single-use reset token, mailed to the account's verified
--    address and stored here only as the SHA-256 of its 32 random bytes.
--    POST /v1/password/reset uses it up; an account whose phone is
--    verified also needs an SMS code of the new OTP purpose
--    password_reset (POST /v1/password/reset/otp), so that a stolen
--    mailbox alone does not take over an account whose key signs.
-- 2. An account still unverified after its verification window no longer
--    holds its address for ever: a registration with the address frees it
--    (POST /v1/register). The stale account is kept, with its audit trail
--    and whatever refers to it, under the address 'replaced:<id>', which no
--    registration or log-in can name (no '@'), its sessions revoked.
--    Only an account never verified is replaced: one that was verified
--    and then moved to an address it has not verified yet keeps it.
CREATE TABLE ra_password_reset (
	id		bigserial PRIMARY KEY,
	account_id	bigint NOT NULL REFERENCES ra_account (id),
	token_sha256	bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
	expires_at	timestamptz NOT NULL,
	-- Set once: used by the reset, or voided by a newer request.
	used_at		timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now()
);
-- password_reset.per_hour counts an account's recent requests.
CREATE INDEX ra_password_reset_account ON ra_password_reset (account_id, created_at);

-- The OTP purpose of the reset's SMS step, by SMS only (as phone_verify).
ALTER TABLE ra_otp DROP CONSTRAINT ra_otp_purpose_check;
ALTER TABLE ra_otp ADD CONSTRAINT ra_otp_purpose_check
	CHECK (purpose IN ('phone_verify', 'agreement', 'rekey', 'revoke',
	    'change_password', 'change_email', 'change_phone', 'set_pin',
	    'totp_enrol', 'sign', 'password_reset'));
ALTER TABLE ra_otp ADD CONSTRAINT ra_otp_password_reset_sms
	CHECK (channel = 'sms' OR purpose <> 'password_reset');

-- verified_once: the account's email was verified at least once (a later
-- POST /v1/email makes it unverified again, but its owner proved a
-- mailbox and may hold applications and certificates). Kept by the
-- trigger below, never unset. replaced_at: when a registration freed the
-- address of this stale, never verified account.
ALTER TABLE ra_account
	ADD COLUMN verified_once boolean NOT NULL DEFAULT false,
	ADD COLUMN replaced_at timestamptz;
UPDATE ra_account a SET verified_once = true
	WHERE a.email_verified OR EXISTS (SELECT 1 FROM audit_event e
	    WHERE e.object_type = 'ra_account' AND e.object_id = a.id::text
	    AND e.action = 'ra.account.verify_email');
ALTER TABLE ra_account ADD CONSTRAINT ra_account_replaced
	CHECK (replaced_at IS NULL OR (email = 'replaced:' || id
	    AND NOT email_verified AND NOT verified_once));

CREATE FUNCTION ra_account_verified_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.email_verified THEN
		NEW.verified_once := true;
	END IF;
	IF TG_OP = 'UPDATE' AND OLD.verified_once AND NOT NEW.verified_once THEN
		RAISE EXCEPTION 'ra_account %: verified_once is never unset', OLD.id;
	END IF;
	IF TG_OP = 'UPDATE' AND OLD.replaced_at IS NOT NULL AND
	    NEW.replaced_at IS DISTINCT FROM OLD.replaced_at THEN
		RAISE EXCEPTION 'ra_account %: a replaced account stays replaced', OLD.id;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER ra_account_verified_once BEFORE INSERT OR UPDATE ON ra_account
	FOR EACH ROW EXECUTE FUNCTION ra_account_verified_once();

-- rad (pki_ra): reads and inserts reset tokens and marks them used; frees a
-- stale account's address (email, already granted by 017) and stamps it.
-- Still no DELETE.
GRANT SELECT, INSERT ON ra_password_reset TO pki_ra;
GRANT UPDATE (used_at) ON ra_password_reset TO pki_ra;
GRANT USAGE ON SEQUENCE ra_password_reset_id_seq TO pki_ra;
GRANT UPDATE (replaced_at) ON ra_account TO pki_ra;
-- The auditor sees when resets were asked for and used, not the digests.
GRANT SELECT (id, account_id, expires_at, used_at, created_at)
    ON ra_password_reset TO pki_auditor;
