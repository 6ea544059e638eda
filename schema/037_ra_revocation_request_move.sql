-- 037_ra_revocation_request_move: a company's revocation request made
-- while an employee's rekey was under way follows the certificate: when
-- the rekey is issued and the old certificate superseded, rad's notifier
-- moves the pending request to the new one (ra/notifier.c), so that the
-- officer's decision revokes the certificate the employee holds. Only a
-- pending request moves: 018's guard keeps decided ones final.
GRANT UPDATE (certificate_id) ON ra_revocation_request TO pki_ra;
