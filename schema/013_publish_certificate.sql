-- Subscriber certificates in the directory (ca/README.md "Publication"):
-- every issued end-entity certificate gets an entry
-- cn=<serial>,ou=subscribers,<ldap.base> (applicationProcess + pkiUser,
-- RFC 4523) with userCertificate;binary and a description giving its
-- status; a revocation, hold or release updates that entry. The trigger
-- queues the certificate in the transaction that issued or revoked it,
-- whichever role and program did so (cad, pkictl, rad); the publisher reads
-- the certificate's state when it publishes, so a late retry never
-- publishes an older state over a newer one.
CREATE TABLE publish_certificate (
	id		bigserial PRIMARY KEY,
	certificate_id	bigint NOT NULL REFERENCES certificate (id),
	attempts	integer NOT NULL DEFAULT 0,
	last_error	text,
	created_at	timestamptz NOT NULL DEFAULT now(),
	next_attempt_at	timestamptz NOT NULL DEFAULT now(),
	done_at		timestamptz
);
CREATE INDEX publish_certificate_pending ON publish_certificate (next_attempt_at)
	WHERE done_at IS NULL;

-- Certificates of the CA's own services are published elsewhere (CA
-- entries) or not at all.
CREATE FUNCTION publish_certificate_enqueue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
	IF NEW.profile IN ('root', 'issuing-ca', 'ocsp-responder', 'tsa') THEN
		RETURN NEW;
	END IF;
	IF TG_OP = 'INSERT' OR NEW.revocation_seq IS DISTINCT FROM OLD.revocation_seq THEN
		INSERT INTO publish_certificate (certificate_id) VALUES (NEW.id);
	END IF;
	RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION publish_certificate_enqueue() FROM PUBLIC;
CREATE TRIGGER publish_certificate_enqueue AFTER INSERT OR UPDATE ON certificate
	FOR EACH ROW EXECUTE FUNCTION publish_certificate_enqueue();

GRANT SELECT, UPDATE (attempts, last_error, next_attempt_at, done_at)
	ON publish_certificate TO pki_admin, pki_crl;
GRANT SELECT ON publish_certificate TO pki_auditor;
