-- 060_ra_otp_sign_binding: an OTP of purpose sign is bound to the
-- documents it authorizes. The subscriber's application asks rad for the
-- code with the hashes the signing service will send (POST /v1/otp); rad
-- stores SHA-256 of that set (lib/factor.h factor_sign_binding) here and in
-- the code's HMAC, and says the set's count and reference in the message.
-- signd's SAM accepts the code only with the same hashes: a compromised
-- signd worker, or anything between the signing service and signd, cannot
-- put other documents in the subscriber's authorization (hsm/README.md,
-- SCAL2). Codes of other purposes have none.
ALTER TABLE ra_otp
	ADD COLUMN binding bytea CHECK (length(binding) = 32),
	ADD CONSTRAINT ra_otp_binding_sign CHECK (binding IS NULL OR purpose = 'sign');
-- Sign codes issued before this have no binding and can no longer be used
-- (the SAM refuses them): they are made dead now, as max_attempts wrong
-- codes would, so that every live sign code is bound, and an UPDATE of an
-- old row (voiding codes on an email or phone change) still passes the
-- check below. At most otp.ttl_seconds of codes; the subscriber asks again.
UPDATE ra_otp SET attempts = max_attempts
WHERE purpose = 'sign' AND consumed_at IS NULL AND attempts < max_attempts;
ALTER TABLE ra_otp
	ADD CONSTRAINT ra_otp_sign_bound CHECK (purpose <> 'sign' OR
	    binding IS NOT NULL OR consumed_at IS NOT NULL OR
	    attempts >= max_attempts);
