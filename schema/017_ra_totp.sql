-- Subscriber TOTP (RFC 6238) and the sensitive account changes (ra/README.md
-- "TOTP" and "Account changes", ra/totp.c, ra/change.c). The TOTP secret is
-- stored sealed with AES-256-GCM (nonce || ciphertext || tag, 48 bytes)
-- under the key in the 0600 file ra.totp_key_file (its own key: not the
-- officers', which pkictl also reads), with "ra_account_totp:<id>" as
-- associated data: a copy of this table alone gives no second factor, and a
-- sealed secret moved to another account does not open. An enrolment is
-- PENDING (totp_pending_enc) until POST /v1/totp/confirm proves the app has
-- it; only then does it replace the active secret (totp_secret_enc).
ALTER TABLE ra_account
	ADD COLUMN totp_secret_enc bytea
	    CHECK (length(totp_secret_enc) = 48),
	ADD COLUMN totp_confirmed_at timestamptz,
	ADD COLUMN totp_pending_enc bytea
	    CHECK (length(totp_pending_enc) = 48),
	ADD COLUMN totp_pending_at timestamptz,
	-- The last accepted TOTP time step (RFC 6238 §5.2: no code twice).
	ADD COLUMN totp_last_step bigint NOT NULL DEFAULT 0
	    CHECK (totp_last_step >= 0),
	ADD CONSTRAINT ra_account_totp_confirmed_at
	    CHECK ((totp_secret_enc IS NULL) = (totp_confirmed_at IS NULL)),
	ADD CONSTRAINT ra_account_totp_pending_at
	    CHECK ((totp_pending_enc IS NULL) = (totp_pending_at IS NULL));

-- An OTP may be asked for the new purpose totp_enrol. 'sign' is listed
-- too: schema/014 of the remote-signing slice adds it, and this constraint
-- must keep every purpose whichever migration comes first.
ALTER TABLE ra_otp DROP CONSTRAINT ra_otp_purpose_check;
ALTER TABLE ra_otp ADD CONSTRAINT ra_otp_purpose_check
	CHECK (purpose IN ('phone_verify', 'agreement', 'rekey', 'revoke',
	    'change_password', 'change_email', 'change_phone', 'set_pin',
	    'totp_enrol', 'sign'));

-- rad (pki_ra): the TOTP columns, and the password, email and phone a
-- subscriber changes with a second factor. Still no DELETE.
GRANT UPDATE (totp_secret_enc, totp_confirmed_at, totp_pending_enc,
    totp_pending_at, totp_last_step, password_hash, email, phone)
    ON ra_account TO pki_ra;
