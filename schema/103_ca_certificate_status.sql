-- 103_ca_certificate_status: one name for "the issuing CA's own
-- certificate row". A CA certificate (ca_certificate ri) is also a row of
-- certificate, issued by its parent: rx, with rx.issuer_id = ri.issuer_id
-- AND rx.serial = ri.serial. Its revoked_at and revocation_reason say
-- whether the CA is revoked or on hold (certificateHold, 6). That join was
-- written out by cad's claim (ca/worker/issue.c), rad (ra/extern.h,
-- notifier.c, factor.c), signd (hsm/signd/samproc.c, csc.c), tsad
-- (tsa/certwatch.c, lib/cadb.c) and the functions of 090, 099 and 100; a
-- mistyped copy would read another CA's status. They now read this view.
-- The sites differ in whether a hold counts and which columns they want,
-- so the view says only what the row is; each site keeps its own rule.
--
-- One row per ca_certificate, its own row's columns NULL when it has none
-- (a root, or a CA whose parent's certificate row was never recorded:
-- nothing can revoke it then): id, name, issuer_id, serial, not_before,
-- not_after are ca_certificate's; cert_id, revoked_at, revocation_reason
-- its own row's in certificate (id, revoked_at, revocation_reason). A site
-- that wants only revoked or held CAs says revoked_at IS NOT NULL; one that
-- needs the row itself (the sign locks of 099, 100), cert_id IS NOT NULL.
--
-- The view runs with its owner's rights (no security_invoker), chosen
-- deliberately. Invoker's rights would check every column the definition
-- reads as the caller: pki_tsa may read only issuer_id, serial, revoked_at
-- and revocation_reason of certificate (102), not its id, and would need
-- SELECT on certificate.id of every certificate (checked: "permission
-- denied for table certificate"). With its owner's rights the view gives
-- each role exactly what it is granted here, and nothing it could not read
-- before: pki_ca, pki_ra, pki_sam and pki_sign read both tables in full
-- (002, 004, 014, 100); pki_tsa reads ca_certificate in full and the four
-- columns above of certificate, so it gets every column of the view but
-- cert_id. Every row of the view is a ca_certificate row, which all five
-- read. The roles that read both tables only elsewhere (pki_ocsp, pki_crl,
-- pki_auditor, pki_admin) get nothing: none of their queries needs it. No
-- security_barrier: the view filters no rows, and the planner must inline
-- it (a barrier would keep the caller's quals out of its join); the
-- tables have no row-level security for an owner's rights to bypass.
CREATE VIEW ca_certificate_status AS
SELECT ri.id, ri.name, ri.issuer_id, ri.serial, ri.not_before, ri.not_after,
    rx.id AS cert_id, rx.revoked_at, rx.revocation_reason
FROM ca_certificate ri
LEFT JOIN certificate rx ON rx.issuer_id = ri.issuer_id AND rx.serial = ri.serial;

REVOKE ALL ON ca_certificate_status FROM PUBLIC;
GRANT SELECT ON ca_certificate_status TO pki_ca, pki_ra, pki_sam, pki_sign;
GRANT SELECT (id, name, issuer_id, serial, not_before, not_after, revoked_at,
    revocation_reason) ON ca_certificate_status TO pki_tsa;

-- 090's ra_queue_status_notice, its rekeyable test reading the view; the
-- rest is 090's.
CREATE OR REPLACE FUNCTION ra_queue_status_notice(p_certificate bigint, p_event text,
    p_reason text, p_by text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	r record;
	v_id bigint;
BEGIN
	IF p_event IS NULL OR p_event NOT IN ('revoked', 'suspended', 'released') THEN
		RAISE EXCEPTION 'ra_queue_status_notice: unknown event %', p_event;
	END IF;
	SELECT acc.email, c.id, c.serial, c.subject,
	    to_char(coalesce(c.revoked_at, now()) AT TIME ZONE 'UTC',
	        'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at,
	    c.revocation_xid IS NOT DISTINCT FROM pg_current_xact_id() AND
	    CASE p_event WHEN 'revoked' THEN c.revoked_at IS NOT NULL AND c.revocation_reason <> 6
	        WHEN 'suspended' THEN c.revoked_at IS NOT NULL AND c.revocation_reason = 6
	        ELSE c.revoked_at IS NULL END AS changed,
	    c.revocation_reason IS NOT DISTINCT FROM 2 AND c.not_after > now() AND
	    EXISTS (SELECT 1 FROM ca_certificate_status ri WHERE
	        ri.id = c.issuer_id AND ri.revoked_at IS NOT NULL AND
	        ri.revocation_reason <> 6) AS rekeyable
	    INTO r
	    FROM certificate c
	    JOIN issuance_order o ON o.certificate_id = c.id
	    JOIN ra_application a ON a.order_id = o.id
	    JOIN ra_account acc ON acc.id = a.account_id
	    WHERE c.id = p_certificate;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	IF NOT r.changed THEN
		RAISE EXCEPTION 'ra_queue_status_notice: certificate % was not % in this transaction',
		    p_certificate, p_event USING ERRCODE = 'insufficient_privilege';
	END IF;
	INSERT INTO ra_mail_outbox (recipient, subject, body) VALUES (r.email,
	    CASE p_event WHEN 'revoked' THEN 'Your certificate was revoked'
	        WHEN 'suspended' THEN 'Your certificate was suspended'
	        ELSE 'Your certificate is valid again' END,
	    format(E'Your certificate\r\n\r\n  Subject: %s\r\n  Serial:  %s\r\n\r\n', r.subject, r.serial) ||
	    CASE
	    WHEN p_event = 'revoked' AND r.rekeyable THEN
	        format(E'was revoked at %s by %s.\r\nReason: %s\r\n\r\n', r.at, p_by, p_reason) ||
	        'It can no longer be used to sign, and relying parties see it revoked ' ||
	        E'(OCSP, CRL). The CA that issued it was revoked: rekey it now (My ' ||
	        format('certificates, or POST /v1/certificates/%s/rekey, authorized by a ', r.id) ||
	        'second factor): no new KYC is needed, the new certificate, from our ' ||
	        E'current issuing CA, keeps your verified identity.\r\n'
	    WHEN p_event = 'revoked' THEN format(E'was revoked at %s by %s.\r\nReason: %s\r\n\r\n', r.at, p_by, p_reason) ||
	        'It can no longer be used to sign, and relying parties see it revoked ' ||
	        '(OCSP, CRL). Apply for a new certificate if you need one; if you did not ' ||
	        E'expect this, contact us.\r\n'
	    WHEN p_event = 'suspended' THEN format(E'was suspended (certificateHold) at %s by %s.\r\n\r\n', r.at, p_by) ||
	        'Until it is released it cannot be used to sign, and relying parties see it ' ||
	        E'on hold (OCSP, CRL). If you did not expect this, contact us.\r\n'
	    ELSE format(E'was released from its suspension by %s: it is valid again and can ', p_by) ||
	        E'be used to sign.\r\n'
	    END)
	    RETURNING id INTO v_id;
	PERFORM pg_notify('ra_mail', v_id::text);
	RETURN true;
END $$;

-- 099's ca_issuer_sign_lock: the CA's own row found through the view (no
-- row, or one without cert_id: nothing to lock, as before); the rest is
-- 099's. Its owner, grants and the advisory lock check stay 099's.
CREATE OR REPLACE FUNCTION ca_issuer_sign_lock(p_issuer bigint)
RETURNS TABLE (name text, revocation_reason smallint, revoked_at text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	v_cert bigint;
BEGIN
	SELECT r.cert_id INTO v_cert FROM ca_certificate_status r
	    WHERE r.id = p_issuer AND r.cert_id IS NOT NULL;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	PERFORM pg_advisory_xact_lock_shared(certificate_sign_lock_key(v_cert));
	RETURN QUERY SELECT r.name::text, x.revocation_reason, to_char(x.revoked_at
	    AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM ca_certificate r
	    JOIN certificate x ON x.id = v_cert WHERE r.id = p_issuer;
END $$;

-- 100's certificate_chain_sign_lock: the issuing CA's own row found
-- through the view; the rest is 100's.
CREATE OR REPLACE FUNCTION certificate_chain_sign_lock(p_certificate bigint)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	v_ca bigint;
BEGIN
	SELECT ri.cert_id INTO v_ca FROM certificate c
	    JOIN ca_certificate_status ri ON ri.id = c.issuer_id
	    WHERE c.id = p_certificate AND ri.cert_id IS NOT NULL;
	IF FOUND THEN
		PERFORM pg_advisory_xact_lock_shared(certificate_sign_lock_key(v_ca));
	END IF;
	PERFORM pg_advisory_xact_lock_shared(certificate_sign_lock_key(p_certificate));
END $$;
