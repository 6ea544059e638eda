-- Second factors of subscribers (ra/README.md, ra/factor.c): one-time codes
-- sent by email or SMS, a 6-digit PIN, and the account-level lock-out after
-- repeated wrong factors. A code is stored only as HMAC-SHA256 under rad's
-- OTP key (ra.otp_key_file), bound to its row, account, channel and
-- purpose; a stolen table without the key gives no code. Every change is
-- made by rad together with an audit_event in the same transaction.
CREATE TABLE ra_otp (
	id		bigserial PRIMARY KEY,
	account_id	bigint NOT NULL REFERENCES ra_account (id),
	channel		text NOT NULL CHECK (channel IN ('email', 'sms')),
	purpose		text NOT NULL CHECK (purpose IN ('phone_verify',
			    'agreement', 'rekey', 'revoke', 'change_password',
			    'change_email', 'change_phone', 'set_pin')),
	code_hmac	bytea NOT NULL CHECK (length(code_hmac) = 32),
	expires_at	timestamptz NOT NULL,
	-- Wrong codes presented; at max_attempts the OTP is dead.
	attempts	integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	max_attempts	integer NOT NULL CHECK (max_attempts >= 1),
	-- Set once, by the one successful use.
	consumed_at	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (channel = 'sms' OR purpose <> 'phone_verify')
);
-- The per-account send rate (otp.per_hour) counts recent rows.
CREATE INDEX ra_otp_account_created ON ra_otp (account_id, created_at);

ALTER TABLE ra_account
	-- Argon2id PHC string of the 6-digit PIN, NULL until one is set.
	ADD COLUMN pin_hash text CHECK (pin_hash LIKE '$argon2id$%'),
	ADD COLUMN pin_set_at timestamptz,
	-- Wrong factors (OTP codes, PINs) in a row, and the lock they caused.
	ADD COLUMN factor_failures integer NOT NULL DEFAULT 0
	    CHECK (factor_failures >= 0),
	ADD COLUMN factor_locked_until timestamptz,
	ADD CONSTRAINT ra_account_pin_set_at
	    CHECK ((pin_hash IS NULL) = (pin_set_at IS NULL));

-- rad (pki_ra): reads and inserts OTPs, updates only their counters; never deletes.
GRANT SELECT, INSERT ON ra_otp TO pki_ra;
GRANT UPDATE (attempts, consumed_at) ON ra_otp TO pki_ra;
GRANT USAGE ON SEQUENCE ra_otp_id_seq TO pki_ra;
GRANT UPDATE (pin_hash, pin_set_at, factor_failures, factor_locked_until)
    ON ra_account TO pki_ra;
