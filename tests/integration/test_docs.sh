#!/usr/bin/env bash
# The documentation names only what the code has (test_openapi does the
# same for rad's HTTP API):
# - every key set in the production example (deploy/systemd/pki.conf.in),
#   in policy/*.conf and in the stack's pki.conf is read by the C code (a
#   key nothing reads is a setting an operator edits in vain);
# - every `section.key` of a configuration section that README.md, docs/
#   and the components' READMEs name in backquotes is read by the C code
#   (file names and TABLE.COLUMN of schema/ aside);
# - every `pkictl VERB SUBCOMMAND` they name is one of pkictl's commands
#   (its usage text);
# - docs/csc.md documents exactly the CSC methods signd routes and lists in
#   its info answer;
# - the pkisign usage of sign/README.md has exactly the options of
#   sign/main.c (but the refused --otp-id);
# - no Markdown table is split: each starts with a header and a |---| row.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tmp=$(test_tmpdir)

python3 - "$REPO" "${PKI_CONFIG:-}" >"$tmp/docs.out" 2>&1 <<'PY' ||
import glob, os, re, sys

repo, stack_conf = sys.argv[1:3]
os.chdir(repo)
problems = []
def read(p):
    with open(p, encoding='utf-8') as f:
        return f.read()
def line_of(text, pos):
    return text.count('\n', 0, pos) + 1

# What the C code reads: "section.key" literals, and the keys it builds
# with a format ("hsm.%s_token", "%s.read_paths", "urls.%s").
c_text = ''.join(read(f) for d in ('ca', 'ra', 'lib', 'sign', 'hsm', 'ocsp', 'crl', 'tsa', 'audit')
                 for f in glob.glob(d + '/**/*.c', recursive=True) + glob.glob(d + '/**/*.cc', recursive=True))
literal = set(re.findall(r'"([a-z_]+\.[a-z0-9_]+)"', c_text))
built = [re.compile('^' + re.escape(f).replace('%s', '[a-z0-9_]+') + '$')
         for f in set(re.findall(r'"([a-z_]*%s[a-z0-9_]*\.[a-z0-9_]+|[a-z_]+\.[a-z0-9_]*%s[a-z0-9_]*)"', c_text))]
# The local stack's sealer period: deploy/stack.sh reads it from its pki.conf.
STACK_ONLY = {'audit.seal_every_seconds'}
def code_reads(key):
    return key in literal or any(b.match(key) for b in built)
for key in STACK_ONLY:
    sec, name = key.split('.')
    if '/^\\[%s\\]/' % sec not in read('deploy/stack.sh') or 's/^%s = ' % name not in read('deploy/stack.sh'):
        problems.append('deploy/stack.sh no longer reads %s: drop it from STACK_ONLY' % key)
if len(literal) < 150:
    problems.append('only %d configuration keys found in the C code: is it still read right?' % len(literal))

def conf_keys(path):
    section, keys = None, []
    for n, line in enumerate(read(path).split('\n'), 1):
        s = line.strip()
        m = re.match(r'^\[([A-Za-z0-9_.-]+)\]$', s)
        if m:
            section = m.group(1)
        elif section and (m := re.match(r'^([a-z][a-z0-9_.-]*)\s*=', s)):
            keys.append((section + '.' + m.group(1), n))
    return keys
sections = set()
confs = ['deploy/systemd/pki.conf.in'] + sorted(glob.glob('policy/*.conf'))
for path in confs + ([stack_conf] if stack_conf else []):
    for key, n in conf_keys(path):
        sections.add(key.split('.')[0])
        if path == stack_conf and key in STACK_ONLY:
            continue
        if not code_reads(key):
            problems.append('%s:%d: %s is set, but no program reads it' % (path, n, key))

docs = ['README.md'] + sorted(glob.glob('docs/*.md') + glob.glob('*/README.md'))
schema = ''.join(read(f) for f in glob.glob('schema/*.sql'))
tables = set(re.findall(r'CREATE TABLE (?:IF NOT EXISTS )?([a-z_]+)', schema))
FILE_EXT = {'c', 'h', 'cc', 'conf', 'cnf', 'pem', 'sh', 'sql', 'md', 'in', 'target', 'service',
            'socket', 'timer', 'sysusers', 'tmpfiles', 'pid', 'key', 'pw', 'crl', 'crt', 'json',
            'log', 'lock', 'spill', 'sock', 'env', 'txt', 'py', 'yaml'}
for path in docs:
    text = read(path)
    for m in re.finditer(r'`([a-z_]+)\.([a-z0-9_]+)`', text):
        sec, key = m.groups()
        name = sec + '.' + key
        if sec not in sections or key in FILE_EXT or code_reads(name) or name in STACK_ONLY:
            continue
        if sec in tables and re.search(r'\b%s\b' % key, schema):
            continue		# a column, e.g. `crl.snapshot`
        problems.append('%s:%d: `%s` is no key any program reads' % (path, line_of(text, m.start()), name))

# pkictl's commands, from its usage text.
usage = re.search(r'\nusage\(void\)\n\{(.*?)\n\}', read('ca/pkictl.c'), re.S)
utext = ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', usage.group(1) if usage else '')).replace('\\n', '\n')
verbs = set(re.findall(r'strcmp\(argv\[0\], "([a-z]+)"\) == 0', read('ca/pkictl.c')))
commands = set()
for line in utext.split('\n'):
    for seg in line.split('|'):
        m = re.match(r'^\s*([a-z]+)(?: ([a-z]+)\b)?', seg)
        if m and m.group(1) in verbs:
            commands.add((m.group(1), m.group(2)))
