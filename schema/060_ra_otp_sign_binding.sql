-- 060_ra_otp_sign_binding: an OTP of purpose sign is bound to the
-- documents it authorizes. The subscriber's application asks rad for the
-- code with the hashes the signing service will send (POST /v1/otp); rad
-- stores SHA-256 of that set (lib/factor.h factor_sign_binding) here and in
-- the code's HMAC, and says the set's count and reference in the message.
-- signd's SAM accepts the code only with the same hashes: a signing service
-- or a compromised signd worker that relays the code cannot put its own
-- documents in the subscriber's authorization (hsm/README.md, SCAL2).
-- Codes of other purposes have none. A sign code issued before this
-- migration has none either (NOT VALID: its rows stay); the SAM refuses it.
ALTER TABLE ra_otp
	ADD COLUMN binding bytea CHECK (length(binding) = 32),
	ADD CONSTRAINT ra_otp_binding_sign CHECK (binding IS NULL OR purpose = 'sign');
ALTER TABLE ra_otp
	ADD CONSTRAINT ra_otp_sign_bound CHECK (purpose <> 'sign' OR binding IS NOT NULL) NOT VALID;
