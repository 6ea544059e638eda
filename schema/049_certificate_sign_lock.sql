-- A revocation and a remote signature with the same certificate's key are
-- ordered. Before, signd's SAM read the certificate (not revoked), signed
-- and committed its audit event, while a revocation committed meanwhile had
-- been stamped with its own transaction's start (now()): the audit could
-- show a signature some milliseconds after the revocation time, and a SAM
-- reading just before a revocation's commit signed after it.
--
-- Now the SAM's signing transaction first takes certificate_sign_lock(id),
-- a shared transaction-scoped advisory lock on the certificate, before it
-- reads the certificate (hsm/signd/samproc.c). Every revocation or hold
-- (revoked_at becoming non-NULL, from any role) takes the same lock
-- exclusively in the BEFORE UPDATE trigger:
--   - a revocation in progress makes the SAM wait, and the SAM then reads
--     the certificate revoked (a new snapshot per statement) and refuses;
--   - a signature in progress makes the revocation wait until the SAM
--     commits; a revocation that had to wait is stamped with the time it
--     got the lock (clock_timestamp()), after every signature it waited for.
-- A revocation that did not wait keeps the time its statement gave.
-- Advisory locks need no privilege on certificate (pki_sam only reads it).
CREATE FUNCTION certificate_sign_lock_key(p_certificate bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT hashtextextended('certificate_sign:' || p_certificate, 0)
$$;

CREATE FUNCTION certificate_sign_lock(p_certificate bigint) RETURNS void
LANGUAGE sql AS $$
	SELECT pg_advisory_xact_lock_shared(certificate_sign_lock_key(p_certificate))
$$;
REVOKE ALL ON FUNCTION certificate_sign_lock(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION certificate_sign_lock(bigint) TO pki_sam;

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
	IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL AND
	    NOT pg_try_advisory_xact_lock(certificate_sign_lock_key(OLD.id)) THEN
		PERFORM pg_advisory_xact_lock(certificate_sign_lock_key(OLD.id));
		NEW.revoked_at := greatest(NEW.revoked_at, clock_timestamp());
	END IF;
	IF NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR
	    NEW.revocation_reason IS DISTINCT FROM OLD.revocation_reason OR
	    NEW.invalidity_date IS DISTINCT FROM OLD.invalidity_date THEN
		NEW.revocation_seq := nextval('revocation_seq');
		NEW.revocation_xid := pg_current_xact_id();
	END IF;
	RETURN NEW;
END $$;
