-- 039_ra_otp_phone: an SMS code records the number it went to, and
-- otp.per_phone_hour counts by that number (ra/factor.c). Counting by the
-- accounts' current numbers (038) let an account take its codes' history
-- along when it moved to another number, and the old number's count fell.
ALTER TABLE ra_otp ADD COLUMN phone text;
CREATE INDEX ra_otp_sms_phone ON ra_otp (phone, created_at) WHERE channel = 'sms';
DROP INDEX ra_account_phone;
