-- 063_sign_service_proof: the SAM finds the calling signing service
-- itself (hsm/README.md "What the SAM trusts", docs/csc.md).
--
-- signd's SAM took the service id the worker sent with each authorization
-- and signHash, so a compromised worker could have SADs recorded under any
-- enabled service, and a subscriber's wrong PINs and lock-out audited as
-- another service's acts (ra.factor.failed by sign_service:<id>): the
-- trail would point at the wrong service (a review finding). Now the
-- worker sends the request's access token itself, and the SAM looks up
-- the service whose live token it is, by the token's SHA-256 as
-- sign_token stores it, of an enabled service.
--
-- pki_sam reads only what that takes: of sign_token the digest, the
-- service and the expiry; of sign_service the id and whether it is
-- disabled (no longer the whole row with the client secret's digest).
REVOKE SELECT ON sign_service FROM pki_sam;
GRANT SELECT (id, disabled_at) ON sign_service TO pki_sam;
GRANT SELECT (service_id, token_sha256, expires_at) ON sign_token TO pki_sam;
