-- 027_kyc_evidence_erasure: the e-KTP photo and the selfie of an
-- application that certified nothing (rejected or cancelled) are erased
-- once policy/ra.conf kyc.unissued_evidence_days have passed since it
-- ended (pkictl kyc erase; ra/README.md "Evidence retention"): personal
-- data kept no longer than its purpose needs (UU 27/2022 on personal data
-- protection). The typed data, the identity-verification results and the
-- decisions stay, as the record of what was applied for and decided. The
-- images of an application that led to a certificate are kept: they are
-- the registration evidence of that certificate.
ALTER TABLE ra_kyc
	ALTER COLUMN ktp_photo DROP NOT NULL,
	ALTER COLUMN selfie DROP NOT NULL,
	ADD COLUMN evidence_erased_at timestamptz,
	ADD CONSTRAINT ra_kyc_evidence_erased CHECK (
	    (evidence_erased_at IS NULL) = (ktp_photo IS NOT NULL) AND
	    (ktp_photo IS NULL) = (selfie IS NULL));

-- ra_kyc stays immutable but for this one change: both images to NULL,
-- once, of a rejected or cancelled application.
CREATE FUNCTION ra_kyc_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF (to_jsonb(NEW) - 'ktp_photo' - 'selfie' - 'evidence_erased_at') IS DISTINCT FROM
	    (to_jsonb(OLD) - 'ktp_photo' - 'selfie' - 'evidence_erased_at') THEN
		RAISE EXCEPTION 'ra_kyc %: only the evidence may be erased', OLD.application_id;
	END IF;
	IF OLD.evidence_erased_at IS NOT NULL OR NEW.ktp_photo IS NOT NULL OR
	    NEW.selfie IS NOT NULL THEN
		RAISE EXCEPTION 'ra_kyc %: the evidence is erased once, never replaced', OLD.application_id;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM ra_application WHERE id = OLD.application_id AND
	    status IN ('rejected', 'cancelled')) THEN
		RAISE EXCEPTION 'ra_kyc %: only a rejected or cancelled application''s evidence is erased',
		    OLD.application_id;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER ra_kyc_guard BEFORE UPDATE ON ra_kyc
	FOR EACH ROW EXECUTE FUNCTION ra_kyc_guard();

-- pkictl (pki_admin) finds what may be erased and erases it.
GRANT SELECT (application_id, ktp_photo, selfie, evidence_erased_at) ON ra_kyc TO pki_admin;
GRANT UPDATE (ktp_photo, selfie, evidence_erased_at) ON ra_kyc TO pki_admin;
GRANT SELECT (id, status, updated_at) ON ra_application TO pki_admin;
-- The auditor may see when evidence was erased (not the images).
GRANT SELECT (evidence_erased_at) ON ra_kyc TO pki_auditor;
