-- Subscriber accounts of the RA (ra/README.md): registration with email
-- verification, Argon2id password hashes, sessions, lock-out. Tokens are
-- stored only as SHA-256 digests of their 32 random bytes; a stolen table
-- gives no usable token. Every change is made by rad together with an
-- audit_event in the same transaction.
CREATE TABLE ra_account (
	id		bigserial PRIMARY KEY,
	email		text NOT NULL UNIQUE
			    CHECK (email = lower(email) AND length(email) <= 254),
	phone		text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
	password_hash	text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
	-- Unverified accounts may log in but not submit KYC (later work).
	email_verified	boolean NOT NULL DEFAULT false,
	email_verified_at timestamptz,
	failed_logins	integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
	locked_until	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (email_verified = (email_verified_at IS NOT NULL))
);

-- One-time email verification links.
CREATE TABLE ra_email_verification (
	id		bigserial PRIMARY KEY,
	account_id	bigint NOT NULL REFERENCES ra_account (id),
	token_sha256	bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
	expires_at	timestamptz NOT NULL,
	used_at		timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ra_email_verification_account ON ra_email_verification (account_id);

-- Log-in sessions (Bearer tokens).
CREATE TABLE ra_session (
	id		bigserial PRIMARY KEY,
	account_id	bigint NOT NULL REFERENCES ra_account (id),
	token_sha256	bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
	client_addr	text NOT NULL,
	expires_at	timestamptz NOT NULL,
	revoked_at	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ra_session_account ON ra_session (account_id);

-- rad (pki_ra) reads, inserts, and updates only the columns it must; it never deletes.
GRANT SELECT, INSERT ON ra_account, ra_email_verification, ra_session TO pki_ra;
GRANT UPDATE (email_verified, email_verified_at, failed_logins, locked_until)
    ON ra_account TO pki_ra;
GRANT UPDATE (used_at) ON ra_email_verification TO pki_ra;
GRANT UPDATE (revoked_at) ON ra_session TO pki_ra;
GRANT USAGE ON SEQUENCE ra_account_id_seq, ra_email_verification_id_seq,
    ra_session_id_seq TO pki_ra;
