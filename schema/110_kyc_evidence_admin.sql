-- pki_admin (pkictl) no longer reads the e-KTP photo and the selfie.
--
-- schema/027 granted pki_admin SELECT on ra_kyc's two images so that
-- `pkictl kyc erase` could count the bytes it erased (octet_length) — and
-- with it any operator holding pg.admin_uri could read every subscriber's
-- ID-card image and selfie, unaudited (a personal-data review's finding,
-- reproduced with SET ROLE pki_admin: the selfie of a live, issued
-- application). The erasure needs only their sizes: a function gives
-- them; the UPDATE to NULL needs no SELECT on the images. Officers see
-- the images through rad (pki_ra), as before.
CREATE FUNCTION ra_kyc_evidence_bytes(p_application bigint) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
	SELECT coalesce(octet_length(ktp_photo), 0) + coalesce(octet_length(selfie), 0)
	FROM ra_kyc WHERE application_id = p_application
$$;
REVOKE ALL ON FUNCTION ra_kyc_evidence_bytes(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ra_kyc_evidence_bytes(bigint) TO pki_admin;
REVOKE SELECT (ktp_photo, selfie) ON ra_kyc FROM pki_admin;
