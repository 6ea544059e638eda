-- 052_ocsp_standby_lag: how current a hot standby's data is, for ocspd.
--
-- ocspd may read from a hot standby (target_session_attrs=prefer-standby).
-- Its responses' thisUpdate is the time their status is known to be correct
-- (RFC 6960 §4.2.2.1), and on a standby that is not the time of the read
-- but the primary's time of the WAL replayed so far: replication may stop
-- (link down, slot invalidated, replay paused) while the standby stays
-- readable. ocsp/sync.c asks this function after each poll there.
--
-- data_at: the standby has replayed everything the primary had sent at
-- this time (the primary's clock):
--   - all WAL received is replayed and the WAL receiver is streaming: the
--     send time of the primary's last message (WAL or keepalive);
--   - otherwise: the commit time of the last transaction replayed;
--   - NULL when neither is known (nothing replayed since the standby
--     started, no message yet): ocspd takes the data for unboundedly old.
-- On a primary: the statement's time (its data is current).
-- replay_lsn: the position replayed, in bytes; data at or past it is at
-- least as current as data_at (ocspd keeps the best data_at per position).
--
-- pg_stat_wal_receiver shows its columns only to pg_read_all_stats, which
-- pki_ocsp must not get (it would read every session's queries). SECURITY
-- DEFINER, owned by the migrating superuser, returns these two values
-- only; search_path pinned so no caller's objects are resolved in it.
CREATE FUNCTION ocsp_standby_data_time(OUT data_at timestamptz,
    OUT replay_lsn bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $fn$
	SELECT CASE
	    WHEN NOT pg_is_in_recovery() THEN statement_timestamp()
	    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AND
	        coalesce(w.status = 'streaming', false) THEN
	        coalesce(w.last_msg_send_time, pg_last_xact_replay_timestamp())
	    ELSE pg_last_xact_replay_timestamp() END,
	    CASE WHEN pg_is_in_recovery() THEN
	        pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint
	    ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint END
	FROM (SELECT 1) AS one
	LEFT JOIN (SELECT status, last_msg_send_time FROM pg_stat_wal_receiver
	    LIMIT 1) AS w ON true
$fn$;

REVOKE ALL ON FUNCTION ocsp_standby_data_time() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ocsp_standby_data_time() TO pki_ocsp;
