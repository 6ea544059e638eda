#!/usr/bin/env python3
"""Time-stamp queries in flight at once, one per connection: every query is
sent before any answer is read, so a tsad worker holds several signatures
in flight (tsa/main.c, tsad_loop).

  tsa_pipelined.py HOST PORT OUTDIR QUERY... [--hold SIGNER_PID TSAD_PID]

Writes OUTDIR/<i>.tsr, the body of the answer to the i-th QUERY (from 0).
With --hold: the signer is stopped (SIGSTOP) before the queries go out,
/health is asked until it reports every query in flight (the worker keeps
serving meanwhile), tsad gets SIGTERM, and the signer is continued: tsad
must answer every query before it exits. Exit status 1, saying why, when
an answer is not HTTP 200 or /health never reports them all.
"""
import http.client
import json
import os
import signal
import sys
import time


def health(host, port):
    c = http.client.HTTPConnection(host, port, timeout=5)
    c.request("GET", "/health")
    r = c.getresponse()
    body = r.read()
    c.close()
    return json.loads(body)


def main():
    args = sys.argv[1:]
    hold = None
    if "--hold" in args:
        i = args.index("--hold")
        hold = (int(args[i + 1]), int(args[i + 2]))
        del args[i:i + 3]
    host, port, outdir, queries = args[0], int(args[1]), args[2], args[3:]
    conns = [http.client.HTTPConnection(host, port, timeout=30)
             for _ in queries]
    for c in conns:
        c.connect()
    if hold:
        os.kill(hold[0], signal.SIGSTOP)
    try:
        for c, q in zip(conns, queries):
            with open(q, "rb") as f:
                c.request("POST", "/", body=f.read(), headers={
                    "Content-Type": "application/timestamp-query"})
        if hold:
            deadline = time.monotonic() + 10
            while True:
                n = health(host, port).get("signatures_in_flight")
                if n == len(queries):
                    break
                if time.monotonic() > deadline:
                    print(f"/health: {n} signatures in flight, want "
                          f"{len(queries)}", file=sys.stderr)
                    return 1
                time.sleep(0.05)
            os.kill(hold[1], signal.SIGTERM)
            time.sleep(0.3)
    finally:
        if hold:
            os.kill(hold[0], signal.SIGCONT)
    rc = 0
    for i, c in enumerate(conns):
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            print(f"query {i}: HTTP {r.status}: {body[:200]!r}",
                  file=sys.stderr)
            rc = 1
        with open(os.path.join(outdir, f"{i}.tsr"), "wb") as f:
            f.write(body)
        c.close()
    return rc


sys.exit(main())
