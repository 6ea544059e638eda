-- 041_sign_expired_rows: signd takes away what has long expired. Every
-- access token (sign_token) and every authorization (sign_sad with its
-- sign_sad_hash rows) was a row kept for ever: one per job of a signing
-- service and one per signature authorization, the fastest-growing tables
-- of the database. Each new token removes up to 64 of its service's tokens
-- that expired an hour ago or more (pki_sign, hsm/signd/csc.c); each new
-- authorization up to 64 such SADs with their hashes (pki_sam,
-- hsm/signd/samproc.c), counted in the audit event of the same transaction.
-- What a signature was is in its sign.hash audit event, not in these rows.
GRANT DELETE ON sign_token TO pki_sign;
GRANT DELETE ON sign_sad, sign_sad_hash TO pki_sam;
CREATE INDEX sign_sad_expires ON sign_sad (expires_at);
