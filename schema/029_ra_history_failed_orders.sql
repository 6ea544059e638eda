-- 029_ra_history_failed_orders: an application's history (016) also shows
-- the events of the orders it had before an officer ordered it again
-- (POST /v1/officer/applications/{id}/reorder, ra/cancel.c): the
-- application then points only at its new order, and the subscriber saw
-- neither that the first order failed nor that it was made again. The
-- failed orders are the ones the application's ra.application.reorder
-- events name (details.failed_order_id), read from the audit trail itself.

-- The history looks events up by their object (so do auditors' queries);
-- without this index each lookup read the whole trail.
CREATE INDEX audit_event_object ON audit_event (object_type, object_id);

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
	ORDER BY id
	LIMIT 200
$$;
