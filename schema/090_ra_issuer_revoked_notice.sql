-- 090_ra_issuer_revoked_notice: rad's notifier tells each subscriber whose
-- certificate an issuing CA that was then revoked for good issued (its own
-- certificate revoked by the root, any reason but certificateHold) that the
-- certificate no longer validates, and that it may be rekeyed at once with
-- no new KYC (ra/README.md "Rekey", after the issuing CA's compromise;
-- ra/notifier.c ra_notifier_issuer_notice). Before,
-- nobody was told: the subscriber saw "issuer-revoked" only by opening My
-- certificates, and the expiry reminders still said "rekey before <expiry>".
-- One row per certificate told: several rad processes, and every restart,
-- send the notice once (the primary key), in the transaction of its audit
-- event ra.certificate.issuer_revoked (actor ra:notifier) and its mail.
CREATE TABLE ra_issuer_revoked_notice (
	certificate_id	bigint PRIMARY KEY REFERENCES certificate (id),
	sent_at		timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT ON ra_issuer_revoked_notice TO pki_ra;
GRANT SELECT ON ra_issuer_revoked_notice TO pki_auditor;
