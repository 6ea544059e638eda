-- 074_status_notice_binding: ra_queue_status_notice (schema/034) queues a
-- subscriber's status mail only for a change of that status made in the
-- caller's own transaction (a review finding).
--
-- It runs with its owner's rights so that pkictl (pki_admin), which
-- neither reads accounts nor writes the mail outbox, can tell the
-- subscriber of its revocations, holds and releases. But it took the
-- caller's word for the event: pki_admin could queue "Your certificate was
-- revoked ... Reason: <any text>" to the subscriber of any certificate,
-- revoked or not, with no audit event and no change to show for it (and
-- pki_ra the same through the function). Every caller calls it right
-- after its own UPDATE of the certificate, in that transaction, whose
-- audit event it writes (ca/certcmd.c cert_change_txn; ra/certificate.c,
-- ra/review.c, ra/corporate.c, ra/companies.c): the revocation guard
-- (schema/024, 049) stamps that change with the transaction's id
-- (revocation_xid). The notice now needs that stamp and a status that is
-- the event's: revoked (a reason other than certificateHold), suspended
-- (certificateHold) or released (not revoked). Otherwise it refuses
-- (insufficient_privilege) and the caller's transaction rolls back. A
-- certificate no application led to still answers false: nobody to tell.
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
	SELECT acc.email, c.serial, c.subject,
	    to_char(coalesce(c.revoked_at, now()) AT TIME ZONE 'UTC',
	        'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at,
	    c.revocation_xid IS NOT DISTINCT FROM pg_current_xact_id() AND
	    CASE p_event WHEN 'revoked' THEN c.revoked_at IS NOT NULL AND c.revocation_reason <> 6
	        WHEN 'suspended' THEN c.revoked_at IS NOT NULL AND c.revocation_reason = 6
	        ELSE c.revoked_at IS NULL END AS changed
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
	    CASE p_event
	    WHEN 'revoked' THEN format(E'was revoked at %s by %s.\r\nReason: %s\r\n\r\n', r.at, p_by, p_reason) ||
	        'It can no longer be used to sign, and relying parties see it revoked ' ||
	        '(OCSP, CRL). Apply for a new certificate if you need one; if you did not ' ||
	        E'expect this, contact us.\r\n'
	    WHEN 'suspended' THEN format(E'was suspended (certificateHold) at %s by %s.\r\n\r\n', r.at, p_by) ||
	        'Until it is released it cannot be used to sign, and relying parties see it ' ||
	        E'on hold (OCSP, CRL). If you did not expect this, contact us.\r\n'
	    ELSE format(E'was released from its suspension by %s: it is valid again and can ', p_by) ||
	        E'be used to sign.\r\n'
	    END)
	    RETURNING id INTO v_id;
	PERFORM pg_notify('ra_mail', v_id::text);
	RETURN true;
END $$;
