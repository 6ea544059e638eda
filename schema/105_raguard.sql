-- 105_raguard: the RA's guards in the database hold for what pki_ra may
-- update, not only for what rad does (review findings of 2026-12-07).
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

-- 2. The application's state machine follows the officers' decisions and
--    the issuance order.
--
-- 089's ra_application_guard (the last body) allowed submitted → approved
-- and submitted → rejected with no ra_decision row (four eyes, two
-- distinct officers, lived in ra/review.c only) and agreed → issued while
-- the issuance order was still pending, with no certificate. Now, for any
-- role but a superuser:
--   - submitted → approved needs approvals_required (below) and at least
--     that many approve decisions (ra_decision) of distinct officers not
--     disabled -- rad's count (ra/review.c stmt_decide_count) -- and no
--     reject decision;
--   - submitted → rejected needs a reject decision;
--   - agreed → issued needs its order (NEW.order_id) done with a
--     certificate;
--   - an insert is a submission: status 'submitted', no decision, no
--     agreement, no order, no approvals_required (else INSERT with status
--     'approved' went round the guard, which is BEFORE UPDATE);
-- check_violation, nothing changed, else. A superuser is left out (the
-- migrations, an operator's repair, the tests' fixtures that build an
-- application's state by SQL): it may disable the trigger anyway.
--
-- Which applications need four eyes comes from policy/ra.conf
-- (review.four_eyes_kinds) at run time, which the database cannot read:
-- rad records what it decided in the new column approvals_required (1, or
-- 2 for four eyes) at the first decision on the application, in the
-- decision's transaction (ra/review.c ra_decide_txn), and counts against
-- the stored value from then on. Once set, it never changes (for every
-- role), and it is set only while the application is submitted. pki_ra
-- may set it: a pki_ra session could record 1 where rad would have
-- recorded 2, but only before any officer decided, and every approval
-- still needs an ra_decision row naming an officer (schema/015, 028
-- guard those). No row is changed: the applications already decided keep
-- a NULL approvals_required; a submitted one gets its value at its next
-- decision (an approval recorded before this migration counts).
ALTER TABLE ra_application ADD COLUMN approvals_required smallint
	CHECK (approvals_required IN (1, 2));
COMMENT ON COLUMN ra_application.approvals_required IS
    'Approvals of distinct officers needed to approve (2: four eyes, policy review.four_eyes_kinds), recorded by rad at the first decision; NULL before it (and for applications decided before schema/105).';
GRANT UPDATE (approvals_required) ON ra_application TO pki_ra;

CREATE OR REPLACE FUNCTION ra_application_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	v_approvals bigint;
BEGIN
	IF NEW.account_id IS DISTINCT FROM OLD.account_id OR NEW.kind IS DISTINCT FROM OLD.kind OR
	    NEW.profile IS DISTINCT FROM OLD.profile OR NEW.subject IS DISTINCT FROM OLD.subject OR
	    NEW.created_at IS DISTINCT FROM OLD.created_at OR
	    NEW.previous_certificate_id IS DISTINCT FROM OLD.previous_certificate_id THEN
		RAISE EXCEPTION 'application %: what was applied for is immutable', OLD.id;
	END IF;
	IF NEW.status IS DISTINCT FROM OLD.status AND NOT (OLD.status, NEW.status) IN (
	    ('submitted', 'approved'), ('submitted', 'rejected'), ('submitted', 'cancelled'),
	    ('approved', 'agreed'), ('approved', 'cancelled'),
	    ('agreed', 'issued'), ('agreed', 'cancelled'), ('agreed', 'approved')) THEN
		RAISE EXCEPTION 'application %: % → % is not a transition', OLD.id, OLD.status, NEW.status;
	END IF;
	IF OLD.status = 'agreed' AND NEW.status = 'approved' AND (NEW.order_id IS NOT NULL OR
	    NEW.agreed_at IS NOT NULL OR NOT EXISTS (SELECT 1 FROM issuance_order o
	    WHERE o.id = OLD.order_id AND o.status = 'failed')) THEN
		RAISE EXCEPTION 'application %: back to approved only from a failed order, which it leaves', OLD.id;
	END IF;
	IF OLD.decided_at IS NOT NULL AND (NEW.decided_at IS DISTINCT FROM OLD.decided_at OR
	    NEW.decision_reason IS DISTINCT FROM OLD.decision_reason) THEN
		RAISE EXCEPTION 'application %: the decision is final', OLD.id;
	END IF;
	IF NEW.approvals_required IS DISTINCT FROM OLD.approvals_required AND
	    (OLD.approvals_required IS NOT NULL OR OLD.status <> 'submitted') THEN
		RAISE EXCEPTION 'application %: approvals_required is recorded once, while it is submitted', OLD.id
		    USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.status IS DISTINCT FROM OLD.status AND NOT (SELECT r.rolsuper FROM pg_roles r
	    WHERE r.rolname = current_user) THEN
		IF NEW.status = 'approved' AND OLD.status = 'submitted' THEN
			SELECT count(DISTINCT d.officer_id) INTO v_approvals FROM ra_decision d
			    JOIN ra_officer o ON o.id = d.officer_id
			    WHERE d.application_id = OLD.id AND d.decision = 'approve'
			    AND o.disabled_at IS NULL;
			IF NEW.approvals_required IS NULL OR v_approvals < NEW.approvals_required OR
			    EXISTS (SELECT 1 FROM ra_decision d WHERE d.application_id = OLD.id
			    AND d.decision = 'reject') THEN
				RAISE EXCEPTION 'application %: approved with % approval(s) by distinct officers in ra_decision; required: %',
				    OLD.id, v_approvals, coalesce(NEW.approvals_required::text, 'not recorded')
				    USING ERRCODE = 'check_violation';
			END IF;
		ELSIF NEW.status = 'rejected' AND NOT EXISTS (SELECT 1 FROM ra_decision d
		    WHERE d.application_id = OLD.id AND d.decision = 'reject') THEN
			RAISE EXCEPTION 'application %: rejected without an officer''s reject decision (ra_decision)', OLD.id
			    USING ERRCODE = 'check_violation';
		ELSIF NEW.status = 'issued' AND NOT EXISTS (SELECT 1 FROM issuance_order o
		    WHERE o.id = NEW.order_id AND o.status = 'done' AND o.certificate_id IS NOT NULL) THEN
			RAISE EXCEPTION 'application %: issued only once its order is done with a certificate', OLD.id
			    USING ERRCODE = 'check_violation';
		END IF;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END $$;

CREATE FUNCTION ra_application_submit_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
	IF (NEW.status <> 'submitted' OR NEW.decided_at IS NOT NULL OR
	    NEW.decision_reason IS NOT NULL OR NEW.agreed_at IS NOT NULL OR
	    NEW.order_id IS NOT NULL OR NEW.approvals_required IS NOT NULL) AND
	    NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
		RAISE EXCEPTION 'application: a new application is submitted, undecided, with no order (status %)', NEW.status
		    USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION ra_application_submit_guard() FROM PUBLIC;
CREATE TRIGGER ra_application_submit_guard BEFORE INSERT ON ra_application
	FOR EACH ROW EXECUTE FUNCTION ra_application_submit_guard();
