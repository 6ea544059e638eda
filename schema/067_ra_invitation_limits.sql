-- 067_ra_invitation_limits: a sysadmin's employee invitations are capped
-- and a new one replaces the live one (ra/corporate.c, ra/README.md
-- "Corporate"). Any sysadmin could mail any address without end: forty
-- POST /v1/corporate/{id}/employees of one address in 0.4 s mailed forty
-- live enrolment tokens to it (a review finding).
--
-- rad now counts, under advisory locks on the company and on the address,
-- the invitations of the company in the last hour
-- (corporate.invite_company_per_hour) and those to the address, from any
-- company, in the last day (corporate.invite_address_per_day): beyond,
-- 429 with Retry-After and nothing stored or mailed. A new invitation of
-- the company to an address voids the company's live invitations to it:
-- voided_at set, their tokens enrol nobody (404, as an unknown token), so
-- at most one token per company and address works at a time.
ALTER TABLE ra_company_invitation
	ADD COLUMN voided_at timestamptz,
	ADD CONSTRAINT ra_company_invitation_voided CHECK (
	    voided_at IS NULL OR accepted_at IS NULL);
-- The address's invitations of the last day, whatever the company.
CREATE INDEX ra_company_invitation_email ON ra_company_invitation (email, created_at);

GRANT UPDATE (voided_at) ON ra_company_invitation TO pki_ra;
GRANT SELECT (voided_at) ON ra_company_invitation TO pki_auditor;
