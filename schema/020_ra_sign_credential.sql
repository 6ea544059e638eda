-- A certificate the RA issues to a subscriber is a signing credential of that
-- subscriber at signd (CSC credentials/list): rad's notifier inserts the row
-- in the transaction that marks the application issued (ra/notifier.c).
-- Every RA order has its key generated and wrapped in the HSM by cad, so
-- every such certificate has a key signd can use. Rows for applications
-- issued before this migration are added here once.
GRANT INSERT ON sign_credential TO pki_ra;
INSERT INTO sign_credential (certificate_id, account_id)
SELECT o.certificate_id, a.account_id
FROM ra_application a JOIN issuance_order o ON o.id = a.order_id
WHERE a.status = 'issued' AND o.certificate_id IS NOT NULL
ON CONFLICT (certificate_id) DO NOTHING;
