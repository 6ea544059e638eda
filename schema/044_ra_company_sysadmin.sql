-- 044_ra_company_sysadmin: a company's sysadmin is the account that claimed
-- the role with the token mailed to sysadmin_email when the company was
-- submitted (POST /v1/corporate/sysadmin/claim, ra/corporate.c), no longer
-- any verified account with that address. Whoever registered the address
-- before its owner did (with a password of their own) and got the owner to
-- click its verification link became the sysadmin, with the employees'
-- data and the right to ask for their certificates' revocation; the claim
-- needs both the mailbox (the token) and the account's session.
CREATE TABLE ra_company_sysadmin_claim (
	company_id	bigint PRIMARY KEY REFERENCES ra_company (id),
	token_sha256	bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE ra_company_sysadmin_role (
	company_id	bigint PRIMARY KEY REFERENCES ra_company (id),
	account_id	bigint NOT NULL REFERENCES ra_account (id),
	claimed_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ra_company_sysadmin_role_account ON ra_company_sysadmin_role (account_id);

-- Companies submitted before: the verified account with the address, as
-- the rule was then (their mail carried no token).
INSERT INTO ra_company_sysadmin_role (company_id, account_id)
	SELECT c.id, x.id FROM ra_company c
	JOIN ra_account x ON x.email = c.sysadmin_email AND x.email_verified;

-- An officer's linked account belongs to a company as its sysadmin too
-- when it has the sysadmin's address but has not claimed the role (yet).
CREATE OR REPLACE FUNCTION ra_officer_in_company(officer bigint, company bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT EXISTS (
	    SELECT 1 FROM ra_officer o
	    JOIN ra_account acc ON acc.id = o.account_id
	    JOIN ra_company c ON c.id = company
	    WHERE o.id = officer AND (c.representative_id = acc.id OR
	        c.sysadmin_email = acc.email OR EXISTS (
	        SELECT 1 FROM ra_company_sysadmin_role s
	        WHERE s.company_id = c.id AND s.account_id = acc.id) OR EXISTS (
	        SELECT 1 FROM ra_company_member m
	        WHERE m.company_id = c.id AND m.account_id = acc.id)))
$$;

-- Insert only: a claim is made once and a sysadmin never changes.
GRANT SELECT, INSERT ON ra_company_sysadmin_claim, ra_company_sysadmin_role TO pki_ra;
GRANT SELECT ON ra_company_sysadmin_role TO pki_auditor;
GRANT SELECT (company_id, created_at) ON ra_company_sysadmin_claim TO pki_auditor;
