/*
 * The audit writer: one SQL function call per event, inside the caller's
 * transaction. See lib/audit.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "lib/audit.h"
#include "lib/db.h"
#include "lib/log.h"

static const struct db_stmt stmt_audit_append = {
	"lib_audit_append",
	"SELECT audit_append($1, $2, $3, $4, $5::jsonb)",
	5
};
/* One round trip for a batch; WITH ORDINALITY keeps the events' order. */
/*
 * One INSERT for the whole array (ids in array order): the same column
 * grant as audit_append() needs, without a PL/pgSQL call per event.
 */
static const struct db_stmt stmt_audit_append_many = {
	"lib_audit_append_many",
	"INSERT INTO audit_event (actor, action, object_type, object_id, "
	"details) SELECT $1, $2, $3, $4, d.value FROM "
	"jsonb_array_elements($5::jsonb) WITH ORDINALITY AS d(value, n) "
	"ORDER BY d.n",
	5
};

/* The checks every append makes; 0 or -1 (logged). */
static int
audit_check(struct db *db, const char *actor, const char *action,
    const char *object_type)
{
	if (db == NULL || actor == NULL || action == NULL ||
	    object_type == NULL) {
		log_err("audit_append: actor, action and object type needed");
		return -1;
	}
	/*
	 * Outside a transaction the event could commit without its change,
	 * or the change without its event.
	 */
	if (PQtransactionStatus(db_conn(db)) != PQTRANS_INTRANS) {
		log_err("audit_append: %s %s: not inside an open transaction",
		    action, object_type);
		return -1;
	}
	return 0;
}

int
audit_append_new(struct db *db, const char *actor, const char *action,
    const char *object_type, const char *object_id, json_t *details)
{
	int rc;

	if (details == NULL) {
		log_err("audit_append: %s: no details (out of memory)", action);
		return -1;
	}
	rc = audit_append(db, actor, action, object_type, object_id, details,
	    NULL);
	json_decref(details);
	return rc;
}

int
audit_append(struct db *db, const char *actor, const char *action,
    const char *object_type, const char *object_id, json_t *details,
    int64_t *id_out)
{
	PGresult *res = NULL;
	const char *values[5];
	char *js = NULL, *end;
	long long id;
	int rc = -1;

	if (id_out != NULL)
		*id_out = 0;
	if (audit_check(db, actor, action, object_type) == -1)
		goto out;
	if (details != NULL && !json_is_object(details)) {
		log_err("audit_append: %s: details must be a JSON object",
		    action);
		goto out;
	}
	if (details != NULL && (js = json_dumps(details,
	    JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		log_err("audit_append: %s: json_dumps failed", action);
		goto out;
	}
	values[0] = actor;
	values[1] = action;
	values[2] = object_type;
	values[3] = object_id;
	values[4] = js != NULL ? js : "{}";
	if ((res = db_exec(db, &stmt_audit_append, values, NULL, NULL)) ==
	    NULL)
		goto out;
	if (PQntuples(res) != 1 || PQnfields(res) != 1 ||
	    PQgetisnull(res, 0, 0)) {
		log_err("audit_append: %s: audit_append() returned no id",
		    action);
		goto out;
	}
	errno = 0;
	id = strtoll(PQgetvalue(res, 0, 0), &end, 10);
	if (*end != '\0' || errno == ERANGE || id <= 0) {
		log_err("audit_append: %s: bad event id \"%s\"", action,
		    PQgetvalue(res, 0, 0));
		goto out;
	}
	if (id_out != NULL)
		*id_out = (int64_t)id;
	rc = 0;
out:
	PQclear(res);
	free(js);
	return rc;
}

int
audit_append_many(struct db *db, const char *actor, const char *action,
    const char *object_type, const char *object_id, json_t *details_array)
{
	PGresult *res = NULL;
	const char *values[5];
	char *js = NULL;
	size_t i;
	int rc = -1;

	if (audit_check(db, actor, action, object_type) == -1)
		goto out;
	if (!json_is_array(details_array)) {
		log_err("audit_append_many: %s: details must be an array",
		    action);
		goto out;
	}
	for (i = 0; i < json_array_size(details_array); i++)
		if (!json_is_object(json_array_get(details_array, i))) {
			log_err("audit_append_many: %s: details %zu is not a "
			    "JSON object", action, i);
			goto out;
		}
	if (json_array_size(details_array) == 0) {
		rc = 0;
		goto out;
	}
	if ((js = json_dumps(details_array, JSON_COMPACT | JSON_SORT_KEYS)) ==
	    NULL) {
		log_err("audit_append_many: %s: json_dumps failed", action);
		goto out;
	}
	values[0] = actor;
	values[1] = action;
	values[2] = object_type;
	values[3] = object_id;
	values[4] = js;
	if ((res = db_exec(db, &stmt_audit_append_many, values, NULL, NULL)) ==
	    NULL)
		goto out;
	if ((size_t)strtoull(PQcmdTuples(res), NULL, 10) !=
	    json_array_size(details_array)) {
		log_err("audit_append_many: %s: %s of %zu events appended",
		    action, PQcmdTuples(res), json_array_size(details_array));
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	free(js);
	return rc;
}
