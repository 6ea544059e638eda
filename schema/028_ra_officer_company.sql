-- 028_ra_officer_company: an officer whose linked subscriber account
-- (ra_officer.account_id) belongs to a company, as its representative, its
-- sysadmin or an enrolled employee, takes no officer action on that
-- company's applications (the company's own, its employees', its e-seals)
-- nor on its revocation requests, as no officer decides their own
-- account's application (015): a conflict of interest four-eyes alone does
-- not catch, since the second officer sees only a first approval. rad
-- refuses first with a clear 403 (ra/review.c, ra/cancel.c,
-- ra/corporate.c); these triggers refuse whatever rad would do.

-- The company an application is made for, or NULL: the company's own
-- application (profile company), or an employee's or e-seal application
-- (ra_company_application).
CREATE FUNCTION ra_application_company(app bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT id FROM ra_company WHERE application_id = app
	UNION ALL
	SELECT company_id FROM ra_company_application WHERE application_id = app
	LIMIT 1
$$;

-- Whether an officer's linked account belongs to a company. The sysadmin
-- is the account with the company's sysadmin_email (018).
CREATE FUNCTION ra_officer_in_company(officer bigint, company bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (
	    SELECT 1 FROM ra_officer o
	    JOIN ra_account acc ON acc.id = o.account_id
	    JOIN ra_company c ON c.id = company
	    WHERE o.id = officer AND (c.representative_id = acc.id OR
	        c.sysadmin_email = acc.email OR EXISTS (
	        SELECT 1 FROM ra_company_member m
	        WHERE m.company_id = c.id AND m.account_id = acc.id)))
$$;

CREATE OR REPLACE FUNCTION ra_decision_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM ra_officer o JOIN ra_application a ON a.id = NEW.application_id
	    WHERE o.id = NEW.officer_id AND (o.account_id = a.account_id OR o.role = 'auditor'))
	    OR ra_officer_in_company(NEW.officer_id, ra_application_company(NEW.application_id)) THEN
		RAISE EXCEPTION 'officer % may not decide application %', NEW.officer_id,
		    NEW.application_id USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN NEW;
END $$;

CREATE FUNCTION ra_revocation_request_officer_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF ra_officer_in_company(NEW.decided_by, NEW.company_id) THEN
		RAISE EXCEPTION 'officer % may not decide revocation request %',
		    NEW.decided_by, NEW.id USING ERRCODE = 'insufficient_privilege';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER ra_revocation_request_officer_guard BEFORE UPDATE ON ra_revocation_request
	FOR EACH ROW WHEN (NEW.decided_by IS NOT NULL)
	EXECUTE FUNCTION ra_revocation_request_officer_guard();
