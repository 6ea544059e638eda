#!/usr/bin/env bash
# crld's list of issuing CAs, on a stack of its own (crl/README.md "Several
# issuing CAs"): rows it can never serve, and CAs that end while it runs.
# - An issuing CA row whose name is no file name, or whose subject has no CN
#   (the stack sets ldap.base): until 2026-12-07 such a row present at
#   start-up stopped crld, and every other CA's CRLs with it (the CA watch
#   only skipped it). Now start-up skips it as the watch does: logged once,
#   named in /health ("not_served", degraded).
# - A CA past its grace (notAfter + crl.expired_grace_seconds) while crld
#   runs: until 2026-12-07 it was dropped only at the next start. Now the
#   CA watch drops it: its paths answer 404, /health lists it in "ended",
#   the log says so; the others are issued and served as before. When the
#   CA that ends is the one whose thread loads the root's ARL (`issuing`),
#   the next CA's thread loads it from then on: a new ARL is served.
. "$(dirname "$0")/lib.sh"
T=$(test_tmpdir)
S=$T/stack
stack_new "$S"
stack_use "$S"
crlnum() { echo $((16#$(openssl crl -inform DER -in "$1" -noout -crlnumber | cut -d= -f2 | sed 's/^0x//'))); }
[ -n "$(stack_get "$S" PKI_LDAP_BASE)" ] || fail "the stack sets no ldap.base: the no-CN case needs one"

# add NAME SUBJECT NOT-AFTER-SQL: an issuing CA row (and its ca_key row, in a
# token crld does not have) under the root, its certificate self-signed.
ex=$T/cas
mkdir -p "$ex"
hexder() { openssl x509 -in "$1" -outform DER | od -An -v -tx1 | tr -d ' \n'; }
hexspki() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | od -An -v -tx1 | tr -d ' \n'; }
n=0
add() {
	local spki der pem
	n=$((n + 1))
	pem=$ex/$n.pem
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ex/$n.key" -days 1 \
		-subj "$2" -out "$pem" 2>/dev/null || fail "certificate of $1"
	spki=$(hexspki "$pem")
	der=$(hexder "$pem")
	q "WITH k AS (INSERT INTO ca_key (role, token_label, key_label, key_type, spki, spki_sha256)
	    VALUES ('issuing', 'elsewhere', 'key-$n', 'ec-p256', decode('$spki', 'hex'), encode(sha256(decode('$spki', 'hex')), 'hex'))
	    RETURNING id)
	    INSERT INTO ca_certificate (name, role, key_id, issuer_id, serial, subject, issuer, not_before, not_after, sha256, der)
	    SELECT '$1', 'issuing', k.id, (SELECT id FROM ca_certificate WHERE name = 'root'),
	        '$(openssl x509 -in "$pem" -noout -serial | cut -d= -f2)',
	        '$(openssl x509 -in "$pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')',
	        '$(openssl x509 -in "$pem" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')',
	        now() - interval '30 days', $3, encode(sha256(decode('$der', 'hex')), 'hex'), decode('$der', 'hex') FROM k" >/dev/null ||
		fail "inserting $1"
}
grace=$(sed -n 's/^[[:space:]]*expired_grace_seconds[[:space:]]*=[[:space:]]*//p' "$REPO/policy/crl.conf" | head -n1)
grace=${grace:-604800}
# ending: valid at start-up; once crld serves it, its grace is set to end
# a few seconds later (below), and crld, running, sees it pass.
add 'bad name' '/CN=Bad Name Issuing CA' "'2099-01-01Z'"
add nocn '/O=No Common Name' "'2099-01-01Z'"
add ending '/CN=Ending Issuing CA' "'2099-01-01Z'"
add later '/CN=Later Issuing CA' "'2099-01-01Z'"

