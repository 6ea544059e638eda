-- 062_ra_email_pending: POST /v1/email no longer moves an account to the
-- new address at once (ra/README.md "Account changes"). It moved it there
-- unverified, and since verified_once is never unset (schema/045) such an
-- account was never stale: any verified account could take a victim's
-- address and hold it for ever (POST /v1/register 409, no employee
-- invitation, no company sysadmin_email), the squatting 045 and 048 had
-- closed for registrations (a review finding).
--
-- Now the account keeps its address (and log-in by it, the password reset,
-- email codes) and the new one waits in the link mailed to it: the
-- verification row carries it in new_email (NULL: the link verifies the
-- account's own address, as before). Only when that link is opened does
-- the address become the account's email, verified, under the account's
-- row lock and if no other account holds it by then; otherwise the link is
-- used up and nothing else changes. A pending address is no account's
-- email, so it blocks nobody: it is not UNIQUE here, and two accounts may
-- wait for the same one (the first to open its link gets it). A newer
-- request voids the older link, as a resend does.
--
-- Accounts moved before this migration keep the unverified address they
-- were moved to (their link, if still valid, verifies it as before).
ALTER TABLE ra_email_verification
	ADD COLUMN new_email text
	    CHECK (new_email = lower(new_email) AND length(new_email) <= 254);

-- pki_ra inserts it with the link (table-level INSERT, schema/008) and sets
-- ra_account.email (schema/017), email_verified and email_verified_at
-- (schema/008) when the link is opened: no new grant.
