-- 033_ra_mail_outbox: notices rad must not let a mail failure undo. A
-- revocation (an officer's for keyCompromise, say) must stand whether or
-- not the subscriber's mailbox answers, and one bouncing address must not
-- block a company's deactivation; an expiry reminder must not hold up the
-- notifier while the mail server is away. Such a notice is queued here in
-- the transaction of the change it tells of, and rad's notifier sends it
-- (ra/notifier.c), retrying with back-off (ra/README.md "Mail outbox").
-- Mails that gate the change they belong to (a link, a one-time code, a
-- decision) are still sent before COMMIT instead.
CREATE TABLE ra_mail_outbox (
	id		bigserial PRIMARY KEY,
	recipient	text NOT NULL CHECK (recipient = lower(recipient) AND length(recipient) <= 254),
	subject		text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
	body		text NOT NULL CHECK (length(body) <= 16384),
	created_at	timestamptz NOT NULL DEFAULT now(),
	attempts	integer NOT NULL DEFAULT 0,
	next_attempt_at	timestamptz NOT NULL DEFAULT now(),
	last_error	text,
	sent_at		timestamptz
);
CREATE INDEX ra_mail_outbox_due ON ra_mail_outbox (next_attempt_at) WHERE sent_at IS NULL;

GRANT SELECT, INSERT ON ra_mail_outbox TO pki_ra;
-- body: emptied once sent (it names the subscriber); the row is the record.
GRANT UPDATE (attempts, next_attempt_at, last_error, sent_at, body) ON ra_mail_outbox TO pki_ra;
GRANT USAGE ON SEQUENCE ra_mail_outbox_id_seq TO pki_ra;
-- The auditor sees what was told to whom and when, not the text.
GRANT SELECT (id, recipient, subject, created_at, attempts, sent_at) ON ra_mail_outbox TO pki_auditor;
