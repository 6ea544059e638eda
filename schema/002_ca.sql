-- The CA hierarchy made at the ceremony: keys (public halves and where the
-- private halves live), certificates, and the LDAP publication queue.

CREATE TABLE ca_key (
	id		bigserial PRIMARY KEY,
	role		text NOT NULL CHECK (role IN ('root', 'issuing', 'ocsp', 'tsa')),
	token_label	text NOT NULL,
	key_label	text NOT NULL,
	key_type	text NOT NULL,
	spki		bytea NOT NULL,		-- DER SubjectPublicKeyInfo
	spki_sha256	text NOT NULL,		-- hex, for auditors and logs
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (token_label, key_label)
);

CREATE TABLE ca_certificate (
	id		bigserial PRIMARY KEY,
	-- 'root', 'issuing', 'ocsp-root', 'ocsp-issuing', 'tsa': the file name
	-- under pki.out_dir and how daemons find the certificate they need.
	name		text NOT NULL UNIQUE,
	role		text NOT NULL CHECK (role IN ('root', 'issuing', 'ocsp', 'tsa')),
	key_id		bigint NOT NULL REFERENCES ca_key (id),
	issuer_id	bigint REFERENCES ca_certificate (id),	-- NULL: self-signed
	serial		text NOT NULL,		-- hex, upper case, no leading zeros
	subject		text NOT NULL,		-- RFC 2253 string
	issuer		text NOT NULL,
	not_before	timestamptz NOT NULL,
	not_after	timestamptz NOT NULL,
	sha256		text NOT NULL,		-- hex fingerprint of der
	der		bytea NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (issuer, serial),
	CHECK (not_before < not_after)
);

-- One row per ceremony run; a completed 'init' means the hierarchy exists.
CREATE TABLE ca_ceremony (
	id		bigserial PRIMARY KEY,
	kind		text NOT NULL,
	operator	text NOT NULL,
	completed_at	timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ca_ceremony_one_init ON ca_ceremony (kind) WHERE kind = 'init';

-- Publication to the directory goes through this queue: a directory outage
-- never blocks issuance; whoever publishes retries pending rows.
CREATE TABLE publish_queue (
	id		bigserial PRIMARY KEY,
	dn		text NOT NULL,
	attribute	text NOT NULL,
	der		bytea NOT NULL,
	attempts	integer NOT NULL DEFAULT 0,
	last_error	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	next_attempt_at	timestamptz NOT NULL DEFAULT now(),
	done_at		timestamptz
);
CREATE INDEX publish_queue_pending ON publish_queue (next_attempt_at) WHERE done_at IS NULL;

GRANT SELECT, INSERT ON ca_key, ca_certificate, ca_ceremony TO pki_admin;
GRANT SELECT, INSERT, UPDATE ON publish_queue TO pki_admin, pki_ca, pki_crl;
GRANT USAGE ON SEQUENCE ca_key_id_seq, ca_certificate_id_seq, ca_ceremony_id_seq TO pki_admin;
GRANT USAGE ON SEQUENCE publish_queue_id_seq TO pki_admin, pki_ca, pki_crl;
GRANT SELECT ON ca_key, ca_certificate TO pki_ca, pki_ra, pki_ocsp, pki_crl, pki_tsa, pki_sign, pki_auditor;
GRANT SELECT ON ca_ceremony, publish_queue TO pki_auditor;
