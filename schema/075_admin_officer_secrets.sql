-- 075_admin_officer_secrets: pkictl's role no longer reads the RA
-- officers' password hashes and sealed TOTP secrets (a review finding).
--
-- pkictl (pki_admin) creates, lists and disables officers (ca/officercmd.c)
-- and held SELECT on every column of ra_officer (schema/011), as pki_auditor
-- did until schema/021. An Argon2id hash can still be attacked offline, and
-- pkictl also reads ra.officer_key_file to seal a new officer's TOTP secret:
-- with totp_secret_enc readable, whoever ran pkictl held every officer's
-- second factor as well, so a CA administrator could become any RA officer
-- (ETSI EN 319 401 keeps those trusted roles apart). pkictl sees an
-- officer's secrets only while it makes them; it reads what it lists,
-- the auditor's columns (021). Its INSERT ... RETURNING id and the
-- triggers it fires (schema/035: id, account_id) need no more.
REVOKE SELECT ON ra_officer FROM pki_admin;
GRANT SELECT (id, username, role, account_id, last_totp_step, failed_logins,
    locked_until, disabled_at, created_by, created_at) ON ra_officer TO pki_admin;
