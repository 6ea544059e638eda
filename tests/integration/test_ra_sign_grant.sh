#!/usr/bin/env bash
# A subscriber's grants of the signing services at rad (ra/signgrant.c,
# schema/112), against the stack of tests/run.sh: GET /v1/sign-services
# lists the services not disabled, by name, each not granted (granted_at
# null); POST /v1/sign-services/{id}/grant grants one (201, the row and one
# ra.sign_grant.add event with the account as actor and object, the
# service's id and name), and again (with {}) answers 200 with the same
# grant and writes nothing; the list shows it granted to this account, not
# to another; revoke answers 200 (row gone, one ra.sign_grant.revoke), and
# again 404; another account's grant cannot be revoked; an unknown service
# and a disabled one are 404 for a grant (and the disabled one is not
# listed), but a grant of a service disabled since is still revoked.
# Refused requests (no session 401, a body with a member 400, malformed
# JSON 400, another content type 415) change no row and write no event.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_subscriber.sh"
subscriber_env
pw='Grant-Horse7'

# The state that a refused request must leave as it was: every grant, and
# every event of the two actions.
state() {
	q "SELECT (SELECT coalesce(string_agg(account_id || ':' || service_id || '@' || granted_at, ',' ORDER BY account_id, service_id), '')
	    FROM sign_grant) || '/' ||
	    (SELECT count(*) FROM audit_event WHERE action LIKE 'ra.sign_grant.%')"
}
unchanged() { [ "$(state)" = "$snap" ] || fail "$1 changed something: $snap -> $(state)"; }
# events ACTION ACCOUNT SERVICE: the count of that account's ACTION events
# on SERVICE, made by the subscriber, with the service's id and name.
events() {
	q "SELECT count(*) FROM audit_event WHERE action = '$1' AND actor = 'subscriber:$2'
	    AND object_type = 'ra_account' AND object_id = '$2'
	    AND details->>'service_id' = '$3' AND jsonb_typeof(details->'service_id') = 'string'
	    AND details->>'service_name' = (SELECT name FROM sign_service WHERE id = $3)
	    AND (SELECT count(*) FROM jsonb_object_keys(details)) = 2"
}
all_events() { q "SELECT count(*) FROM audit_event WHERE action = '$1' AND object_id = '$2'"; }
grant_row() { q "SELECT count(*) FROM sign_grant WHERE account_id = $1 AND service_id = $2"; }
# listed SERVICE: its entry in the last list, compact ("" when absent).
listed() { jq -c --argjson id "$1" '.services[] | select(.id == $id)' "$tmp/out"; }
# bare PATH TOKEN: a POST without a body or a Content-Type; as rreq.
bare() {
	code=$(curl -sS -X POST -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' \
		-H "Authorization: Bearer $2" "$rurl$1")
}
RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'

# --- services and subscribers ---------------------------------------------------------
for s in a b c; do
	pkictl sigservice add --name "grant-$s-$$" >/dev/null || fail "pkictl sigservice add grant-$s-$$"
done
sa=$(q "SELECT id FROM sign_service WHERE name = 'grant-a-$$'")
sb=$(q "SELECT id FROM sign_service WHERE name = 'grant-b-$$'")
sc=$(q "SELECT id FROM sign_service WHERE name = 'grant-c-$$'")
[ -n "$sa" ] && [ -n "$sb" ] && [ -n "$sc" ] || fail "the services' ids"
account "grant1-$$@example.com" +6281277774001 402917
a1=$aid t1=$tok
account "grant2-$$@example.com" +6281277774002 402917
a2=$aid t2=$tok

# --- no session --------------------------------------------------------------------------
snap=$(state)
rreq GET /v1/sign-services
expect 401 "list without a session"
grep -qi '^www-authenticate: Bearer' "$tmp/hdr" || fail "401 without WWW-Authenticate: Bearer"
rreq POST "/v1/sign-services/$sa/grant"
expect 401 "grant without a session"
rreq POST "/v1/sign-services/$sa/grant" '{}' "not-a-token"
expect 401 "grant with a malformed token"
unchanged "a request without a session"

# --- the list, nothing granted ------------------------------------------------------------
rreq GET /v1/sign-services "" "$t1"
expect 200 "list"
[ "$(listed "$sa")" = "{\"id\":$sa,\"name\":\"grant-a-$$\",\"granted\":false,\"granted_at\":null}" ] ||
	fail "service a before any grant: $(listed "$sa")"
[ "$(listed "$sb")" = "{\"id\":$sb,\"name\":\"grant-b-$$\",\"granted\":false,\"granted_at\":null}" ] ||
	fail "service b before any grant: $(listed "$sb")"
[ "$(jq -r '[.services[].name] | join(",")' "$tmp/out")" = \
  "$(q "SELECT string_agg(name, ',' ORDER BY name) FROM sign_service WHERE disabled_at IS NULL")" ] ||
	fail "the list is not every service not disabled, by name: $(cat "$tmp/out")"
[ "$(jq -r --argjson a "$sa" --argjson b "$sb" '[.services[].id] | (index($a) < index($b))' "$tmp/out")" = true ] ||
	fail "grant-a listed after grant-b"

# --- grant ---------------------------------------------------------------------------------
bare "/v1/sign-services/$sa/grant" "$t1"
expect 201 "a new grant"
jq -e --argjson id "$sa" --arg n "grant-a-$$" '.id == $id and .name == $n and .granted == true and (keys | length) == 4' \
	"$tmp/out" >/dev/null || fail "grant answer: $(cat "$tmp/out")"
at1=$(jq -r .granted_at "$tmp/out")
[[ $at1 =~ $RFC3339 ]] || fail "granted_at $at1 is not RFC 3339 UTC"
[ "$(q "SELECT to_char(granted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM sign_grant
    WHERE account_id = $a1 AND service_id = $sa")" = "$at1" ] || fail "granted_at $at1 is not the row's"
[ "$(grant_row "$a1" "$sa")" = 1 ] || fail "no grant row after 201"
[ "$(events ra.sign_grant.add "$a1" "$sa")" = 1 ] || fail "ra.sign_grant.add not audited once with its details"
[ "$(all_events ra.sign_grant.add "$a1")" = 1 ] || fail "another ra.sign_grant.add for account $a1"

snap=$(state)
rreq POST "/v1/sign-services/$sa/grant" '{}' "$t1"
expect 200 "the same grant again"
jq -e --argjson id "$sa" --arg n "grant-a-$$" --arg at "$at1" \
	'.id == $id and .name == $n and .granted == true and .granted_at == $at' "$tmp/out" >/dev/null ||
	fail "the repeated grant's answer: $(cat "$tmp/out")"
unchanged "a repeated grant"

rreq GET /v1/sign-services "" "$t1"
expect 200 "list after the grant"
[ "$(listed "$sa")" = "{\"id\":$sa,\"name\":\"grant-a-$$\",\"granted\":true,\"granted_at\":\"$at1\"}" ] ||
	fail "service a after the grant: $(listed "$sa")"
[ "$(jq -r '.granted' <<<"$(listed "$sb")")" = false ] || fail "service b granted too: $(listed "$sb")"
rreq GET /v1/sign-services "" "$t2"
expect 200 "another account's list"
[ "$(jq -r '.granted' <<<"$(listed "$sa")")" = false ] || fail "account 2 sees account 1's grant: $(listed "$sa")"

# --- refused bodies and requests ---------------------------------------------------------
snap=$(state)
rreq POST "/v1/sign-services/$sb/grant" '{"scope":"all"}' "$t1"
expect 400 "a grant with a member"
[[ $(detail) == *scope* ]] || fail "the 400 does not name the member: $(detail)"
rreq POST "/v1/sign-services/$sb/grant" '{' "$t1"
expect 400 "a grant with malformed JSON"
rreq POST "/v1/sign-services/$sa/revoke" '{"x":1}' "$t1"
expect 400 "a revoke with a member"
code=$(curl -sS -X POST -o "$tmp/out" -D "$tmp/hdr" -w '%{http_code}' -H 'Content-Type: text/plain' \
	-H "Authorization: Bearer $t1" --data-binary '{}' "$rurl/v1/sign-services/$sb/grant")
expect 415 "a grant with a text/plain body"
unknown=$(q "SELECT max(id) + 1000 FROM sign_service")
rreq POST "/v1/sign-services/$unknown/grant" "" "$t1"
expect 404 "a grant of an unknown service"
rreq POST "/v1/sign-services/$sa/revoke" "" "$t2"
expect 404 "a revoke of another account's grant"
rreq GET "/v1/sign-services/$sa/grant" "" "$t1"
expect 405 "GET on the grant"
unchanged "the refused requests"
[ "$(grant_row "$a1" "$sb")" = 0 ] || fail "a refused grant left a row"

# --- revoke --------------------------------------------------------------------------------
bare "/v1/sign-services/$sa/revoke" "$t1"
expect 200 "revoke"
[ "$(jq -c . "$tmp/out")" = "{\"id\":$sa,\"name\":\"grant-a-$$\",\"granted\":false,\"granted_at\":null}" ] ||
	fail "revoke answer: $(cat "$tmp/out")"
[ "$(grant_row "$a1" "$sa")" = 0 ] || fail "the grant row is still there after the revoke"
[ "$(events ra.sign_grant.revoke "$a1" "$sa")" = 1 ] || fail "ra.sign_grant.revoke not audited once with its details"
snap=$(state)
rreq POST "/v1/sign-services/$sa/revoke" "" "$t1"
expect 404 "a second revoke"
unchanged "a second revoke"
rreq GET /v1/sign-services "" "$t1"
[ "$(jq -r '.granted' <<<"$(listed "$sa")")" = false ] || fail "still granted in the list after the revoke"

# --- a disabled service ---------------------------------------------------------------------
rreq POST "/v1/sign-services/$sc/grant" "" "$t2"
expect 201 "account 2 grants service c"
pkictl sigservice disable --name "grant-c-$$" >/dev/null || fail "pkictl sigservice disable"
snap=$(state)
rreq POST "/v1/sign-services/$sc/grant" "" "$t1"
expect 404 "a grant of a disabled service"
rreq POST "/v1/sign-services/$sc/grant" "" "$t2"
expect 404 "a grant again of a service disabled since"
unchanged "grants of a disabled service"
rreq GET /v1/sign-services "" "$t2"
expect 200 "list with a disabled service"
[ -z "$(listed "$sc")" ] || fail "a disabled service is listed: $(listed "$sc")"
rreq POST "/v1/sign-services/$sc/revoke" "" "$t2"
expect 200 "revoke of a disabled service's grant"
[ "$(grant_row "$a2" "$sc")" = 0 ] || fail "the disabled service's grant is still there"
[ "$(events ra.sign_grant.revoke "$a2" "$sc")" = 1 ] || fail "its revoke not audited"

# Totals: one add and one revoke for each account's grant, nothing else.
[ "$(all_events ra.sign_grant.add "$a1")/$(all_events ra.sign_grant.revoke "$a1")" = 1/1 ] ||
	fail "account 1's events: $(all_events ra.sign_grant.add "$a1")/$(all_events ra.sign_grant.revoke "$a1")"
[ "$(all_events ra.sign_grant.add "$a2")/$(all_events ra.sign_grant.revoke "$a2")" = 1/1 ] ||
	fail "account 2's events"
no_secret_in "rad's log" "$PKI_DIR/log/ra.log"
note "list, grant (201, then 200 unaudited), revoke (200, then 404), another account's grant, unknown and disabled services, refused bodies and sessions"
