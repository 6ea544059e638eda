-- 061_ra_otp_sign_credential: an OTP of purpose sign is bound to the key
-- it authorizes, not only to the documents (schema/060). A subscriber may
-- hold several signing credentials (a personal certificate, an employee's,
-- the company's e-seal): a code asked for "sign 2 documents, ref X" with
-- one of them in mind must not let a signing service, or a compromised
-- signd worker, authorize another one with it (SCAL2: the activation data
-- links the signer, the key and the data). The subscriber's application
-- asks rad for the code with the credentialID the service will use (POST
-- /v1/otp credential_id): one of the account's own at signd
-- (sign_credential), which the code's message names. rad stores it here,
-- and in the binding (lib/factor.h factor_sign_binding,
-- "pki-sign-binding-v2|CRED|...") that the code's HMAC covers; signd's SAM
-- accepts the code only for the credential of the authorization it checks.
-- Codes of other purposes have none.
ALTER TABLE ra_otp
	ADD COLUMN credential_id bigint REFERENCES sign_credential (certificate_id),
	ADD CONSTRAINT ra_otp_credential_sign CHECK (credential_id IS NULL OR
	    purpose = 'sign');
-- Sign codes issued before this are bound to documents only (v1 bindings,
-- which the SAM no longer computes) and can no longer be used: they are
-- made dead now, as max_attempts wrong codes would and as schema/060 did
-- with unbound ones, so that every live sign code names its credential.
-- At most otp.ttl_seconds of codes; the subscriber asks again. Each one
-- still live (not expired) is audited (ra.otp.void), in this migration's
-- transaction; expired ones, which could authorize nothing, are only made
-- dead for the constraint below (an old table may hold thousands).
DO $void$
DECLARE
	v record;
BEGIN
	FOR v IN UPDATE ra_otp SET attempts = max_attempts
	    WHERE purpose = 'sign' AND consumed_at IS NULL AND
	    attempts < max_attempts
	    RETURNING id, account_id, expires_at > now() AS live
	LOOP
		CONTINUE WHEN NOT v.live;
		PERFORM audit_append('migration:061', 'ra.otp.void', 'ra_otp',
		    v.id::text, jsonb_build_object('account_id',
		    v.account_id::text, 'purpose', 'sign', 'reason',
		    'a sign code bound to no credential (schema/061)'));
	END LOOP;
END
$void$;
ALTER TABLE ra_otp
	ADD CONSTRAINT ra_otp_sign_credential CHECK (purpose <> 'sign' OR
	    credential_id IS NOT NULL OR consumed_at IS NOT NULL OR
	    attempts >= max_attempts);
