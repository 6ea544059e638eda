/*
 * The audit trail: append-only events, written by every state change in the
 * same database transaction as the change itself.
 */
#ifndef PKI_AUDIT_H
#define PKI_AUDIT_H

#include <stdint.h>
#include <jansson.h>

struct db;

/*
 * Appends one event via the SQL function audit_append(). Must be called
 * inside an open transaction (refuses with -1 otherwise, so an event can never
 * commit apart from its change). actor: who ("pkictl:root", "officer:42");
 * action: what ("ca.init", "cert.issue"); object_type/object_id: on what
 * (object_id may be NULL); details: a JSON object, borrowed, may be NULL
 * (stored as '{}'), must hold no secrets. Stores the new event id in *id_out when non-NULL. Returns 0 or -1.
 */
int	audit_append(struct db *, const char *actor, const char *action,
	    const char *object_type, const char *object_id, json_t *details,
	    int64_t *id_out);

/*
 * audit_append() of details made for it, e.g. by json_pack() in the call:
 * takes the reference (freed in any case); NULL details (json_pack failed)
 * is -1. Returns 0 or -1.
 */
int	audit_append_new(struct db *, const char *actor, const char *action,
	    const char *object_type, const char *object_id, json_t *details);

/*
 * Appends one event per element of details_array (JSON objects, borrowed),
 * all with the same actor, action and object, in their order and in one
 * round trip (a bulk of signatures). Same rules as audit_append().
 */
int	audit_append_many(struct db *, const char *actor, const char *action,
	    const char *object_type, const char *object_id,
	    json_t *details_array);

#endif
