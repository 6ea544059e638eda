-- 099_cad_issuer_sign_lock: cad reads its issuing CA's status again right
-- before it signs, under the CA certificate's sign lock (a review finding,
-- reproduced by stopping cad's signer).
--
-- cad's claim passes over the orders of an issuing CA whose own
-- certificate is revoked or on hold, but it checked that once, at the
-- claim: the key generation and the signature came later, and an order
-- claimed before a revocation (keyCompromise) was signed, stored and
-- committed under the revoked CA, its OCSP answer good. Now, after the
-- key generation and before the signature, in the order's transaction,
-- cad calls ca_issuer_sign_lock(the issuing CA's ca_certificate id):
--   - it takes the sign lock (049) of the CA's own row in certificate,
--     shared, until the transaction ends. A revocation or hold of that
--     row (the revocation guard takes the lock exclusively) waits for
--     cad's COMMIT and is then stamped after it (clock_timestamp(), 049):
--     what cad issued is issued before the revocation, by the timestamps
--     too. A FOR SHARE row lock would also make it wait, but not restamp
--     it (the row lock is taken before the guard runs), and it would need
--     UPDATE on certificate, which pki_ca does not have (schema/004);
--   - then it reads the row (a new snapshot: a revocation that held the
--     lock first has committed and is seen) and returns the CA's name,
--     revocation reason (NULL: not revoked) and revocation time as
--     RFC 3339 UTC text; no row when the CA has no certificate row (none
--     can revoke it then).
-- It runs as its owner (who holds the advisory lock functions, 073, 087)
-- and locks only a CA certificate's row: pki_ca keeps no general advisory
-- lock, and cannot hold off the revocation of a subscriber's certificate.
CREATE FUNCTION ca_issuer_sign_lock(p_issuer bigint)
RETURNS TABLE (name text, revocation_reason smallint, revoked_at text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	v_cert bigint;
BEGIN
	SELECT x.id INTO v_cert FROM ca_certificate r JOIN certificate x ON
	    x.issuer_id = r.issuer_id AND x.serial = r.serial WHERE r.id = p_issuer;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	PERFORM pg_advisory_xact_lock_shared(certificate_sign_lock_key(v_cert));
	RETURN QUERY SELECT r.name::text, x.revocation_reason, to_char(x.revoked_at
	    AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM ca_certificate r
	    JOIN certificate x ON x.id = v_cert WHERE r.id = p_issuer;
END $$;
REVOKE ALL ON FUNCTION ca_issuer_sign_lock(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ca_issuer_sign_lock(bigint) TO pki_ca;

DO $$
BEGIN
	IF NOT has_function_privilege((SELECT proowner FROM pg_proc WHERE oid =
	    'ca_issuer_sign_lock(bigint)'::regprocedure),
	    'pg_catalog.pg_advisory_xact_lock_shared(bigint)', 'EXECUTE') THEN
		RAISE EXCEPTION '099: the owner of ca_issuer_sign_lock may not take advisory locks: run the migrations as the superuser';
	END IF;
END $$;
