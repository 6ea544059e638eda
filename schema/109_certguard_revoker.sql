-- 109_certguard_revoker: who placed a hold is no longer rewritable on its
-- own. 104 froze revoked_by and invalidity_date on a final revocation only:
-- on a hold, pki_ra could set revoked_by from 'pkictl:operator' to
-- 'officer:9' in an UPDATE of its own, then release the hold 104 kept for
-- pkictl (its rule reads revoked_by's prefix as well as revoked_role: a
-- hold a superuser placed "as pkictl" is protected by the prefix alone),
-- with no audit event, and falsify who held or released any certificate.
-- Now, for every role but a superuser session (104's exemption), revoked_by
-- and invalidity_date change only in the statement that revokes, holds or
-- releases (revoked_at or revocation_reason changes with them): every
-- writer (ca/certcmd.c, ra/) sets them together. The function is 104's,
-- with that one rule added.
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
		-- Who revoked, held or released, and the invalidity date, change
		-- only with the change they describe (109).
		IF NEW.revoked_at IS NOT DISTINCT FROM OLD.revoked_at AND
		    NEW.revocation_reason IS NOT DISTINCT FROM OLD.revocation_reason AND
		    (NEW.invalidity_date IS DISTINCT FROM OLD.invalidity_date OR
		     NEW.revoked_by IS DISTINCT FROM OLD.revoked_by) THEN
			RAISE EXCEPTION 'certificate %: its revoker and invalidity date change only with a revocation, hold or release',
			    OLD.serial USING ERRCODE = 'insufficient_privilege';
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
