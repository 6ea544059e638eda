-- 090_ra_issuer_revoked_notice: rad's notifier tells each subscriber whose
-- certificate an issuing CA that was then revoked for good issued (its own
-- certificate revoked by the root, any reason but certificateHold) that the
-- certificate no longer validates, and that it may be rekeyed at once with
-- no new KYC (ra/README.md "Rekey", after the issuing CA's compromise;
-- ra/notifier.c ra_notifier_issuer_notice). Before,
-- nobody was told: the subscriber saw "issuer-revoked" only by opening My
-- certificates, and the expiry reminders still said "rekey before <expiry>".
-- One row per certificate told: several rad processes, and every restart,
-- send the notice once (the primary key), in the transaction of its audit
-- event ra.certificate.issuer_revoked (actor ra:notifier) and its mail.
CREATE TABLE ra_issuer_revoked_notice (
	certificate_id	bigint PRIMARY KEY REFERENCES certificate (id),
	sent_at		timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT ON ra_issuer_revoked_notice TO pki_ra;
GRANT SELECT ON ra_issuer_revoked_notice TO pki_auditor;

-- The notice of a revocation (034, 074) told every subscriber to "apply for
-- a new certificate if you need one". For a certificate the CA revoked as
-- cACompromise while its issuing CA's own certificate is revoked for good
-- (pkictl cert revoke, after a compromise) that is the wrong next step: it
-- may be rekeyed at once, with no new KYC (ra/certificate.c
-- RA_REKEY_PREVIOUS_WHY), and the notice of the issuer's revocation above
-- says so. Such a notice now says the same. Everything else is 074's.
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
	    EXISTS (SELECT 1 FROM ca_certificate ri JOIN certificate rx ON
	        rx.issuer_id = ri.issuer_id AND rx.serial = ri.serial WHERE
	        ri.id = c.issuer_id AND rx.revoked_at IS NOT NULL AND
	        rx.revocation_reason <> 6) AS rekeyable
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
