-- Seals of the audit trail (DESIGN.md "Audit"; audit/README.md): each seal
-- is the head of an RFC 9162 Merkle tree over every event sealed so far,
-- signed with the HSM audit key by `pkictl audit seal`.
--
-- Which events a seal adds: those of transactions older than its snapshot's
-- xmin (txid < txid_xmin), not already in the previous seal (txid >= the
-- previous txid_xmin), in id order. A transaction older than xmin has
-- ended, so every such event that will ever exist is visible then: no event
-- can appear later below a sealed boundary. The tree's leaf order is
-- therefore (seal, id); `pkictl audit export` writes events in that order.
--
-- frontier holds the roots of the perfect subtrees of the tree (largest
-- first), enough to extend it with the next events without re-reading the
-- old ones. signature is a DER ECDSA signature over the tree head text of
-- lib/auditseal.h (auditseal_head_text).
CREATE TABLE audit_seal (
	id          bigint PRIMARY KEY CHECK (id > 0),
	tree_size   bigint NOT NULL CHECK (tree_size > 0),
	txid_xmin   bigint NOT NULL,
	root        bytea NOT NULL CHECK (octet_length(root) = 32),
	frontier    bytea[] NOT NULL,
	sealed_at   timestamptz NOT NULL,
	key_label   text NOT NULL,
	signature   bytea NOT NULL,
	UNIQUE (txid_xmin)
);

COMMENT ON TABLE audit_seal IS
    'Signed Merkle tree heads over audit_event (append-only; see audit/README.md).';

CREATE TRIGGER audit_seal_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_seal
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change();
CREATE TRIGGER audit_seal_no_truncate
    BEFORE TRUNCATE ON audit_seal
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change();

-- Events by the transaction that wrote them: what a seal reads.
CREATE INDEX audit_event_txid ON audit_event (txid);

-- pki_sealer: the role of `pkictl audit seal` and `audit export`
-- (pg.sealer_uri). It reads the trail, which no application role does, adds
-- seals and its own audit.seal events, and changes nothing else.
DO $role$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pki_sealer') THEN
		CREATE ROLE pki_sealer LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
	END IF;
END
$role$;
GRANT SELECT ON schema_version TO pki_sealer;
GRANT SELECT ON audit_event TO pki_sealer;
GRANT INSERT (actor, action, object_type, object_id, details) ON TABLE audit_event TO pki_sealer;
GRANT USAGE ON SEQUENCE audit_event_id_seq TO pki_sealer;
GRANT EXECUTE ON FUNCTION audit_append(text, text, text, text, jsonb) TO pki_sealer;
GRANT SELECT, INSERT ON audit_seal TO pki_sealer;
GRANT SELECT ON audit_seal TO pki_auditor;
