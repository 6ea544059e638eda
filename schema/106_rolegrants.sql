-- 106_rolegrants: grants narrowed to what the daemons need, and one
-- serial per certificate and issuer (a review's findings, each reproduced
-- as the daemon's role).
--
-- The purges of expired signing rows (schema/041) as functions. pki_sign
-- held DELETE on sign_token, and pki_sam DELETE on sign_sad and
-- sign_sad_hash, for the purge signd makes with each new token and each
-- new authorization; but a grant cannot say "only what expired an hour
-- ago", so signd's network-facing worker (which hsm/README.md assumes may
-- be compromised) could delete every service's live access token,
-- logging every signing service out, and a compromised SAM every live SAD.
-- Now neither role may DELETE those rows; each calls a function that runs
-- with its owner's rights (the migrating superuser) and deletes only what
-- signd deleted before, as signd bounded it:
--  - sign_token_purge_expired(service): up to 64 of that service's tokens
--    that expired an hour ago or more, oldest id first (pki_sign,
--    hsm/signd/csc.c, with each new token);
--  - sign_sad_purge_expired(): up to 64 SADs (any service's) that expired
--    an hour ago or more, with their hashes, those another SAM holds
--    locked skipped (pki_sam, hsm/signd/samproc.c, with each new SAD).
-- Each returns how many rows of sign_token / sign_sad it deleted, which
-- the caller writes into the audit event of the same transaction
-- (sign.token, sign.authorize: expired_removed), as before. The hour keeps
-- a row for a request in flight at its expiry and for a look at recent
-- history.
CREATE FUNCTION sign_token_purge_expired(p_service bigint) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
	WITH gone AS (DELETE FROM sign_token WHERE id IN (SELECT id FROM sign_token
	    WHERE service_id = p_service AND expires_at < now() - interval '1 hour'
	    ORDER BY id LIMIT 64) RETURNING 1)
	SELECT count(*) FROM gone
$$;
REVOKE ALL ON FUNCTION sign_token_purge_expired(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sign_token_purge_expired(bigint) TO pki_sign;
REVOKE DELETE ON sign_token FROM pki_sign;

CREATE FUNCTION sign_sad_purge_expired() RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
	WITH old AS (SELECT id FROM sign_sad
	    WHERE expires_at < now() - interval '1 hour'
	    ORDER BY expires_at LIMIT 64 FOR UPDATE SKIP LOCKED),
	h AS (DELETE FROM sign_sad_hash WHERE sad_id IN (SELECT id FROM old)),
	s AS (DELETE FROM sign_sad WHERE id IN (SELECT id FROM old) RETURNING 1)
	SELECT count(*) FROM s
$$;
REVOKE ALL ON FUNCTION sign_sad_purge_expired() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sign_sad_purge_expired() TO pki_sam;
REVOKE DELETE ON sign_sad, sign_sad_hash FROM pki_sam;

-- A serial is one text (BN_bn2hex's), so one certificate per serial and
-- issuer. RFC 5280 §4.1.2.2: the serial is an INTEGER, unique per issuer.
-- 055 took any 1 to 40 upper-case hex digits and UNIQUE (issuer_id,
-- serial) compares text, so '0A', '000A' and 'A' (one integer) could be
-- three rows under one issuer: pki_ca could record two certificates with
-- one serial (a review's probe inserted '000A' and 'A'), and a lookup by
-- the text every reader computes (BN_bn2hex: ocspd's, the sign lock's and
-- signd's rx.serial = ri.serial, pkictl cert's --serial) misses a row
-- written in another form, such as a CA's own certificate row that is
-- revoked. Every writer stores BN_bn2hex of the positive serial
-- (ca/certstore.c certstore_serial_hex: cad, pkictl cert, the ceremonies,
-- and ca_certificate's rows from the same): whole octets, upper case, no
-- leading zero octet and no sign octet ("80" for 128, "0A" for 10). The
-- database now takes only that form, in certificate and ca_certificate:
-- 1 to 20 octets (RFC 5280's bound), two digits each, the first octet not
-- 00 (so 0, which BN_bn2hex writes "0" and RFC 5280 does not allow, is
-- refused too). Text and integer are then one-to-one and the UNIQUE
-- constraints there already are exact. A unique index on (issuer_id,
-- ltrim(serial, '0')) would stop the duplicates only: a row stored as
-- '000A' would still be missed by every lookup of '0A'.
--
-- Rows already stored are checked first, as 055 does (NOT VALID, then
-- VALIDATE); a database holding another form stops here naming the rows
-- (none written by cad, pkictl or the ceremonies, which have always used
-- certstore_serial_hex; certificate rows cannot be corrected, schema/004:
-- restore the row as issued, or ask what wrote it). Find them with
--   SELECT id, issuer_id, serial FROM certificate
--   WHERE serial !~ '^([1-9A-F][0-9A-F]|0[1-9A-F])([0-9A-F]{2}){0,19}$';
-- and the same of ca_certificate.
DO $$
DECLARE
	bad text;
BEGIN
	SELECT string_agg(t || ' ' || id || ' serial ''' || serial || '''', ', ')
	    INTO bad FROM (
		SELECT 'certificate' AS t, id, serial FROM certificate
		    WHERE serial !~ '^([1-9A-F][0-9A-F]|0[1-9A-F])([0-9A-F]{2}){0,19}$'
		UNION ALL
		SELECT 'ca_certificate', id, serial FROM ca_certificate
		    WHERE serial !~ '^([1-9A-F][0-9A-F]|0[1-9A-F])([0-9A-F]{2}){0,19}$'
		ORDER BY 1, 2 LIMIT 20) AS x;
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION '106: serials not in BN_bn2hex form (whole octets, no leading 00 octet): %', bad;
	END IF;
END $$;
ALTER TABLE certificate ADD CONSTRAINT certificate_serial_octets
	CHECK (serial ~ '^([1-9A-F][0-9A-F]|0[1-9A-F])([0-9A-F]{2}){0,19}$') NOT VALID;
ALTER TABLE certificate VALIDATE CONSTRAINT certificate_serial_octets;
ALTER TABLE ca_certificate ADD CONSTRAINT ca_certificate_serial_octets
	CHECK (serial ~ '^([1-9A-F][0-9A-F]|0[1-9A-F])([0-9A-F]{2}){0,19}$') NOT VALID;
ALTER TABLE ca_certificate VALIDATE CONSTRAINT ca_certificate_serial_octets;
