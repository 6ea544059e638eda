-- 097_ra_revocation_request_employee: a company's revocation request (018)
-- names an employee certificate of the company, still valid.
--
-- The sysadmin asks the officers to revoke an employee's certificate
-- (ra/README.md "Corporate"). rad accepted any certificate whose
-- application was linked to the company in ra_company_application: the
-- company's e-seal too (the representative's, KYC-checked, profile eseal,
-- and its rekeys), so that a sysadmin could have the seal revoked by an
-- officer who saw nothing but a serial, and the pending request blocked the
-- representative's rekey of the seal (a review finding). It also accepted
-- an expired certificate, which leaves nothing to revoke. rad now refuses
-- both (ra/corporate.c: 404 for a certificate that is not an employee's,
-- 409 for an expired one); this trigger refuses them to any other insert
-- (a script, rad of an older version): check_violation (23514), nothing
-- stored.
--
-- An employee certificate of company C: the certificate of an application
-- linked to C whose profile is 'corporate' (an employee's own application
-- or its rekey, which keeps the profile); the removal of an employee
-- (ra/corporate.c stmt_remove_certs) has chosen the same ones since 066.
--
-- Only an insert is checked. The notifier's move of a pending request to
-- the rekeyed certificate (037) updates certificate_id to the rekey's,
-- which is linked the same way; and the requests already stored are kept
-- as they are (a decision on them is final, 018): an officer may only
-- reject a pending one that names a certificate other than an employee's
-- (rad answers 409 to "revoke"), and one whose certificate expired is
-- closed as moot by rad's notifier or by the officer's "revoke". The
-- pending ones of the first kind are named in a WARNING below, for the
-- officers to reject.
CREATE FUNCTION ra_revocation_request_employee_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	v_profile text;
	v_not_after timestamptz;
BEGIN
	SELECT profile, not_after INTO v_profile, v_not_after FROM certificate
	    WHERE id = NEW.certificate_id;
	IF NOT EXISTS (SELECT 1 FROM ra_company_application ca
	    JOIN ra_application ap ON ap.id = ca.application_id
	    JOIN issuance_order o ON o.id = ap.order_id
	    WHERE ca.company_id = NEW.company_id AND o.certificate_id = NEW.certificate_id
	    AND ap.profile = 'corporate') THEN
		RAISE EXCEPTION 'ra_revocation_request: certificate % (profile %) is not an employee certificate of company %',
		    NEW.certificate_id, coalesce(v_profile, 'none'), NEW.company_id
		    USING ERRCODE = 'check_violation';
	END IF;
	IF v_not_after <= now() THEN
		RAISE EXCEPTION 'ra_revocation_request: certificate % expired at %: nothing is left to revoke',
		    NEW.certificate_id, v_not_after
		    USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION ra_revocation_request_employee_guard() FROM PUBLIC;
CREATE TRIGGER ra_revocation_request_employee_guard BEFORE INSERT ON ra_revocation_request
	FOR EACH ROW EXECUTE FUNCTION ra_revocation_request_employee_guard();

-- The pending requests this database holds for certificates that are not
-- employee certificates of their company.
DO $warn$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT q.id, q.company_id, c.serial, c.profile FROM ra_revocation_request q
		JOIN certificate c ON c.id = q.certificate_id
		WHERE q.status = 'pending' AND NOT EXISTS (SELECT 1 FROM ra_company_application ca
		    JOIN ra_application ap ON ap.id = ca.application_id
		    JOIN issuance_order o ON o.id = ap.order_id
		    WHERE ca.company_id = q.company_id AND o.certificate_id = q.certificate_id
		    AND ap.profile = 'corporate')
		ORDER BY q.id
	LOOP
		RAISE WARNING '097: revocation request % of company % names certificate % (profile %), not an employee''s: an officer must reject it (ra/README.md "Corporate")',
		    r.id, r.company_id, r.serial, r.profile;
	END LOOP;
END
$warn$;
