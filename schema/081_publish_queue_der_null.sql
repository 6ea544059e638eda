-- 081_publish_queue_der_null: a publication row's DER is never rewritten;
-- an UPDATE may only empty it (what the schema review of 078 reported).
--
-- 078 left pki_crl (crld) and pki_admin (pkictl publish) UPDATE of der,
-- for lib/publish.c's one write to it: a done CRL row's DER set to NULL
-- (046; stmt_queue_done sets any other row's der to itself). With it,
-- either role could put any bytes on a pending row, and the publisher
-- writes them into the directory as the issuing CA's CRL (a stale CRL
-- that still lists nothing revoked since, or one of another issuer), or
-- as a CA certificate; or give a done row bytes again. What is queued is
-- what publish_queue_add and lib/crlgen.c inserted. A trigger, not a
-- grant: a column privilege cannot say "only NULL". It refuses whoever
-- updates, the migrating superuser too.
CREATE FUNCTION publish_queue_der_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	RAISE EXCEPTION 'publish_queue %: der is set only when the row is queued; an update may only set it to NULL', OLD.id
	    USING ERRCODE = 'insufficient_privilege';
END $$;
-- OF der: only an UPDATE that names der (lib/publish.c's done) compares
-- the DER (a complete CRL can be ~47 MB; a retry's UPDATE does not name it).
CREATE TRIGGER publish_queue_der_guard BEFORE UPDATE OF der ON publish_queue
	FOR EACH ROW WHEN (NEW.der IS NOT NULL AND NEW.der IS DISTINCT FROM OLD.der)
	EXECUTE FUNCTION publish_queue_der_guard();
