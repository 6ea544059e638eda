-- 096_ra_order_cancel_held_audit: the order a cancellation fails is
-- audited by the function that fails it.
--
-- 089's ra_order_cancel_held is pki_ra's only way to end an issuance order
-- (pki_ra has no UPDATE on issuance_order): a pending order under an issuing
-- CA on hold, with its agreed application's cancellation. It left the
-- order.cancel event to its caller. rad wrote it in the same transaction,
-- but any other pki_ra session (a script, a compromised rad) could fail a
-- pending order and write nothing: a state change without an event, which
-- the trail is there to exclude. As 079's trigger writes the event of the
-- change it makes, the function now writes order.cancel itself, in the
-- caller's transaction, when it fails the order, and rad no longer does
-- (ra/cancel.c: one event, as before).
--
-- The actor is the caller's (subscriber:<id> or officer:<id>, what rad
-- wrote before): the function cannot know who asked, and pki_ra may write
-- any event anyway; what it can no longer do is fail an order without
-- one. p_details adds the caller's context (rad: client); error and
-- application_id are the function's own. The old three-argument function
-- is dropped: a caller that does not name an actor is refused.
DROP FUNCTION ra_order_cancel_held(bigint, bigint, text);

-- As 089's, and: p_actor must be given (else 22023, nothing changed); on
-- 'failed', order.cancel (object the order; details p_details with error
-- p_error and application_id) is appended in this transaction.
CREATE FUNCTION ra_order_cancel_held(p_order bigint, p_application bigint, p_error text,
    p_actor text, p_details jsonb)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
	v_status text;
	v_issuer bigint;
BEGIN
	IF coalesce(p_actor, '') = '' THEN
		RAISE EXCEPTION 'ra_order_cancel_held: no actor for the order''s audit event'
		    USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM ra_application WHERE id = p_application
	    AND order_id = p_order AND status = 'agreed') THEN
		RETURN 'not its order';
	END IF;
	SELECT status, issuer_id INTO v_status, v_issuer FROM issuance_order
	    WHERE id = p_order FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		RETURN 'busy';
	END IF;
	IF v_status <> 'pending' THEN
		RETURN v_status;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM ca_certificate i JOIN certificate x ON
	    x.issuer_id = i.issuer_id AND x.serial = i.serial WHERE i.id = v_issuer
	    AND x.revoked_at IS NOT NULL AND x.revocation_reason = 6) THEN
		RETURN 'issuing';
	END IF;
	UPDATE issuance_order SET status = 'failed', last_error = p_error,
	    done_at = clock_timestamp() WHERE id = p_order AND status = 'pending';
	PERFORM audit_append(p_actor, 'order.cancel', 'issuance_order', p_order::text,
	    coalesce(p_details, '{}'::jsonb) || jsonb_build_object('error', p_error,
	    'application_id', p_application::text));
	RETURN 'failed';
END $$;
REVOKE ALL ON FUNCTION ra_order_cancel_held(bigint, bigint, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ra_order_cancel_held(bigint, bigint, text, text, jsonb) TO pki_ra;
