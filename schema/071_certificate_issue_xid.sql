-- 071_certificate_issue_xid: the transaction that inserted a certificate,
-- as revocation_xid (024) is the one that last changed its status, so that
-- ocspd's incremental poll can tell which rows a transaction still open at
-- its previous poll may have added (ocsp/sync.c, ocsp/README.md
-- "Pre-signed responses").
--
-- ocspd read new rows by id above the ids it had seen, and changed ones by
-- revocation_seq above the numbers it had seen (reaching back 10 s or 32
-- polls). Ids and sequence numbers are taken at INSERT or UPDATE, not at
-- commit: a certificate inserted (or revoked) by a transaction that
-- committed after a later one was seen stayed "never issued" (or "good")
-- in ocspd's answers until the hourly full pass, while crld, which judges
-- by revocation_xid and its snapshots (lib/crlgen.c), listed it. Each
-- poll now keeps the xmin of its snapshot and the next one re-reads every
-- row whose issue_xid or revocation_xid is at or above it: a transaction
-- below that xmin had ended before the previous poll read, so what it
-- committed was read then.
--
-- pg_current_xact_id() is the top-level transaction's id (a SAVEPOINT or
-- an EXCEPTION block does not change it), set by a trigger whatever the
-- INSERT names, and no role may UPDATE the column (column grants, 004).
-- Rows inserted before this migration keep NULL: the ALTER TABLE below
-- waits for every transaction that inserted one, so all of them were
-- committed before any ocspd of this version read the table.
ALTER TABLE certificate ADD COLUMN issue_xid xid8;

CREATE FUNCTION certificate_issue_xid() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	NEW.issue_xid := pg_current_xact_id();
	RETURN NEW;
END $$;
CREATE TRIGGER certificate_issue_xid BEFORE INSERT ON certificate
	FOR EACH ROW EXECUTE FUNCTION certificate_issue_xid();

-- The poll's range, as certificate_revocation_xid (046) serves the
-- revocations: an index range from the previous snapshot's xmin.
CREATE INDEX certificate_issue_xid ON certificate (issuer_id, issue_xid)
	WHERE issue_xid IS NOT NULL;
