-- 053_retention: what has ended is deleted once its retention has passed
-- (pkictl purge; ra/README.md "Retention"). Without it, every log-in,
-- one-time code and link token stays forever, and every LDAP publication
-- keeps its bytes (a full CRL each time) in publish_queue.
--
-- ra_purge_ended(days) deletes, in the caller's transaction, the rows that
-- ended at least `days` days ago:
--   ra_session, ra_officer_session	expired (a revoked one expires too)
--   ra_otp				expired (consumed or not)
--   ra_email_verification		expired (used or not)
--   ra_password_reset			expired, unless a mail carrying it is
--					still queued and not given up (rad's
--					outbox empties such a body itself,
--					schema/048; the row must stay for that)
--   publish_queue			published (done_at), unless an older
--					row of its target is still pending
--					(lib/publish.c skips a pending row
--					when a newer one of its target is
--					done: the directory never goes back)
-- and returns how many of each, for the caller's audit event. Nothing that
-- is a record goes: accounts, applications, decisions, the mail outbox (its
-- bodies are emptied once sent), audit_event. The windows rad counts over
-- these tables (codes, links and resets per hour or per day) are at most
-- a day: a day is the floor of `days`.
--
-- SECURITY DEFINER (owned by the migrating superuser): pki_admin gets no
-- DELETE on these tables, so not even pkictl can delete a live session or
-- an unpublished item.
ALTER TABLE ra_mail_outbox
	DROP CONSTRAINT ra_mail_outbox_password_reset_id_fkey,
	ADD CONSTRAINT ra_mail_outbox_password_reset_id_fkey
	    FOREIGN KEY (password_reset_id) REFERENCES ra_password_reset (id)
	    ON DELETE SET NULL;

CREATE FUNCTION ra_purge_ended(days integer) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
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
	RETURN out;
END $$;

REVOKE ALL ON FUNCTION ra_purge_ended(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ra_purge_ended(integer) TO pki_admin;
