#!/usr/bin/env bash
# deploy/walkthrough.sh, the README's tour of the product, runs as written
# against a stack (this suite's): register → KYC → an officer approves →
# agreement → certificate (openssl verify, OCSP good) → a PDF signed at
# B-T (pdfsig valid) → the audit trail sealed and verified by pkiaudit.
# It must not put a secret on a command line: curl and jq, which carry its
# requests, are run through shims that log every argv, and the log must
# hold no JSON member that is a secret ("password": …, "code": …), no bearer,
# no six digits (the PIN, a code), not the password, and none of the codes
# and link tokens the sinks received meanwhile.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
mkdir -p "$tmp/shim"
: >"$tmp/argv"
for t in curl jq; do
	real=$(command -v "$t") || fail "$t missing"
	cat >"$tmp/shim/$t" <<SHIM
#!/usr/bin/env bash
echo "$t \$*" >>"$tmp/argv"
exec "$real" "\$@"
SHIM
	chmod +x "$tmp/shim/$t"
done
touch "$tmp/start"
sleep 1	# the sinks' files of this run are newer than start
# --out relative, as a user types it: until 2026-12-06 step 4 read the
# signed PDF through it from another directory and failed there.
(cd "$tmp" && PATH="$tmp/shim:$PATH" "$REPO/deploy/walkthrough.sh" --dir "$PKI_STACK_DIR" --out out) \
	>"$tmp/walk.log" 2>&1 || { cat "$tmp/walk.log"; fail "deploy/walkthrough.sh failed"; }
for s in 1 2 3 4 5; do
	has "^== $s\\. " "$tmp/walk.log" || { cat "$tmp/walk.log"; fail "step $s missing"; }
done
has -F 'Signature Validation: Signature is Valid.' "$tmp/walk.log" &&
	has -F 'Certificate Validation: Certificate is Trusted.' "$tmp/walk.log" &&
	has -F 'openssl ocsp' "$tmp/walk.log" && has -F ': all verified' "$tmp/walk.log" ||
	{ cat "$tmp/walk.log"; fail "a judgement missing from the walk-through's output"; }
openssl verify -CAfile "$PKI_ROOT_CERT" -untrusted "$PKI_ISSUING_CERT" "$tmp/out/certificate.pem" >/dev/null ||
	fail "the walk-through's certificate does not verify"
qpdf --check "$tmp/out/agreement.signed.pdf" >/dev/null || fail "qpdf --check of the signed PDF"
# The account's events are in the export pkiaudit verified.
has '"action": "ra.application.agree"' "$tmp/out/audit-events.jsonl" &&
	has '"action": "sign.hash"' "$tmp/out/audit-events.jsonl" || fail "the walk-through's events are not in the export"
# No secret on a command line.
[ "$(grep -c '^curl ' "$tmp/argv")" -ge 10 ] && [ "$(grep -c '^jq ' "$tmp/argv")" -ge 10 ] ||
	fail "the shims saw too few calls: $(wc -l <"$tmp/argv")"
leak='bearer\|"\(password\|code\|pin\|token\|totp\)" *:'
! has -i "$leak" "$tmp/argv" || fail "a secret on a command line: $(grep -i "$leak" "$tmp/argv" | head -3)"
secrets=$(find "$PKI_DIR/spool/ra-sms" "$PKI_DIR/spool/ra-mail" -type f -newer "$tmp/start" -exec cat {} + |
	tr -d '\r' | sed -n 's/.*PKI RA code \([0-9]\{6\}\) for.*/\1/p; s/.*token=\([A-Za-z0-9_-]\{43\}\).*/\1/p' | sort -u)
[ "$(wc -w <<<"$secrets")" -ge 4 ] || fail "fewer codes and links in the sinks than the walk-through used: $secrets"
# The PIN and every code are six digits; the password has the script's form.
! has -wE '[0-9]{6}' "$tmp/argv" || fail "six digits (a PIN or a code) on a command line: $(grep -wE '[0-9]{6}' "$tmp/argv" | head -2)"
! has -E 'Walk-[0-9a-f]{16}-9x' "$tmp/argv" || fail "the password on a command line"
for s in $secrets; do
	! has -wF -- "$s" "$tmp/argv" || fail "code or link token $s on a command line: $(grep -wF -- "$s" "$tmp/argv" | head -1)"
done
# A daemon it needs is down: it stops before the first request, naming it
# (it used to register, approve and agree, then wait 30 s for cad).
stack_daemon_stop cad
"$REPO/deploy/walkthrough.sh" --dir "$PKI_STACK_DIR" --out "$tmp/down" >"$tmp/down.log" 2>&1 &&
	fail "the walk-through ran with cad down: $(cat "$tmp/down.log")"
has -F "not running in $PKI_STACK_DIR: cad " "$tmp/down.log" && ! has '^== ' "$tmp/down.log" ||
	fail "the walk-through with cad down: $(cat "$tmp/down.log")"
note "the walk-through ran; $(wc -l <"$tmp/argv") curl and jq command lines, none with a secret ($(wc -w <<<"$secrets") codes and link tokens checked)"
