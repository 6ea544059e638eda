#!/usr/bin/env python3
"""Queries in flight at once, one per connection: every query is POSTed
before any answer is read, so a daemon that signs through its signer in
batches holds several signatures in flight (hsm/signloop.c, run by tsad's workers and
ocspd's loops).

  pipelined.py [--type CONTENT_TYPE] [--ext EXT] HOST PORT OUTDIR QUERY...
      [--hold SIGNER_PID[,SIGNER_PID...] DAEMON_PID]

Writes OUTDIR/<i>.EXT (default .tsr), the body of the answer to the i-th
QUERY (from 0), POSTed as CONTENT_TYPE (default
application/timestamp-query). With --hold: the signers are stopped
(SIGSTOP) before the queries go out, /health is asked until its
signatures_in_flight reports every query (the daemon keeps serving
meanwhile), the daemon gets SIGTERM, and the signers are continued: it
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
    ctype, ext = "application/timestamp-query", "tsr"
    if "--hold" in args:
        i = args.index("--hold")
        hold = ([int(p) for p in args[i + 1].split(",")], int(args[i + 2]))
        del args[i:i + 3]
    for opt in ("--type", "--ext"):
        if opt in args:
            i = args.index(opt)
            if opt == "--type":
                ctype = args[i + 1]
            else:
                ext = args[i + 1]
            del args[i:i + 2]
    host, port, outdir, queries = args[0], int(args[1]), args[2], args[3:]
    conns = [http.client.HTTPConnection(host, port, timeout=30)
             for _ in queries]
    for c in conns:
        c.connect()
    if hold:
        for pid in hold[0]:
            os.kill(pid, signal.SIGSTOP)
    try:
        for c, q in zip(conns, queries):
            with open(q, "rb") as f:
                c.request("POST", "/", body=f.read(), headers={
                    "Content-Type": ctype})
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
            for pid in hold[0]:
                os.kill(pid, signal.SIGCONT)
    rc = 0
    for i, c in enumerate(conns):
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            print(f"query {i}: HTTP {r.status}: {body[:200]!r}",
                  file=sys.stderr)
            rc = 1
        with open(os.path.join(outdir, f"{i}.{ext}"), "wb") as f:
            f.write(body)
        c.close()
    return rc


sys.exit(main())
