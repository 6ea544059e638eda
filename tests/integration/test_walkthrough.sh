#!/usr/bin/env bash
# deploy/walkthrough.sh, the README's tour of the product, runs as written
# against a stack (this suite's): register → KYC → an officer approves →
# agreement → certificate (openssl verify, OCSP good) → a PDF signed at
# B-T (pdfsig valid) → the audit trail sealed and verified by pkiaudit.
# It must not put a secret on a command line: while it runs, every curl's
# argv is read and checked against the secrets it used.
. "$(dirname "$0")/lib.sh"
: "${PKI_STACK_DIR:?tests/run.sh sets PKI_STACK_DIR}"
tmp=$(test_tmpdir)
"$REPO/deploy/walkthrough.sh" --dir "$PKI_STACK_DIR" --out "$tmp/out" >"$tmp/walk.log" 2>&1 &
walk=$!
at_exit "kill $walk 2>/dev/null || true"
# Every curl's command line while the walk-through runs.
: >"$tmp/argv"
while kill -0 "$walk" 2>/dev/null; do
	for p in $(pgrep -x curl || true); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null >>"$tmp/argv" && echo >>"$tmp/argv"
	done
	sleep 0.02
done
wait "$walk" || { cat "$tmp/walk.log"; fail "deploy/walkthrough.sh failed"; }
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
# No secret on a command line: the session and caller tokens, the PIN and
# the password go in files; only URLs and file names are arguments.
[ -s "$tmp/argv" ] || fail "no curl command line seen"
! has -i 'authorization\|password\|"code"\|"pin"' "$tmp/argv" || fail "a secret on curl's command line: $(grep -i 'authorization\|password\|"code"\|"pin"' "$tmp/argv" | head -3)"
note "the walk-through ran: $(grep -c '^   ' "$tmp/walk.log") lines of output, $(wc -l <"$tmp/argv") curl command lines seen, none with a secret"
