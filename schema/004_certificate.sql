-- Every certificate an issuer of ours signed (except self-signed roots): the
-- status registry OCSP and CRLs answer from. The ceremony's certificates are
-- here too, so the root's responder and ARL cover the issuing CA.
CREATE SEQUENCE revocation_seq;

CREATE TABLE certificate (
	id			bigserial PRIMARY KEY,
	issuer_id		bigint NOT NULL REFERENCES ca_certificate (id),
	serial			text NOT NULL,	-- hex, upper case, no leading zeros (BN_bn2hex)
	subject			text NOT NULL,	-- RFC 2253
	profile			text NOT NULL,	-- policy/profiles/<profile>.cnf
	not_before		timestamptz NOT NULL,
	not_after		timestamptz NOT NULL,
	sha256			text NOT NULL,	-- hex fingerprint of der
	der			bytea NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT now(),
	-- Revocation (RFC 5280 §5.3.1 reason codes; 6 = certificateHold, which
	-- alone may be released: revoked_at back to NULL).
	revoked_at		timestamptz,
	revocation_reason	smallint CHECK (revocation_reason IN (0, 1, 2, 3, 4, 5, 6, 8, 9, 10)),
	invalidity_date		timestamptz,
	revoked_by		text,
	-- Bumped by every revocation, hold or release: delta CRLs carry the rows
	-- whose revocation_seq is above their base CRL's.
	revocation_seq		bigint,
	UNIQUE (issuer_id, serial),
	CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL))
);
CREATE INDEX certificate_revoked ON certificate (issuer_id, revocation_seq)
	WHERE revocation_seq IS NOT NULL;
CREATE INDEX certificate_not_after ON certificate (not_after);

-- Revocations are announced: OCSP responders and the CRL publisher LISTEN.
-- Payload: "<issuer_id>:<serial>".
CREATE FUNCTION certificate_revocation_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.revocation_seq IS DISTINCT FROM OLD.revocation_seq THEN
		PERFORM pg_notify('certificate_status', NEW.issuer_id || ':' || NEW.serial);
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER certificate_revocation_notify AFTER UPDATE ON certificate
	FOR EACH ROW EXECUTE FUNCTION certificate_revocation_notify();

-- A revocation is final except certificateHold; the database keeps to that
-- whatever a role's grants would allow.
CREATE FUNCTION certificate_revocation_guard() RETURNS trigger
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
	    NEW.revocation_reason IS DISTINCT FROM OLD.revocation_reason THEN
		NEW.revocation_seq := nextval('revocation_seq');
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER certificate_revocation_guard BEFORE UPDATE ON certificate
	FOR EACH ROW EXECUTE FUNCTION certificate_revocation_guard();
CREATE FUNCTION certificate_refuse_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'certificates are never deleted: % refused', TG_OP
	    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER certificate_no_delete BEFORE DELETE ON certificate
	FOR EACH STATEMENT EXECUTE FUNCTION certificate_refuse_delete();
CREATE TRIGGER certificate_no_truncate BEFORE TRUNCATE ON certificate
	FOR EACH STATEMENT EXECUTE FUNCTION certificate_refuse_delete();

GRANT SELECT, INSERT ON certificate TO pki_admin, pki_ca;
GRANT UPDATE (revoked_at, revocation_reason, invalidity_date, revoked_by)
	ON certificate TO pki_admin, pki_ca, pki_ra;
GRANT USAGE ON SEQUENCE certificate_id_seq TO pki_admin, pki_ca;
GRANT USAGE ON SEQUENCE revocation_seq TO pki_admin, pki_ca, pki_ra;
GRANT SELECT ON certificate TO pki_ra, pki_ocsp, pki_crl, pki_sign, pki_auditor;
