#!/usr/bin/env bash
# signd and a wrap token PIN given in the environment (PKI_WRAP_PIN;
# hsm/README.md "PINs from the environment"): the network-facing worker
# never holds it — neither the variable's value nor its bytes are in its
# /proc/<pid>/environ — nor does a SAM once logged in; the supervisor keeps
# it (it starts SAMs again), so a SAM killed is replaced and signing goes
# on. With hsm.wrap_pin_file set too, the file wins, a warning names both
# settings (not the value), and no process of signd keeps the variable.
# Two signd of the test's own, on free ports, one SAM each.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_subscriber.sh"
subscriber_env
touch "$tmp/details"
pw='Signer-Horse7'

pinfile=$(sed -n 's/^wrap_pin_file *= *//p' "$PKI_CONFIG" | sed -n 1p)
[ -n "$pinfile" ] && [ -r "$pinfile" ] || fail "no hsm.wrap_pin_file in the stack's configuration"
wpin=$(cat "$pinfile")
[ ${#wpin} -ge 4 ] || fail "the wrap PIN is too short to look for"
grep -v '^wrap_pin_file' "$PKI_CONFIG" >"$tmp/nofile.conf"

pkictl sigservice add --name "pinenv-$$" >"$tmp/svc" || fail "pkictl sigservice add"
cid=$(sed -n 's/^client_id\t//p' "$tmp/svc")
csec=$(sed -n 's/^client_secret\t//p' "$tmp/svc")
account "pinenv-$$@example.com" +6281277773001 402917
grant "$tok" "$(sed -n 's/^id\t//p' "$tmp/svc")"
cred=$(issue "$aid" personal personal ec-p256 "Pin Env")
cert_pem "$cred" "$tmp/c.pem"

# start_signd CONFIG LOG: a signd with PKI_WRAP_PIN set; sets sup, surl.
start_signd() {
	local port
	port=$(free_port)
	PKI_SIGN_PORT=$port PKI_SIGN_THREADS=1 PKI_WRAP_PIN=$wpin \
		"$BUILD/signd" --config "$1" >"$2" 2>&1 &
	sup=$!
	at_exit "kill $sup 2>/dev/null || true"
	surl=http://127.0.0.1:$port/csc/v2
	for _ in $(seq 100); do
		curl -s -o /dev/null -X POST "$surl/info" -H 'Content-Type: application/json' --data '{}' && return 0
		kill -0 "$sup" 2>/dev/null || { cat "$2"; fail "signd died at start"; }
		sleep 0.1
	done
	fail "signd does not answer"
}
stop_signd() {
	kill "$sup"
	wait "$sup" 2>/dev/null || true
}
worker_pid() { # the supervisor's child that is not a SAM
	local c
	for c in $(pgrep -P "$sup"); do
		[ "$(cat "/proc/$c/comm")" = signd-sam ] || echo "$c"
	done
}
# holds PID: 0 when the PIN's bytes are in PID's environment.
holds() { tr '\0' '\n' <"/proc/$1/environ" | grep -qF -- "$wpin"; }
sign_once() { # sign_once WHAT: a token, an authorization and a verified signature
	code=$(curl -sS -X POST -o "$tmp/out" -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' \
		--data-binary "grant_type=client_credentials&client_id=$cid&client_secret=$csec" "$surl/oauth2/token")
	[ "$code" = 200 ] || fail "$1: oauth2/token: $code $(cat "$tmp/out")"
	at=$(jq -r .access_token "$tmp/out")
	hashes sha256 1
	authorize "$cred" "$H" $SHA256 '"PIN":"402917"'
	[ "$code" = 200 ] || fail "$1: authorize: $code $(cat "$tmp/out")"
	signhash "$cred" "$SAD" "$H" $SHA256 $EC
	[ "$code" = 200 ] || fail "$1: signHash: $code $(cat "$tmp/out")"
	verify "$tmp/c.pem" 0
}
# check_procs WHAT SUPERVISOR-HOLDS(yes|no)
check_procs() {
	local w s
	w=$(worker_pid)
	[ -n "$w" ] || fail "$1: no worker"
	! holds "$w" || fail "$1: the worker (pid $w) has the wrap PIN in its environment"
	for s in $(pgrep -P "$sup" -x signd-sam); do
		! holds "$s" || fail "$1: SAM $s has the wrap PIN in its environment"
	done
	if [ "$2" = yes ]; then
		holds "$sup" || fail "$1: the supervisor lost the PIN it starts SAMs with"
	else
		! holds "$sup" || fail "$1: the supervisor keeps a PIN it never reads"
	fi
}

# (a) The PIN only in the environment.
start_signd "$tmp/nofile.conf" "$tmp/a.log"
sign_once "env only"
check_procs "env only" yes
sam=$(pgrep -P "$sup" -x signd-sam)
kill -KILL "$sam"
for _ in $(seq 100); do
	s=$(pgrep -P "$sup" -x signd-sam || true)
	[ -n "$s" ] && [ "$s" != "$sam" ] && grep -q 'serves again' "$tmp/a.log" && break
	sleep 0.1
done
sign_once "env only, a new SAM"
check_procs "env only, a new SAM" yes
stop_signd
note "PKI_WRAP_PIN alone: not in the worker's or the SAMs' environment; a new SAM logs in with it"

# (b) The PIN file and the variable.
start_signd "$PKI_CONFIG" "$tmp/b.log"
sign_once "file and env"
check_procs "file and env" no
grep -q 'both hsm.wrap_pin_file and PKI_WRAP_PIN are set' "$tmp/b.log" ||
	{ cat "$tmp/b.log"; fail "no warning for both hsm.wrap_pin_file and PKI_WRAP_PIN"; }
[ "$(grep -c 'both hsm.wrap_pin_file and PKI_WRAP_PIN are set' "$tmp/b.log")" = 1 ] ||
	fail "the warning is not logged once: $(grep -c 'both hsm.wrap_pin_file' "$tmp/b.log")"
stop_signd
! grep -qF -- "$wpin" "$tmp/a.log" "$tmp/b.log" || fail "the wrap PIN in signd's log"
note "hsm.wrap_pin_file and PKI_WRAP_PIN: warned once, nobody keeps the variable"
