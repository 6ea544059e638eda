-- 111_auditor_kyc_columns: the auditor no longer reads a subscriber's
-- identity (a privacy review's finding). 012 granted pki_auditor the NIK,
-- birth date, birth place, address and the IDV's OCR (which holds the NIK
-- and birth date again) of every applicant. No auditor tool reads them
-- (pkiaudit, pkictl audit export, audit/README.md's queries, the tests):
-- the audit trail itself names an applicant by nik_last4, and the view
-- below gives the same for ra_kyc. (033's recipient and subject of
-- ra_mail_outbox stay: audit/README.md documents "who was told what and
-- when" as the auditor's to read.)
-- What pki_auditor keeps of ra_kyc: the name, sex, consents, the IDV's
-- adapter, reference and scores, the thresholds, the MIME types and the
-- times; never the two images (012). rad (pki_ra) and pki_admin keep theirs.
REVOKE SELECT (nik, birth_date, birth_place, address, idv_ocr) ON ra_kyc FROM pki_auditor;

-- An application's NIK by its last four digits, as the officers' queue and
-- the audit details show it. Owned by the migrating role: pki_auditor reads
-- it without a grant on ra_kyc.nik.
CREATE VIEW ra_kyc_nik_last4 AS
    SELECT application_id, right(nik, 4) AS nik_last4 FROM ra_kyc;
REVOKE ALL ON ra_kyc_nik_last4 FROM PUBLIC;
GRANT SELECT ON ra_kyc_nik_last4 TO pki_auditor;
