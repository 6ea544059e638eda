#!/usr/bin/env python3
"""A PostgreSQL server that stalls: a proxy on a Unix socket in front of the
stack's, passing bytes both ways until a client sends MATCH (a LISTEN, a
statement's name), then passing nothing more from that client: the server
never sees the command, the client never gets an answer, and the
connection stays open, as with a server that accepted it and then hung.

    pg_stall_proxy.py DIR PORT UPSTREAM_SOCKET MATCH NTH STATE_FILE [SLOW_MS]

listens on DIR/.s.PGSQL.PORT (mode 0777: a demoted daemon connects too) and
connects each client to UPSTREAM_SOCKET. NTH 0 stalls at every MATCH, N only
at the Nth seen; an empty MATCH never stalls. Each stall appends "stalled K"
(K: the connection's number) to STATE_FILE. SIGUSR1 stops stalling
(connections stalled stay so). SLOW_MS: the server's first bytes to each
client (the connection's set-up) are held that long, as over a long round
trip; each such connection appends "slow K" to STATE_FILE.
"""
import os
import signal
import socket
import sys
import threading
import time

stalling = True
lock = threading.Lock()
seen = 0


def stop_stalling(signum, frame):
    global stalling
    stalling = False


def pump_up(client, upstream, conn_no, match, nth, state):
    """Client to server, until MATCH says to stall (then read and drop)."""
    global seen
    tail = b""
    stalled = False
    try:
        while True:
            data = client.recv(65536)
            if not data:
                break
            if stalled:
                continue
            window = tail + data
            if match and match in window and stalling:
                with lock:
                    seen += 1
                    hit = nth == 0 or seen == nth
                if hit:
                    stalled = True
                    with open(state, "a") as f:
                        f.write("stalled %d\n" % conn_no)
                    continue
            upstream.sendall(data)
            tail = window[-(len(match) - 1):] if len(match) > 1 else b""
    except OSError:
        pass
    for s in (client, upstream):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def pump_down(upstream, client, conn_no, slow_ms, state):
    first = True
    try:
        while True:
            data = upstream.recv(65536)
            if not data:
                break
            if first and slow_ms > 0:
                with open(state, "a") as f:
                    f.write("slow %d\n" % conn_no)
                time.sleep(slow_ms / 1000.0)
            first = False
            client.sendall(data)
    except OSError:
        pass
    for s in (client, upstream):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    d, port, upstream_path, match, nth, state = sys.argv[1:7]
    slow_ms = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    match = match.encode()
    nth = int(nth)
    signal.signal(signal.SIGUSR1, stop_stalling)
    path = os.path.join(d, ".s.PGSQL.%s" % port)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o777)
    srv.listen(64)
    conn_no = 0
    while True:
        client, _ = srv.accept()
        conn_no += 1
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(upstream_path)
        except OSError:
            client.close()
            upstream.close()
            continue
        threading.Thread(target=pump_up, daemon=True,
                         args=(client, upstream, conn_no, match, nth,
                               state)).start()
        threading.Thread(target=pump_down, daemon=True,
                         args=(upstream, client, conn_no, slow_ms,
                               state)).start()


if __name__ == "__main__":
    main()
