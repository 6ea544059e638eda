-- 104_certguard: a final revocation is final in every column, and the
-- database dates revocations itself (a review's finding, reproduced as
-- pki_ra).
--
-- The revocation guard (004, 024, 042, 049; SECURITY DEFINER since 082,
-- search_path pinned by 070) froze only revoked_at and revocation_reason
-- of a final revocation: pki_ra or pki_admin could still rewrite
-- invalidity_date (which bumps revocation_seq, so the next delta CRL and
-- OCSP published the new date) and revoked_by of a certificate revoked
-- for good. And revoked_at was whatever the caller sent: a revocation
-- back-dated to 1999 or dated next year, and an invalidity_date on a
-- certificate that was not revoked, were stored and published.
--
-- Every writer (ca/certcmd.c, ra/notifier.c, ra/corporate.c,
-- ra/review.c, ra/companies.c, ra/certificate.c) sets revoked_at = now()
-- and invalidity_date only together with a revocation. Now, besides 049's
-- rules (kept: the sign lock, and the time moved to clock_timestamp()
-- when the revocation waited for it):
--  - a final revocation (reason other than certificateHold, 6) also
--    freezes invalidity_date and revoked_by;
--  - a revocation or hold placed (revoked_at from NULL to set), a hold
--    made final, or any new revoked_at: revoked_at must be the
--    transaction's now(). Refused, not clamped: no writer sends anything
--    else, so another value is a bug or an attempt, and moving it would
--    hide it (the statement's own date would silently differ from what
--    it asked for);
--  - invalidity_date only on a revoked certificate, and not after
--    revoked_at. rad accepts an invalidity date up to RA_REVIEW_SKEW_S
--    (300 s, ra/review.c) ahead of its clock, for an officer's clock
--    ahead of the server's: such a date (at most 5 minutes after
--    revoked_at) is set to revoked_at (RFC 5280 5.3.2: the invalidity
--    date is no later than the revocation); one further ahead is refused.
--
-- A superuser session (session_user a superuser: the tests' fixtures,
-- a repair by hand) is exempt from these new rules, not from 049's: it
-- could switch the trigger off anyway. session_user, not current_user:
-- the guard runs as its owner (082), so current_user is always the
-- migrating superuser; a daemon cannot change its session_user, and a
-- superuser session that SET ROLEs to a daemon's role is still a
-- superuser's (to act as a daemon, SET SESSION AUTHORIZATION).
--
-- Who placed a hold (a review's finding, reproduced as pki_ra): the guard
-- let any role with the column grants release a certificateHold, and a
-- hold pkictl placed (`pkictl cert revoke --reason certificateHold`) is
-- to be released only with `pkictl cert release` (ra/README.md "Hold and
-- release"), which only rad's C enforced (revoked_by "officer:"). Now:
--  - revoked_role records the login role (session_user, as 083's
--    audit_event.db_role) that placed the revocation or hold. The guard
--    sets it whenever revoked_at or revocation_reason changes (NULL on a
--    release), and a BEFORE INSERT trigger on insert; no application role
--    may write it (the UPDATE grants of 004 are per column and name it
--    not; an INSERT's value is replaced).
--  - A hold placed by pki_admin (revoked_role a member of pki_admin, not
--    a superuser), or whose revoked_by claims pkictl ("pkictl:", trusted
--    only to refuse: a role that writes it binds only itself), is
--    released only by a member of pki_admin (or a superuser's session).
--    Other holds any role with the grants may release, as before.
-- Holds placed before this migration get revoked_role from revoked_by's
-- prefix ("pkictl:" pki_admin; "officer:", "ra:" pki_ra; any other stays
-- NULL), each change audited (cert.hold.revoked_role, actor
-- migration:104). Final revocations before it keep NULL: nothing reads it.
ALTER TABLE certificate ADD COLUMN revoked_role text;
COMMENT ON COLUMN certificate.revoked_role IS
    'The login role (session_user) that placed the revocation or hold, set by the server (schema/104); NULL while valid, and for final revocations before 104.';

CREATE OR REPLACE FUNCTION certificate_revocation_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	v_super boolean := coalesce((SELECT r.rolsuper FROM pg_roles r
	    WHERE r.rolname = session_user), false);
BEGIN
	IF OLD.der IS DISTINCT FROM NEW.der OR OLD.serial IS DISTINCT FROM NEW.serial OR
	    OLD.issuer_id IS DISTINCT FROM NEW.issuer_id THEN
		RAISE EXCEPTION 'certificate % is immutable', OLD.serial;
	END IF;
	IF OLD.revoked_at IS NOT NULL AND OLD.revocation_reason <> 6 AND
	    (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR
	     NEW.revocation_reason IS DISTINCT FROM OLD.revocation_reason) THEN
		RAISE EXCEPTION 'certificate % is revoked (reason %): final', OLD.serial,
		    OLD.revocation_reason;
	END IF;
	IF NOT v_super THEN
		IF OLD.revoked_at IS NOT NULL AND OLD.revocation_reason <> 6 AND
		    (NEW.invalidity_date IS DISTINCT FROM OLD.invalidity_date OR
		     NEW.revoked_by IS DISTINCT FROM OLD.revoked_by) THEN
			RAISE EXCEPTION 'certificate % is revoked (reason %): final, its invalidity date and revoker too',
			    OLD.serial, OLD.revocation_reason
			    USING ERRCODE = 'insufficient_privilege';
		END IF;
		IF NEW.revoked_at IS NOT NULL AND
		    (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR
		     NEW.revocation_reason IS DISTINCT FROM OLD.revocation_reason) AND
		    NEW.revoked_at <> now() THEN
			RAISE EXCEPTION 'certificate %: revoked_at % is not the time of the revocation (now(), %)',
			    OLD.serial, NEW.revoked_at, now()
			    USING ERRCODE = 'check_violation';
		END IF;
		IF NEW.invalidity_date IS NOT NULL AND NEW.revoked_at IS NULL THEN
			RAISE EXCEPTION 'certificate %: an invalidity date without a revocation',
			    OLD.serial USING ERRCODE = 'check_violation';
		END IF;
		IF NEW.invalidity_date > NEW.revoked_at + interval '5 minutes' THEN
			RAISE EXCEPTION 'certificate %: invalidity date % after the revocation (%)',
			    OLD.serial, NEW.invalidity_date, NEW.revoked_at
			    USING ERRCODE = 'check_violation';
		END IF;
		IF NEW.invalidity_date > NEW.revoked_at THEN
			NEW.invalidity_date := NEW.revoked_at;
		END IF;
	END IF;
	IF OLD.revocation_reason = 6 AND NEW.revoked_at IS NULL AND NOT v_super AND
	    NOT pg_has_role(session_user, 'pki_admin', 'MEMBER') AND
	    (OLD.revoked_by LIKE 'pkictl:%' OR EXISTS (SELECT 1 FROM pg_roles r
	     WHERE r.rolname = OLD.revoked_role AND NOT r.rolsuper AND
	     pg_has_role(r.oid, 'pki_admin', 'MEMBER'))) THEN
		RAISE EXCEPTION 'certificate %: the hold was placed by pkictl (%, %): released only with pkictl cert release',
		    OLD.serial, OLD.revoked_by, OLD.revoked_role
		    USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR
	    NEW.revocation_reason IS DISTINCT FROM OLD.revocation_reason THEN
		NEW.revoked_role := CASE WHEN NEW.revoked_at IS NOT NULL THEN session_user END;
	ELSIF NOT v_super THEN
		NEW.revoked_role := OLD.revoked_role;
	END IF;
	IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL AND
	    NOT pg_try_advisory_xact_lock(certificate_sign_lock_key(OLD.id)) THEN
		PERFORM pg_advisory_xact_lock(certificate_sign_lock_key(OLD.id));
		NEW.revoked_at := greatest(NEW.revoked_at, clock_timestamp());
	END IF;
	IF NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR
	    NEW.revocation_reason IS DISTINCT FROM OLD.revocation_reason OR
	    NEW.invalidity_date IS DISTINCT FROM OLD.invalidity_date THEN
		NEW.revocation_seq := nextval('revocation_seq');
		NEW.revocation_xid := pg_current_xact_id();
	END IF;
	RETURN NEW;
END $$;

CREATE FUNCTION certificate_revoked_role_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	IF NOT coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = session_user), false) THEN
		NEW.revoked_role := CASE WHEN NEW.revoked_at IS NOT NULL THEN session_user END;
	END IF;
	RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION certificate_revoked_role_insert() FROM PUBLIC;
CREATE TRIGGER certificate_revoked_role_insert BEFORE INSERT ON certificate
	FOR EACH ROW EXECUTE FUNCTION certificate_revoked_role_insert();

DO $$
DECLARE
	r record;
BEGIN
	FOR r IN UPDATE certificate SET revoked_role = CASE
	        WHEN revoked_by LIKE 'pkictl:%' THEN 'pki_admin' ELSE 'pki_ra' END
	    WHERE revocation_reason = 6 AND revoked_role IS NULL AND
	        (revoked_by LIKE 'pkictl:%' OR revoked_by LIKE 'officer:%' OR revoked_by LIKE 'ra:%')
	    RETURNING id, serial, revoked_by, revoked_role
	LOOP
		PERFORM audit_append('migration:104', 'cert.hold.revoked_role', 'certificate',
		    r.id::text, jsonb_build_object('serial', r.serial,
		    'revoked_by', r.revoked_by, 'revoked_role', r.revoked_role,
		    'reason', 'who placed the hold, from revoked_by (schema/104)'));
	END LOOP;
END $$;
