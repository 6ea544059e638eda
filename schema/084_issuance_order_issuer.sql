-- 084_issuance_order_issuer: the issuing CA a subscriber agreed to, on the
-- order, and only that CA issues it (ra/README.md "Agreement", ca/README.md
-- "cad").
--
-- Before, the agreement preview showed the issuer named by rad's own
-- cad.issuer (read at rad's start) and the order did not say which issuer
-- it was agreed for: any cad serving the profile claimed it under its own
-- cad.issuer. With several cads, or after a renewal (`pkictl ca issuing`)
-- with cad restarted on issuing-2 and rad not, a subscriber who accepted a
-- certificate from issuer A got one from issuer B, and nothing recorded
-- which issuer had been accepted.
--
-- issuer_id: the ca_certificate of the issuing CA shown in the agreement;
-- rad sets it in the agreement's transaction (and names it in
-- ra.application.agree), an officer's reorder copies the failed order's.
-- cad claims an order only when it is NULL or cad's own issuing CA's: a cad
-- configured for another issuer leaves it. NULL: orders made before this
-- migration, and `pkictl order add` without --issuer, taken by any cad as
-- before.
ALTER TABLE issuance_order
	ADD COLUMN issuer_id bigint REFERENCES ca_certificate (id);

-- What was ordered is immutable: the issuer agreed to as well.
CREATE OR REPLACE FUNCTION issuance_order_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
	IF OLD.status <> 'pending' THEN
		RAISE EXCEPTION 'issuance order % is %: final', OLD.id, OLD.status;
	END IF;
	IF NEW.kind IS DISTINCT FROM OLD.kind OR NEW.profile IS DISTINCT FROM OLD.profile OR
	    NEW.subject IS DISTINCT FROM OLD.subject OR NEW.key_type IS DISTINCT FROM OLD.key_type OR
	    NEW.requested_by IS DISTINCT FROM OLD.requested_by OR
	    NEW.issuer_id IS DISTINCT FROM OLD.issuer_id THEN
		RAISE EXCEPTION 'issuance order %: what was ordered is immutable', OLD.id;
	END IF;
	RETURN NEW;
END $$;

-- Set at INSERT only (the guard above refuses a change); pki_ca reads it.
GRANT INSERT (issuer_id) ON issuance_order TO pki_admin, pki_ra;