# --- a crld started with them: it starts, skips the two it can never serve --------------
# The CA watch's round every second (the least allowed): what is judged is
# what one round, or several, does, never when it comes.
rec=1
mkdir -p "$T/out"
[ "$(id -u)" -ne 0 ] || chown pki-crl "$T/out"
chmod 0711 "$T"
port=$(free_port)
W=http://127.0.0.1:$port/crl
PKI_CRL_PORT=$port PKI_CRL_OUT_DIR=$T/out PKI_CRL_INSTANCE=test-crl-watch \
PKI_CRL_RECONCILE_INTERVAL_SECONDS=$rec \
	"$BUILD/crld" --config "$PKI_CONFIG" >"$T/crld.log" 2>&1 &
pid=$!
at_exit "kill -TERM $pid 2>/dev/null || true"
code() { curl -s -o "$T/w.out" -w '%{http_code}' --max-time 5 "$W/$1"; }
health() { curl -s -o "$T/health" --max-time 5 "${W%/crl}/health" && jq -e "$1" "$T/health" >/dev/null; }
for _ in $(seq 300); do [ "$(code issuing.crl)" = 200 ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
[ "$(code issuing.crl)" = 200 ] || { cat "$T/crld.log"; fail "crld with an issuing CA it cannot serve in the database serves no issuing.crl"; }
[ "$(code ending.crt)" = 200 ] && [ "$(code later.crt)" = 200 ] ||
	{ cat "$T/crld.log"; fail "crld does not serve the other CAs' certificates"; }
has -F 'issuing CA \"bad name\" not served: its name is not a file or URL name' "$T/crld.log" ||
	{ cat "$T/crld.log"; fail "crld does not say why \"bad name\" is not served"; }
has -F 'issuing CA \"nocn\" not served: no LDAP entry name' "$T/crld.log" ||
	{ cat "$T/crld.log"; fail "crld does not say why nocn is not served"; }
health '.status == "degraded" and ([.not_served[].name] | sort) == ["bad name", "nocn"] and
    (.not_served[] | select(.name == "nocn") | .why | test("no CN")) and .ended == []' ||
	{ cat "$T/health"; fail "/health does not name the CAs crld cannot serve"; }
[ "$(code bad%20name.crt)" = 404 ] && [ "$(code nocn.crt)" = 404 ] || fail "a CA not served has paths"
# ending, served: its grace ends in 2 s, while crld runs (judged below,
# after these rounds).
q "UPDATE ca_certificate SET not_after = now() - interval '$grace seconds' + interval '2 seconds'
    WHERE name = 'ending'" >/dev/null
sleep $((3 * rec))	# three rounds of the CA watch: still logged once
for who in '\"bad name\"' '\"nocn\"'; do
	[ "$(grep -cF "issuing CA $who not served" "$T/crld.log")" = 1 ] ||
		{ cat "$T/crld.log"; fail "issuing CA $who not logged exactly once"; }
done
note "issuing CA rows crld can never serve (no file name, no CN): skipped at start-up, logged once, /health not_served"

# --- a CA past its grace while crld runs: dropped by the CA watch --------------------------
for _ in $(seq 300); do [ "$(code ending.crt)" = 404 ] && break; sleep 0.1; done
[ "$(code ending.crt)" = 404 ] && [ "$(code ending.crl)" = 404 ] && [ "$(code ending-delta.crl)" = 404 ] ||
	{ cat "$T/crld.log"; fail "the CA past its grace is still served"; }
# The paths go first (crl/main.c crld_watch_end), then the log line; the
# round rewrites crld-cas.json after one more query.
wait_line "$T/crld.log" 'issuing CA ending ended: its notAfter is more than crl.expired_grace_seconds' ||
	{ cat "$T/crld.log"; fail "the log does not say the CA ended"; }
health '.ended == ["ending"] and (.not_signed | index("ending") | not) and (.documents | has("/crl/ending.crt") | not) and
    (.not_signed | sort) == ["later"]' ||
	{ cat "$T/health"; fail "/health does not say the CA ended"; }
cas_without_ending() { jq -e '[.issuing_cas[].name] | sort == ["issuing", "later"]' "$T/out/crld-cas.json" >/dev/null; }
for _ in $(seq 100); do cas_without_ending && break; sleep 0.1; done
cas_without_ending || { cat "$T/out/crld-cas.json"; fail "crld-cas.json still lists the ended CA"; }
# The others go on: a base of issuing on SIGHUP; later's certificate.
[ "$(code issuing.crl)" = 200 ] && n1=$(crlnum "$T/w.out")
kill -HUP "$pid"
base() { [ "$(code issuing.crl)" = 200 ] && [ "$(crlnum "$T/w.out")" -gt "$n1" ]; }
for _ in $(seq 100); do base && break; sleep 0.1; done
base || { cat "$T/crld.log"; fail "after a CA ended, no new base of issuing on SIGHUP"; }
[ "$(code later.crt)" = 200 ] || fail "after a CA ended, later.crt not served"
note "an issuing CA past its grace while crld runs: dropped (404, log, /health ended, crld-cas.json), the others go on"

# --- the CA whose thread loads the root's ARL ends: the next one loads it --------------------
[ "$(code root.crl)" = 200 ] && r1=$(crlnum "$T/w.out") || fail "no root.crl before issuing ends"
q "UPDATE ca_certificate SET not_before = now() - interval '30 days', not_after = now() - interval '$grace seconds' - interval '1 second'
    WHERE name = 'issuing'" >/dev/null
for _ in $(seq 100); do [ "$(code issuing.crl)" = 404 ] && break; sleep 0.1; done
[ "$(code issuing.crl)" = 404 ] || { cat "$T/crld.log"; fail "issuing, past its grace, is still served"; }
# Logged once later's thread is restarted, after the paths went.
for _ in $(seq 100); do has 'issuing CA later: its thread loads the root.s CRL now' "$T/crld.log" && break; sleep 0.1; done
has 'issuing CA later: its thread loads the root.s CRL now' "$T/crld.log" ||
	{ cat "$T/crld.log"; fail "the root's ARL was handed to no other thread"; }
pkictl crl arl >"$T/arl.out" 2>&1 || { cat "$T/arl.out"; fail "pkictl crl arl"; }
arl() { [ "$(code root.crl)" = 200 ] && [ "$(crlnum "$T/w.out")" -gt "$r1" ]; }
for _ in $(seq 100); do arl && break; sleep 0.1; done
arl || { cat "$T/crld.log"; fail "after issuing ended, a new ARL is not served"; }
health '(.ended | sort) == ["ending", "issuing"]' || { cat "$T/health"; fail "/health: issuing not ended"; }
note "issuing ended: the next CA's thread serves the root's new ARL"

# --- later is the last one: past its grace, kept (a restart would refuse to start) --------
q "UPDATE ca_certificate SET not_before = now() - interval '30 days', not_after = now() - interval '$grace seconds' - interval '1 second'
    WHERE name = 'later'" >/dev/null
for _ in $(seq 100); do has 'issuing CA later is past its grace .* but is the last one crld serves' "$T/crld.log" && break; sleep 0.1; done
has 'issuing CA later is past its grace .* but is the last one crld serves' "$T/crld.log" ||
	{ cat "$T/crld.log"; fail "the last CA past its grace: no warning"; }
sleep $((2 * rec))
[ "$(grep -c 'issuing CA later is past its grace' "$T/crld.log")" = 1 ] || fail "the last CA's warning is not logged once"
[ "$(code later.crt)" = 200 ] && [ "$(code root.crl)" = 200 ] || fail "the last CA is not served"
note "the last CA past its grace: kept and served, warned once"

kill -TERM "$pid"
wait "$pid" || { cat "$T/crld.log"; fail "crld exited non-zero on SIGTERM"; }
! grep -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error' "$T/crld.log" ||
	fail "sanitizer report in crld's log"
