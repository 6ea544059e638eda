-- 046_publish_queue_crl: the LDAP queue stops keeping every CRL, delta CRLs
-- find in-flight revocations by transaction id, and removeFromCRL is no
-- reason to revoke.
--
-- publish_queue.der: a CRL row's DER is needed only until the row is done
-- (published, or retired because a newer row of its entry and attribute
-- was): lib/publish.c then sets it NULL. A complete CRL of 1,000,000
-- entries is ~47 MB, queued at every issuance; the crl table keeps every
-- CRL's sha256 and size, the publish.ldap audit event the published DER's,
-- and crl_current the newest DER. Certificates' rows (cACertificate) are
-- small and keep theirs. A pending row always has its DER.
ALTER TABLE publish_queue ALTER COLUMN der DROP NOT NULL;
ALTER TABLE publish_queue ADD CONSTRAINT publish_queue_der_pending
	CHECK (der IS NOT NULL OR done_at IS NOT NULL);
-- The CRL rows already done: their DER is in crl_current or superseded.
UPDATE publish_queue SET der = NULL WHERE done_at IS NOT NULL AND attribute IN
	('certificateRevocationList;binary', 'authorityRevocationList;binary',
	 'deltaRevocationList;binary');
-- Copied from crl_current (stored uncompressed, schema/005) at each
-- issuance: compressing ~47 MB with pglz costs more than it saves on DER.
ALTER TABLE publish_queue ALTER COLUMN der SET STORAGE EXTERNAL;

-- A delta CRL lists the rows whose status change its base's snapshot did
-- not see: revocation_xid >= pg_snapshot_xmin(base snapshot) and not
-- visible in it (lib/crlgen.c). The index keeps that off a scan of every
-- revoked row; before, only the 100,000 revocation_seq below the base's
-- max_seq were searched, and a bulk revocation of more rows in one
-- transaction, in flight while the base was built, left the rest off every
-- delta until the next base.
CREATE INDEX certificate_revocation_xid ON certificate (issuer_id, revocation_xid)
	WHERE revocation_xid IS NOT NULL;
-- Rows revoked before 024 have no revocation_xid and are still judged by
-- xmin within 100,000 revocation_seq below the base's max_seq (only a base
-- made before 024 can have missed one); this index holds only them, so
-- that window costs nothing once it holds no such row.
CREATE INDEX certificate_revoked_before_024 ON certificate (issuer_id, revocation_seq)
	WHERE revocation_xid IS NULL AND revocation_seq IS NOT NULL;

-- RFC 5280 §5.3.1: removeFromCRL (8) only marks, in a delta CRL, an entry
-- that left the CRL (a released hold); it is not a reason to revoke, and a
-- revoked entry carrying it would tell a relying party to drop it. The
-- CHECK of schema/004 accepted it. NOT VALID: a row stored before is not
-- refused here (crlgen lists it without a reason code, with a warning).
ALTER TABLE certificate ADD CONSTRAINT certificate_reason_not_remove
	CHECK (revocation_reason <> 8) NOT VALID;
