-- 072_purge_publish_certificate: pkictl purge also deletes the subscriber
-- certificates' directory publications that were done N days ago. Each
-- issuance, revocation, hold and release queued one (schema/013) and none
-- ever went, while their CRL counterparts in publish_queue did (053). A
-- done row is no record: the publisher reads the certificate's current
-- state, whatever row it claims, and every attempt is audited
-- (publish.ldap). A pending row stays whatever its age.
CREATE OR REPLACE FUNCTION ra_purge_ended(days integer) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	cutoff timestamptz;
	out jsonb := '{}';
	n bigint;
BEGIN
	IF days IS NULL OR days < 1 THEN
		RAISE EXCEPTION 'ra_purge_ended: days must be at least 1, not %', days;
	END IF;
	cutoff := now() - make_interval(days => days);
	DELETE FROM ra_session WHERE expires_at < cutoff;
	GET DIAGNOSTICS n = ROW_COUNT;
	out := out || jsonb_build_object('ra_session', n);
	DELETE FROM ra_officer_session WHERE expires_at < cutoff;
	GET DIAGNOSTICS n = ROW_COUNT;
	out := out || jsonb_build_object('ra_officer_session', n);
	DELETE FROM ra_otp WHERE expires_at < cutoff;
	GET DIAGNOSTICS n = ROW_COUNT;
	out := out || jsonb_build_object('ra_otp', n);
	DELETE FROM ra_email_verification WHERE expires_at < cutoff;
	GET DIAGNOSTICS n = ROW_COUNT;
	out := out || jsonb_build_object('ra_email_verification', n);
	DELETE FROM ra_password_reset r WHERE r.expires_at < cutoff AND
	    NOT EXISTS (SELECT 1 FROM ra_mail_outbox m WHERE
	    m.password_reset_id = r.id AND m.sent_at IS NULL AND
	    m.next_attempt_at <> 'infinity');
	GET DIAGNOSTICS n = ROW_COUNT;
	out := out || jsonb_build_object('ra_password_reset', n);
	DELETE FROM publish_queue q WHERE q.done_at < cutoff AND NOT EXISTS (
	    SELECT 1 FROM publish_queue p WHERE p.dn = q.dn AND
	    p.attribute = q.attribute AND p.id < q.id AND p.done_at IS NULL);
	GET DIAGNOSTICS n = ROW_COUNT;
	out := out || jsonb_build_object('publish_queue', n);
	DELETE FROM publish_certificate WHERE done_at < cutoff;
	GET DIAGNOSTICS n = ROW_COUNT;
	out := out || jsonb_build_object('publish_certificate', n);
	RETURN out;
END $$;
