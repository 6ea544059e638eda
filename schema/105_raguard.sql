-- 105_raguard: the RA's guards in the database hold for what pki_ra may
-- update, not only for what it inserts (review findings of 2026-12-07).
--
-- 1. A company's revocation request moves only to the rekey of its
--    certificate.
--
-- 037 granted pki_ra UPDATE (certificate_id) on ra_revocation_request for
-- rad's notifier (ra/notifier.c ra_notifier_move_requests): when an
-- employee's rekey is issued and the old certificate superseded, a pending
-- request on the old certificate moves to the new one. 097 checked the
-- certificate of an insert only (an employee certificate of the company,
-- not expired), so any pki_ra session could point a pending request at any
-- other certificate -- another company's employee, a private subscriber --
-- which an officer, seeing the company's request, then revoked.
--
-- Now 097's trigger fires on UPDATE OF certificate_id too, and a change of
-- certificate_id is the notifier's move or nothing: the request is
-- pending, stays with its company, and NEW.certificate_id is the
-- certificate of a done issuance order of a rekey application whose
-- previous_certificate_id is OLD.certificate_id (check_violation, nothing
-- changed, else). It holds for every role, the superuser's included: the
-- notifier makes no other move. The insert's checks (employee, not
-- expired) are not repeated on a move: the rekey of an employee
-- certificate stays the company's (ra/certificate.c links it) and is new,
-- and a request filed before 097 for another certificate (the officers
-- reject those) must not stop the notifier's issuance transaction. Rows
-- are not changed: a request moved elsewhere before this migration cannot
-- be told from the notifier's by its row (the audit trail's
-- ra.revocation_request.move events name the notifier's).
CREATE OR REPLACE FUNCTION ra_revocation_request_employee_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	v_profile text;
	v_not_after timestamptz;
BEGIN
	IF TG_OP = 'UPDATE' THEN
		IF NEW.certificate_id IS NOT DISTINCT FROM OLD.certificate_id THEN
			RETURN NEW;
		END IF;
		IF OLD.status <> 'pending' OR NEW.status <> 'pending' OR
		    NEW.company_id IS DISTINCT FROM OLD.company_id OR NOT EXISTS (
		    SELECT 1 FROM ra_application ap
		    JOIN issuance_order o ON o.id = ap.order_id
		    WHERE ap.kind = 'rekey' AND ap.previous_certificate_id = OLD.certificate_id
		    AND o.status = 'done' AND o.certificate_id = NEW.certificate_id) THEN
			RAISE EXCEPTION 'ra_revocation_request %: certificate % is not the rekey of certificate %: a pending request moves only to the rekey of its certificate',
			    OLD.id, NEW.certificate_id, OLD.certificate_id
			    USING ERRCODE = 'check_violation';
		END IF;
		RETURN NEW;
	END IF;
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
DROP TRIGGER ra_revocation_request_employee_guard ON ra_revocation_request;
CREATE TRIGGER ra_revocation_request_employee_guard
	BEFORE INSERT OR UPDATE OF certificate_id ON ra_revocation_request
	FOR EACH ROW EXECUTE FUNCTION ra_revocation_request_employee_guard();
