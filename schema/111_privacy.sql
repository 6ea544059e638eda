-- 111_privacy: the auditor no longer reads a subscriber's
-- identity (a privacy review's finding). 012 granted pki_auditor the NIK,
-- birth date, birth place, address and the IDV's OCR (which holds the NIK
-- and birth date again) of every applicant. No auditor tool reads them
-- (pkiaudit, pkictl audit export, audit/README.md's queries, the tests):
-- the audit trail itself names an applicant by nik_last4, and the view
-- below gives the same for ra_kyc. (033's recipient and subject of
-- ra_mail_outbox stay: audit/README.md documents "who was told what and
-- when" as the auditor's to read.)
-- What pki_auditor keeps of ra_kyc: the name, sex, consents, the IDV's
-- adapter, reference and scores, the thresholds, the MIME types and the
-- times; never the two images (012). rad (pki_ra) and pki_admin keep theirs.
REVOKE SELECT (nik, birth_date, birth_place, address, idv_ocr) ON ra_kyc FROM pki_auditor;

-- An application's NIK by its last four digits, as the officers' queue and
-- the audit details show it. Owned by the migrating role: pki_auditor reads
-- it without a grant on ra_kyc.nik.
CREATE VIEW ra_kyc_nik_last4 AS
    SELECT application_id, right(nik, 4) AS nik_last4 FROM ra_kyc;
REVOKE ALL ON ra_kyc_nik_last4 FROM PUBLIC;
GRANT SELECT ON ra_kyc_nik_last4 TO pki_auditor;

-- When an officer last opened an application's detail with the audit
-- event ra.application.view (ra/review.c): the full identity record (NIK,
-- birth date, address) was read untraced before, so an officer could page
-- through every subscriber's. One event per officer and application an
-- hour at most: rad's upsert changes this row only when the last one is an
-- hour old, and writes the event in the same transaction (the row lock
-- serialises two views at once). pki_ra may not read audit_event, and the
-- trail has no index for the question.
CREATE TABLE ra_application_view (
	officer_id	bigint NOT NULL REFERENCES ra_officer (id),
	application_id	bigint NOT NULL REFERENCES ra_application (id),
	audited_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (officer_id, application_id)
);
REVOKE ALL ON ra_application_view FROM PUBLIC;
GRANT SELECT, INSERT ON ra_application_view TO pki_ra;
GRANT UPDATE (audited_at) ON ra_application_view TO pki_ra;
GRANT SELECT ON ra_application_view TO pki_auditor;

-- The subscriber's history (089's function) leaves out the officers' views
-- of the detail as it does those of the evidence: for the auditors, and a
-- busy application's views would push its issuance out of the newest 200.
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
	    AND e.action NOT IN ('ra.evidence.view', 'ra.application.view')
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
