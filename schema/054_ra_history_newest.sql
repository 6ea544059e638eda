-- 054_ra_history_newest: an application's history (016, 029) leaves out
-- the officers' views of the evidence and keeps its newest 200 events, not
-- its oldest. Each view of the e-KTP photo or the selfie is an event of the
-- application (ra.evidence.view, for the auditors), so an application
-- reviewed many times pushed its certificate's issuance and revocation out
-- of GET /v1/certificates/{id}; what the subscriber follows is what was
-- decided and done. rad orders the rows it gets oldest first
-- (ra/certificate.c).
CREATE OR REPLACE FUNCTION ra_application_history(p_application bigint)
RETURNS TABLE (id bigint, at timestamptz, action text, actor_kind text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	WITH orders AS (
	    SELECT order_id AS id FROM ra_application
	    WHERE id = p_application AND order_id IS NOT NULL
	    UNION
	    SELECT (r.details->>'failed_order_id')::bigint FROM audit_event r
	    WHERE r.object_type = 'ra_application' AND r.object_id = p_application::text
	    AND r.action = 'ra.application.reorder' AND r.details ? 'failed_order_id'
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
