-- 112_sign_grant: a signing service sees and uses a subscriber's
-- credentials only once the subscriber has granted it that (a privacy
-- review's finding, reproduced). Until now every registered service could
-- name any RA account in credentials/list and read each credential's
-- certificate (the subscriber's name and NIK) with credentials/info, and
-- send wrong PINs to credentials/authorize until the subscriber's signing
-- was locked: client credentials carry no user, and signd trusted every
-- service to name only the users it acts for.
--
-- A grant is the subscriber's own act at the RA (rad, ra/signgrant.c:
-- GET /v1/sign-services, POST /v1/sign-services/{id}/grant and /revoke,
-- audited ra.sign_grant.add / ra.sign_grant.revoke), made with their
-- session as any other change of their account. signd's front end lists
-- and describes only the credentials of accounts that granted the calling
-- service, and the SAM refuses to authorize or sign for any other (it
-- reads the grant itself: hsm/README.md "What the SAM trusts"). A revoked
-- grant is a deleted row; the trail keeps its history.
CREATE TABLE sign_grant (
	account_id	bigint NOT NULL REFERENCES ra_account (id),
	service_id	bigint NOT NULL REFERENCES sign_service (id),
	granted_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, service_id)
);
CREATE INDEX sign_grant_service ON sign_grant (service_id);
REVOKE ALL ON sign_grant FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON sign_grant TO pki_ra;
GRANT SELECT ON sign_grant TO pki_sign, pki_sam, pki_auditor, pki_admin;
-- rad lists the services a subscriber may grant; never their secrets.
GRANT SELECT (id, name, created_at, disabled_at) ON sign_service TO pki_ra;

-- A service that a subscriber already authorized with their own factor
-- (a SAD, schema/014) acted for them with their consent: it keeps that
-- subscriber, so that the applications in use do not stop at this
-- upgrade. Audited as migration:112 (the event rad writes for a grant,
-- with the reason). A new database has no SAD: nothing is written.
DO $backfill$
DECLARE
	r record;
BEGIN
	FOR r IN
		SELECT DISTINCT s.account_id, s.service_id, v.name
		FROM sign_sad s JOIN sign_service v ON v.id = s.service_id
		WHERE v.disabled_at IS NULL
		ORDER BY s.account_id, s.service_id
	LOOP
		INSERT INTO sign_grant (account_id, service_id)
		VALUES (r.account_id, r.service_id);
		PERFORM audit_append('migration:112', 'ra.sign_grant.add',
		    'ra_account', r.account_id::text,
		    jsonb_build_object('service_id', r.service_id::text,
		    'service_name', r.name,
		    'reason', 'the service had been authorized with the subscriber''s factor before grants existed'));
	END LOOP;
END
$backfill$;
