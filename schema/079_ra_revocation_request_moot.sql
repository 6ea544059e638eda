-- 079_ra_revocation_request_moot: a company's revocation request (018)
-- ends when its certificate is revoked by anyone (a review finding).
--
-- Only an officer's decision closed a request (ra/corporate.c; the
-- deactivation of the company, ra/companies.c, closes those it revokes
-- for). When the certificate was revoked otherwise -- by its subscriber
-- (POST /v1/certificates/{id}/revoke), an officer directly
-- (POST /v1/officer/certificates/{id}/revoke), pkictl cert revoke, or
-- superseded by a rekey whose new certificate already had a request of its
-- own -- the request stayed pending: the queue filled with requests nobody
-- could carry out, the officer's "revoke" was 409 (already revoked) and
-- "reject" recorded a refusal of a revocation that had happened.
--
-- Now such a request ends as 'moot', in the transaction of the
-- revocation, by a trigger on certificate that every revocation passes
-- through whatever the program or role: decided_at the revocation's time,
-- decided_by NULL (no officer decided it), decision_reason saying how the
-- certificate was revoked, and an audit event ra.revocation_request.moot
-- whose actor is the revocation's (revoked_by). A hold (certificateHold)
-- ends nothing: the certificate may be released, and the officer may
-- still carry the request out.
--
-- The trigger writes a table the revoking roles cannot (pkictl's
-- pki_admin has no grant on ra_revocation_request) and an audit event:
-- it runs with its owner's rights (search_path pinned, 070). It needs no
-- advisory lock (073). Lock order: a revocation locks the certificate,
-- then the trigger the request; rad's own paths that lock both (an
-- officer's decision, the notifier's move of a request to a rekeyed
-- certificate, a deactivation) now take the certificate first too, so
-- that none of them deadlocks with a subscriber's revocation.
ALTER TABLE ra_revocation_request DROP CONSTRAINT ra_revocation_request_status_check;
ALTER TABLE ra_revocation_request ADD CONSTRAINT ra_revocation_request_status_check
	CHECK (status IN ('pending', 'done', 'rejected', 'moot'));
-- 018's (decided_at IS NULL) = (decided_by IS NULL): an officer decided
-- every closed request; a moot one no officer, and it says why.
ALTER TABLE ra_revocation_request DROP CONSTRAINT ra_revocation_request_check1;
ALTER TABLE ra_revocation_request ADD CONSTRAINT ra_revocation_request_decider
	CHECK (CASE status WHEN 'pending' THEN decided_by IS NULL
	    WHEN 'moot' THEN decided_by IS NULL AND decision_reason IS NOT NULL
	    ELSE decided_by IS NOT NULL END);

-- The RFC 5280 §5.3.1 CRLReason name of a reason code.
CREATE FUNCTION crl_reason_name(p_code smallint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, public, pg_temp AS $$
	SELECT CASE p_code WHEN 0 THEN 'unspecified' WHEN 1 THEN 'keyCompromise'
	    WHEN 2 THEN 'cACompromise' WHEN 3 THEN 'affiliationChanged'
	    WHEN 4 THEN 'superseded' WHEN 5 THEN 'cessationOfOperation'
	    WHEN 6 THEN 'certificateHold' WHEN 8 THEN 'removeFromCRL'
	    WHEN 9 THEN 'privilegeWithdrawn' WHEN 10 THEN 'aACompromise'
	    ELSE 'reason ' || p_code END
$$;

-- Closes the pending requests of a certificate just revoked for good.
CREATE FUNCTION ra_revocation_request_moot() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
	r record;
	v_by text := coalesce(nullif(NEW.revoked_by, ''), 'database');
	v_reason text := crl_reason_name(NEW.revocation_reason);
BEGIN
	FOR r IN UPDATE ra_revocation_request SET status = 'moot',
	    decided_at = NEW.revoked_at,
	    decision_reason = format('the certificate was revoked otherwise (%s, by %s) '
	        'while the request waited', v_reason, v_by)
	    WHERE certificate_id = NEW.id AND status = 'pending'
	    RETURNING id, company_id
	LOOP
		PERFORM audit_append(v_by, 'ra.revocation_request.moot',
		    'ra_revocation_request', r.id::text, jsonb_build_object(
		    'certificate_id', NEW.id::text, 'serial', NEW.serial,
		    'company_id', r.company_id::text, 'reason', v_reason,
		    'reason_code', NEW.revocation_reason, 'revoked_by', v_by));
	END LOOP;
	RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION ra_revocation_request_moot() FROM PUBLIC;
CREATE TRIGGER ra_revocation_request_moot AFTER UPDATE ON certificate
	FOR EACH ROW WHEN (NEW.revoked_at IS NOT NULL AND NEW.revocation_reason <> 6 AND
	    (OLD.revoked_at IS NULL OR OLD.revocation_reason = 6))
	EXECUTE FUNCTION ra_revocation_request_moot();

-- The requests left pending on certificates revoked before this
-- migration, closed the same way.
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN UPDATE ra_revocation_request q SET status = 'moot',
	    decided_at = c.revoked_at,
	    decision_reason = format('the certificate was revoked otherwise (%s, by %s) '
	        'while the request waited', crl_reason_name(c.revocation_reason),
	        coalesce(nullif(c.revoked_by, ''), 'database'))
	    FROM certificate c
	    WHERE c.id = q.certificate_id AND q.status = 'pending' AND
	        c.revoked_at IS NOT NULL AND c.revocation_reason <> 6
	    RETURNING q.id, q.company_id, c.id AS certificate_id, c.serial,
	        c.revocation_reason, c.revoked_by
	LOOP
		PERFORM audit_append('migration:079', 'ra.revocation_request.moot',
		    'ra_revocation_request', r.id::text, jsonb_build_object(
		    'certificate_id', r.certificate_id::text, 'serial', r.serial,
		    'company_id', r.company_id::text,
		    'reason', crl_reason_name(r.revocation_reason),
		    'reason_code', r.revocation_reason,
		    'revoked_by', coalesce(nullif(r.revoked_by, ''), 'database')));
	END LOOP;
END $$;
