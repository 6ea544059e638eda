-- The subscriber's phone number is verified by an SMS OTP (ra/README.md)
-- before KYC may be submitted; like email_verified, the flag and its time
-- go together.
ALTER TABLE ra_account
	ADD COLUMN phone_verified boolean NOT NULL DEFAULT false,
	ADD COLUMN phone_verified_at timestamptz,
	ADD CONSTRAINT ra_account_phone_verified_at
	    CHECK (phone_verified = (phone_verified_at IS NOT NULL));
GRANT UPDATE (phone_verified, phone_verified_at) ON ra_account TO pki_ra;
