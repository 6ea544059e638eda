-- A newly issued certificate is announced like a revocation, so OCSP
-- responders answer "good" for it at once instead of "never issued" until
-- their next poll (payload "<issuer_id>:<serial>", channel certificate_status).
CREATE FUNCTION certificate_issue_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('certificate_status', NEW.issuer_id || ':' || NEW.serial);
	RETURN NEW;
END $$;
CREATE TRIGGER certificate_issue_notify AFTER INSERT ON certificate
	FOR EACH ROW EXECUTE FUNCTION certificate_issue_notify();
