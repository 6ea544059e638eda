-- 016_ra_certificate: the subscriber's side of a certificate's life at the
-- RA (ra/README.md "Certificates"): agreement and issuance order, the
-- notifier that marks applications issued, subscriber revocation and rekey.
--
-- rad (pki_ra) already inserts issuance orders (007) and updates the
-- application's life-cycle columns (012). Here: the revocation columns of
-- certificate (004 granted them already; repeated so this slice's needs are
-- written down in one place, GRANT is idempotent), and the history of a
-- certificate without any read access to audit_event.

GRANT UPDATE (revoked_at, revocation_reason, revoked_by) ON certificate TO pki_ra;

-- The history a subscriber may see of one application: the audit events of
-- the application itself, of its issuance order and of its certificate, as
-- (id, at, action, actor kind). The actor's kind only ("subscriber",
-- "officer", "cad", "ra", ...), never its identity or the details, which may
-- name other people. SECURITY DEFINER: pki_ra has no SELECT on audit_event
-- and gets none; the caller (rad) checks the application is the session's.
CREATE FUNCTION ra_application_history(p_application bigint)
RETURNS TABLE (id bigint, at timestamptz, action text, actor_kind text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
	SELECT e.id, e.at, e.action, split_part(e.actor, ':', 1)
	FROM ra_application a
	LEFT JOIN issuance_order o ON o.id = a.order_id
	JOIN audit_event e ON
	    (e.object_type = 'ra_application' AND e.object_id = a.id::text) OR
	    (e.object_type = 'issuance_order' AND e.object_id = o.id::text) OR
	    (e.object_type = 'certificate' AND e.object_id = o.certificate_id::text)
	WHERE a.id = p_application
	ORDER BY e.id
	LIMIT 200
$$;
REVOKE ALL ON FUNCTION ra_application_history(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ra_application_history(bigint) TO pki_ra, pki_auditor;

-- The notifier's reconciliation looks for agreed applications by order.
CREATE INDEX ra_application_agreed ON ra_application (order_id) WHERE status = 'agreed';
