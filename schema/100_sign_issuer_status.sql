-- 100_sign_issuer_status: signd refuses to authorize and sign with a
-- credential whose issuing CA's own certificate is revoked, on hold or
-- outside its validity (a review finding, reproduced with `pkictl cert
-- revoke --issuer root --reason cACompromise` of the issuing CA: signd went
-- on authorizing and signing).
--
-- The SAM (hsm/signd/samproc.c) and the worker's credentials/info
-- (hsm/signd/csc.c) read the issuing CA's row in ca_certificate (ri, by the
-- certificate's issuer_id) and its own certificate row (rx: rx.issuer_id =
-- ri.issuer_id AND rx.serial = ri.serial, as 090 and 099 do). pki_sign
-- reads ca_certificate already (002); pki_sam now may too.
--
-- SIGNHASH takes certificate_chain_sign_lock(id) instead of
-- certificate_sign_lock(id) (049, 059): the sign lock of the issuing CA's
-- own certificate row first, then the certificate's, both shared until the
-- transaction ends. A revocation or hold of the issuing CA (the revocation
-- guard takes the CA row's lock exclusively, 049) in progress is waited for
-- and then seen; one that arrives while the SAM signs waits for its COMMIT
-- and is stamped after it, as for the subscriber's own certificate. Issuer
-- first, as cad's ca_issuer_sign_lock (099) takes only that one: a SAM
-- waiting for the issuer's lock holds no certificate's lock yet. A CA
-- without a certificate row (none can revoke it) locks only the
-- certificate. It runs as its owner (who holds the advisory lock
-- functions, 073, 087); pki_sam still takes no lock of its own choosing.
GRANT SELECT ON ca_certificate TO pki_sam;

CREATE FUNCTION certificate_chain_sign_lock(p_certificate bigint)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	v_ca bigint;
BEGIN
	SELECT rx.id INTO v_ca FROM certificate c
	    JOIN ca_certificate ri ON ri.id = c.issuer_id
	    JOIN certificate rx ON rx.issuer_id = ri.issuer_id AND rx.serial = ri.serial
	    WHERE c.id = p_certificate;
	IF FOUND THEN
		PERFORM pg_advisory_xact_lock_shared(certificate_sign_lock_key(v_ca));
	END IF;
	PERFORM pg_advisory_xact_lock_shared(certificate_sign_lock_key(p_certificate));
END $$;
REVOKE ALL ON FUNCTION certificate_chain_sign_lock(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION certificate_chain_sign_lock(bigint) TO pki_sam;

DO $$
BEGIN
	IF NOT has_function_privilege((SELECT proowner FROM pg_proc WHERE oid =
	    'certificate_chain_sign_lock(bigint)'::regprocedure),
	    'pg_catalog.pg_advisory_xact_lock_shared(bigint)', 'EXECUTE') THEN
		RAISE EXCEPTION '100: the owner of certificate_chain_sign_lock may not take advisory locks: run the migrations as the superuser';
	END IF;
END $$;
