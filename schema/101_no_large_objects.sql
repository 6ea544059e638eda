-- 101_no_large_objects: no role of ours writes large objects.
--
-- PostgreSQL grants EXECUTE on its large-object functions to PUBLIC, so
-- every role, pki_auditor and pki_ocsp (read-only by their grants)
-- included, could store any amount of data in pg_largeobject, outside
-- every table grant: a compromised ocspd or tsad, or an auditor's login,
-- filled the CA database's disk and stopped issuance, revocation, CRLs and
-- the audit trail (a review finding, reproduced: 20 MB each as pki_auditor
-- and pki_ocsp, no bound). Nothing here uses large objects (bytea
-- columns only). Revoked from PUBLIC in this database: creating, opening
-- (the read and write calls need a descriptor from lo_open), writing and
-- truncating; the server-side lo_import and lo_export are the superuser's
-- already. The superuser who runs the migrations keeps them.
REVOKE EXECUTE ON FUNCTION
	pg_catalog.lo_creat(integer),
	pg_catalog.lo_create(oid),
	pg_catalog.lo_from_bytea(oid, bytea),
	pg_catalog.lo_open(oid, integer),
	pg_catalog.lowrite(integer, bytea),
	pg_catalog.lo_put(oid, bigint, bytea),
	pg_catalog.lo_truncate(integer, integer),
	pg_catalog.lo_truncate64(integer, bigint)
FROM PUBLIC;
