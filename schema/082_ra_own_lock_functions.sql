-- 082_ra_own_lock_functions: rad takes its own advisory locks and no other
-- (what 077 did for crld and the sealer, for pki_ra).
--
-- 073 left pki_ra the general pg_advisory_xact_lock(bigint) and
-- pg_try_advisory_xact_lock(bigint), for the revocation guard (049) and
-- rad's own locks. rad parses what the network sends; with them, a
-- compromised rad (or an SQL injection in it) could take any key: as
-- pki_ra,
--   BEGIN; SELECT pg_advisory_xact_lock(certificate_sign_lock_key(id))
--   FROM certificate;
-- left open (idle_in_transaction_session_timeout 60 s, 058, and the next
-- transaction takes them again) held up every revocation and hold, whose
-- guard waits for that lock: pkictl's waited, signd's SAM waited too, and
-- every other rad's failed at its lock_timeout. Now:
--
--  - The revocation guard runs as its owner (SECURITY DEFINER; the
--    superuser who migrates, deploy/migrate.sh, holds the general
--    functions). A trigger function cannot be called but as a trigger, so
--    the guard takes a certificate's sign lock only for a row the role is
--    revoking or holding (UPDATE of revoked_at, which needs the privilege
--    and the row lock anyway), not for any id a role names. A helper
--    function taking "the key of certificate N", granted to pki_ra, would
--    have given back what this takes away. The body is 042's and 049's,
--    unchanged (ALTER FUNCTION keeps it, the owner and the pinned
--    search_path, 070); everything in it was the invoker's to do already.
--  - rad's own locks go through functions of their own that compute the
--    key from what rad names, run as their owner, and are granted to
--    pki_ra alone:
--      ra_otp_phone_lock(phone)                  ra/factor.c, the SMS
--                                                budget of a number
--      ra_company_sysadmin_lock(email)           ra/corporate.c, a new
--                                                company's sysadmin address
--      ra_company_invite_lock(company, email)    ra/corporate.c, the
--                                                invitation caps (067)
--      ra_company_identifiers_lock(nib, npwp)    065 (rad and the insert
--                                                trigger on ra_company),
--                                                now SECURITY DEFINER too
--    The keys are those rad and 065 took before, from the same text
--    (hashtext of the same prefix and value): a rad started before this
--    migration and one started after take turns on the same phone,
--    address or company. (An older rad's direct calls of
--    pg_advisory_xact_lock are refused from now on, as an older crld's were
--    by 077: upgrade rad with this migration.)
--  - The general functions are revoked from pki_ra, every form.
--
-- What pki_ra can still lock: keys hashtext gives, which are 32-bit, for
-- any text it chooses. certificate_sign_lock_key is a 64-bit hash: the
-- key of a given certificate is in hashtext's range once in 2^32.
-- pki_admin keeps what 073 gave it: pkictl's key generation lock
-- (ca/pkictl.c) is a session-level pg_try_advisory_lock(bigint) of its own
-- key, which takes any key as well, and pkictl may revoke any certificate.
CREATE FUNCTION ra_otp_phone_lock(p_phone text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('ra_otp_phone:' || p_phone));
END $$;

CREATE FUNCTION ra_company_sysadmin_lock(p_email text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('ra_company_sysadmin:' || p_email));
END $$;

-- The company's, then the address's: one order in every invitation.
CREATE FUNCTION ra_company_invite_lock(p_company text, p_email text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('ra_company_invite:' || p_company));
	PERFORM pg_advisory_xact_lock(hashtext('ra_company_invite_email:' || p_email));
END $$;

ALTER FUNCTION ra_company_identifiers_lock(text, text) SECURITY DEFINER;
ALTER FUNCTION certificate_revocation_guard() SECURITY DEFINER;

REVOKE ALL ON FUNCTION ra_otp_phone_lock(text), ra_company_sysadmin_lock(text),
    ra_company_invite_lock(text, text), ra_company_identifiers_lock(text, text)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ra_otp_phone_lock(text), ra_company_sysadmin_lock(text),
    ra_company_invite_lock(text, text), ra_company_identifiers_lock(text, text)
    TO pki_ra;

DO $$
DECLARE
	f regprocedure;
	r record;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
	    WHERE p.pronamespace = 'pg_catalog'::regnamespace AND
	    p.proname ~ '^pg_(try_)?advisory_(xact_)?lock(_shared)?$'
	LOOP
		EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM pki_ra', f);
	END LOOP;
	-- The functions above run as their owner: it must hold what they call
	-- (the two altered ones were made by earlier migrations, maybe by
	-- another role).
	FOR r IN SELECT p.oid::regprocedure AS fn, p.proowner::regrole AS owner FROM pg_proc p
	    WHERE p.oid IN ('ra_otp_phone_lock(text)'::regprocedure,
	    'ra_company_sysadmin_lock(text)'::regprocedure,
	    'ra_company_invite_lock(text, text)'::regprocedure,
	    'ra_company_identifiers_lock(text, text)'::regprocedure,
	    'certificate_revocation_guard()'::regprocedure)
	LOOP
		IF NOT has_function_privilege(r.owner::oid, 'pg_catalog.pg_advisory_xact_lock(bigint)', 'EXECUTE') OR
		    NOT has_function_privilege(r.owner::oid, 'pg_catalog.pg_try_advisory_xact_lock(bigint)', 'EXECUTE') THEN
			RAISE EXCEPTION '082: %, owner of %, may not take advisory locks: run the migrations as the superuser',
			    r.owner, r.fn;
		END IF;
	END LOOP;
END $$;
