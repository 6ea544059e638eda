-- signd's SAM counts wrong factors apart from rad. With one counter, any
-- signing service could lock a subscriber out of the RA by sending wrong
-- PINs to credentials/authorize (it names the user), and keep them from
-- revoking their own certificate, changing their PIN or rekeying for as
-- long as it liked. Each side now locks only itself: five wrong factors at
-- the SAM lock signing, not the RA, and the other way round. The lock-out
-- policy (policy/ra.conf [factor_lockout]) is the same for both.
ALTER TABLE ra_account
	ADD COLUMN sign_factor_failures integer NOT NULL DEFAULT 0
	    CHECK (sign_factor_failures >= 0),
	ADD COLUMN sign_factor_locked_until timestamptz;

REVOKE SELECT (factor_failures, factor_locked_until) ON ra_account FROM pki_sam;
REVOKE UPDATE (factor_failures, factor_locked_until) ON ra_account FROM pki_sam;
GRANT SELECT (sign_factor_failures, sign_factor_locked_until) ON ra_account TO pki_sam;
GRANT UPDATE (sign_factor_failures, sign_factor_locked_until) ON ra_account TO pki_sam;
