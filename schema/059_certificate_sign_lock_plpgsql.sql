-- 059_certificate_sign_lock_plpgsql: the lock the SAM takes at the start
-- of every signHash (049) without planning SQL on every call.
-- certificate_sign_lock_key was declared IMMUTABLE, but its body's
-- `text || bigint` is anytextcat, which is only STABLE, so PostgreSQL
-- never inlined it; and certificate_sign_lock, a LANGUAGE sql function
-- returning void, is never inlined either. Each call parsed and planned
-- both bodies again (fmgr_sql): about a tenth of the SAM's database
-- backend CPU per cold signHash (perf, hsm/README.md "signd numbers").
-- The key is the same text and the same hash (bigint's text form either
-- way); certificate_sign_lock becomes PL/pgSQL, which keeps its plan for
-- the session. CREATE OR REPLACE keeps owners and grants.
CREATE OR REPLACE FUNCTION certificate_sign_lock_key(p_certificate bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT hashtextextended('certificate_sign:' || p_certificate::text, 0)
$$;

CREATE OR REPLACE FUNCTION certificate_sign_lock(p_certificate bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock_shared(certificate_sign_lock_key(p_certificate));
END $$;
