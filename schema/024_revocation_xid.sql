-- The id of the transaction that last changed a certificate's revocation
-- status, with revocation_seq. crld asks whether a CRL's snapshot saw that
-- change (pg_visible_in_snapshot). The row's xmin it asked before is a
-- subtransaction's id when the revocation ran under a SAVEPOINT or in a
-- plpgsql EXCEPTION block, which a pg_snapshot cannot judge (it lists only
-- top-level transactions), so such a revocation could be missed by a delta.
-- pg_current_xact_id() is always the top-level transaction's, and an xid8
-- needs no epoch arithmetic (crl_xid8). Rows revoked before this migration
-- keep NULL and are judged by xmin as before.
ALTER TABLE certificate ADD COLUMN revocation_xid xid8;

CREATE OR REPLACE FUNCTION certificate_revocation_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.der IS DISTINCT FROM NEW.der OR OLD.serial IS DISTINCT FROM NEW.serial OR
	    OLD.issuer_id IS DISTINCT FROM NEW.issuer_id THEN
		RAISE EXCEPTION 'certificate % is immutable', OLD.serial;
	END IF;
	IF OLD.revoked_at IS NOT NULL AND OLD.revocation_reason <> 6 AND
	    (NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR
	     NEW.revocation_reason IS DISTINCT FROM OLD.revocation_reason) THEN
		RAISE EXCEPTION 'certificate % is revoked (reason %): final', OLD.serial,
		    OLD.revocation_reason;
	END IF;
	IF NEW.revoked_at IS DISTINCT FROM OLD.revoked_at OR
	    NEW.revocation_reason IS DISTINCT FROM OLD.revocation_reason THEN
		NEW.revocation_seq := nextval('revocation_seq');
		NEW.revocation_xid := pg_current_xact_id();
	END IF;
	RETURN NEW;
END $$;
