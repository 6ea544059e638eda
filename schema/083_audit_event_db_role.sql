-- 083_audit_event_db_role: each event records the database role that
-- really wrote it.
--
-- actor (001) is free text from the caller: any role with INSERT on
-- audit_event (every application role) could write an event claiming to
-- be "officer:1", "pkictl:root" or "cad", and nothing in the trail said
-- which process's credentials wrote it. db_role is filled by the server
-- with session_user, the role the connection logged in as (the daemons log
-- in as their own roles, pki_ra, pki_ca, ..., deploy/stack.sh and
-- deploy/README.md "Users"; a deployment that gives each host a login role
-- of its own, member of the group role, gets the host's role here). Not
-- current_user: inside a SECURITY DEFINER function (the trigger of 079,
-- which audits as whoever revoked) current_user is the function's owner,
-- the migrating superuser; and SET ROLE changes current_user, not
-- session_user.
--
-- No application role may insert the column: 001, 014 and 022 grant
-- INSERT on actor, action, object_type, object_id and details only, and
-- this migration grants nothing more, so an INSERT that names db_role is
-- refused and every event gets the default.
--
-- Events written before this migration keep db_role NULL: the column is
-- added without a default (a default given in ADD COLUMN is what every
-- existing row reads, here the migrating superuser's name), then the
-- default is set for new rows only. Old rows are not updated (001's
-- triggers refuse it, and their sealed lines must not change:
-- lib/auditseal.h adds "db_role" to an event's line only when it is not
-- NULL). A constraint NOT VALID (checked for new rows only) keeps NULL for
-- those old events: an event written from now on always has its role,
-- even one the superuser writes with an explicit NULL.
ALTER TABLE audit_event ADD COLUMN db_role text;
ALTER TABLE audit_event ALTER COLUMN db_role SET DEFAULT session_user;
ALTER TABLE audit_event ADD CONSTRAINT audit_event_db_role_set
    CHECK (db_role IS NOT NULL) NOT VALID;

COMMENT ON COLUMN audit_event.db_role IS
    'The login role (session_user) that wrote the event, set by the server; NULL for events written before schema/083.';
