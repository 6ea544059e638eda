-- 087_lock_keys_out_of_reach: no application role can take the sealer's
-- or the key generation ceremonies' advisory lock (what the review of 082
-- left open).
--
-- 082 left pki_ra four lock functions of its own whose keys are
-- hashtext(prefix || what rad names): 32-bit values, and with any text
-- pki_ra chooses, any 32-bit value (about 2^32 tries offline). Two locks
-- other roles need had 32-bit keys:
--   7251001  audit_seal_lock() (077): a rad taken over held it and every
--            `pkictl audit seal` waited;
--   7251002  pkictl's key generation lock (ca/pkictl.c): the ceremonies
--            were refused as "in progress".
-- And pki_sam kept the general pg_advisory_xact_lock_shared (073) for its
-- sign lock (049): a SAM taken over could hold a shared lock on any key,
-- and every exclusive locker of that key (the sealer, a revocation) waited.
-- Now:
--  - audit_seal_lock() takes hashtextextended('ca/auditcmd.c sealer', 0),
--    a 64-bit key outside hashtext's range (checked below). Every sealer
--    has called this function since 077, so old and new sealers still take
--    turns.
--  - pkictl's key generation lock is hashtextextended('ca/pkictl.c key
--    generation', 0) (ca/pkictl.c; pki_admin keeps the general functions
--    for it). An older pkictl still takes 7251002: do not run a ceremony
--    with an older and a newer pkictl at once during an upgrade.
--  - certificate_sign_lock(id) runs as its owner and the general functions
--    are revoked from pki_sam: the SAM can lock only a certificate's key,
--    hashtextextended('certificate_sign:' || id, 0), which it cannot steer
--    to another lock's key.
CREATE OR REPLACE FUNCTION audit_seal_lock() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended('ca/auditcmd.c sealer', 0));
END $$;

ALTER FUNCTION certificate_sign_lock(bigint) SECURITY DEFINER;

DO $$
DECLARE
	f regprocedure;
	k bigint;
	r record;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
	    WHERE p.pronamespace = 'pg_catalog'::regnamespace AND
	    p.proname ~ '^pg_(try_)?advisory_(xact_)?lock(_shared)?$'
	LOOP
		EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM pki_sam', f);
	END LOOP;
	-- Out of the reach of hashtext, which rad's lock functions use.
	FOREACH k IN ARRAY ARRAY[hashtextextended('ca/auditcmd.c sealer', 0),
	    hashtextextended('ca/pkictl.c key generation', 0)]
	LOOP
		IF k BETWEEN -2147483648 AND 2147483647 THEN
			RAISE EXCEPTION '087: lock key % is a 32-bit value', k;
		END IF;
	END LOOP;
	-- The functions above run as their owner: it must hold what they call.
	FOR r IN SELECT p.oid::regprocedure AS fn, p.proowner::regrole AS owner FROM pg_proc p
	    WHERE p.oid IN ('audit_seal_lock()'::regprocedure,
	    'certificate_sign_lock(bigint)'::regprocedure)
	LOOP
		IF NOT has_function_privilege(r.owner::oid, 'pg_catalog.pg_advisory_xact_lock(bigint)', 'EXECUTE') OR
		    NOT has_function_privilege(r.owner::oid, 'pg_catalog.pg_advisory_xact_lock_shared(bigint)', 'EXECUTE') THEN
			RAISE EXCEPTION '087: %, owner of %, may not take advisory locks: run the migrations as the superuser',
			    r.owner, r.fn;
		END IF;
	END LOOP;
END $$;
