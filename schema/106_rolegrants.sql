-- 106_rolegrants: grants narrowed to what the daemons need (a review's
-- findings, each reproduced as the daemon's role).
--
-- The purges of expired signing rows (schema/041) as functions. pki_sign
-- held DELETE on sign_token, and pki_sam DELETE on sign_sad and
-- sign_sad_hash, for the purge signd makes with each new token and each
-- new authorization; but a grant cannot say "only what expired an hour
-- ago", so signd's network-facing worker (which hsm/README.md assumes may
-- be compromised) could delete every service's live access token,
-- logging every signing service out, and a compromised SAM every live SAD.
-- Now neither role may DELETE those rows; each calls a function that runs
-- with its owner's rights (the migrating superuser) and deletes only what
-- signd deleted before, as signd bounded it:
--  - sign_token_purge_expired(service): up to 64 of that service's tokens
--    that expired an hour ago or more, oldest id first (pki_sign,
--    hsm/signd/csc.c, with each new token);
--  - sign_sad_purge_expired(): up to 64 SADs (any service's) that expired
--    an hour ago or more, with their hashes, those another SAM holds
--    locked skipped (pki_sam, hsm/signd/samproc.c, with each new SAD).
-- Each returns how many rows of sign_token / sign_sad it deleted, which
-- the caller writes into the audit event of the same transaction
-- (sign.token, sign.authorize: expired_removed), as before. The hour keeps
-- a row for a request in flight at its expiry and for a look at recent
-- history.
CREATE FUNCTION sign_token_purge_expired(p_service bigint) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
	WITH gone AS (DELETE FROM sign_token WHERE id IN (SELECT id FROM sign_token
	    WHERE service_id = p_service AND expires_at < now() - interval '1 hour'
	    ORDER BY id LIMIT 64) RETURNING 1)
	SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION sign_token_purge_expired(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sign_token_purge_expired(bigint) TO pki_sign;
REVOKE DELETE ON sign_token FROM pki_sign;

CREATE FUNCTION sign_sad_purge_expired() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
	WITH old AS (SELECT id FROM sign_sad
	    WHERE expires_at < now() - interval '1 hour'
	    ORDER BY expires_at LIMIT 64 FOR UPDATE SKIP LOCKED),
	h AS (DELETE FROM sign_sad_hash WHERE sad_id IN (SELECT id FROM old)),
	s AS (DELETE FROM sign_sad WHERE id IN (SELECT id FROM old) RETURNING 1)
	SELECT count(*) FROM s
$$;
REVOKE ALL ON FUNCTION sign_sad_purge_expired() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sign_sad_purge_expired() TO pki_sam;
REVOKE DELETE ON sign_sad, sign_sad_hash FROM pki_sam;
