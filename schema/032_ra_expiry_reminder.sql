-- 032_ra_expiry_reminder: rad's notifier mails a subscriber when their
-- certificate nears its expiry, at each of policy/ra.conf
-- rekey.reminder_days before not_after (30 and 7 by default), so that they
-- rekey in time (ra/README.md "Expiry reminders"): after expiry only a new
-- application with a new e-KTP photo and selfie is left. One row per
-- certificate and threshold: several rad processes send each reminder once
-- (the primary key), in the transaction of its audit event.
CREATE TABLE ra_expiry_reminder (
	certificate_id	bigint NOT NULL REFERENCES certificate (id),
	days		integer NOT NULL CHECK (days BETWEEN 1 AND 3660),
	sent_at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (certificate_id, days)
);

GRANT SELECT, INSERT ON ra_expiry_reminder TO pki_ra;
GRANT SELECT ON ra_expiry_reminder TO pki_auditor;
