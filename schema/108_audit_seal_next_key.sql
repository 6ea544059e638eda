-- 108_audit_seal_next_key: audit key rotation (audit/README.md "Rotating
-- the audit key"). A handover seal, signed by the current audit key,
-- names the next one in its signed tree head ("next LABEL SHA256HEX",
-- lib/auditseal.h): its label and the SHA-256 of its DER
-- SubjectPublicKeyInfo. The two columns keep that line; both NULL in every
-- other seal (every seal made before 108 included, whose heads are
-- unchanged), both set in a handover seal.
--
-- pki_sealer's INSERT grant on audit_seal (022) is on the table, so it
-- covers the new columns; pki_auditor's SELECT too. 098's order trigger
-- reads the last row as audit_seal%ROWTYPE and compares named columns
-- only: unchanged. No role updates or deletes a seal (022): the statement
-- triggers stay as they are.
ALTER TABLE audit_seal
	ADD COLUMN next_key_label text,
	ADD COLUMN next_key_sha256 bytea;
ALTER TABLE audit_seal
	ADD CONSTRAINT audit_seal_next_key CHECK (
		(next_key_label IS NULL AND next_key_sha256 IS NULL) OR
		(next_key_label IS NOT NULL AND next_key_label <> key_label AND
		 octet_length(next_key_sha256) = 32));

COMMENT ON COLUMN audit_seal.next_key_label IS
    'A handover seal: the next audit key''s label (in the signed head''s "next" line).';
COMMENT ON COLUMN audit_seal.next_key_sha256 IS
    'A handover seal: SHA-256 of the next audit key''s DER SubjectPublicKeyInfo.';
