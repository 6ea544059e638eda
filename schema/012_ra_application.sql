-- 012_ra_application: the subscriber's applications, the hub of a
-- certificate's life-cycle at the RA (ra/README.md "Applications"), and the
-- personal KYC data of one application.
--
-- State machine (enforced by ra_application_guard below):
--
--	submitted ──officer──▶ approved ──subscriber──▶ agreed ──cad──▶ issued
--	    │                     │                        │
--	    ├──officer──▶ rejected  └──────────┬─────────────┘
--	    └──────────────────────────────────┴──▶ cancelled
--
-- submitted, approved and agreed are open: an account has at most one open
-- application (ra_application_open). rejected, issued and cancelled are final.
CREATE TABLE ra_application (
	id			bigserial PRIMARY KEY,
	account_id		bigint NOT NULL REFERENCES ra_account (id),
	kind			text NOT NULL
				    CHECK (kind IN ('personal', 'corporate', 'rekey', 'rekyc')),
	status			text NOT NULL DEFAULT 'submitted'
				    CHECK (status IN ('submitted', 'approved', 'rejected',
				    'agreed', 'issued', 'cancelled')),
	-- The certificate profile asked for (policy/, issuance_order.profile).
	profile			text NOT NULL CHECK (profile ~ '^[a-z][a-z0-9-]{0,31}$'),
	-- The subject the certificate would carry, built from the KYC data,
	-- attribute → value as in issuance_order.subject; certified only once
	-- an officer approves.
	subject			jsonb NOT NULL CHECK (jsonb_typeof(subject) = 'object'),
	created_at		timestamptz NOT NULL DEFAULT now(),
	updated_at		timestamptz NOT NULL DEFAULT now(),
	decided_at		timestamptz,
	decision_reason		text CHECK (length(decision_reason) <= 1000),
	agreed_at		timestamptz,
	order_id		bigint UNIQUE REFERENCES issuance_order (id),
	previous_certificate_id	bigint REFERENCES certificate (id),
	CHECK ((kind = 'rekey') = (previous_certificate_id IS NOT NULL)),
	CHECK (status IN ('submitted', 'cancelled') OR decided_at IS NOT NULL),
	CHECK (status <> 'rejected' OR decision_reason IS NOT NULL),
	CHECK (status NOT IN ('agreed', 'issued') OR agreed_at IS NOT NULL),
	CHECK (status <> 'issued' OR order_id IS NOT NULL)
);
CREATE UNIQUE INDEX ra_application_open ON ra_application (account_id)
	WHERE status IN ('submitted', 'approved', 'agreed');
CREATE INDEX ra_application_account ON ra_application (account_id, id);
CREATE INDEX ra_application_submitted ON ra_application (id) WHERE status = 'submitted';

-- Only the transitions above; what was applied for never changes.
CREATE FUNCTION ra_application_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.account_id IS DISTINCT FROM OLD.account_id OR NEW.kind IS DISTINCT FROM OLD.kind OR
	    NEW.profile IS DISTINCT FROM OLD.profile OR NEW.subject IS DISTINCT FROM OLD.subject OR
	    NEW.created_at IS DISTINCT FROM OLD.created_at OR
	    NEW.previous_certificate_id IS DISTINCT FROM OLD.previous_certificate_id THEN
		RAISE EXCEPTION 'application %: what was applied for is immutable', OLD.id;
	END IF;
	IF NEW.status IS DISTINCT FROM OLD.status AND NOT (OLD.status, NEW.status) IN (
	    ('submitted', 'approved'), ('submitted', 'rejected'), ('submitted', 'cancelled'),
	    ('approved', 'agreed'), ('approved', 'cancelled'),
	    ('agreed', 'issued'), ('agreed', 'cancelled')) THEN
		RAISE EXCEPTION 'application %: % → % is not a transition', OLD.id, OLD.status, NEW.status;
	END IF;
	IF OLD.decided_at IS NOT NULL AND (NEW.decided_at IS DISTINCT FROM OLD.decided_at OR
	    NEW.decision_reason IS DISTINCT FROM OLD.decision_reason) THEN
		RAISE EXCEPTION 'application %: the decision is final', OLD.id;
	END IF;
	NEW.updated_at := now();
	RETURN NEW;
END $$;
CREATE TRIGGER ra_application_guard BEFORE UPDATE ON ra_application
	FOR EACH ROW EXECUTE FUNCTION ra_application_guard();

-- The personal KYC data of an application, as submitted, and what the
-- identity-verification adapter returned; immutable (no UPDATE grant).
CREATE TABLE ra_kyc (
	application_id		bigint PRIMARY KEY REFERENCES ra_application (id),
	nik			text NOT NULL CHECK (nik ~ '^[0-9]{16}$'),
	full_name		text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 100),
	birth_place		text NOT NULL CHECK (length(birth_place) BETWEEN 1 AND 64),
	birth_date		date NOT NULL,
	sex			text NOT NULL CHECK (sex IN ('M', 'F')),
	address			text NOT NULL CHECK (length(address) BETWEEN 1 AND 256),
	ktp_photo		bytea NOT NULL,
	ktp_mime		text NOT NULL CHECK (ktp_mime IN ('image/jpeg', 'image/png')),
	selfie			bytea NOT NULL,
	selfie_mime		text NOT NULL CHECK (selfie_mime IN ('image/jpeg', 'image/png')),
	-- The versions of the documents the subscriber accepted, and when.
	consent_privacy_policy	text NOT NULL,
	consent_subscriber_agreement text NOT NULL,
	consent_guarantee_policy text NOT NULL,
	consented_at		timestamptz NOT NULL,
	-- The identity-verification adapter ("simulator": the LOCAL SIMULATOR).
	idv_adapter		text NOT NULL,
	idv_ocr			jsonb NOT NULL CHECK (jsonb_typeof(idv_ocr) = 'object'),
	idv_liveness		integer NOT NULL CHECK (idv_liveness BETWEEN 0 AND 100),
	idv_match		integer NOT NULL CHECK (idv_match BETWEEN 0 AND 100),
	idv_reference		text NOT NULL,
	-- The policy thresholds in force at submission, for the officer.
	min_liveness		integer NOT NULL CHECK (min_liveness BETWEEN 0 AND 100),
	min_match		integer NOT NULL CHECK (min_match BETWEEN 0 AND 100),
	created_at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ra_kyc_nik ON ra_kyc (nik);

-- rad (pki_ra) reads and inserts; it updates only the life-cycle columns;
-- it never deletes. The auditor reads everything but the two images.
GRANT SELECT, INSERT ON ra_application, ra_kyc TO pki_ra;
GRANT UPDATE (status, decided_at, decision_reason, agreed_at, order_id, updated_at)
    ON ra_application TO pki_ra;
GRANT USAGE ON SEQUENCE ra_application_id_seq TO pki_ra;
GRANT SELECT ON ra_application TO pki_auditor;
GRANT SELECT (application_id, nik, full_name, birth_place, birth_date, sex, address,
    ktp_mime, selfie_mime, consent_privacy_policy, consent_subscriber_agreement,
    consent_guarantee_policy, consented_at, idv_adapter, idv_ocr, idv_liveness, idv_match,
    idv_reference, min_liveness, min_match, created_at) ON ra_kyc TO pki_auditor;
