-- 018_ra_corporate: corporate accounts (ra/README.md "Corporate"): the
-- company a representative registers, its application for the officers,
-- the employees its sysadmin enrols, and the revocations the sysadmin
-- requests of employees' certificates. rad (ra/corporate.c) makes every
-- change together with its audit_event.
--
-- A company's application is an ra_application of kind 'corporate' and
-- profile 'company' on the representative's account: it certifies no key
-- (no policy/profiles/company.cnf exists, and the trigger below keeps it
-- from ever being agreed to), it asks the officers to approve the company.
-- Its status is the company's: submitted (pending), approved (active),
-- rejected, cancelled. Such an application does not occupy the account's
-- one open slot (ra_application_open), so the representative keeps
-- applying for their own certificates; one company application may await a
-- decision per account at a time.
CREATE TABLE ra_company (
	id			bigserial PRIMARY KEY,
	application_id		bigint NOT NULL UNIQUE REFERENCES ra_application (id),
	representative_id	bigint NOT NULL REFERENCES ra_account (id),
	name			text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
	-- Nomor Induk Berusaha (OSS): 13 digits.
	nib			text NOT NULL CHECK (nib ~ '^[0-9]{13}$'),
	-- NPWP: 15 digits (PER-20/PJ/2013), or 16 (PMK 112/2022).
	npwp			text NOT NULL CHECK (npwp ~ '^[0-9]{15}([0-9])?$'),
	deed_number		text NOT NULL CHECK (length(deed_number) BETWEEN 1 AND 64),
	deed_date		date NOT NULL,
	-- The Ministry of Law's decree (SK Kemenkumham), AHU-….
	decree_number		text NOT NULL CHECK (decree_number ~ '^AHU-' AND
				    length(decree_number) <= 64),
	-- The sysadmin's address; the verified account with this email is
	-- the company's sysadmin (ra/README.md "Corporate").
	sysadmin_email		text NOT NULL CHECK (sysadmin_email = lower(sysadmin_email)
				    AND length(sysadmin_email) <= 254
				    AND sysadmin_email !~ '[@.](go|mil)\.id$'),
	created_at		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ra_company_sysadmin ON ra_company (sysadmin_email);
CREATE INDEX ra_company_representative ON ra_company (representative_id);

-- Company applications leave the open slot to the account's own
-- applications (see above): the index of 012 gains "profile <> 'company'".
DROP INDEX ra_application_open;
CREATE UNIQUE INDEX ra_application_open ON ra_application (account_id)
	WHERE status IN ('submitted', 'approved', 'agreed') AND profile <> 'company';
CREATE UNIQUE INDEX ra_application_company_pending ON ra_application (account_id)
	WHERE status = 'submitted' AND profile = 'company';

-- A company application is decided, never agreed to nor issued.
CREATE FUNCTION ra_company_application_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.profile = 'company' AND NEW.status IN ('agreed', 'issued') THEN
		RAISE EXCEPTION 'application %: a company application certifies no key', OLD.id;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER ra_company_application_guard BEFORE UPDATE ON ra_application
	FOR EACH ROW EXECUTE FUNCTION ra_company_application_guard();

-- Employees enrolled by the sysadmin (the representative and the sysadmin
-- are found through ra_company itself).
CREATE TABLE ra_company_member (
	id			bigserial PRIMARY KEY,
	company_id		bigint NOT NULL REFERENCES ra_company (id),
	account_id		bigint NOT NULL REFERENCES ra_account (id),
	role			text NOT NULL CHECK (role = 'employee'),
	invitation_id		bigint NOT NULL UNIQUE,
	created_at		timestamptz NOT NULL DEFAULT now(),
	UNIQUE (company_id, account_id)
);

-- Enrolment invitations: the token is mailed, only its SHA-256 is kept.
CREATE TABLE ra_company_invitation (
	id			bigserial PRIMARY KEY,
	company_id		bigint NOT NULL REFERENCES ra_company (id),
	email			text NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
	token_sha256		bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
	invited_by		bigint NOT NULL REFERENCES ra_account (id),
	expires_at		timestamptz NOT NULL,
	accepted_at		timestamptz,
	accepted_by		bigint REFERENCES ra_account (id),
	created_at		timestamptz NOT NULL DEFAULT now(),
	CHECK ((accepted_at IS NULL) = (accepted_by IS NULL))
);
CREATE INDEX ra_company_invitation_company ON ra_company_invitation (company_id);
ALTER TABLE ra_company_member ADD FOREIGN KEY (invitation_id)
	REFERENCES ra_company_invitation (id);

-- An employee's own application (kind 'corporate', profile 'corporate',
-- O = the company's name) and the company it was made for.
CREATE TABLE ra_company_application (
	application_id		bigint PRIMARY KEY REFERENCES ra_application (id),
	company_id		bigint NOT NULL REFERENCES ra_company (id)
);
CREATE INDEX ra_company_application_company ON ra_company_application (company_id);

-- The sysadmin's revocation requests; an officer carries them out
-- (POST /v1/officer/revocation-requests/{id}) or rejects them.
CREATE TABLE ra_revocation_request (
	id			bigserial PRIMARY KEY,
	company_id		bigint NOT NULL REFERENCES ra_company (id),
	certificate_id		bigint NOT NULL REFERENCES certificate (id),
	requested_by		bigint NOT NULL REFERENCES ra_account (id),
	-- RFC 5280 §5.3.1 CRLReason names a company may give.
	reason			text NOT NULL CHECK (reason IN ('unspecified',
				    'affiliationChanged', 'cessationOfOperation',
				    'privilegeWithdrawn')),
	comment			text NOT NULL CHECK (length(comment) <= 500),
	status			text NOT NULL DEFAULT 'pending'
				    CHECK (status IN ('pending', 'done', 'rejected')),
	decided_by		bigint REFERENCES ra_officer (id),
	decided_at		timestamptz,
	decision_reason		text CHECK (length(decision_reason) <= 1000),
	created_at		timestamptz NOT NULL DEFAULT now(),
	CHECK ((status = 'pending') = (decided_at IS NULL)),
	CHECK ((decided_at IS NULL) = (decided_by IS NULL))
);
CREATE UNIQUE INDEX ra_revocation_request_pending ON ra_revocation_request (certificate_id)
	WHERE status = 'pending';

-- A decision is final.
CREATE FUNCTION ra_revocation_request_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.status <> 'pending' THEN
		RAISE EXCEPTION 'revocation request % is %: final', OLD.id, OLD.status;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER ra_revocation_request_guard BEFORE UPDATE ON ra_revocation_request
	FOR EACH ROW EXECUTE FUNCTION ra_revocation_request_guard();

-- rad reads and inserts; it updates only what a life-cycle needs; it never
-- deletes. (pki_ra's UPDATE of certificate's revocation columns is 004's.)
GRANT SELECT, INSERT ON ra_company, ra_company_member, ra_company_invitation,
    ra_company_application, ra_revocation_request TO pki_ra;
GRANT UPDATE (accepted_at, accepted_by) ON ra_company_invitation TO pki_ra;
GRANT UPDATE (status, decided_by, decided_at, decision_reason)
    ON ra_revocation_request TO pki_ra;
GRANT USAGE ON SEQUENCE ra_company_id_seq, ra_company_member_id_seq,
    ra_company_invitation_id_seq, ra_revocation_request_id_seq TO pki_ra;
GRANT SELECT ON ra_company, ra_company_member, ra_company_application,
    ra_revocation_request TO pki_auditor;
GRANT SELECT (id, company_id, email, invited_by, expires_at, accepted_at, accepted_by,
    created_at) ON ra_company_invitation TO pki_auditor;
