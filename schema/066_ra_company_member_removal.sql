-- 066_ra_company_member_removal: a company's sysadmin removes an employee
-- (POST /v1/corporate/{id}/employees/{account_id}/remove, ra/corporate.c;
-- ra/README.md "Corporate"). Until now membership was for ever: an
-- employee whose certificate the company had revoked (affiliationChanged)
-- could apply again in the company's name the next minute and, after two
-- approvals, hold a new certificate with O = the company (a review
-- finding).
--
-- The membership row is not deleted (pki_ra never deletes; the audit and
-- the company's history point at it): removed_at and removed_by end it.
-- From then on the account is no employee (rad reads only the rows without
-- removed_at): no KYC in the company's name (403), no rekey of its
-- employee certificate, no view of the company. Re-inviting the address
-- makes a new row, so at most one current row per (company, account)
-- instead of one row for ever.
--
-- ra_officer_in_company (028, 044) still counts a removed membership: an
-- officer who was the company's employee keeps off its files after leaving
-- it, as a conflict of interest does not end with the contract.
ALTER TABLE ra_company_member
	ADD COLUMN removed_at timestamptz,
	ADD COLUMN removed_by bigint REFERENCES ra_account (id),
	ADD CONSTRAINT ra_company_member_removal CHECK (
	    (removed_at IS NULL) = (removed_by IS NULL) AND
	    (removed_at IS NULL OR removed_at >= created_at));
ALTER TABLE ra_company_member
	DROP CONSTRAINT ra_company_member_company_id_account_id_key;
CREATE UNIQUE INDEX ra_company_member_current ON ra_company_member
	(company_id, account_id) WHERE removed_at IS NULL;
CREATE INDEX ra_company_member_account ON ra_company_member (account_id);

-- A membership changes once, by its removal, and nothing else of it.
CREATE FUNCTION ra_company_member_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	IF OLD.removed_at IS NOT NULL OR NEW.removed_at IS NULL OR
	    (to_jsonb(NEW) - 'removed_at' - 'removed_by') IS DISTINCT FROM
	    (to_jsonb(OLD) - 'removed_at' - 'removed_by') THEN
		RAISE EXCEPTION 'ra_company_member %: only its removal changes it, once', OLD.id;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER ra_company_member_guard BEFORE UPDATE ON ra_company_member
	FOR EACH ROW EXECUTE FUNCTION ra_company_member_guard();

GRANT UPDATE (removed_at, removed_by) ON ra_company_member TO pki_ra;
