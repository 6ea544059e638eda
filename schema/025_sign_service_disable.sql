-- pkictl sigservice disable (ca/sigservicecmd.c): an administrator takes a
-- signing service out of use. signd refuses its tokens, and its SADs at
-- signHash, from then on.
GRANT UPDATE (disabled_at) ON sign_service TO pki_admin;
