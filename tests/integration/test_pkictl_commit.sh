#!/usr/bin/env bash
# pkictl after a COMMIT whose answer is lost while the server is still at
# it (ca/auditcmd.c pkictl_xact_committed): here a COMMIT that waits for a
# synchronous standby that is not there (synchronous_standby_names on a
# stack of the test's own), the connection broken just after the client
# sent it (pg_cut_proxy.py). Such a commit is in progress (pg_xact_status),
# invisible to every other session, and may still complete. pkictl asks
# for its transaction's fate, not for rows it could see, waits
# PKICTL_XACT_WAIT_MS, then says it does not know and keeps what it made:
#  - `cert revoke`: "whether the change committed is unknown", exit 1;
#    until 2026-12-07 it counted its audit event, saw none, said "nothing
#    was committed", the revocation then committed, and the operator's
#    retry was refused as already revoked;
#  - `key gen`: the key is kept; until 2026-12-07 it was destroyed while
#    its hsm.key.generate event then committed (the trail named a key that
#    no longer existed).
# Once the standby setting is gone, both commit; the retry is refused.
. "$(dirname "$0")/lib.sh"
tmp=$(test_tmpdir)
S=$tmp/stack
stack_new "$S"
stack_use "$S"
host=$(stack_get "$S" PKI_PG_HOST)
port=$(stack_get "$S" PKI_PG_PORT)

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/k" \
	-subj "/C=ID/CN=Commit Person/serialNumber=NIK:3174012345670001" -out "$tmp/c.csr" 2>/dev/null
pkictl cert issue --profile subscriber --csr "$tmp/c.csr" --out "$tmp/c.pem" >/dev/null || fail "cert issue"
ser=$(openssl x509 -noout -serial -in "$tmp/c.pem" | cut -d= -f2)

# pkictl's writes through the proxy; its auditor's questions straight.
px=$(mktemp -d /tmp/pki-cut.XXXXXX)
chmod 0755 "$px"
python3 "$(dirname "$0")/pg_cut_proxy.py" "$px" "$port" "$host/.s.PGSQL.$port" "$tmp/cuts" 2>"$tmp/px.err" &
at_exit "kill $! 2>/dev/null; rm -rf $px"
for ((i = 0; i < 50; i++)); do [ -S "$px/.s.PGSQL.$port" ] && break; sleep 0.1; done
[ -S "$px/.s.PGSQL.$port" ] || fail "pg_cut_proxy.py did not listen: $(cat "$tmp/px.err")"
sed "s|^admin_uri = .*|admin_uri = host=$px port=$port dbname=pki user=pki_admin connect_timeout=5|" \
	"$PKI_CONFIG" >"$tmp/cut.conf"
grep -q "^admin_uri = host=$px " "$tmp/cut.conf" || fail "no admin_uri to point at the proxy"

# (The stack runs with synchronous_commit off, which waits for no standby.)
at_exit "psql -X -q -At '$STACK_PG' -c 'ALTER SYSTEM RESET synchronous_standby_names' \
	-c 'ALTER SYSTEM RESET synchronous_commit' -c 'SELECT pg_reload_conf()' >/dev/null 2>&1"
q "ALTER SYSTEM SET synchronous_commit = on" >/dev/null
q "ALTER SYSTEM SET synchronous_standby_names = 'nobody'" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
for ((i = 0; i < 50; i++)); do [ "$(q "SHOW synchronous_standby_names")" = nobody ] && break; sleep 0.1; done

# Both at once (each waits PKICTL_XACT_WAIT_MS for its commit to settle).
rc1=0 rc2=0
"$PKICTL" --config "$tmp/cut.conf" cert revoke --serial "$ser" --reason keyCompromise >"$tmp/revoke.out" 2>&1 &
p1=$!
"$PKICTL" --config "$tmp/cut.conf" key gen --token pki-tsa --label commit-key-1 --type ec-p256 \
	>"$tmp/keygen.out" 2>&1 &
p2=$!
wait "$p1" || rc1=$?
wait "$p2" || rc2=$?
[ "$(grep -c '^cut' "$tmp/cuts" 2>/dev/null)" = 2 ] || fail "the proxy did not cut both COMMITs: $(cat "$tmp/cuts" 2>/dev/null)"
# Not visible yet: the COMMITs still wait.
[ "$(q "SELECT revoked_at IS NULL FROM certificate WHERE serial = '$ser'")" = t ] ||
	fail "the revocation is visible before the standby setting is gone: the test proves nothing"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'hsm.key.generate' AND object_id = 'commit-key-1'")" = 0 ] ||
	fail "the key's event is visible before the standby setting is gone: the test proves nothing"
[ "$rc1" = 1 ] && grep -q "certificate $ser of issuer .*: whether the change committed is unknown" \
	"$tmp/revoke.out" || fail "revoke, its COMMIT waiting: exit $rc1: $(cat "$tmp/revoke.out")"
! grep -q 'nothing was committed' "$tmp/revoke.out" || fail "revoke said nothing was committed"
[ "$rc2" = 1 ] && grep -q 'key gen commit-key-1 in pki-tsa: whether its audit event committed is unknown' \
	"$tmp/keygen.out" && grep -q 'the key is kept' "$tmp/keygen.out" ||
	fail "key gen, its COMMIT waiting: exit $rc2: $(cat "$tmp/keygen.out")"
! grep -q 'was destroyed' "$tmp/keygen.out" || fail "key gen destroyed the key"
pkictl key list --token pki-tsa | grep -q 'commit-key-1' || fail "the key is not in the token"

# The standby requirement lifted: both commits complete.
q "ALTER SYSTEM RESET synchronous_standby_names" >/dev/null
q "ALTER SYSTEM RESET synchronous_commit" >/dev/null
q "SELECT pg_reload_conf()" >/dev/null
for ((i = 0; i < 100; i++)); do
	[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'hsm.key.generate' AND object_id = 'commit-key-1'")" = 1 ] &&
		[ "$(q "SELECT revocation_reason FROM certificate WHERE serial = '$ser'")" = 1 ] && break
	sleep 0.1
done
[ "$(q "SELECT revocation_reason FROM certificate WHERE serial = '$ser'")" = 1 ] ||
	fail "the revocation did not commit once the standby setting was gone"
[ "$(q "SELECT count(*) FROM audit_event WHERE action = 'hsm.key.generate' AND object_id = 'commit-key-1'")" = 1 ] ||
	fail "the key's event did not commit once the standby setting was gone"
pkictl key list --token pki-tsa | grep -q 'commit-key-1' || fail "the recorded key is gone"
rc=0; pkictl cert revoke --serial "$ser" --reason keyCompromise >"$tmp/out" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "the operator's retry: exit $rc: $(cat "$tmp/out")"
note "revoke and key gen whose COMMIT was still waiting: unknown, key kept; both committed afterwards"
exit 0
