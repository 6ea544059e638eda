-- CRLs (RFC 5280 §5): the number sequence per issuer, a record of every CRL
-- issued, and the newest DER of each kind, which every crld instance serves.
-- Written by crld (pki_crl) for the issuing CA and by `pkictl crl arl`
-- (pki_admin) for the root, each issuance with its audit event ("crl.issue")
-- in the same transaction.

-- RFC 5280 §5.2.3: complete and delta CRLs of one issuer share one
-- monotonically increasing sequence. A writer locks the row (FOR UPDATE) for
-- the whole issuance, so several crld instances never reuse a number.
CREATE TABLE crl_state (
	issuer_id	bigint PRIMARY KEY REFERENCES ca_certificate (id),
	next_number	bigint NOT NULL DEFAULT 1 CHECK (next_number > 0)
);

CREATE TABLE crl (
	id		bigserial PRIMARY KEY,
	issuer_id	bigint NOT NULL REFERENCES ca_certificate (id),
	number		bigint NOT NULL,
	kind		text NOT NULL CHECK (kind IN ('full', 'delta')),
	-- A scheduled complete CRL that deltas refer to (BaseCRLNumber); complete
	-- CRLs issued after a revocation are not bases.
	is_base		boolean NOT NULL DEFAULT false,
	base_number	bigint,
	this_update	timestamptz NOT NULL,
	next_update	timestamptz NOT NULL,
	-- The highest certificate.revocation_seq visible to the CRL's snapshot,
	-- and that snapshot: a delta carries the rows whose revocation_seq is
	-- above its base's max_seq or whose change the base's snapshot did not
	-- see (a revocation that took its sequence number before the base was
	-- built but committed after).
	max_seq		bigint NOT NULL,
	snapshot	pg_snapshot NOT NULL,
	entries		bigint NOT NULL,
	bytes		bigint NOT NULL,
	sha256		text NOT NULL,		-- hex, of the DER
	issued_by	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (issuer_id, number),
	CHECK ((kind = 'delta') = (base_number IS NOT NULL)),
	CHECK (kind = 'full' OR NOT is_base),
	CHECK (base_number IS NULL OR base_number < number),
	CHECK (this_update < next_update)
);
CREATE INDEX crl_base ON crl (issuer_id, number) WHERE is_base;

-- The newest CRL of each kind per issuer ('full', 'delta'), DER included: a
-- crld that did not make it (another instance, a restart, the ceremony's
-- ARL) serves it from here. Older DERs are not kept here (a CRL of 1,000,000
-- entries is ~40 MB); the crl table records their hashes.
CREATE TABLE crl_current (
	issuer_id	bigint NOT NULL REFERENCES ca_certificate (id),
	kind		text NOT NULL CHECK (kind IN ('full', 'delta')),
	number		bigint NOT NULL,
	this_update	timestamptz NOT NULL,
	next_update	timestamptz NOT NULL,
	der		bytea NOT NULL,
	PRIMARY KEY (issuer_id, kind)
);
-- Stored as is: compressing ~40 MB with pglz at every issuance costs more
-- than the space it saves on DER.
ALTER TABLE crl_current ALTER COLUMN der SET STORAGE EXTERNAL;

-- Every crld instance LISTENs: payload "<issuer_id>:<kind>:<number>".
CREATE FUNCTION crl_current_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('crl_issued', NEW.issuer_id || ':' || NEW.kind || ':' || NEW.number);
	RETURN NEW;
END $$;
CREATE TRIGGER crl_current_notify AFTER INSERT OR UPDATE ON crl_current
	FOR EACH ROW EXECUTE FUNCTION crl_current_notify();

-- The 64-bit form of a row's 32-bit xmin, in the epoch of the current
-- snapshot (for pg_visible_in_snapshot against a base CRL's snapshot).
CREATE FUNCTION crl_xid8(x xid) RETURNS xid8
LANGUAGE sql STABLE AS $$
	SELECT ((((cur >> 32) - CASE WHEN x::text::bigint > (cur & 4294967295)
	    THEN 1 ELSE 0 END) << 32) | x::text::bigint)::text::xid8
	FROM (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS cur) s
$$;

GRANT SELECT, INSERT, UPDATE ON crl_state, crl, crl_current TO pki_crl, pki_admin;
GRANT USAGE ON SEQUENCE crl_id_seq TO pki_crl, pki_admin;
GRANT EXECUTE ON FUNCTION crl_xid8(xid) TO pki_crl, pki_admin;
GRANT SELECT ON crl_state, crl TO pki_auditor;
