-- 007_issuance: issuance orders (RA → CA issuance worker, DESIGN.md "Data
-- flow") and the subscribers' keys, generated in the HSM and stored only
-- wrapped (hsm/p11wrap.h, format v1).
--
-- The claim of an order is the row lock of the worker's one issuance
-- transaction (SELECT … FOR UPDATE SKIP LOCKED): certificate, wrapped key,
-- order 'done' and audit events commit together or not at all, so there is
-- no 'claimed' status that a crashed worker could leave behind (ca/README.md
-- "cad"). claimed_at records when the successful claim began.
CREATE TABLE issuance_order (
	id		bigserial PRIMARY KEY,
	kind		text NOT NULL CHECK (kind IN ('personal', 'corporate', 'eseal')),
	profile		text NOT NULL CHECK (profile ~ '^[a-z][a-z0-9-]{0,31}$'),
	-- Verified subject data only, attribute → value, e.g.
	-- {"C": "ID", "CN": "Budi Santoso", "serialNumber": "NIK:3174…"}.
	subject		jsonb NOT NULL CHECK (jsonb_typeof(subject) = 'object'),
	key_type	text NOT NULL CHECK (key_type IN ('ec-p256', 'ec-p384',
			    'rsa2048', 'rsa3072', 'rsa4096')),
	status		text NOT NULL DEFAULT 'pending'
			    CHECK (status IN ('pending', 'done', 'failed')),
	attempts	integer NOT NULL DEFAULT 0,
	last_error	text,
	certificate_id	bigint UNIQUE REFERENCES certificate (id),
	requested_by	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	claimed_at	timestamptz,
	claimed_by	text,
	done_at		timestamptz,
	CHECK ((status = 'done') = (certificate_id IS NOT NULL)),
	CHECK ((status = 'pending') = (done_at IS NULL))
);
CREATE INDEX issuance_order_pending ON issuance_order (id) WHERE status = 'pending';

-- A finished order is final: one certificate per order, whatever a role's
-- grants would allow.
CREATE FUNCTION issuance_order_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.status <> 'pending' THEN
		RAISE EXCEPTION 'issuance order % is %: final', OLD.id, OLD.status;
	END IF;
	IF NEW.kind IS DISTINCT FROM OLD.kind OR NEW.profile IS DISTINCT FROM OLD.profile OR
	    NEW.subject IS DISTINCT FROM OLD.subject OR NEW.key_type IS DISTINCT FROM OLD.key_type OR
	    NEW.requested_by IS DISTINCT FROM OLD.requested_by THEN
		RAISE EXCEPTION 'issuance order %: what was ordered is immutable', OLD.id;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER issuance_order_guard BEFORE UPDATE ON issuance_order
	FOR EACH ROW EXECUTE FUNCTION issuance_order_guard();

-- Workers LISTEN on issuance_order (payload: the order id); the RA and its
-- notifier LISTEN on issuance_done (payload "<order id>:<status>").
CREATE FUNCTION issuance_order_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		PERFORM pg_notify('issuance_order', NEW.id::text);
	ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
		PERFORM pg_notify('issuance_done', NEW.id || ':' || NEW.status);
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER issuance_order_notify AFTER INSERT OR UPDATE ON issuance_order
	FOR EACH ROW EXECUTE FUNCTION issuance_order_notify();

CREATE TABLE subscriber_key (
	id			bigserial PRIMARY KEY,
	order_id		bigint NOT NULL UNIQUE REFERENCES issuance_order (id),
	certificate_id		bigint NOT NULL UNIQUE REFERENCES certificate (id),
	key_type		text NOT NULL,
	-- p11wrap format v1: version byte 1, key type byte, RFC 5649 output.
	wrapped			bytea NOT NULL CHECK (get_byte(wrapped, 0) = 1 AND
				    length(wrapped) >= 18 AND length(wrapped) <= 8192),
	spki			bytea NOT NULL,	-- DER SubjectPublicKeyInfo
	spki_sha256		text NOT NULL,
	wrapping_key_label	text NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION subscriber_key_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'subscriber keys are never changed or deleted: % refused', TG_OP
	    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER subscriber_key_immutable BEFORE UPDATE OR DELETE ON subscriber_key
	FOR EACH ROW EXECUTE FUNCTION subscriber_key_immutable();

GRANT SELECT ON issuance_order TO pki_admin, pki_ca, pki_ra, pki_auditor;
GRANT INSERT (kind, profile, subject, key_type, requested_by) ON issuance_order
	TO pki_admin, pki_ra;
GRANT USAGE ON SEQUENCE issuance_order_id_seq TO pki_admin, pki_ra;
GRANT UPDATE (status, attempts, last_error, certificate_id, claimed_at, claimed_by,
	done_at) ON issuance_order TO pki_ca;
GRANT SELECT, INSERT ON subscriber_key TO pki_ca;
GRANT USAGE ON SEQUENCE subscriber_key_id_seq TO pki_ca;
GRANT SELECT ON subscriber_key TO pki_sign, pki_auditor;
