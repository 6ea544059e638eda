-- 001_base: roles, and the append-only audit trail.
--
-- Applied by deploy/migrate.sh inside one transaction, as the cluster's
-- superuser. Roles are cluster-wide, so they are created only when missing:
-- the same file migrates a second database on the same cluster.

-- Login roles, one per process kind. No passwords: in the local stack they
-- connect over the unix socket (trust, socket directory 0700). A deployment
-- that connects over TCP sets SCRAM passwords outside the migrations.
DO $roles$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['pki_admin', 'pki_ca', 'pki_ra', 'pki_ocsp',
	    'pki_crl', 'pki_tsa', 'pki_sign', 'pki_auditor']
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
			EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION', r);
		END IF;
	END LOOP;
END
$roles$;

-- Nobody but the owner (the migrating superuser) creates objects.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Anyone who connects may learn which migrations are applied.
GRANT SELECT ON schema_version TO pki_admin, pki_ca, pki_ra, pki_ocsp,
    pki_crl, pki_tsa, pki_sign, pki_auditor;

-- The audit trail (DESIGN.md "Audit"). Rows are only ever added; they are
-- later sealed into a Merkle tree whose signed heads use the HSM audit key.
-- at and txid come from the server, not the caller: application roles may
-- insert only the columns below, so they cannot back-date an event.
-- txid lets the sealer take only events of transactions older than
-- txid_snapshot_xmin(txid_current_snapshot()), since ids are not handed out
-- in commit order.
CREATE TABLE audit_event (
	id          bigserial PRIMARY KEY,
	at          timestamptz NOT NULL DEFAULT clock_timestamp(),
	actor       text NOT NULL CHECK (actor <> ''),
	action      text NOT NULL CHECK (action <> ''),
	object_type text NOT NULL CHECK (object_type <> ''),
	object_id   text,
	details     jsonb NOT NULL DEFAULT '{}'::jsonb
	    CHECK (jsonb_typeof(details) = 'object'),
	txid        bigint NOT NULL DEFAULT txid_current()
);

COMMENT ON TABLE audit_event IS
    'Append-only audit trail: INSERT through audit_append(); UPDATE, DELETE and TRUNCATE are refused by triggers for every role.';

-- Appends one event and returns its id. SECURITY INVOKER: the caller needs
-- its own INSERT grant, so the function adds no privilege. A NULL details
-- becomes {}. lib/audit.c calls exactly
--	SELECT audit_append($1,$2,$3,$4,$5::jsonb)
-- (currval rather than RETURNING id: RETURNING would need SELECT on the table.)
CREATE FUNCTION audit_append(p_actor text, p_action text, p_object_type text,
    p_object_id text, p_details jsonb)
RETURNS bigint
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = pg_catalog, public
AS $fn$
BEGIN
	INSERT INTO public.audit_event (actor, action, object_type, object_id, details)
	VALUES (p_actor, p_action, p_object_type, p_object_id,
	    COALESCE(p_details, '{}'::jsonb));
	RETURN currval('public.audit_event_id_seq');
END
$fn$;

-- Refuses any change to existing events, for every role including the
-- owner and superusers, so that a mistaken GRANT cannot alter the trail.
-- Statement-level, so even a statement matching no row fails.
CREATE FUNCTION audit_event_refuse_change()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $fn$
BEGIN
	RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP
	    USING ERRCODE = 'insufficient_privilege',
	    HINT = 'Audit events are only ever added, through audit_append().';
END
$fn$;

CREATE TRIGGER audit_event_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change();
CREATE TRIGGER audit_event_no_truncate
    BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change();

-- Privileges: nothing by default, then exactly what each role needs.
REVOKE ALL ON TABLE audit_event FROM PUBLIC;
REVOKE ALL ON SEQUENCE audit_event_id_seq FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_append(text, text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_event_refuse_change() FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON TABLE audit_event
    FROM pki_admin, pki_ca, pki_ra, pki_ocsp, pki_crl, pki_tsa, pki_sign, pki_auditor;

GRANT INSERT (actor, action, object_type, object_id, details) ON TABLE audit_event
    TO pki_admin, pki_ca, pki_ra, pki_ocsp, pki_crl, pki_tsa, pki_sign;
GRANT USAGE ON SEQUENCE audit_event_id_seq
    TO pki_admin, pki_ca, pki_ra, pki_ocsp, pki_crl, pki_tsa, pki_sign;
GRANT EXECUTE ON FUNCTION audit_append(text, text, text, text, jsonb)
    TO pki_admin, pki_ca, pki_ra, pki_ocsp, pki_crl, pki_tsa, pki_sign;

GRANT SELECT ON TABLE audit_event TO pki_auditor;
