-- 030_kyc_issued_evidence_erasure: the e-KTP photo and the selfie of an
-- application that led to a certificate are that certificate's
-- registration evidence, kept while it lives and for the retention period
-- after it ends (policy/ra.conf kyc.issued_evidence_days, the CPS's
-- period for registration records), then erased by pkictl kyc erase
-- (ra/README.md "Evidence retention") like those of an application that
-- certified nothing (027).
--
-- A certificate ends at its expiry, or at its revocation (certificateHold
-- is no end: a held certificate may come back). A rekey's application
-- holds its own copy of the evidence (ra/certificate.c), kept for the new
-- certificate's life.

-- When a certificate ended, or NULL while it lives; a plain expression, so
-- that the planner inlines it into pkictl's search.
CREATE FUNCTION certificate_ended_at(revoked_at timestamptz, reason smallint,
    not_after timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
	SELECT CASE
	    WHEN revoked_at IS NOT NULL AND reason <> 6 THEN least(revoked_at, not_after)
	    WHEN not_after <= now() THEN not_after
	    END
$$;

-- 027's guard, but an issued application's evidence may go too, once its
-- certificate has ended; the evidence of a living certificate never.
CREATE OR REPLACE FUNCTION ra_kyc_guard() RETURNS trigger
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
	    status IN ('rejected', 'cancelled')) AND NOT EXISTS (
	    SELECT 1 FROM ra_application a
	    JOIN issuance_order o ON o.id = a.order_id
	    JOIN certificate c ON c.id = o.certificate_id
	    WHERE a.id = OLD.application_id AND a.status = 'issued' AND
	    certificate_ended_at(c.revoked_at, c.revocation_reason, c.not_after) IS NOT NULL) THEN
		RAISE EXCEPTION 'ra_kyc %: only the evidence of a rejected or cancelled application, or of an ended certificate, is erased',
		    OLD.application_id;
	END IF;
	RETURN NEW;
END $$;

-- pkictl (pki_admin) follows an application to its certificate.
GRANT SELECT (order_id) ON ra_application TO pki_admin;
