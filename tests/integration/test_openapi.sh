#!/usr/bin/env bash
# docs/openapi.yaml stays true to rad (issue 3: "document the whole HTTP API
# as OpenAPI 3 and keep it true"): it parses as OpenAPI 3; every request rad
# routes (ra/route.c; the console's static files aside) is documented with its
# method, and every documented one is routed; every $ref resolves; every
# operation has a unique operationId and at least one response; and each
# documented JSON request body names the members its parser reads
# (json_unpack_strict in the handler's ra/*.c callees), required exactly
# where the parser requires them, so a member added, renamed or made
# optional in the code cannot leave the document behind.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
tmp=$(test_tmpdir)

python3 - "$REPO/docs/openapi.yaml" "$REPO/ra/route.c" "$REPO"/ra/*.c >"$tmp/openapi.out" 2>&1 <<'PY' ||
import re, sys
import yaml

doc_path, routes_path = sys.argv[1:3]
sources = sys.argv[3:]
doc = yaml.safe_load(open(doc_path))
problems = []
if not str(doc.get('openapi', '')).startswith('3.'):
    problems.append('not an OpenAPI 3 document: openapi = %r' % doc.get('openapi'))
METHODS = ('get', 'post', 'put', 'delete', 'patch')
norm = lambda p: re.sub(r'\{[^}]*\}', '{}', p)

routed = set()
for m in re.finditer(r'\{\s*"(GET|POST|PUT|DELETE|PATCH)",\s*"([^"]+)"', open(routes_path).read()):
    if not m.group(2).startswith('/console'):
        routed.add((m.group(1), norm(m.group(2))))
if len(routed) < 40:
    problems.append('only %d routes read from %s: is the table still parsed right?' % (len(routed), routes_path))

documented, op_ids = set(), {}
for path, item in doc.get('paths', {}).items():
    for meth, op in item.items():
        if meth not in METHODS:
            continue
        documented.add((meth.upper(), norm(path)))
        oid = op.get('operationId')
        if not oid:
            problems.append('%s %s: no operationId' % (meth.upper(), path))
        elif oid in op_ids:
            problems.append('operationId %s twice (%s and %s %s)' % (oid, op_ids[oid], meth.upper(), path))
        else:
            op_ids[oid] = '%s %s' % (meth.upper(), path)
        if not op.get('responses'):
            problems.append('%s %s: no responses' % (meth.upper(), path))
for r in sorted(routed - documented):
    problems.append('routed by rad but not documented: %s %s' % r)
for r in sorted(documented - routed):
    problems.append('documented but not routed by rad: %s %s' % r)

# Request bodies. The functions of ra/*.c (KNF: the name starts its line,
# the body ends at the first "}" in column 0) and whom each calls; a
# handler's callees are what it reaches (a superset: a call through a
# function pointer is missed, a shared helper brings in its other callers'
# parsers, hence "one of the parsers reached" below).
funcs = {}
for f in sources:
    for m in re.finditer(r'^([a-z_][a-z0-9_]*)\([^;{]*?\n\{(.*?)\n\}', open(f).read(), re.S | re.M):
        funcs[m.group(1)] = m.group(2)
calls = {n: set(re.findall(r'\b([a-z_][a-z0-9_]*)\(', b)) & set(funcs) for n, b in funcs.items()}
def reached(fn):
    seen, todo = set(), [fn]
    while todo:
        x = todo.pop()
        if x not in seen:
            seen.add(x)
            todo.extend(calls.get(x, ()))
    return seen
def unpacks(body):
    """Each json_unpack_strict's members: {name: required}."""
    out = []
    for m in re.finditer(r'json_unpack_strict\(\s*\w+,\s*&\w+,\s*((?:"[^"]*"\s*)+),(.*?)\)\s*(?:==|!=)', body, re.S):
        fmt = ''.join(re.findall(r'"([^"]*)"', m.group(1)))
        slots = re.findall(r's([:?])', fmt)
        names = re.findall(r'"([^"]*)"', m.group(2))
        if len(names) >= len(slots):
            out.append({n: k == ':' for n, k in zip(names, slots)})
    return out
def resolve(node):
    while isinstance(node, dict) and '$ref' in node:
        t = doc
        for part in node['$ref'][2:].split('/'):
            t = t[part]
        node = t
    return node
table = re.search(r'ra_routes\[\]\s*=\s*\{(.*?)\n\};', open(routes_path).read(), re.S)
handlers = re.findall(r'\{\s*"(GET|POST|PUT|DELETE|PATCH)",\s*"([^"]+)",\s*(\w+)\s*\}', table.group(1) if table else '')
bodies = 0
doc_ops = {(norm(p)): item for p, item in doc.get('paths', {}).items()}
for meth, path, fn in handlers:
    op = doc_ops.get(norm(path), {}).get(meth.lower())
    if not isinstance(op, dict) or fn not in funcs:
        continue
    try:
        schema = resolve(resolve(op.get('requestBody', {})).get('content', {}).get('application/json', {}).get('schema'))
    except (KeyError, TypeError):
        problems.append('%s %s: requestBody $ref does not resolve' % (meth, path))
        continue
    parsers = [u for x in sorted(reached(fn)) for u in unpacks(funcs[x])]
    if not isinstance(schema, dict):
        continue
    bodies += 1
    members = {n: n in schema.get('required', []) for n in (schema.get('properties') or {})}
    if not parsers:
        problems.append('%s %s: a JSON body is documented, but %s reaches no json_unpack_strict' % (meth, path, fn))
    elif members not in parsers:
        near = min(parsers, key=lambda u: len(set(u) ^ set(members)))
        problems.append('%s %s: documented members %s (required %s), the parser reads %s (required %s)' % (
            meth, path, sorted(members), sorted(n for n in members if members[n]),
            sorted(near), sorted(n for n in near if near[n])))
if bodies < 30:
    problems.append('only %d JSON request bodies compared: is the handler table still parsed right?' % bodies)

def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == '$ref':
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)
for ref in sorted(set(refs(doc))):
    target = doc
    if not ref.startswith('#/'):
        problems.append('external $ref %s' % ref)
        continue
    for part in ref[2:].split('/'):
        if not isinstance(target, dict) or part not in target:
            problems.append('$ref %s does not resolve' % ref)
            break
        target = target[part]
for p in problems:
    print(p)
print('%d operations documented, %d routed, %d request bodies checked against their parsers' % (len(documented), len(routed), bodies))
sys.exit(1 if problems else 0)
PY
	fail "docs/openapi.yaml: $(cat "$tmp/openapi.out")"
note "docs/openapi.yaml: $(tail -1 "$tmp/openapi.out"); every route documented, every \$ref resolves, every body's members as parsed"
