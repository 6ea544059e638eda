#!/usr/bin/env python3
"""The migrations that change rows, for tests/integration/test_audit_migrations.sh.

    migration_writes.py schema/NNN_name.sql ...

Prints "NNN audited" or "NNN unaudited" for each file with a statement that
changes rows: an INSERT, UPDATE, DELETE, TRUNCATE or COPY at the top level
(a WITH leading to one included), or one inside a DO block; function bodies
(CREATE FUNCTION ... AS $$...$$) are not statements of the migration and
are skipped. "audited" when the file also writes an audit event
(audit_append, in a DO block or a SELECT). Comments and quoted strings are
skipped; dollar-quoted bodies are read as bodies, whatever their tag.
"""
import os
import re
import sys

DML = re.compile(r'\b(INSERT\s+INTO|UPDATE\s+\w+(\s+(AS\s+)?\w+)?\s+SET|'
                 r'DELETE\s+FROM|TRUNCATE|COPY\s+\w+)\b', re.I)
DOLLAR = re.compile(r'\$([A-Za-z_][A-Za-z0-9_]*)?\$')


def statements(s):
    """(text with bodies replaced, [bodies]) for each top-level statement."""
    out, stmt, bodies = [], [], []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if s.startswith('--', i):
            j = s.find('\n', i)
            i = n if j < 0 else j
            continue
        if s.startswith('/*', i):
            j = s.find('*/', i + 2)
            i = n if j < 0 else j + 2
            continue
        if c == "'":
            j = i + 1
            while j < n:
                if s[j] == "'":
                    if j + 1 < n and s[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            stmt.append(' x ')
            i = j + 1
            continue
        m = DOLLAR.match(s, i)
        if m:
            tag = m.group(0)
            j = s.find(tag, m.end())
            if j < 0:
                sys.exit('%s: a dollar-quoted body left open' % tag)
            bodies.append(s[m.end():j])
            stmt.append(' $body$ ')
            i = j + len(tag)
            continue
        if c == ';':
            out.append((''.join(stmt).strip(), bodies))
            stmt, bodies = [], []
            i += 1
            continue
        stmt.append(c)
        i += 1
    out.append((''.join(stmt).strip(), bodies))
    return out


def main():
    for path in sys.argv[1:]:
        with open(path, encoding='utf-8') as f:
            text = f.read()
        writes = audits = False
        for stmt, bodies in statements(text):
            head = stmt.split(None, 1)[0].upper() if stmt else ''
            if head in ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'COPY',
                        'WITH') and DML.search(stmt):
                writes = True
            if head == 'SELECT' and 'audit_append' in stmt:
                audits = True
            if head == 'DO':
                for b in bodies:
                    writes = writes or DML.search(b) is not None
                    audits = audits or 'audit_append' in b
        if writes:
            print(os.path.basename(path)[:3],
                  'audited' if audits else 'unaudited')


if __name__ == '__main__':
    main()
