-- 077_own_lock_functions: crld and the sealer take their own advisory lock
-- and no other (what the review of 073 left open, reproduced as the
-- daemons' roles).
--
-- 073 left pki_crl (crld's publisher, lib/publish.c) the general
-- pg_advisory_xact_lock and pg_try_advisory_xact_lock, and pki_sealer
-- (pkictl audit seal, ca/auditcmd.c) pg_advisory_xact_lock, for the one key
-- each takes. With them, any key: as pki_crl,
--   BEGIN; SELECT pg_advisory_xact_lock(certificate_sign_lock_key(id))
--   FROM certificate;
-- (as pki_sealer, which does not read certificate, over generate_series:
-- the ids are a sequence's) left open (idle_in_transaction_session_timeout is 600 s for both, 058,
-- and the next transaction takes them again) held up every revocation and
-- hold, whose guard (049) waits for that lock: rad's failed at its
-- lock_timeout, pkictl's waited, and signd's SAM waited too. Now each role
-- takes its lock through a function of its own that computes the key
-- itself, run as the function's owner (SECURITY DEFINER; the superuser who
-- migrates, deploy/migrate.sh, holds the general functions), and the
-- general functions are revoked from both roles:
--   publish_queue_lock(p_wait)  lib/publish.c's publisher lock, waited for
--                               (p_wait: pkictl publish) or only tried
--                               (crld); pki_crl and pki_admin
--   audit_seal_lock()           one sealer at a time; pki_sealer
-- The keys are those the code took before: an older pkictl (pki_admin,
-- which keeps what 073 gave it for the revocation guard and the ceremonies'
-- key generation lock) still takes turns with a newer crld.
CREATE FUNCTION publish_queue_lock(p_wait boolean) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	IF p_wait THEN
		PERFORM pg_advisory_xact_lock(hashtextextended('lib/publish.c publisher', 0));
		RETURN true;
	END IF;
	RETURN pg_try_advisory_xact_lock(hashtextextended('lib/publish.c publisher', 0));
END $$;
REVOKE ALL ON FUNCTION publish_queue_lock(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION publish_queue_lock(boolean) TO pki_crl, pki_admin;

CREATE FUNCTION audit_seal_lock() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(7251001);
END $$;
REVOKE ALL ON FUNCTION audit_seal_lock() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_seal_lock() TO pki_sealer;

DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
	    WHERE p.pronamespace = 'pg_catalog'::regnamespace AND
	    p.proname ~ '^pg_(try_)?advisory_(xact_)?lock(_shared)?$'
	LOOP
		EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM pki_crl, pki_sealer', f);
	END LOOP;
	-- The functions above run as their owner: it must hold what they call.
	IF NOT has_function_privilege('pg_catalog.pg_advisory_xact_lock(bigint)', 'EXECUTE') OR
	    NOT has_function_privilege('pg_catalog.pg_try_advisory_xact_lock(bigint)', 'EXECUTE') THEN
		RAISE EXCEPTION '077: % may not take advisory locks: run the migrations as the superuser',
		    current_user;
	END IF;
END $$;
