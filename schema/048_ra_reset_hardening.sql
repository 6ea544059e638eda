-- 048_ra_reset_hardening: the password reset and the replacement of stale
-- unverified accounts of schema/045, hardened after review (ra/README.md
-- "Password reset", "Stale unverified accounts").
--
-- 1. A reset mail is bound to its token (password_reset_id): rad's outbox
--    thread never sends the mail of a token that expired or was used or
--    voided (a reset, a password or email change), and empties its body
--    (the token in plain text) as soon as that happens, sent or not: the
--    mail is given up (next_attempt_at 'infinity', last_error says why) and
--    audited (ra.mail.expired, actor ra:notifier). A reset token thus lies
--    in ra_mail_outbox.body at most password_reset.ttl_seconds (and one
--    notifier period) while rad runs.
-- 2. ra_password_reset.used_at is no longer set by a newer request (each
--    token expires on its own, so that nobody can void the owner's link by
--    asking for another); it is set by the reset that uses one token (all
--    the account's unused ones with it), by POST /v1/password and by
--    POST /v1/email.
-- 3. Whether an account can sign decides the reset's second factor: rad
--    reads which accounts hold a signing credential (schema/014, 020).
ALTER TABLE ra_mail_outbox
	ADD COLUMN password_reset_id bigint REFERENCES ra_password_reset (id);
-- The outbox's sweep of mails whose token died before they were sent.
CREATE INDEX ra_mail_outbox_reset ON ra_mail_outbox (password_reset_id)
	WHERE password_reset_id IS NOT NULL AND sent_at IS NULL;

-- rad (pki_ra): the column comes with the table's INSERT and SELECT (033);
-- the give-up updates only columns 033 granted. Still no DELETE.
GRANT SELECT (certificate_id, account_id) ON sign_credential TO pki_ra;
-- The auditor sees which mail carried which reset token (not the text).
GRANT SELECT (password_reset_id, last_error) ON ra_mail_outbox TO pki_auditor;
