-- 034_ra_status_notice: the mail that tells a certificate's subscriber of a
-- change of its status (ETSI EN 319 411-1), queued in the mail outbox (033)
-- in the caller's transaction, by rad (a subscriber's, an officer's, a
-- company's revocation: ra/certificate.c ra_revocation_notice) and by
-- pkictl (cert revoke, hold and release: ca/certcmd.c) alike. The
-- subscriber is the account of the application the certificate was issued
-- for; a certificate no application led to (pkictl order add) has nobody
-- to tell: false. SECURITY DEFINER: pkictl's role neither reads accounts
-- nor writes the outbox.
CREATE FUNCTION ra_queue_status_notice(p_certificate bigint, p_event text,
    p_reason text, p_by text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
	r record;
	v_id bigint;
BEGIN
	IF p_event NOT IN ('revoked', 'suspended', 'released') THEN
		RAISE EXCEPTION 'ra_queue_status_notice: unknown event %', p_event;
	END IF;
	SELECT acc.email, c.serial, c.subject,
	    to_char(coalesce(c.revoked_at, now()) AT TIME ZONE 'UTC',
	        'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at
	    INTO r
	    FROM certificate c
	    JOIN issuance_order o ON o.certificate_id = c.id
	    JOIN ra_application a ON a.order_id = o.id
	    JOIN ra_account acc ON acc.id = a.account_id
	    WHERE c.id = p_certificate;
	IF NOT FOUND THEN
		RETURN false;
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
REVOKE ALL ON FUNCTION ra_queue_status_notice(bigint, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ra_queue_status_notice(bigint, text, text, text) TO pki_ra, pki_admin;
