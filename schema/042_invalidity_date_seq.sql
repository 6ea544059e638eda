-- A change of a revoked certificate's invalidity date is a change of its
-- revocation entry: it takes a new revocation_seq (and revocation_xid), so
-- the next delta CRL carries the entry and ocspd's incremental poll and
-- LISTEN (schema/004's notify trigger fires on a new revocation_seq) see it
-- at once. Before, only revoked_at and revocation_reason did, and an
-- invalidity date set or corrected later waited for the next base CRL and
-- ocspd's hourly full pass.
CREATE OR REPLACE FUNCTION certificate_revocation_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.der IS DISTINCT FROM NEW.der OR OLD.serial IS DISTINCT FROM NEW.serial OR
	    OLD.issuer_id IS DISTINCT FROM NEW.issuer_id THEN
		RAISE EXCEPTION 'certificate % is immutable', OLD.serial;
	END IF;
	IF OLD.revoked_at IS NOT NULL AND OLD.revocation_reason <> 6 AND
	    (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR
	     NEW.revocation_reason IS DISTINCT FROM OLD.revocation_reason) THEN
		RAISE EXCEPTION 'certificate % is revoked (reason %): final', OLD.serial,
		    OLD.revocation_reason;
	END IF;
	IF NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR
	    NEW.revocation_reason IS DISTINCT FROM OLD.revocation_reason OR
	    NEW.invalidity_date IS DISTINCT FROM OLD.invalidity_date THEN
		NEW.revocation_seq := nextval('revocation_seq');
		NEW.revocation_xid := pg_current_xact_id();
	END IF;
	RETURN NEW;
END $$;
