-- 089_ra_agree_again: an application whose order failed under an issuing
-- CA that will never issue again goes back to the subscriber's agreement
-- (ra/README.md "Certificates", ra/notifier.c), instead of needing a new
-- application and a new KYC.
--
-- Since 084 an order names the issuing CA the subscriber agreed to, and
-- cad fails a pending order whose issuer was revoked for good or has ended
-- ("... the subscriber must agree again"); an officer's reorder keeps that
-- issuer and is refused (409) once it is revoked or ends within a day. The
-- application stayed agreed with its failed order, and the only way on was
-- to cancel it: after a compromise or the end of an issuing CA every
-- subscriber with an order in flight redid the KYC from scratch. Now rad's
-- notifier moves such an application back to approved (order_id and
-- agreed_at cleared; the failed order stays, as history), audited
-- ra.application.reopen (details failed_order_id) and mailed in the same
-- transaction; the subscriber sees the agreement under rad's current
-- issuing CA and accepts it again with a second factor, which places a new
-- order. The officer's approval (the KYC) stands.
--
--	submitted ──officer──▶ approved ──subscriber──▶ agreed ──cad──▶ issued
--	                          ▲                        │
--	                          └─rad: its order failed,─┘
--	                            its issuer can no longer issue
--
-- The guard (012) allows agreed → approved only so: from a failed order,
-- with order_id and agreed_at cleared.
CREATE OR REPLACE FUNCTION ra_application_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
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
	NEW.updated_at := now();
	RETURN NEW;
END $$;

-- The history (016, 029, 054) keeps the orders an application left when
-- it went back to approved (ra.application.reopen, details failed_order_id)
-- as it keeps those a reorder replaced.
CREATE OR REPLACE FUNCTION ra_application_history(p_application bigint)
RETURNS TABLE (id bigint, at timestamptz, action text, actor_kind text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
	WITH orders AS (
	    SELECT order_id AS id FROM ra_application
	    WHERE id = p_application AND order_id IS NOT NULL
	    UNION
	    SELECT (r.details->>'failed_order_id')::bigint FROM audit_event r
	    WHERE r.object_type = 'ra_application' AND r.object_id = p_application::text
	    AND r.action IN ('ra.application.reorder', 'ra.application.reopen')
	    AND r.details ? 'failed_order_id'
	), events AS (
	    SELECT e.id, e.at, e.action, e.actor FROM audit_event e
	    WHERE e.object_type = 'ra_application' AND e.object_id = p_application::text
	    AND e.action <> 'ra.evidence.view'
	    UNION ALL
	    SELECT e.id, e.at, e.action, e.actor FROM orders o
	    JOIN audit_event e ON e.object_type = 'issuance_order' AND e.object_id = o.id::text
	    UNION ALL
	    SELECT e.id, e.at, e.action, e.actor FROM orders o
	    JOIN issuance_order io ON io.id = o.id
	    JOIN audit_event e ON e.object_type = 'certificate'
	        AND e.object_id = io.certificate_id::text
	)
	SELECT id, at, action, split_part(actor, ':', 1) FROM events
	ORDER BY id DESC
	LIMIT 200
$$;

-- A pending order whose issuing CA is on hold ends with its application's
-- cancellation (ra/cancel.c, ra/README.md "Cancellation"). Before, rad
-- refused to cancel an application while its order was pending (cad may be
-- signing it) and cad claims no order of a held issuer: for as long as the
-- hold lasted, the subscriber could not leave, nor apply again (one open
-- application per account). rad may end only such an order, so through
-- this function (pki_ra has no UPDATE on issuance_order):
--   - the order of application p_application, agreed (rad holds its row
--     lock), and no other;
--   - locked FOR UPDATE SKIP LOCKED: a cad that claimed it before the hold
--     holds its row until its one issuance transaction ends, and is left to
--     it ('busy'); once this lock is taken no cad can claim it, and after
--     COMMIT it is no longer pending;
--   - still pending ('done' or 'failed' else), its issuing CA's own
--     certificate on hold now ('issuing' else: cad will take it);
-- then failed with last_error p_error and done_at, as cad fails an order
-- ('failed'; NOTIFY issuance_done by 007's trigger). The caller audits it
-- in the same transaction.
CREATE FUNCTION ra_order_cancel_held(p_order bigint, p_application bigint, p_error text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	v_status text;
	v_issuer bigint;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM ra_application WHERE id = p_application
	    AND order_id = p_order AND status = 'agreed') THEN
		RETURN 'not its order';
	END IF;
	SELECT status, issuer_id INTO v_status, v_issuer FROM issuance_order
	    WHERE id = p_order FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		RETURN 'busy';
	END IF;
	IF v_status <> 'pending' THEN
		RETURN v_status;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM ca_certificate i JOIN certificate x ON
	    x.issuer_id = i.issuer_id AND x.serial = i.serial WHERE i.id = v_issuer
	    AND x.revoked_at IS NOT NULL AND x.revocation_reason = 6) THEN
		RETURN 'issuing';
	END IF;
	UPDATE issuance_order SET status = 'failed', last_error = p_error,
	    done_at = clock_timestamp() WHERE id = p_order AND status = 'pending';
	RETURN 'failed';
END $$;
REVOKE ALL ON FUNCTION ra_order_cancel_held(bigint, bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ra_order_cancel_held(bigint, bigint, text) TO pki_ra;
