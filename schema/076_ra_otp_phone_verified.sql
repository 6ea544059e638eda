-- 076_ra_otp_phone_verified: an SMS code records whether its account had
-- the number verified when the code was sent, and otp.per_phone_hour
-- counts those codes apart from the others (ra/factor.c, two budgets): an
-- account registered with someone else's number, which never proved it
-- holds it, can no longer spend the hour of the subscriber who did and so
-- keep them from every SMS code. Fixed at the send: judged by the
-- accounts' state now, an account that held the number could move to
-- another after its codes and free the budget again. Codes of before, and
-- email codes, are NULL: counted with the unverified.
ALTER TABLE ra_otp ADD COLUMN phone_verified boolean;
