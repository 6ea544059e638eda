-- Every time-stamp token issued, recorded in batches by tsad (RFC 3161 §4:
-- the TSA keeps a record of what it signed). One audit event per batch, in
-- the batch's transaction.
CREATE TABLE tsa_token (
	serial		text PRIMARY KEY,	-- hex; 127 random bits, unique across instances
	gen_time	timestamptz NOT NULL,
	policy		text NOT NULL,
	imprint_alg	text NOT NULL,		-- OID of the message imprint's hash
	imprint		text NOT NULL,		-- hex
	nonce		text,			-- hex, when the query had one
	cert_req	boolean NOT NULL,
	instance	text NOT NULL,		-- which tsad issued it
	recorded_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tsa_token_gen_time ON tsa_token (gen_time);

GRANT INSERT, SELECT (serial) ON tsa_token TO pki_tsa;	-- SELECT: ON CONFLICT (serial)
GRANT SELECT ON tsa_token TO pki_auditor;
