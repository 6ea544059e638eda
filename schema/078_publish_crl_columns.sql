-- 078_publish_crl_columns: crld and pkictl write only the columns of
-- publish_queue they write, and no longer update the crl record (what the
-- schema review of 073 reported left over).
--
-- publish_queue: pki_crl and pki_admin could UPDATE every column, so a
-- pending row's dn and attribute too (a CRL queued for the issuing CA's
-- entry put on another entry, or under another attribute), and its
-- created_at; and INSERT a row already done, or dated. lib/publish.c
-- updates done_at, attempts, last_error, der (to NULL once a CRL row is
-- done, 046) and next_attempt_at; publish_queue_add (lib/publish.c) and
-- lib/crlgen.c insert dn, attribute and der. Those columns alone now.
--
-- crl, the record of every CRL issued (number, times, max_seq, snapshot,
-- hash): pki_crl and pki_admin held UPDATE on it (005), which nothing uses
-- (lib/crlgen.c, for crld and pkictl crl arl, inserts; crl_state and
-- crl_current, which it updates, keep theirs). With it either could
-- rewrite an issued CRL's hash or times, or a base's max_seq and snapshot,
-- from which the next delta CRLs are built.
REVOKE INSERT, UPDATE ON TABLE publish_queue FROM pki_crl, pki_admin;
GRANT INSERT (dn, attribute, der) ON TABLE publish_queue TO pki_crl, pki_admin;
GRANT UPDATE (done_at, attempts, last_error, der, next_attempt_at)
    ON TABLE publish_queue TO pki_crl, pki_admin;

REVOKE UPDATE ON TABLE crl FROM pki_crl, pki_admin;
