-- 116_hold_invalidity: a hold turned into a revocation keeps the hold's
-- time, as the invalidity date (a reviewer's finding, reproduced).
--
-- A certificate put on hold at 23:10:58 and revoked keyCompromise at
-- 23:13:54 was published (CRL, delta CRL, OCSP) with revocationDate
-- 23:13:54 and no invalidityDate: the hold's time was gone, and a validator
-- judging a signature at a past time (PAdES LTV, ETSI EN 319 102-1) took a
-- signature made during the hold as made by a valid certificate. pkictl
-- (ca/certcmd.c) and an officer's revocation in rad (ra/review.c) kept
-- only an invalidity date the hold itself carried (most have none); the
-- company officer's decision (ra/corporate.c), the notifier's supersession
-- (ra/notifier.c) and a company's deactivation (ra/companies.c) kept
-- nothing of it.
--
-- Now, in the database, for every writer: when a certificate on hold
-- (revocation_reason 6) is revoked for good (another reason), its
-- invalidity_date becomes the earlier of the one given (or kept) and the
-- hold's revoked_at (least() ignores NULL: without one given, the hold's
-- time). RFC 5280 §5.3.2: the invalidity date is when the certificate is
-- known or suspected to have become invalid, which the hold already said;
-- CRL entries (lib/crlgen.c) and OCSP answers (ocsp/respond.c) carry it
-- as invalidityDate. The revocation's audit event shows the date stored:
-- every writer reads it back with RETURNING (certcmd.c, review.c,
-- corporate.c, notifier.c, companies.c).
--
-- revoked_at is NOT moved back to the hold's time: it stays the time of
-- the revocation (now()), as 104 requires of every writer. What keys off
-- it: ocspd's thisUpdate of a revoked answer (ocsp_this_update, at least
-- revoked_at) and its CA-over-leaf choice (ocsp/cache.c compares the
-- leaf's revoked_at with its CA's), crld's ARL watch ("since", ordered by
-- revoked_at), 079's moot revocation requests (decided_at = revoked_at)
-- and the subscriber's notice (schema/034: the time told). Deltas and
-- ocspd's poll select changes by revocation_seq and revocation_xid
-- (lib/crlgen.c copy_delta, ocsp/sync.c stmt_poll), which the guard bumps
-- for this change anyway (reason changed); a back-dated revoked_at would
-- not hide the entry from them, but it would make the CRL claim the CA
-- processed a revocation at a time its earlier CRLs and OCSP answers
-- contradict (they said certificateHold then), and RFC 5280 §5.1.2.6
-- gives revocationDate as the time the CA processed the revocation.
--
-- A trigger of its own, not a new version of certificate_revocation_guard
-- (104, 109): BEFORE UPDATE triggers fire in name order, and
-- certificate_hold_invalidity comes before certificate_revocation_guard,
-- so the guard judges the date this one set (not after revoked_at, frozen
-- once final: least() never moves it later than the hold, which is before
-- revoked_at) and bumps revocation_seq as for any revocation. It changes
-- nothing for a hold, a release, or a final revocation (which 049's rule
-- refuses to change anyway), and applies to a superuser's session too (a
-- repair that wants another date disables it, as the guard's exemptions
-- say). The rows of holds already turned into revocations are left as
-- they are: their hold's time is only in the audit trail, and 104
-- freezes a final revocation's invalidity date.
CREATE FUNCTION certificate_hold_invalidity() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
	NEW.invalidity_date := least(NEW.invalidity_date, OLD.revoked_at);
	RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION certificate_hold_invalidity() FROM PUBLIC;

CREATE TRIGGER certificate_hold_invalidity BEFORE UPDATE ON certificate
	FOR EACH ROW WHEN (OLD.revoked_at IS NOT NULL AND
	    OLD.revocation_reason = 6 AND NEW.revoked_at IS NOT NULL AND
	    NEW.revocation_reason IS DISTINCT FROM 6)
	EXECUTE FUNCTION certificate_hold_invalidity();
