#!/usr/bin/env bash
# rad's handlers when the database fails them mid-request, at a rad of its
# own (ra.db_timeout_seconds 1) against the stack of tests/run.sh: each
# answer is 503 problem JSON with Retry-After: 5 (DB_RETRY_AFTER_S) and
# changes nothing (audit_event, the tables the request would write):
#  - its request backend stopped (SIGSTOP, as test_db_stall.sh): a
#    subscriber's log-in, application list and OTP, an officer's queue, a
#    password reset request, and /health (degraded, the same Retry-After);
#  - a lock held past rad's bound deep in a handler, after its
#    refusals were decided (a wrong password's count, a wrong OTP's
#    failure record, an officer's log-in): not the 401 of the refusal;
#  - the COMMIT of an email change's link given up (a deferred trigger
#    waits on a lock the test holds): the change to an address another
#    account took meanwhile commits the used link alone, and was answered
#    409, final, though nothing was recorded (until 2026-12-07); now 503
#    (pki_ra's lock_timeout, at the stack's rad),
#    the link still usable, and 409 once the database answers.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
mail=$PKI_DIR/spool/ra-mail
sms=$PKI_DIR/spool/ra-sms
q() { sql_as "$PKI_TEST_PG_URI" "$1"; }
secrets=()
. "$(dirname "$0")/lib_ra.sh"
state() {
	q "SELECT $AUDIT_MAX_OWN || '/' || (SELECT count(*) FROM ra_session) || '/' ||
	    (SELECT count(*) FROM ra_otp) || '/' || (SELECT coalesce(sum(attempts), 0) FROM ra_otp) || '/' ||
	    (SELECT coalesce(sum(failed_logins), 0) FROM ra_account) || '/' ||
	    (SELECT coalesce(sum(factor_failures), 0) FROM ra_account) || '/' ||
	    (SELECT count(*) FROM ra_email_verification WHERE used_at IS NOT NULL) || '/' ||
	    (SELECT count(*) FROM ra_password_reset) || '/' ||
	    (SELECT string_agg(email || email_verified, ',' ORDER BY id) FROM ra_account)"
	{ grep -l -- '^To: <[^>]*@dbfail\.example>' "$mail"/*.eml 2>/dev/null || true; } | wc -l
	find "$sms" -type f 2>/dev/null | wc -l
}
# The mail sink counted by this test's recipients (rad's outbox sends the
# other tests' mail whenever it comes), and this test's own queued mail sent
# before the snapshot, not during the request (lib_ra.sh's before, with
# outbox_settled first). The SMS sink is counted whole: only a request's
# handler sends an SMS (ra/factor.c), no daemon in the background. The
# audit without the events of rad's notifier and the stack's cad
# (AUDIT_MAX_OWN): they write theirs for an earlier test's application,
# order or outbox mail in any window, and a request to rad's HTTP API
# writes neither.
before() {
	outbox_settled '%@dbfail.example' || fail "rad's outbox did not send this test's mail within 30 s"
	state >"$tmp/state.before"
}
# unavailable WHAT: the answer is rad's 503 for the database, nothing changed.
unavailable() {
	expect 503 "$1"
	grep -qi '^retry-after: 5' "$tmp/hdr" || fail "$1: 503 without Retry-After: 5"
	detail | has 'database is unavailable or busy' || fail "$1: $(detail)"
	unchanged "$1"
}

before_rad=$(q "SELECT coalesce(string_agg(pid::text, ','), '0') FROM pg_stat_activity WHERE usename = 'pki_ra'")
# Each request refused below waits out this rad's bound (1 s, ~9 of them).
# Everything else (the accounts, log-ins, OTPs, the last section) goes to
# the stack's rad (ra.db_timeout_seconds 20), which a loaded machine's
# database does not keep waiting that long; sessions are the database's.
start_rad rad_dbfail PKI_RA_DB_TIMEOUT_SECONDS=1
url=$PKI_RA_URL
# backend: the pid of this rad's request connection, the one that ran
# /health's query. /health again (5 s at most) while it is not 200 (a
# loaded machine's answer past 1 s: 503, the connection made anew) or
# another backend of this rad's still shows that query (one given up, not
# yet gone).
backend() {
	local url=$rad_url tok= p= i
	for ((i = 0; i < 50; i++)); do
		req GET /health
		if [ "$code" = 200 ]; then
			p=$(q "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE usename = 'pki_ra'
				AND pid NOT IN ($before_rad) AND state = 'idle' AND query LIKE '%FROM ra_mail_outbox WHERE sent_at IS NULL%'")
			[[ $p =~ ^[0-9]+$ ]] && break
		fi
		sleep 0.1
	done
	expect 200 "/health"
	[[ $p =~ ^[0-9]+$ ]] || fail "rad's request backend not found: '$p'"
	echo "$p"
}
# stopped_req WHAT METHOD PATH [BODY]: the request to this rad, its backend stopped.
stopped_req() {
	local what=$1 pid url=$rad_url
	shift
	pid=$(backend)
	before
	kill -STOP "$pid"
	req "$@"
	kill -CONT "$pid"
	unavailable "$what, its backend stopped"
}

pw='Dbfail-Pass-2026'
secrets+=("$pw")
ra_account d1@dbfail.example +6281200009101 "$pw"
acc1=$aid tok1=$tok
opw='Officer-Dbfail-2026'
secrets+=("$opw")
(umask 077; printf '%s\n' "$opw" >"$tmp/officer.pw")
ra_officer dbf-off ra_officer "$tmp/officer.pw"
otok1=$otok

# --- the request backend stopped --------------------------------------------------------
tok=
stopped_req "a log-in" POST /v1/login "{\"email\":\"d1@dbfail.example\",\"password\":\"$pw\"}"
stopped_req "a reset request" POST /v1/password/forgot '{"email":"d1@dbfail.example"}'
tok=$tok1
stopped_req "the subscriber's applications" GET /v1/applications
stopped_req "an OTP" POST /v1/otp '{"channel":"sms","purpose":"set_pin"}'
tok=$otok1
stopped_req "the officer's queue" GET /v1/officer/applications
tok=
pid=$(backend)
kill -STOP "$pid"
url=$rad_url req GET /health
kill -CONT "$pid"
[ "$code" = 503 ] && [ "$(jq -r .status "$tmp/out")" = degraded ] || fail "/health, its backend stopped: $code $(cat "$tmp/out")"
grep -qi '^retry-after: 5' "$tmp/hdr" || fail "/health degraded without Retry-After: 5"
note "the request backend stopped: 503 problem JSON with Retry-After: 5, nothing changed"

# --- a lock held past rad's bound, after the refusal was decided -----------------------
# locked TABLE WHAT METHOD PATH [BODY]: the request to this rad while TABLE
# refuses writes.
locked() {
	local t=$1 what=$2 ok url=$rad_url
	shift 2
	open_tx
	echo "BEGIN; LOCK TABLE $t IN SHARE ROW EXCLUSIVE MODE; SELECT 'locked';" >&"$tx_in"
	read -r -t 10 ok <&"$tx_out" && [ "$ok" = locked ] || fail "LOCK TABLE $t: $ok"
	before
	req "$@"
	commit_tx
	unavailable "$what, $t locked"
	# The connection given up still holds its transaction, its statement
	# done once the lock went (a lock on the table written, until
	# idle_in_transaction_session_timeout): this rad's next request
	# closes it, before the next LOCK TABLE waits for it.
	backend >/dev/null
}
tok=
locked ra_account "a wrong password's count" POST /v1/login '{"email":"d1@dbfail.example","password":"Wrong-Pass-2026x"}'
locked audit_event "an officer's wrong log-in" POST /v1/officer/login '{"username":"dbf-off","password":"Wrong-Pass-2026x","totp":"123456"}'
tok=$tok1
req POST /v1/otp '{"channel":"sms","purpose":"set_pin"}'
expect 201 "otp set_pin"
otp=$(jq -r .otp_id "$tmp/out")
locked audit_event "a wrong OTP's failure record" POST /v1/pin "{\"pin\":\"402917\",\"factor\":{\"type\":\"otp\",\"otp_id\":$otp,\"code\":\"000000\"}}"
note "a lock held past rad's bound deep in a handler: 503, not its refusal"

# --- the COMMIT of a used link given up -------------------------------------------------
# d1 asks for d9's address; d9 registers it meanwhile; d1's link then
# commits its use alone (409), unless that COMMIT fails.
tok=$tok1
req POST /v1/otp '{"channel":"sms","purpose":"set_pin"}'
expect 201 "otp set_pin"
otp=$(jq -r .otp_id "$tmp/out")
c=$(sms_code +6281200009101)
secrets+=("$c" 402917)
req POST /v1/pin "{\"pin\":\"402917\",\"factor\":{\"type\":\"otp\",\"otp_id\":$otp,\"code\":\"$c\"}}"
expect 200 "the PIN of d1"
# Its notice goes out through the outbox (ra_pin_notice), at the notifier's
# pace: in the mail sink before the state is taken below, not meanwhile.
n=
for ((i = 0; i < 300; i++)); do
	n=$(grep -l -- '^To: <d1@dbfail.example>' "$mail"/*.eml 2>/dev/null |
	    xargs -r grep -l 'A PIN was set' 2>/dev/null || true)
	[ -n "$n" ] && break
	sleep 0.1
done
[ -n "$n" ] || fail "the notice of d1's PIN not in the mail sink within 30 s"
req POST /v1/email '{"email":"d9@dbfail.example","factor":{"type":"pin","pin":"402917"}}'
expect 202 "d1's change to d9's address"
link=$(sed -n 's/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' "$(mail_to d9@dbfail.example)" | tr -d '\r' | sed -n 1p)
secrets+=("$link")
tok=
req_patient POST /v1/register "{\"email\":\"d9@dbfail.example\",\"phone\":\"+6281200009109\",\"password\":\"$pw\"}"
expect 201 "d9 registers its address"
# A deferred trigger on d1's links: at COMMIT it waits for advisory lock
# 503001, which the test holds: pki_ra's lock_timeout ends the COMMIT.
q "CREATE FUNCTION pg_temp_dbfail_wait() RETURNS trigger LANGUAGE plpgsql
	SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS \$\$
	BEGIN PERFORM pg_advisory_xact_lock(503001); RETURN NULL; END \$\$;
    CREATE CONSTRAINT TRIGGER dbfail_wait AFTER UPDATE ON ra_email_verification
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.account_id = $acc1)
	EXECUTE FUNCTION pg_temp_dbfail_wait()"
at_exit "sql_as '$PKI_TEST_PG_URI' 'DROP TRIGGER IF EXISTS dbfail_wait ON ra_email_verification; DROP FUNCTION IF EXISTS pg_temp_dbfail_wait()' >/dev/null 2>&1"
# The stack's rad (ra.db_timeout_seconds 20): pki_ra's lock_timeout (5 s)
# ends the COMMIT on the server, which rolls it back; this test's rad's 1 s
# would give the COMMIT up first, and the server could still complete it.
open_tx
echo "BEGIN; SELECT 'locked' FROM (SELECT pg_advisory_xact_lock(503001)) l;" >&"$tx_in"
read -r -t 10 ok <&"$tx_out" && [ "$ok" = locked ] || fail "pg_advisory_xact_lock: $ok"
before
req POST /v1/verify-email "{\"token\":\"$link\"}"
commit_tx
unavailable "the link's COMMIT given up"
q "DROP TRIGGER dbfail_wait ON ra_email_verification; DROP FUNCTION pg_temp_dbfail_wait()"
req POST /v1/verify-email "{\"token\":\"$link\"}"
expect 409 "the link, the database back"
detail | has 'another account holds this email address' || fail "the link's 409: $(detail)"
note "the COMMIT of a used link given up: 503 and the link kept; 409 once the database answers"

grep -q 'Sanitizer' "$tmp/rad_dbfail.log" && { cat "$tmp/rad_dbfail.log"; fail "rad: a sanitizer report"; }
for s in "${secrets[@]}"; do
	grep -qF -- "$s" "$tmp/rad_dbfail.log" && fail "a secret in rad's log"
done
kill -TERM "$rad_pid"
wait "$rad_pid" || { cat "$tmp/rad_dbfail.log"; fail "rad exited non-zero on SIGTERM"; }
exit 0
