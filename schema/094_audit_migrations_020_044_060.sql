-- 094_audit_migrations_020_044_060: the events three earlier migrations
-- did not write. Every state change writes an audit event in its own
-- transaction (audit/README.md); 061 and 079 do, but these changed rows a
-- database held when they were applied and left the trail silent:
--   020  made every certificate of an application issued before it a
--        signing credential of its subscriber at signd (sign_credential:
--        the key may then sign, with the subscriber's factor);
--   044  made the verified account with a company's sysadmin_email its
--        sysadmin (ra_company_sysadmin_role: the employees' data, requests
--        to revoke their certificates), for companies submitted before it;
--   060  made dead the sign codes still live then (bound to no documents).
-- Applied migrations are never edited (deploy/migrate.sh refuses a changed
-- file), so their events are written here, late and saying so: actor
-- migration:094, the migration that made the change and when, in the
-- details. A row is that migration's when its timestamp is the one of the
-- migration's own transaction (the row's DEFAULT now() and schema_version's
-- applied_at are the same now()). The actions are those of the same change
-- elsewhere: ra.otp.void as 061's; sign.credential.add and
-- ra.corporate.sysadmin_grant are new (rad's notifier records a credential
-- in its ra.application.issued event; a sysadmin is otherwise only ever
-- claimed, ra.corporate.sysadmin_claim). A database created at 044 or later
-- (the local stack, a new deployment) had no such rows: nothing is written.
DO $backfill$
DECLARE
	r record;
	at_020 timestamptz;
	at_044 timestamptz;
	at_060 timestamptz;
BEGIN
	SELECT applied_at INTO at_020 FROM schema_version WHERE version = 20;
	SELECT applied_at INTO at_044 FROM schema_version WHERE version = 44;
	SELECT applied_at INTO at_060 FROM schema_version WHERE version = 60;

	FOR r IN
		SELECT s.certificate_id, s.account_id, c.serial, a.id AS application_id
		FROM sign_credential s
		JOIN certificate c ON c.id = s.certificate_id
		LEFT JOIN issuance_order o ON o.certificate_id = s.certificate_id
		LEFT JOIN ra_application a ON a.order_id = o.id
		WHERE s.created_at = at_020
		ORDER BY s.certificate_id
	LOOP
		PERFORM audit_append('migration:094', 'sign.credential.add',
		    'sign_credential', r.certificate_id::text, jsonb_build_object(
		    'account_id', r.account_id::text,
		    'certificate_id', r.certificate_id::text,
		    'serial', r.serial,
		    'application_id', r.application_id::text,
		    'migration', '020',
		    'at', to_char(at_020 AT TIME ZONE 'UTC',
		        'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		    'reason', 'the certificate of an application issued before schema/020'));
	END LOOP;

	FOR r IN
		SELECT s.company_id, s.account_id
		FROM ra_company_sysadmin_role s
		WHERE s.claimed_at = at_044
		ORDER BY s.company_id
	LOOP
		PERFORM audit_append('migration:094', 'ra.corporate.sysadmin_grant',
		    'ra_company', r.company_id::text, jsonb_build_object(
		    'company_id', r.company_id::text,
		    'account_id', r.account_id::text,
		    'migration', '044',
		    'at', to_char(at_044 AT TIME ZONE 'UTC',
		        'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		    'reason', 'the verified account of its sysadmin_email, the rule before schema/044'));
	END LOOP;

	-- 060's UPDATE left no mark of its own on a row: the sign codes of
	-- before it, unused, dead now and live then, less those that other,
	-- audited, changes had made dead before it (max_attempts wrong codes,
	-- ra.otp.failed; an email or phone change voiding the channel's codes;
	-- a stale account replaced). Expired codes could authorize nothing:
	-- as 061, only live ones are recorded. Old rows may be purged already.
	FOR r IN
		SELECT o.id, o.account_id
		FROM ra_otp o
		WHERE at_060 IS NOT NULL AND o.purpose = 'sign' AND
		    o.binding IS NULL AND o.consumed_at IS NULL AND
		    o.attempts >= o.max_attempts AND
		    o.created_at < at_060 AND o.expires_at > at_060 AND
		    NOT EXISTS (SELECT 1 FROM audit_event e
		        WHERE e.object_type = 'ra_otp' AND e.object_id = o.id::text
		        AND e.action IN ('ra.otp.failed', 'ra.otp.void')
		        AND CASE WHEN e.action = 'ra.otp.void' THEN true
		            WHEN (e.details->>'attempts') ~ '^[0-9]{1,9}$' THEN
		            (e.details->>'attempts')::int >= o.max_attempts
		            ELSE false END) AND
		    NOT EXISTS (SELECT 1 FROM audit_event e
		        WHERE e.object_type = 'ra_account' AND
		        e.object_id = o.account_id::text AND
		        e.at >= o.created_at AND e.at <= at_060 AND
		        (e.action = 'ra.account.unverified_replaced' OR
		        (e.action = 'ra.account.email_change' AND o.channel = 'email') OR
		        (e.action = 'ra.account.phone_change' AND o.channel = 'sms')))
		ORDER BY o.id
	LOOP
		PERFORM audit_append('migration:094', 'ra.otp.void', 'ra_otp',
		    r.id::text, jsonb_build_object(
		    'account_id', r.account_id::text,
		    'purpose', 'sign',
		    'migration', '060',
		    'at', to_char(at_060 AT TIME ZONE 'UTC',
		        'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		    'reason', 'a sign code bound to no documents (schema/060)'));
	END LOOP;
END
$backfill$;
