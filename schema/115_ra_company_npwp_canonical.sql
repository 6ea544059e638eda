-- 115_ra_company_npwp_canonical: one company per NPWP, in whichever of its
-- two forms it was typed (a review finding, reproduced). Under PMK
-- 112/2022 a company's 16-digit NPWP is 0 followed by its 15-digit NPWP
-- (PER-20/PJ/2013); rad takes either (018's CHECK, ra/corpreq.c). 065
-- compared the strings as typed: with company A pending or active under
-- 098765432109000, a second representative registered another name under
-- 0098765432109000 (201), and the officers' check duplicate_npwp passed.
--
-- The canonical form is the 16-digit one: ra_npwp_canonical() puts a 0
-- before a 15-digit value and leaves a 16-digit one as it is. Every place
-- that judges one NPWP the same as another compares canonical forms:
-- 065's lock (so two submissions racing with the two forms take one key
-- and wait for each other), 065's insert trigger, rad's own look before it
-- (ra/corporate.c) and the check duplicate_npwp (ra/review.c). The
-- companies keep the NPWP as it was typed, which is what rad shows: no row
-- changes, so this migration writes no audit event, and no subject of an
-- application (which holds the NPWP too) differs from its company's.
--
-- Existing data: a database may hold two pending or active companies
-- whose NPWPs are the two forms of one. As 065 did for the exact
-- duplicates, the migration neither fails on them nor changes them (which
-- one is the real company is for an officer to find out: deactivation,
-- with revoke_certificates for the false one's e-seals); it names them in
-- a WARNING of deploy/migrate.sh's output (ra/README.md "Corporate" gives
-- the query that lists them again), each shows the other in its failing
-- duplicate_npwp check from now on, and the trigger keeps a third one out.
--
-- The table is locked first (SHARE ROW EXCLUSIVE: inserts wait, and this
-- waits for those in progress): an insert that took 065's key of the
-- typed form commits before the new key applies, or runs the new trigger
-- after this commits; none is judged by the old rule once this has.
LOCK TABLE ra_company IN SHARE ROW EXCLUSIVE MODE;

-- The 16-digit form of an NPWP of 15 or 16 digits (any other text as it
-- is). IMMUTABLE, for the index below. Executable by every role: it reads
-- nothing.
CREATE FUNCTION ra_npwp_canonical(p_npwp text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, public, pg_temp AS $$
	SELECT CASE WHEN length(p_npwp) = 15 THEN '0' || p_npwp ELSE p_npwp END
$$;

-- 065's index, on the canonical form (the trigger's and rad's look).
DROP INDEX ra_company_npwp;
CREATE INDEX ra_company_npwp ON ra_company (ra_npwp_canonical(npwp));

-- 065's and 082's function (SECURITY DEFINER, its owner and grants kept by
-- CREATE OR REPLACE), the NPWP's key now of its canonical form.
CREATE OR REPLACE FUNCTION ra_company_identifiers_lock(p_nib text, p_npwp text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('ra_company_nib:' || p_nib));
	PERFORM pg_advisory_xact_lock(hashtext('ra_company_npwp:' || ra_npwp_canonical(p_npwp)));
END $$;

-- 065's trigger function, comparing the NPWP's canonical forms.
CREATE OR REPLACE FUNCTION ra_company_identifier_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	holder bigint;
BEGIN
	-- A company inserted closed (by hand, as a record) holds nothing.
	IF NEW.deactivated_at IS NOT NULL OR EXISTS (SELECT 1 FROM ra_application
	    WHERE id = NEW.application_id AND status NOT IN ('submitted', 'approved')) THEN
		RETURN NEW;
	END IF;
	IF current_setting('transaction_isolation') = 'repeatable read' THEN
		RAISE EXCEPTION 'ra_company: insert under READ COMMITTED or SERIALIZABLE (a REPEATABLE READ snapshot may miss a company holding the NIB or NPWP)'
		    USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	PERFORM ra_company_identifiers_lock(NEW.nib, NEW.npwp);
	SELECT c.id INTO holder FROM ra_company c JOIN ra_application a ON a.id = c.application_id
	    WHERE c.nib = NEW.nib AND c.id <> NEW.id AND a.status IN ('submitted', 'approved')
	    AND c.deactivated_at IS NULL ORDER BY c.id LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'ra_company: NIB % is held by company %, pending or active', NEW.nib, holder
		    USING ERRCODE = 'unique_violation';
	END IF;
	SELECT c.id INTO holder FROM ra_company c JOIN ra_application a ON a.id = c.application_id
	    WHERE ra_npwp_canonical(c.npwp) = ra_npwp_canonical(NEW.npwp) AND c.id <> NEW.id
	    AND a.status IN ('submitted', 'approved') AND c.deactivated_at IS NULL ORDER BY c.id LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'ra_company: NPWP % is held by company %, pending or active', NEW.npwp, holder
		    USING ERRCODE = 'unique_violation';
	END IF;
	RETURN NEW;
END $$;

-- What this database holds under the two forms of one NPWP (065 named the
-- companies sharing one form already).
DO $dup$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT ra_npwp_canonical(c.npwp) AS npwp,
		    string_agg(c.id::text, ', ' ORDER BY c.id) AS ids,
		    string_agg(DISTINCT c.npwp, ', ') AS typed
		FROM ra_company c JOIN ra_application a ON a.id = c.application_id
		WHERE a.status IN ('submitted', 'approved') AND c.deactivated_at IS NULL
		GROUP BY ra_npwp_canonical(c.npwp) HAVING count(DISTINCT c.npwp) > 1
		ORDER BY 1
	LOOP
		RAISE WARNING '115: companies % (pending or active) share NPWP % (typed %): an officer must find the real one and deactivate the others (ra/README.md "Corporate")',
		    r.ids, r.npwp, r.typed;
	END LOOP;
END
$dup$;
