-- Auditors see who the RA officers are and what happened to their accounts,
-- not their password hashes or sealed TOTP secrets: an Argon2id hash can
-- still be attacked offline. (011 granted the whole row; found in review.)
REVOKE SELECT ON ra_officer FROM pki_auditor;
GRANT SELECT (id, username, role, account_id, last_totp_step, failed_logins,
    locked_until, disabled_at, created_by, created_at) ON ra_officer TO pki_auditor;
