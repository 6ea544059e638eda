-- RA officers (ra/README.md "Officers"): staff who review applications.
-- Created by pkictl (pki_admin) only; they log in to rad (pki_ra) with a
-- password (Argon2id) and a TOTP code (RFC 6238). The TOTP secret is stored
-- sealed with AES-256-GCM (nonce || ciphertext || tag, 48 bytes) under the
-- key in the 0600 file ra.officer_key_file, with "ra_officer:<username>"
-- as associated data: a copy of this table alone gives no second factor,
-- and a sealed secret moved to another row does not open.
CREATE TABLE ra_officer (
	id		bigserial PRIMARY KEY,
	username	text NOT NULL UNIQUE
			    CHECK (username ~ '^[a-z][a-z0-9._-]{2,63}$'),
	password_hash	text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
	totp_secret_enc	bytea NOT NULL CHECK (length(totp_secret_enc) = 48),
	role		text NOT NULL
			    CHECK (role IN ('ra_officer', 'ra_admin', 'auditor')),
	-- The officer's own subscriber account, if any: later slices refuse
	-- an officer reviewing an application of this account.
	account_id	bigint UNIQUE REFERENCES ra_account (id),
	-- The last accepted TOTP time step (RFC 6238 §5.2: no code twice).
	last_totp_step	bigint NOT NULL DEFAULT 0 CHECK (last_totp_step >= 0),
	failed_logins	integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
	locked_until	timestamptz,
	disabled_at	timestamptz,
	created_by	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);

-- Officer log-in sessions (Bearer tokens), apart from subscriber sessions:
-- a token of one table never authenticates against the other.
CREATE TABLE ra_officer_session (
	id		bigserial PRIMARY KEY,
	officer_id	bigint NOT NULL REFERENCES ra_officer (id),
	token_sha256	bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
	client_addr	text NOT NULL,
	expires_at	timestamptz NOT NULL,
	revoked_at	timestamptz,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ra_officer_session_officer ON ra_officer_session (officer_id);

-- pkictl (pki_admin) creates, lists and disables officers; it looks up the
-- linked subscriber account by email. A disabled officer's sessions stop
-- working at once (rad joins ra_officer.disabled_at).
GRANT SELECT, INSERT ON ra_officer TO pki_admin;
GRANT UPDATE (disabled_at) ON ra_officer TO pki_admin;
GRANT USAGE ON SEQUENCE ra_officer_id_seq TO pki_admin;
GRANT SELECT (id, email) ON ra_account TO pki_admin;
-- rad (pki_ra) reads officers and updates only the log-in columns; it
-- creates and revokes sessions. Nobody deletes.
GRANT SELECT ON ra_officer TO pki_ra;
GRANT UPDATE (last_totp_step, failed_logins, locked_until) ON ra_officer
    TO pki_ra;
GRANT SELECT, INSERT ON ra_officer_session TO pki_ra;
GRANT UPDATE (revoked_at) ON ra_officer_session TO pki_ra;
GRANT USAGE ON SEQUENCE ra_officer_session_id_seq TO pki_ra;
-- Auditors of the database (pki_auditor) may read both, never the secrets'
-- key (which is not in the database).
GRANT SELECT ON ra_officer, ra_officer_session TO pki_auditor;
