-- 055_certificate_serial_check: a certificate's serial is hexadecimal, as
-- it is stored (schema/004): BN_bn2hex of the positive serial
-- (ca/certstore.c certstore_serial_hex, for pkictl, cad and the ceremony),
-- upper case, at most 20 octets (RFC 5280 §4.1.2.2), so 1 to 40 digits.
-- crlgen writes each revoked row's serial into its CRL entry and, on one
-- that is not such hex, refuses the whole CRL (lib/crlgen.c der_serial,
-- fail closed): a single malformed row, written by hand or by a bug,
-- stopped every CRL of its issuer. The database now refuses the row.
-- No stricter than that: BN_bn2hex writes whole octets, so a leading zero
-- digit ("0F…") is stored, and crlgen drops leading zero octets itself.
--
-- NOT VALID, then VALIDATE: every row already stored is checked too. A
-- database holding a malformed serial fails here, naming the constraint;
-- find the row with
--   SELECT id, issuer_id, serial FROM certificate
--   WHERE serial !~ '^[0-9A-F]{1,40}$';
ALTER TABLE certificate ADD CONSTRAINT certificate_serial_hex
	CHECK (serial ~ '^[0-9A-F]{1,40}$') NOT VALID;
ALTER TABLE certificate VALIDATE CONSTRAINT certificate_serial_hex;
