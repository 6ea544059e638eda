-- 043_tsa_token_conflict: a time-stamp token whose serial is recorded
-- already for another token is kept, not dropped. tsad's recorder
-- (tsa/record.c) inserts its batches with ON CONFLICT (serial) DO NOTHING,
-- which made a replay after a crash harmless but also dropped, without a
-- word, a different token that drew the same serial (126 random bits: a
-- broken random generator, a bug). Now it reads back the rows a batch did
-- not insert: the same token (a replay) is skipped; another one goes here,
-- is named in the batch's tsa.tokens.record audit event and is logged as
-- an error. A replay of such a token is not kept twice (the unique index).
CREATE TABLE tsa_token_conflict (
	serial		text NOT NULL,		-- as in tsa_token, which holds the other token
	gen_time	timestamptz NOT NULL,
	policy		text NOT NULL,
	imprint_alg	text NOT NULL,
	imprint		text NOT NULL,
	nonce		text,
	cert_req	boolean NOT NULL,
	instance	text NOT NULL,		-- which tsad issued it
	recorded_at	timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tsa_token_conflict_token ON tsa_token_conflict
    (serial, gen_time, policy, imprint_alg, imprint, coalesce(nonce, ''), cert_req);

GRANT INSERT ON tsa_token_conflict TO pki_tsa;
GRANT SELECT ON tsa_token_conflict TO pki_auditor;
-- To tell a replay (every field the same) from another token.
GRANT SELECT (gen_time, policy, imprint_alg, imprint, nonce, cert_req) ON tsa_token TO pki_tsa;
