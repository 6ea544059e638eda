#!/usr/bin/env python3
"""A connection that breaks just after the client sent COMMIT: a proxy on a
Unix socket in front of the stack's PostgreSQL, passing bytes both ways
until a client sends a simple-query COMMIT; it passes that on, then closes
the CLIENT's side only. The server's side stays open, so the backend does
not notice: it goes on committing (or waiting, say for a synchronous
standby), and the client gets no answer, as when a network breaks there.

    pg_cut_proxy.py DIR PORT UPSTREAM_SOCKET STATE_FILE

listens on DIR/.s.PGSQL.PORT (mode 0777) and connects each client to
UPSTREAM_SOCKET. Each cut appends "cut K" (K: the connection's number) to
STATE_FILE.
"""
import os
import socket
import sys
import threading

d, port, upstream, state = sys.argv[1:5]
path = "%s/.s.PGSQL.%s" % (d, port)
lock = threading.Lock()
count = 0
kept = []  # the server sides, open until the proxy ends


def serve(c, k):
    u = socket.socket(socket.AF_UNIX)
    u.connect(upstream)
    with lock:
        kept.append(u)
    cut = threading.Event()

    def down():
        try:
            while not cut.is_set():
                b = u.recv(65536)
                if not b:
                    break
                if not cut.is_set():
                    c.sendall(b)
        except OSError:
            pass

    threading.Thread(target=down, daemon=True).start()
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            u.sendall(b)
            # A simple Query message: 'Q', length, "COMMIT\0".
            if b.startswith(b"Q") and b"COMMIT\x00" in b:
                cut.set()
                c.shutdown(socket.SHUT_RDWR)
                c.close()
                with lock, open(state, "a") as f:
                    f.write("cut %d\n" % k)
                return
    except OSError:
        pass


s = socket.socket(socket.AF_UNIX)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s.bind(path)
os.chmod(path, 0o777)
s.listen(16)
while True:
    c, _ = s.accept()
    with lock:
        count += 1
        k = count
    threading.Thread(target=serve, args=(c, k), daemon=True).start()