if len(commands) < 25:
    problems.append('only %d pkictl commands read from its usage: is it still parsed right?' % len(commands))
for path in docs:
    text = read(path)
    for m in re.finditer(r'pkictl(?: \[--config FILE\]| --config \S+)? `?([a-z]+)(?: ([a-z]+)\b)?', text):
        verb, sub = m.groups()
        if verb not in verbs:
            continue
        subs = {s for v, s in commands if v == verb and s}
        if subs and sub is not None and sub not in subs:
            problems.append('%s:%d: "%s": pkictl %s has no %s (it has %s)' % (
                path, line_of(text, m.start()), m.group(0), verb, sub, ', '.join(sorted(subs))))

# signd's CSC methods.
csc = read('hsm/signd/csc.c')
routes = re.search(r'csc_routes\[\] = \{(.*?)\n\};', csc, re.S)
routed = set(re.findall(r'\{ "([a-zA-Z0-9/]+)", csc_', routes.group(1) if routes else ''))
info = re.search(r'"methods",(.*?)\);', csc, re.S)
listed = set(re.findall(r'"([a-zA-Z0-9/]+)"', info.group(1) if info else ''))
documented = set(re.findall(r'^### `([a-zA-Z0-9/]+)`', read('docs/csc.md'), re.M))
if len(routed) < 6:
    problems.append('only %d CSC methods read from hsm/signd/csc.c' % len(routed))
for name, got in (('docs/csc.md "Methods"', documented), ('the info answer\'s methods', listed)):
    for m in sorted(routed - got):
        problems.append('signd routes %s, %s does not list it' % (m, name))
    for m in sorted(got - routed):
        problems.append('%s lists %s, signd does not route it' % (name, m))

# pkisign's options: sign/README.md's usage block and sign/main.c.
opts = set(re.findall(r'\{ "([a-z-]+)", (?:required|no)_argument', read('sign/main.c'))) - {'otp-id'}
block = re.search(r'### Usage\s*```(.*?)```', read('sign/README.md'), re.S)
shown = set(re.findall(r'--([a-z][a-z-]*)', block.group(1) if block else ''))
for o in sorted(opts - shown):
    problems.append('pkisign --%s is not in sign/README.md\'s usage' % o)
for o in sorted(shown - opts):
    problems.append('sign/README.md\'s usage shows --%s, which pkisign does not take' % o)

# Markdown tables: a table's first row is followed by its |---| row.
for path in docs + sorted(glob.glob('*/*.md')):
    lines, fenced = read(path).split('\n'), False
    for i, line in enumerate(lines):
        if line.startswith('```'):
            fenced = not fenced
        if fenced or not line.startswith('|') or (i > 0 and lines[i - 1].startswith('|')):
            continue
        if i + 1 >= len(lines) or not re.match(r'^\|\s*:?-{3,}', lines[i + 1]):
            problems.append('%s:%d: a table row without a header above it (a blank line or a paragraph splits the table)' % (path, i + 1))

for p in sorted(set(problems)):
    print(p)
print('%d configuration keys read, %d pkictl commands, %d CSC methods, %d pkisign options' % (
    len(literal), len(commands), len(routed), len(opts)))
sys.exit(1 if problems else 0)
PY
	fail "documentation: $(cat "$tmp/docs.out")"
note "$(tail -1 "$tmp/docs.out"): every one the documentation names exists"

# README.md's quick start runs as written against this suite's stack: the
# block after "make up" (but sourcing var/stack.env and make down), the
# certificate checked by OCSP and CRL, and the time-stamp. Until 2026-12-06
# the CRL was fetched right after the revocation, before crld had issued the
# CRL carrying it (1.5 s later): the grep showed no such serial.
readme_block() {	# the first ```sh block after a line starting with $1
	awk -v start="$1" 'index($0, start) == 1 { f = 1; next }
		f && /^```sh$/ { b = 1; next } b && /^```$/ { exit } b' "$REPO/README.md"
}
mkdir -p "$tmp/readme"
readme_block '| every fact a client needs |' | grep -v -e '^set -a; \. var/stack\.env' -e '^make down' >"$tmp/readme/up.sh"
readme_block 'A certificate, its status by OCSP and by CRL' >"$tmp/readme/cert.sh"
readme_block 'A time-stamp, checked by OpenSSL' >"$tmp/readme/ts.sh"
for b in up cert ts; do
	[ -s "$tmp/readme/$b.sh" ] || fail "README.md: the $b block is gone (test_docs looks for it by the line above it)"
	(cd "$tmp/readme" && bash -euo pipefail "$b.sh") >"$tmp/readme/$b.out" 2>&1 ||
		fail "README.md's $b block fails: $(tail -5 "$tmp/readme/$b.out")"
done
has -F "$PKI_TSA_CERT: OK" "$tmp/readme/up.out" && has '^cn: ' "$tmp/readme/up.out" ||
	fail "README.md's first block: $(cat "$tmp/readme/up.out")"
serial=$(openssl x509 -noout -serial -in "$tmp/readme/c.pem" | cut -d= -f2)
has -F 'c.pem: good' "$tmp/readme/cert.out" || fail "README.md: OCSP does not say good: $(cat "$tmp/readme/cert.out")"
has -F "Serial Number: $serial" "$tmp/readme/cert.out" ||
	fail "README.md: the CRL fetched after the revocation does not carry $serial: $(cat "$tmp/readme/cert.out")"
has -F 'Verification: OK' "$tmp/readme/ts.out" || fail "README.md: the time-stamp does not verify: $(cat "$tmp/readme/ts.out")"
note "README.md's quick start ran as written: certificate $serial good by OCSP, then in the CRL; a time-stamp verified"
