-- 015_ra_review: RA officers' decisions on applications (ra/README.md
-- "Review"). One row per officer and application: nobody decides twice.
-- An application of a four-eyes kind (policy/ra.conf review.four_eyes_kinds)
-- becomes approved at the second approval by a distinct officer; any
-- rejection rejects it at once (rad, ra/review.c). Decisions are final: no
-- UPDATE or DELETE for anyone.
CREATE TABLE ra_decision (
	id		bigserial PRIMARY KEY,
	application_id	bigint NOT NULL REFERENCES ra_application (id),
	officer_id	bigint NOT NULL REFERENCES ra_officer (id),
	decision	text NOT NULL CHECK (decision IN ('approve', 'reject')),
	reason		text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (application_id, officer_id)
);

-- The database refuses, whatever rad does, a decision by an officer on an
-- application of the officer's own subscriber account, or by an auditor.
CREATE FUNCTION ra_decision_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM ra_officer o JOIN ra_application a ON a.id = NEW.application_id
	    WHERE o.id = NEW.officer_id AND (o.account_id = a.account_id OR o.role = 'auditor')) THEN
		RAISE EXCEPTION 'officer % may not decide application %', NEW.officer_id,
		    NEW.application_id USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER ra_decision_guard BEFORE INSERT ON ra_decision
	FOR EACH ROW EXECUTE FUNCTION ra_decision_guard();
CREATE FUNCTION ra_decision_final() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'decisions are final: % refused', TG_OP
	    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER ra_decision_final BEFORE UPDATE OR DELETE ON ra_decision
	FOR EACH ROW EXECUTE FUNCTION ra_decision_final();

GRANT SELECT, INSERT ON ra_decision TO pki_ra;
GRANT USAGE ON SEQUENCE ra_decision_id_seq TO pki_ra;
GRANT SELECT ON ra_decision TO pki_auditor;
-- Officer revocations (POST /v1/officer/certificates/{id}/revoke): pki_ra
-- already holds UPDATE (revoked_at, revocation_reason, invalidity_date,
-- revoked_by) ON certificate and USAGE on revocation_seq (schema/004); the
-- same grant, repeated here so this slice states what it relies on.
GRANT UPDATE (revoked_at, revocation_reason, invalidity_date, revoked_by)
	ON certificate TO pki_ra;
