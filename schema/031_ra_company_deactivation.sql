-- 031_ra_company_deactivation: an officer deactivates an approved company
-- (POST /v1/officer/companies/{id}/deactivate, ra/companies.c): its
-- contract ended, it closed, or its registration proved false. From then
-- on it is no longer active: its sysadmin enrols nobody and requests no
-- revocation, its representative applies for no e-seal, its employees
-- apply for nothing in its name, and no officer approves, nor subscriber
-- agrees to, an application made for it (ra/README.md "Corporate"). The
-- deactivation cancels the company's open applications and may revoke its
-- certificates (cessationOfOperation); it is final.
ALTER TABLE ra_company
	ADD COLUMN deactivated_at timestamptz,
	ADD COLUMN deactivated_by bigint REFERENCES ra_officer (id),
	ADD COLUMN deactivation_reason text
	    CHECK (length(deactivation_reason) BETWEEN 1 AND 1000),
	ADD CONSTRAINT ra_company_deactivation CHECK (
	    (deactivated_at IS NULL) = (deactivated_by IS NULL) AND
	    (deactivated_at IS NULL) = (deactivation_reason IS NULL));

-- A company's row changes once, by its deactivation, and not by an
-- officer whose linked account belongs to it (028).
CREATE FUNCTION ra_company_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF (to_jsonb(NEW) - 'deactivated_at' - 'deactivated_by' - 'deactivation_reason') IS DISTINCT FROM
	    (to_jsonb(OLD) - 'deactivated_at' - 'deactivated_by' - 'deactivation_reason') OR
	    OLD.deactivated_at IS NOT NULL THEN
		RAISE EXCEPTION 'ra_company %: only its deactivation changes it, once', OLD.id;
	END IF;
	IF ra_officer_in_company(NEW.deactivated_by, NEW.id) THEN
		RAISE EXCEPTION 'officer % may not deactivate company %', NEW.deactivated_by,
		    NEW.id USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER ra_company_guard BEFORE UPDATE ON ra_company
	FOR EACH ROW EXECUTE FUNCTION ra_company_guard();

-- Whether a company is active: the officers approved it and nobody
-- deactivated it since; NULL for no company.
CREATE FUNCTION ra_company_active(company bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT a.status = 'approved' AND c.deactivated_at IS NULL
	FROM ra_company c JOIN ra_application a ON a.id = c.application_id
	WHERE c.id = company
$$;

GRANT UPDATE (deactivated_at, deactivated_by, deactivation_reason) ON ra_company TO pki_ra;
