-- 063_sign_service_proof: the SAM finds the calling signing service
-- itself, a token is made only for the client secret's holder
-- (hsm/README.md "What the SAM trusts", docs/csc.md), and a service's
-- refusals are audited at a bounded rate (below).
--
-- signd's SAM took the service id the worker sent with each authorization
-- and signHash, so a compromised worker could have SADs recorded under any
-- enabled service, and a subscriber's wrong PINs and lock-out audited as
-- another service's acts (ra.factor.failed by sign_service:<id>): the
-- trail would point at the wrong service (a review finding). Now the
-- worker sends the request's access token itself, and the SAM looks up
-- the service whose live token it is, by the token's SHA-256 as
-- sign_token stores it, of an enabled service.
--
-- pki_sam reads only what that takes: of sign_token the digest, the
-- service and the expiry; of sign_service the id and whether it is
-- disabled (no longer the whole row with the client secret's digest).
REVOKE SELECT ON sign_service FROM pki_sam;
GRANT SELECT (id, disabled_at) ON sign_service TO pki_sam;
GRANT SELECT (service_id, token_sha256, expires_at) ON sign_token TO pki_sam;

-- A token proves its service only if the worker cannot make one for a
-- service of its choosing. pki_sign could INSERT any sign_token row, and
-- read every service's secret digest: a compromised worker could have
-- made itself a token for any enabled service and shown it to the SAM.
-- Now only sign_token_issue() makes a token, and only for the caller who
-- knows the client secret: it takes the client id, the SHA-256 of the
-- secret as presented, the new token's SHA-256 and its lifetime
-- (sign.token_ttl_seconds' range), inserts the token if the client id is
-- of an enabled service whose stored digest is that one, and returns the
-- service's id, or NULL (nothing inserted). It compares the digests'
-- SHA-256, so the time a comparison takes tells nothing about the stored
-- digest to a caller who chooses what it is compared with. pki_sign keeps
-- of sign_service only what its token check reads (id, disabled_at), and
-- of sign_token its SELECT (the check) and DELETE (the purge of expired
-- rows, schema/041). SECURITY DEFINER, owned by the migrating superuser.
CREATE FUNCTION sign_token_issue(client text, secret_digest bytea,
    token_digest bytea, ttl_seconds integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
	svc bigint;
BEGIN
	IF ttl_seconds IS NULL OR ttl_seconds < 60 OR ttl_seconds > 3600 THEN
		RAISE EXCEPTION 'sign_token_issue: ttl_seconds must be 60..3600, not %', ttl_seconds;
	END IF;
	SELECT s.id INTO svc FROM sign_service s
	    WHERE s.client_id = client AND s.disabled_at IS NULL
	    AND sha256(s.secret_sha256) = sha256(secret_digest);
	IF svc IS NULL THEN
		RETURN NULL;
	END IF;
	INSERT INTO sign_token (service_id, token_sha256, expires_at)
	    VALUES (svc, token_digest, now() + make_interval(secs => ttl_seconds));
	RETURN svc;
END
$$;
REVOKE ALL ON FUNCTION sign_token_issue(text, bytea, bytea, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sign_token_issue(text, bytea, bytea, integer) TO pki_sign;
REVOKE INSERT ON sign_token FROM pki_sign;
REVOKE USAGE ON SEQUENCE sign_token_id_seq FROM pki_sign;
REVOKE SELECT ON sign_service FROM pki_sign;
GRANT SELECT (id, disabled_at) ON sign_service TO pki_sign;

-- A service's refusals, audited at a bounded rate (hsm/README.md
-- "Refusals: audited, then counted", docs/csc.md). Each refusal the SAM
-- made was one sign.refused or sign.authorize_refused event, and a
-- service could make as many as it liked (a signHash with a random SAD,
-- an authorization for a credential that does not exist, a spent SAD
-- again): audit_event is sealed and kept, so any service could grow it
-- without limit (a review finding). Now, per service and per minute, the
-- SAM audits the first sign.refusals_audited_per_minute refusals (30) in
-- full as before, and after them the first of each kind (action and
-- sam_error); the others it only counts here, and when the minute is
-- over it writes one sign.refusals_counted event with the counts by kind
-- (with the service's next refusal, or any service's next refusal or
-- authorization). The row is the count not yet in the trail; auditors
-- may read it. One row per service, reused window after window.
CREATE TABLE sign_refusal_window (
	service_id	bigint PRIMARY KEY REFERENCES sign_service (id),
	started_at	timestamptz NOT NULL,
	audited		integer NOT NULL DEFAULT 0 CHECK (audited >= 0),
	kinds		text[] NOT NULL DEFAULT '{}',
	refused		bigint NOT NULL DEFAULT 0 CHECK (refused >= 0),
	counted		jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(counted) = 'object')
);
CREATE INDEX sign_refusal_window_counted ON sign_refusal_window (started_at)
    WHERE refused > 0;
GRANT SELECT, INSERT, UPDATE ON sign_refusal_window TO pki_sam;
GRANT SELECT ON sign_refusal_window TO pki_auditor;
