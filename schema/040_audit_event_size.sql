-- 040_audit_event_size: an audit event has a bounded size. pkiaudit reads
-- an exported event line of at most AUDITSEAL_LINE_MAX (1 MiB,
-- lib/auditseal.h) and stops at a longer one, so a single larger event
-- (any role with INSERT on audit_event could write one: 001 only checks
-- that details is an object) would leave every later seal unverifiable.
-- details is at most 64 KiB as text, the other text columns 1 KiB each:
-- with JSON escaping (6 bytes a character at worst) a line stays under
-- 90 KiB. What the code writes is far below: details of a few hundred
-- bytes, ids and labels. The limits hold for every role, superusers too.
--
-- Added NOT VALID, then validated when the trail allows: audit_event is
-- append-only (001's triggers refuse UPDATE and DELETE for every role), so
-- an event already over the limit can never be shortened or removed, and
-- a plain ADD CONSTRAINT would fail this migration at every `up`. Such a
-- trail keeps the constraint NOT VALID, for new events only, with a
-- warning; `pkictl audit seal` refuses to seal that event (ca/auditcmd.c).
ALTER TABLE audit_event ADD CONSTRAINT audit_event_details_size
    CHECK (octet_length(details::text) <= 65536) NOT VALID;
ALTER TABLE audit_event ADD CONSTRAINT audit_event_text_size
    CHECK (octet_length(actor) <= 1024 AND octet_length(action) <= 1024 AND
	octet_length(object_type) <= 1024 AND
	coalesce(octet_length(object_id), 0) <= 1024) NOT VALID;

DO $validate$
DECLARE
	c text;
BEGIN
	FOREACH c IN ARRAY ARRAY['audit_event_details_size',
	    'audit_event_text_size'] LOOP
		BEGIN
			EXECUTE format('ALTER TABLE audit_event VALIDATE '
			    'CONSTRAINT %I', c);
		EXCEPTION WHEN check_violation THEN
			RAISE WARNING '%: audit_event holds events over its limit (ids %): it holds for new events only (NOT VALID)',
			    c, (SELECT string_agg(id::text, ', ' ORDER BY id)
			    FROM (SELECT id FROM audit_event
				WHERE octet_length(details::text) > 65536 OR
				    octet_length(actor) > 1024 OR
				    octet_length(action) > 1024 OR
				    octet_length(object_type) > 1024 OR
				    coalesce(octet_length(object_id), 0) > 1024
				ORDER BY id LIMIT 20) AS big);
		END;
	END LOOP;
END
$validate$;
