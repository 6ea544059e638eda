-- 056_ra_outbox_reset_index: every reset mail's link to its token, indexed.
-- schema/053's purge deletes expired ra_password_reset rows, and each
-- deletion sets the password_reset_id of the outbox rows naming it to NULL
-- (ON DELETE SET NULL): without an index on the column for sent mails too
-- (048's covers only unsent ones), PostgreSQL scanned the whole outbox,
-- which keeps every mail, once per deleted token.
CREATE INDEX ra_mail_outbox_reset_any ON ra_mail_outbox (password_reset_id)
	WHERE password_reset_id IS NOT NULL;
