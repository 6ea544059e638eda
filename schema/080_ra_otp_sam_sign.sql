-- 080_ra_otp_sam_sign: signd's SAM (pki_sam) sees and updates only the
-- one-time codes of purpose sign (what the schema review reported).
--
-- 014 gave pki_sam SELECT on every row of ra_otp and UPDATE (attempts,
-- consumed_at) on every row, while the SAM holds the OTP HMAC key
-- (sign.otp_key_file, the same key as rad's ra.otp_key_file, 010): a
-- compromised SAM could read the code_hmac of any live code of any
-- purpose (agreement, revoke, change_password, set_pin, totp_enrol,
-- password_reset, ...) and find its 6 digits offline in a million HMACs,
-- then present it to rad; or spend any code's attempts. lib/factor.c, for the SAM
-- (hsm/signd/samproc.c, purpose "sign"), reads one row by id and account,
-- and updates its attempts or consumed_at; a code of another purpose it
-- refuses without counting. Now it finds no such row ("no such OTP for
-- this account", refused alike).
--
-- Row-level security on ra_otp: a permissive policy for every role leaves
-- each role exactly what its grants give (pki_ra, rad: SELECT, INSERT,
-- UPDATE (attempts, consumed_at), 010); a restrictive one narrows pki_sam
-- to purpose = 'sign' for every command. The table's owner, the role that
-- migrates (deploy/migrate.sh), bypasses row-level security (not FORCEd),
-- and so do the SECURITY DEFINER functions it owns (ra_purge_ended, 053,
-- 072) and the superuser.
ALTER TABLE ra_otp ENABLE ROW LEVEL SECURITY;
CREATE POLICY ra_otp_grants ON ra_otp AS PERMISSIVE FOR ALL TO PUBLIC
	USING (true) WITH CHECK (true);
CREATE POLICY ra_otp_sam_sign ON ra_otp AS RESTRICTIVE FOR ALL TO pki_sam
	USING (purpose = 'sign') WITH CHECK (purpose = 'sign');
