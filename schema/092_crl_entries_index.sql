-- 092_crl_entries_index: a complete CRL's entries by an index-only scan.
--
-- A complete CRL lists the issuer's revoked certificates that have not
-- expired (lib/crlgen.c, copy_full): serial, revoked_at, revocation_reason
-- and invalidity_date of the rows with revoked_at and revocation_seq set and
-- not_after past the cut-off. No index held those columns, so PostgreSQL
-- read them from the table: a scan of every certificate the CA ever issued
-- (a row carries its DER, ~1-2 KB) or a heap fetch per revoked row, to list
-- what is usually a few percent of them. This partial index holds only the
-- revoked rows and every column the query reads: the entries come from its
-- leaf pages (Index Only Scan), and the table is read only for pages not
-- yet all-visible (revocations since the last VACUUM).
--
-- Even where every row is revoked (tests/bench/bench_crl.sh), reading the
-- narrow index tuples instead of deforming the wide heap ones cut
-- PostgreSQL's CPU for the 100,000-entry query from 36 to 27 ms
-- (crl/README.md, "Benchmark"). crlgen plans that query with
-- random_page_cost at most 1.1: the index is read whole at every complete
-- CRL, so it is in cache, and with the default 4 the planner preferred a
-- sequential scan of a table of small rows.
--
-- Revoking a certificate already updates an indexed column
-- (revocation_seq, certificate_revoked), so no update that was HOT stops
-- being so; an unrevoked certificate (the predicate is false) adds nothing.
-- The build takes a SHARE lock on certificate: issuance and revocation
-- wait for it (seconds per million rows).
CREATE INDEX certificate_crl_entries ON certificate (issuer_id, not_after)
	INCLUDE (serial, revoked_at, revocation_reason, invalidity_date)
	WHERE revocation_seq IS NOT NULL AND revoked_at IS NOT NULL;
