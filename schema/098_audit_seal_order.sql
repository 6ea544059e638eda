-- 098_audit_seal_order: a new seal must follow the last one (audit/README.md
-- "Which events a seal takes").
--
-- No role may update or delete a seal (022), so a bogus row inserted by
-- whoever holds pki_sealer's credentials stays for good: a seal numbered
-- far ahead, over a smaller tree, with a boundary (txid_xmin) far above
-- the database's transaction ids or dated before the last one, and every
-- later `pkictl audit seal` refuses (the last seal does not verify, or its
-- boundary is above the ids). The signature cannot be checked here; the
-- order can. A new seal is the next number (1 for the first), over a
-- larger tree (pkiaudit refuses seals that are not), with a boundary and
-- a time not below the last seal's: what `pkictl audit seal` inserts,
-- under audit_seal_lock (077), so two sealers never race this check.
-- Existing rows are not checked again: a trigger for new rows only.
-- (Since 098 `pkictl audit export` connects as pki_auditor, which may not
-- insert seals: only the sealer holds pki_sealer's credentials.)
CREATE FUNCTION audit_seal_check_order() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	p audit_seal%ROWTYPE;
BEGIN
	SELECT * INTO p FROM audit_seal ORDER BY id DESC LIMIT 1;
	IF NOT FOUND THEN
		IF NEW.id <> 1 THEN
			RAISE EXCEPTION 'audit_seal: the first seal is number 1, not %', NEW.id
			    USING ERRCODE = 'check_violation';
		END IF;
		RETURN NEW;
	END IF;
	IF NEW.id <> p.id + 1 THEN
		RAISE EXCEPTION 'audit_seal: seal % does not follow the last seal %', NEW.id, p.id
		    USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.tree_size <= p.tree_size THEN
		RAISE EXCEPTION 'audit_seal: seal % over % events, not more than seal %''s %',
		    NEW.id, NEW.tree_size, p.id, p.tree_size
		    USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.txid_xmin < p.txid_xmin THEN
		RAISE EXCEPTION 'audit_seal: seal %''s boundary % is below seal %''s %',
		    NEW.id, NEW.txid_xmin, p.id, p.txid_xmin
		    USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.sealed_at < p.sealed_at THEN
		RAISE EXCEPTION 'audit_seal: seal % dated % before seal % (%)',
		    NEW.id, NEW.sealed_at, p.id, p.sealed_at
		    USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END $$;

CREATE TRIGGER audit_seal_order
    BEFORE INSERT ON audit_seal
    FOR EACH ROW EXECUTE FUNCTION audit_seal_check_order();
