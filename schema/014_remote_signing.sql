-- 014_remote_signing: the remote-signing service signd (CSC API v2,
-- hsm/README.md "signd", docs/csc.md).
--
-- Two roles, one per process of signd:
--   pki_sign  the worker (HTTP/JSON): signing services and their access
--             tokens, reads credentials and certificates; never a wrapped
--             key, never a SAD.
--   pki_sam   the signature activation module (signd's signer process, the
--             only one holding the wrapping token's PIN): verifies the
--             subscriber's factor against the RA's tables (lib/factor.c,
--             same rules as rad), alone creates and consumes SADs, reads the
--             wrapped key and the certificate, audits every signature.

DO $roles$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pki_sam') THEN
		CREATE ROLE pki_sam LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
	END IF;
END
$roles$;
GRANT SELECT ON schema_version TO pki_sam;
GRANT INSERT (actor, action, object_type, object_id, details) ON TABLE audit_event TO pki_sam;
GRANT USAGE ON SEQUENCE audit_event_id_seq TO pki_sam;
GRANT EXECUTE ON FUNCTION audit_append(text, text, text, text, jsonb) TO pki_sam;

-- OTPs of purpose 'sign' (POST /v1/otp at the RA) authorize signatures.
ALTER TABLE ra_otp DROP CONSTRAINT ra_otp_purpose_check;
ALTER TABLE ra_otp ADD CONSTRAINT ra_otp_purpose_check CHECK (purpose IN (
	'phone_verify', 'agreement', 'rekey', 'revoke', 'change_password',
	'change_email', 'change_phone', 'set_pin', 'sign'));

-- Signing services (OAuth 2.0 clients, RFC 6749 §4.4), made by
-- `pkictl sigservice add`. The secret is 256 random bits shown once; only
-- its SHA-256 is stored (a guess of 2^256 needs no slow hash).
CREATE TABLE sign_service (
	id		bigserial PRIMARY KEY,
	name		text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$'),
	client_id	text NOT NULL UNIQUE CHECK (client_id ~ '^[A-Za-z0-9_-]{22}$'),
	secret_sha256	bytea NOT NULL CHECK (length(secret_sha256) = 32),
	created_at	timestamptz NOT NULL DEFAULT now(),
	disabled_at	timestamptz
);

-- Bearer access tokens of the services: 256 random bits, stored as SHA-256.
CREATE TABLE sign_token (
	id		bigserial PRIMARY KEY,
	service_id	bigint NOT NULL REFERENCES sign_service (id),
	token_sha256	bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
	expires_at	timestamptz NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_token_expires ON sign_token (expires_at);

-- Which RA account owns which certificate's key: a credential. XXX issue 6:
-- once the RA links applications to orders (ra_application.order_id →
-- issuance_order.certificate_id) this table is filled from that link; until
-- then an administrator (or a test, as superuser) inserts the rows.
CREATE TABLE sign_credential (
	certificate_id	bigint PRIMARY KEY REFERENCES certificate (id),
	account_id	bigint NOT NULL REFERENCES ra_account (id),
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_credential_account ON sign_credential (account_id);

-- Signature activation data (CSC "SAD", SCAL2): 256 random bits handed to
-- the service once, stored only as SHA-256, bound to the credential, the
-- exact hashes (sign_sad_hash) and their count, short-lived, each hash
-- usable once. Written by pki_sam alone.
CREATE TABLE sign_sad (
	id		bigserial PRIMARY KEY,
	sad_sha256	bytea NOT NULL UNIQUE CHECK (length(sad_sha256) = 32),
	certificate_id	bigint NOT NULL REFERENCES certificate (id),
	account_id	bigint NOT NULL REFERENCES ra_account (id),
	service_id	bigint NOT NULL REFERENCES sign_service (id),
	hash_algo	text NOT NULL CHECK (hash_algo IN ('SHA256', 'SHA384', 'SHA512')),
	num_signatures	integer NOT NULL CHECK (num_signatures BETWEEN 1 AND 1000),
	remaining	integer NOT NULL CHECK (remaining >= 0),
	factor		text NOT NULL CHECK (factor IN ('pin', 'otp')),
	expires_at	timestamptz NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	CHECK (remaining <= num_signatures)
);
CREATE TABLE sign_sad_hash (
	sad_id		bigint NOT NULL REFERENCES sign_sad (id),
	hash		text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}([0-9a-f]{32}){0,2}$'),
	used_at		timestamptz,
	PRIMARY KEY (sad_id, hash)
);

-- The worker: services, tokens, credentials, and the public parts of the
-- subscriber keys only (never the wrapped blob).
GRANT SELECT ON sign_service, sign_credential TO pki_sign;
GRANT SELECT, INSERT ON sign_token TO pki_sign;
GRANT USAGE ON SEQUENCE sign_token_id_seq TO pki_sign;
REVOKE SELECT ON subscriber_key FROM pki_sign;
GRANT SELECT (id, certificate_id, key_type, spki) ON subscriber_key TO pki_sign;

-- The SAM: factors (as rad: read the account's verifier, count failures,
-- consume OTPs), SADs, keys and certificates.
GRANT SELECT (id, pin_hash, factor_failures, factor_locked_until) ON ra_account TO pki_sam;
GRANT UPDATE (factor_failures, factor_locked_until) ON ra_account TO pki_sam;
GRANT SELECT ON ra_otp TO pki_sam;
GRANT UPDATE (attempts, consumed_at) ON ra_otp TO pki_sam;
GRANT SELECT ON sign_credential, sign_service, certificate, subscriber_key TO pki_sam;
GRANT SELECT, INSERT, UPDATE (remaining) ON sign_sad TO pki_sam;
GRANT USAGE ON SEQUENCE sign_sad_id_seq TO pki_sam;
GRANT SELECT, INSERT, UPDATE (used_at) ON sign_sad_hash TO pki_sam;

-- pkictl sigservice add; auditors read everything but secrets' digests.
GRANT SELECT, INSERT ON sign_service TO pki_admin;
GRANT USAGE ON SEQUENCE sign_service_id_seq TO pki_admin;
GRANT SELECT, INSERT ON sign_credential TO pki_admin;
GRANT SELECT (id, name, client_id, created_at, disabled_at) ON sign_service TO pki_auditor;
GRANT SELECT ON sign_credential, sign_sad_hash TO pki_auditor;
GRANT SELECT (id, certificate_id, account_id, service_id, hash_algo, num_signatures,
	remaining, factor, expires_at, created_at) ON sign_sad TO pki_auditor;
