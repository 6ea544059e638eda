-- 064_tsa_token_cert: each recorded time-stamp token names the TSA
-- certificate whose key signed it. tsa_token kept serial, genTime, policy,
-- imprint, nonce, certReq and instance, but not the signer: after a
-- rotation (`pkictl ca tsa`) with several instances restarted at
-- different times, an auditor could tell which certificate signed a
-- serial only from tsad's start-up log lines (a review finding).
--
-- cert_id is the ca_certificate.id of the certificate the worker loaded
-- at start (tsa/main.c tsad_load_certs), carried in the record itself and
-- in its spill-file line, so that a record replayed after a rotation keeps
-- the certificate that really signed it (tsa/README.md "Records").
-- NULL: not known. Rows recorded before this migration, and records
-- replayed from a spill line written by the tsad before it (which has no
-- such field), get NULL: the certificate loaded now may not be the one
-- that signed them. For those only the token itself, which tsad does not
-- keep, names its signer (ESSCertIDv2's certHash is ca_certificate.sha256
-- when the policy's ess_cert_id_digest is SHA-256, the default).
--
-- Not a foreign key: a batch is one transaction, and one record whose id
-- the table does not hold (a damaged spill line) would stop every later
-- token from being recorded; ca_certificate rows are never deleted
-- anyway (pki_admin may only insert). No index: each index costs every
-- insert, and an auditor's query by certificate can use gen_time's range.
ALTER TABLE tsa_token ADD COLUMN cert_id bigint CHECK (cert_id > 0);
ALTER TABLE tsa_token_conflict ADD COLUMN cert_id bigint CHECK (cert_id > 0);

-- Two other tokens with one serial that differ only in their certificate
-- are both kept (schema/043 kept the first alone).
DROP INDEX tsa_token_conflict_token;
CREATE UNIQUE INDEX tsa_token_conflict_token ON tsa_token_conflict
    (serial, gen_time, policy, imprint_alg, imprint, coalesce(nonce, ''),
    cert_req, coalesce(cert_id, 0));

-- pki_tsa inserts the column through its table-level INSERT on both
-- tables (schema/003, 043); it reads it to tell a replay from another
-- token, as it reads the other columns (schema/043). pki_auditor's
-- table-level SELECT covers it.
GRANT SELECT (cert_id) ON tsa_token TO pki_tsa;
