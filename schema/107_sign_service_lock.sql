-- 107_sign_service_lock: `pkictl sigservice disable` and the signatures and
-- authorizations of that service are ordered (a review finding, reproduced:
-- a signHash that had passed the SAM's service check and then waited for
-- certificate_chain_sign_lock behind a revocation signed and committed after
-- the disable had committed; the trail read sign.service.disable, then
-- sign.hash).
--
-- The SAM (hsm/signd/samproc.c) read sign_service.disabled_at once, with a
-- plain SELECT at the start of its transaction, and nothing after it looked
-- again. Now:
--
--  - sign_service_sign_lock(id) takes a shared transaction-level advisory
--    lock on the service's key. The SAM takes it in every AUTHORIZE and
--    SIGNHASH transaction, once the token has named the service, and then
--    reads the token and the service again (a new statement, a new snapshot
--    under READ COMMITTED), with clock_timestamp() for the token's expiry.
--  - Every disable (disabled_at becoming non-NULL, whoever updates it:
--    pkictl sigservice disable as pki_admin, a superuser's psql) takes the
--    same key exclusively in sign_service_disable_guard, a BEFORE UPDATE
--    trigger, before the row changes: it waits for the signatures and
--    authorizations in progress to commit, and a disable that had to wait
--    is stamped with the time it got the lock (clock_timestamp()), after
--    them, as the revocation guard (049) does. A SAM request that comes while
--    a disable holds or waits for the lock queues behind it (PostgreSQL
--    grants no shared lock past a waiting exclusive one), then reads the
--    service disabled and refuses.
--
-- Key space: the two-int4 form of the advisory lock functions,
-- (1936287598, id), 1936287598 being 'sign' in ASCII. PostgreSQL keeps the
-- one-bigint and the two-int4 keys apart (pg_locks.objsubid 1 and 2): no
-- bigint key (certificate_sign_lock_key, 049; rad's hashtext locks, 082;
-- the publisher's, the sealer's, pkictl's key generation lock, 077, 087;
-- deploy/migrate.sh's) can be this one, and no other lock in the schema or
-- the code takes a two-int4 key. Service ids beyond 2^31 - 1 (bigserial;
-- never in practice) wrap onto smaller ones: two services would share a
-- lock, which only makes a disable wait for the other's signatures too.
--
-- Both functions run as their owner (SECURITY DEFINER; the superuser who
-- migrates holds the advisory lock functions, 073, 087) and compute the key
-- themselves: pki_sam takes only a service's shared lock, and pki_admin
-- no new lock function at all (the trigger cannot be called but as a
-- trigger, on a row it updates). As with 082's note on the guard, a SAM
-- taken over can hold a service's shared lock and so hold up its disable;
-- it holds the keys' unwrapping key anyway, and its transactions end at
-- pki_sam's idle_in_transaction_session_timeout (058).
CREATE FUNCTION sign_service_sign_lock(p_service bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	PERFORM pg_advisory_xact_lock_shared(1936287598,
	    (p_service % 2147483648)::integer);
END $$;
REVOKE ALL ON FUNCTION sign_service_sign_lock(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sign_service_sign_lock(bigint) TO pki_sam;

CREATE FUNCTION sign_service_disable_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	IF OLD.disabled_at IS NULL AND NEW.disabled_at IS NOT NULL AND
	    NOT pg_try_advisory_xact_lock(1936287598,
	    (OLD.id % 2147483648)::integer) THEN
		PERFORM pg_advisory_xact_lock(1936287598,
		    (OLD.id % 2147483648)::integer);
		NEW.disabled_at := greatest(NEW.disabled_at, clock_timestamp());
	END IF;
	RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION sign_service_disable_guard() FROM PUBLIC;

CREATE TRIGGER sign_service_disable_guard BEFORE UPDATE OF disabled_at
    ON sign_service FOR EACH ROW EXECUTE FUNCTION sign_service_disable_guard();

DO $$
DECLARE
	r record;
BEGIN
	-- The functions above run as their owner: it must hold what they call.
	FOR r IN SELECT p.oid::regprocedure AS fn, p.proowner::regrole AS owner FROM pg_proc p
	    WHERE p.oid IN ('sign_service_sign_lock(bigint)'::regprocedure,
	    'sign_service_disable_guard()'::regprocedure)
	LOOP
		IF NOT has_function_privilege(r.owner::oid, 'pg_catalog.pg_advisory_xact_lock_shared(integer, integer)', 'EXECUTE') OR
		    NOT has_function_privilege(r.owner::oid, 'pg_catalog.pg_advisory_xact_lock(integer, integer)', 'EXECUTE') OR
		    NOT has_function_privilege(r.owner::oid, 'pg_catalog.pg_try_advisory_xact_lock(integer, integer)', 'EXECUTE') THEN
			RAISE EXCEPTION '107: %, owner of %, may not take advisory locks: run the migrations as the superuser',
			    r.owner, r.fn;
		END IF;
	END LOOP;
END $$;
