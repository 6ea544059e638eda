-- 113_sign_grant_revoke_lock: a subscriber's revoke of a signing service's
-- grant (schema/112) and that service's signatures and authorizations are
-- ordered, as a disable is (schema/107). Until now the revoke took no lock:
-- a signHash that had read the grant just before the revoke committed still
-- signed, and the trail could read ra.sign_grant.revoke, then sign.hash for
-- that service and subscriber.
--
-- The SAM already takes sign_service_sign_lock(service) shared in every
-- AUTHORIZE and SIGNHASH transaction before it reads the grant (the grant
-- is a column of the statement that reads the credential, after the lock).
-- Every delete of a grant (rad's POST /v1/sign-services/{id}/revoke as
-- pki_ra, or anyone's) now takes the same key exclusively in a BEFORE
-- DELETE trigger: it waits for the signatures and authorizations of that
-- service in progress to commit, and a request that comes meanwhile queues
-- behind it, then reads the grant gone and is refused.
--
-- The lock is the whole service's, not the (subscriber, service) pair's:
-- the SAM takes it anyway, so this costs signing nothing; a revoke holds up
-- the service's other signatures only for its own short transaction (a
-- delete and an audit event). Key space and ownership as in 107 (which
-- checks that the migrating owner holds the advisory lock functions).
CREATE FUNCTION sign_grant_revoke_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(1936287598,
	    (OLD.service_id % 2147483648)::integer);
	RETURN OLD;
END $$;
REVOKE ALL ON FUNCTION sign_grant_revoke_guard() FROM PUBLIC;

CREATE TRIGGER sign_grant_revoke_guard BEFORE DELETE ON sign_grant
    FOR EACH ROW EXECUTE FUNCTION sign_grant_revoke_guard();
