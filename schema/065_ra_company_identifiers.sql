-- 065_ra_company_identifiers: a company's NIB and NPWP are held by one
-- company at a time. Until now a second representative could register
-- another company (another name) with the NIB and NPWP of one already
-- active; officers saw no check to tell them, and once both were approved
-- their e-seals carried the same organizationIdentifier NTRID-<NIB> under
-- different O names (a review finding).
--
-- A company *holds* its NIB and NPWP while it is pending or active: its
-- application is submitted or approved, and no officer deactivated it
-- (schema/031; RA_COMPANY_STATUS in ra/extern.h). A rejected or cancelled
-- company never was the RA's, and a deactivated one no longer is (its
-- contract ended, it closed, or its registration proved false): its NIB
-- and NPWP may be registered again, by the same legal person coming back
-- or by the real one after a false registration. The officers still see
-- every other company with the NIB or NPWP, whatever its state, in the
-- checks duplicate_nib and duplicate_npwp (ra/review.c). A company leaves
-- the holding states only for final ones, so only an insert can make a
-- second holder.
--
-- Not a unique index: whether a company holds is in its application's
-- row and in deactivated_at, and an index only sees the row it indexes.
-- The insert trigger below takes one transaction-level advisory lock per
-- identifier (ra_company_identifiers_lock, the NIB's, then the NPWP's:
-- one order, so two inserts never wait for each other in a cycle) and
-- then looks for a holder in a statement of its own: under READ
-- COMMITTED that statement's snapshot is taken after the lock was
-- granted, so a company inserted by a transaction that held the lock and
-- committed is seen. Under SERIALIZABLE the same read and insert by two
-- transactions make a cycle that PostgreSQL aborts (40001). Under
-- REPEATABLE READ the snapshot is the transaction's first, older than
-- the lock, and may miss the other company: refused. rad
-- (ra/corporate.c) takes the same locks and looks first, to answer 409
-- with a detail; the trigger answers anything else, rad of an older
-- version included (unique_violation, 23505).
--
-- Existing data: a database may already hold two pending or active
-- companies with one NIB or NPWP (registered before this migration).
-- The migration does not fail on them, nor change them: which one is the
-- real company is for an officer to find out (deactivation, with
-- revoke_certificates for the false one's e-seals). It names them in a
-- WARNING, as ra/README.md "Corporate" says; the trigger keeps a third
-- one out, and each shows the other in its failing duplicate_nib check.
CREATE INDEX ra_company_nib ON ra_company (nib);
CREATE INDEX ra_company_npwp ON ra_company (npwp);

-- The locks of a company's identifiers, until the end of the transaction.
CREATE FUNCTION ra_company_identifiers_lock(p_nib text, p_npwp text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('ra_company_nib:' || p_nib));
	PERFORM pg_advisory_xact_lock(hashtext('ra_company_npwp:' || p_npwp));
END $$;

CREATE FUNCTION ra_company_identifier_guard() RETURNS trigger
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
	    WHERE c.npwp = NEW.npwp AND c.id <> NEW.id AND a.status IN ('submitted', 'approved')
	    AND c.deactivated_at IS NULL ORDER BY c.id LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'ra_company: NPWP % is held by company %, pending or active', NEW.npwp, holder
		    USING ERRCODE = 'unique_violation';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER ra_company_identifier_guard BEFORE INSERT ON ra_company
	FOR EACH ROW EXECUTE FUNCTION ra_company_identifier_guard();

-- What this database already holds twice.
DO $dup$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT 'NIB' AS what, c.nib AS value, string_agg(c.id::text, ', ' ORDER BY c.id) AS ids
		FROM ra_company c JOIN ra_application a ON a.id = c.application_id
		WHERE a.status IN ('submitted', 'approved') AND c.deactivated_at IS NULL
		GROUP BY c.nib HAVING count(*) > 1
		UNION ALL
		SELECT 'NPWP', c.npwp, string_agg(c.id::text, ', ' ORDER BY c.id)
		FROM ra_company c JOIN ra_application a ON a.id = c.application_id
		WHERE a.status IN ('submitted', 'approved') AND c.deactivated_at IS NULL
		GROUP BY c.npwp HAVING count(*) > 1
		ORDER BY 1, 2
	LOOP
		RAISE WARNING '065: companies % (pending or active) share % %: an officer must find the real one and deactivate the others (ra/README.md "Corporate")',
		    r.ids, r.what, r.value;
	END LOOP;
END
$dup$;
