-- 058_role_time_bounds: no statement of a daemon's role waits for ever.
-- A lock held by someone else (an open psql session, a stuck migration, a
-- transaction of another daemon waiting on its HSM) used to hold rad's and
-- signd's request threads, one after the other, until nothing was served:
-- libmicrohttpd's connection time-out ends the connection, not the
-- statement. Each daemon's role now carries lock_timeout and
-- statement_timeout, and idle_in_transaction_session_timeout ends a
-- session whose process stopped half-way with locks held. A statement cut
-- short fails (SQLSTATE 55P03, 57014) and rolls back: rad and signd answer
-- 503 with Retry-After (lib/db.c), the other daemons retry as after a
-- lost connection. Bounds follow each role's longest legitimate work:
-- rad, signd and its SAMs answer requests; cad issues (a key generated in
-- the HSM inside the transaction); crld and the sealer read whole tables
-- (a CRL of 10^6 entries). ocspd sets tighter bounds in its connection
-- string (ocsp/sync.c), which take precedence over these; tsad's recorder
-- bounds its own statements (tsa/record.c: never its COMMIT, which a
-- synchronous standby may hold), so pki_tsa has no statement_timeout. Administrators
-- (pki_admin, pkictl's ceremonies and purges) and auditors keep none.
-- A deployment tunes them with ALTER ROLE ... SET (deploy/README.md).
ALTER ROLE pki_ra SET lock_timeout = '5s';
ALTER ROLE pki_ra SET statement_timeout = '15s';
ALTER ROLE pki_ra SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE pki_sign SET lock_timeout = '5s';
ALTER ROLE pki_sign SET statement_timeout = '15s';
ALTER ROLE pki_sign SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE pki_sam SET lock_timeout = '5s';
ALTER ROLE pki_sam SET statement_timeout = '15s';
ALTER ROLE pki_sam SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE pki_ca SET lock_timeout = '30s';
ALTER ROLE pki_ca SET statement_timeout = '120s';
ALTER ROLE pki_ca SET idle_in_transaction_session_timeout = '300s';
ALTER ROLE pki_tsa SET lock_timeout = '10s';
ALTER ROLE pki_tsa SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE pki_ocsp SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE pki_crl SET lock_timeout = '60s';
ALTER ROLE pki_crl SET statement_timeout = '600s';
ALTER ROLE pki_crl SET idle_in_transaction_session_timeout = '600s';
ALTER ROLE pki_sealer SET lock_timeout = '30s';
ALTER ROLE pki_sealer SET statement_timeout = '600s';
ALTER ROLE pki_sealer SET idle_in_transaction_session_timeout = '600s';
