-- 070_pinned_search_path: no role can put its own objects in the way of
-- the checks and the owner's rights the schema gives, and only pkictl
-- changes the status of a CA's own certificates (a review's findings,
-- each reproduced as the daemons' roles).
--
-- PostgreSQL looks up tables in the session's temporary schema first
-- unless a search_path names pg_temp, and every role could make temporary
-- tables (PUBLIC's TEMP on the database). So a role could shadow a table
-- a function reads with one of its own: as pki_sign, a temporary
-- sign_service with a digest of its choosing made sign_token_issue
-- (SECURITY DEFINER, 063) insert a real token for any enabled service
-- without its secret; as pki_ra, a temporary ra_officer made the officer
-- guard (035) pass an officer's change of their own certificate, a
-- temporary revocation_seq gave the revocation guard its numbers, and a
-- temporary publish_certificate took a revocation's directory update.
--
-- Two fixes, each enough alone:
--  - TEMP on the database only for the roles that use temporary tables:
--    crlgen's staging table (lib/crlgen.c) in crld (pki_crl) and pkictl
--    (pki_admin);
--  - every function that runs with its owner's rights, and every PL/pgSQL
--    function (the triggers that check what the application roles do, and
--    the functions they call), searches pg_catalog, public and pg_temp
--    last. test_schema refuses a later function without it.
DO $$
BEGIN
	EXECUTE format('REVOKE TEMP ON DATABASE %I FROM PUBLIC', current_database());
	EXECUTE format('GRANT TEMP ON DATABASE %I TO pki_crl, pki_admin', current_database());
END $$;

DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
	    JOIN pg_namespace n ON n.oid = p.pronamespace
	    JOIN pg_language l ON l.oid = p.prolang
	    WHERE n.nspname = 'public' AND (p.prosecdef OR l.lanname = 'plpgsql')
	LOOP
		EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, public, pg_temp', f);
	END LOOP;
END $$;

-- The CA's own certificates (an issuing CA, OCSP responders, TSAs: the
-- rows of certificate that ca_certificate records too) change status only
-- through pkictl (pki_admin). rad may revoke and hold subscribers'
-- certificates; as pki_ra, revoking the issuing CA's row turned the root
-- responder's answer for it to revoked, for good, with no audit event.
-- cad never updates a certificate: its UPDATE is gone.
CREATE FUNCTION certificate_ca_status_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM ca_certificate r
	    WHERE r.issuer_id = OLD.issuer_id AND r.serial = OLD.serial) AND
	    NOT pg_has_role(current_user, 'pki_admin', 'MEMBER') THEN
		RAISE EXCEPTION 'certificate % is a CA certificate: its status changes only through pkictl',
		    OLD.serial USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER certificate_ca_status_guard BEFORE UPDATE ON certificate
	FOR EACH ROW WHEN (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR
	    NEW.revocation_reason IS DISTINCT FROM OLD.revocation_reason OR
	    NEW.invalidity_date IS DISTINCT FROM OLD.invalidity_date OR
	    NEW.revoked_by IS DISTINCT FROM OLD.revoked_by)
	EXECUTE FUNCTION certificate_ca_status_guard();
REVOKE UPDATE (revoked_at, revocation_reason, invalidity_date, revoked_by)
	ON certificate FROM pki_ca;

-- The auditor reads subscriber_key but not the wrapped private keys: a
-- wrapped key is safe only as long as the wrapping key is, and the
-- auditors are the widest audience of people reading the database.
REVOKE SELECT ON subscriber_key FROM pki_auditor;
GRANT SELECT (id, order_id, certificate_id, key_type, spki, spki_sha256,
	wrapping_key_label, created_at) ON subscriber_key TO pki_auditor;
