-- 035_ra_officer_certificate_guard: no officer changes the status of a
-- certificate of their own linked account, or of a company that account
-- belongs to (as representative, sysadmin or employee), as 015 and 028 do
-- for decisions and revocation requests. rad refuses first with a clear
-- 403 (ra/review.c: revoke, hold, release); this trigger refuses whatever
-- rad would do. The officer is the one revoked_by names ("officer:<id>",
-- what rad writes); pkictl's and the notifier's changes name no officer.
CREATE FUNCTION ra_officer_certificate_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	v_officer bigint := substr(NEW.revoked_by, 9)::bigint;
BEGIN
	IF EXISTS (SELECT 1 FROM issuance_order o
	    JOIN ra_application a ON a.order_id = o.id
	    JOIN ra_officer f ON f.id = v_officer
	    WHERE o.certificate_id = NEW.id AND (a.account_id = f.account_id OR
	        ra_officer_in_company(f.id, ra_application_company(a.id)))) THEN
		RAISE EXCEPTION 'officer % may not change the status of certificate %',
		    v_officer, NEW.serial USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER ra_officer_certificate_guard BEFORE UPDATE ON certificate
	FOR EACH ROW WHEN (NEW.revoked_by ~ '^officer:[0-9]{1,18}$' AND
	    (NEW.revoked_by IS DISTINCT FROM OLD.revoked_by OR
	     NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR
	     NEW.revocation_reason IS DISTINCT FROM OLD.revocation_reason))
	EXECUTE FUNCTION ra_officer_certificate_guard();
