-- 073_advisory_lock_grants: only the roles whose work takes advisory locks
-- may take them, and cad no longer writes the LDAP publication queue (a
-- review's findings, each reproduced as the daemons' roles).
--
-- 1. A revocation or hold waits for the signatures in progress with the
--    certificate's key (schema/049): the revocation guard takes
--    certificate_sign_lock_key(id) exclusively, signd's SAM shared. The
--    key is a hash anyone can compute, and PostgreSQL lets every role
--    (PUBLIC) take any advisory lock, for as long as its session lives
--    with pg_advisory_lock_shared. So ocspd, tsad or signd's worker, the
--    processes that parse what the network sends, or an auditor's psql,
--    could hold a shared lock on every certificate's key and no
--    revocation went through any more: rad's failed at its lock_timeout
--    (5 s, 503), pkictl's waited for ever. As pki_ocsp:
--      SELECT pg_advisory_lock_shared(certificate_sign_lock_key(id))
--      FROM certificate;
--    Now the functions that take an advisory lock (session or
--    transaction, exclusive or shared, waiting or not) are refused to
--    PUBLIC and granted to the roles that take one, each only the forms
--    it uses:
--      pki_ra     the revocation guard (049), its own locks (ra/factor.c,
--                 ra/corporate.c, schema/065): transaction-level
--      pki_admin  the revocation guard (pkictl cert revoke, hold,
--                 release), lib/publish.c (pkictl publish), the key
--                 generation lock of the ceremonies (ca/pkictl.c)
--      pki_crl    lib/publish.c (crld's publisher)
--      pki_sam    certificate_sign_lock (049, 059), shared
--      pki_sealer pkictl audit seal's lock (ca/auditcmd.c)
--    pki_ca, pki_ocsp, pki_tsa, pki_sign and pki_auditor take none. The
--    pg_advisory_unlock functions stay PUBLIC's: they release only the
--    caller's own locks. pg_proc is per database, so this holds for the
--    database migrated, as 070's TEMP does.
--
-- 2. cad (pki_ca) never touches publish_queue: the CA certificates and
--    CRLs in it are queued by pkictl (pki_admin) and crld (pki_crl), which
--    publish them (lib/publish.c). 002 granted pki_ca SELECT, INSERT and
--    UPDATE on it all the same, so an issuance worker could queue any DER
--    for any directory entry and attribute, or rewrite a pending row's DER
--    (a CRL older than the one queued, put back over the directory's).
DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
	    WHERE p.pronamespace = 'pg_catalog'::regnamespace AND
	    p.proname ~ '^pg_(try_)?advisory_(xact_)?lock(_shared)?$'
	LOOP
		EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
	END LOOP;
END $$;

GRANT EXECUTE ON FUNCTION pg_catalog.pg_advisory_xact_lock(bigint),
    pg_catalog.pg_try_advisory_xact_lock(bigint)
    TO pki_ra, pki_admin, pki_crl;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_try_advisory_lock(bigint) TO pki_admin;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_advisory_xact_lock_shared(bigint) TO pki_sam;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_advisory_xact_lock(bigint) TO pki_sealer;

REVOKE ALL ON TABLE publish_queue FROM pki_ca;
REVOKE ALL ON SEQUENCE publish_queue_id_seq FROM pki_ca;
