-- 057_ra_reset_factor_scope: the password reset counts its wrong factors
-- apart (lib/factor.c FACTOR_SCOPE_RESET), as signd's do (schema/026).
-- Whoever reads an account's mailbox gets reset tokens (3 an hour); wrong
-- PINs or TOTP codes sent with them were counted on the account's RA
-- counter, so that the mailbox alone kept the subscriber's factors locked:
-- no self-revocation, no PIN or email change, exactly when the mailbox is
-- in someone else's hands (a review finding). Five wrong factors through
-- the reset now lock the reset, with the same back-off
-- (policy/ra.conf [factor_lockout]); the subscriber's own factors stay
-- usable.
ALTER TABLE ra_account
	ADD COLUMN reset_factor_failures integer NOT NULL DEFAULT 0
	    CHECK (reset_factor_failures >= 0),
	ADD COLUMN reset_factor_locked_until timestamptz;

GRANT UPDATE (reset_factor_failures, reset_factor_locked_until) ON ra_account TO pki_ra;
