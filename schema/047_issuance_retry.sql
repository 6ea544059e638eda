-- 047_issuance_retry: an attempt at an order that failed for a reason of
-- the infrastructure (the signer's token away, a device error, PostgreSQL
-- refusing the insert) backs the order off instead of using it up within
-- seconds (ca/README.md "cad", "Retries"). Before, cad counted the attempt
-- and claimed the same oldest order again 1 s later: with cad.max_attempts
-- = 5, an HSM away for a minute turned every approved order it reached into
-- a final 'failed'.
--
-- next_attempt_at: the claim (SELECT … FOR UPDATE SKIP LOCKED) takes a
-- pending order only once it is due; NULL (no attempt failed yet) is due at
-- once. After a failed attempt cad sets it to the time of the failure plus
-- cad.retry_backoff_ms doubled per failed attempt, at most
-- cad.retry_backoff_max_seconds, and sleeps until the earliest one is due.
-- first_failed_at: when the order's first attempt failed. An order is given
-- up ('failed') only after cad.max_attempts failed attempts AND
-- cad.retry_hours since its first failure, so an outage shorter than that
-- only delays it.
ALTER TABLE issuance_order
	ADD COLUMN next_attempt_at timestamptz,
	ADD COLUMN first_failed_at timestamptz;

GRANT UPDATE (next_attempt_at, first_failed_at) ON issuance_order TO pki_ca;
