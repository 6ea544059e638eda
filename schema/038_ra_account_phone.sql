-- 038_ra_account_phone: rad counts the SMS codes sent to one phone number
-- in the last hour across every account that gives it (policy
-- otp.per_phone_hour, ra/factor.c): the accounts of a number by index.
CREATE INDEX ra_account_phone ON ra_account (phone);
