-- signd's signature activation module accepts the subscriber's TOTP code
-- (hsm/README.md "signd"): it reads the sealed secret and the last accepted
-- time step, and records the new step (replay protection), as rad does.
GRANT SELECT (totp_secret_enc, totp_last_step) ON ra_account TO pki_sam;
GRANT UPDATE (totp_last_step) ON ra_account TO pki_sam;
-- A SAD records which factor activated it; TOTP is now one of them.
ALTER TABLE sign_sad DROP CONSTRAINT sign_sad_factor_check;
ALTER TABLE sign_sad ADD CONSTRAINT sign_sad_factor_check
	CHECK (factor IN ('pin', 'otp', 'totp'));
