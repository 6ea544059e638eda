#!/usr/bin/env python3
# Usage: tests/bench/bench_ra_slowbody.py HOST PORT RAD-PID [N=64] [SECONDS=20] [PATH=/v1/login]
# (a stack of its own: deploy/stack.sh up --dir DIR --ports auto; the
# measurements of 2026-12-07 are in ra/README.md "Body limits").
# Opens N connections to rad, each sending POST PATH with Content-Length CL,
# then all but the last kilobyte of the body as fast as rad takes it, then
# one byte a second for DUR s (a body rad stores is then all but whole); prints rad's VmRSS
# (from /proc/PID/status) before, each second, and after.
import socket, sys, time
host, port, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 64
dur = int(sys.argv[5]) if len(sys.argv) > 5 else 20
path = sys.argv[6] if len(sys.argv) > 6 else "/v1/login"
cl = 5000000

def rss():
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1]) // 1024
    return -1

print("before: VmRSS %d MiB" % rss(), flush=True)
socks = []
for i in range(n):
    # 30 from each loopback address: rad takes 32 from one.
    s = socket.create_connection((host, port), source_address=("127.0.0.%d" % (1 + i // 30), 0))
    s.settimeout(2)
    s.send(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (path, cl)).encode())
    try:
        s.sendall(b"x" * (cl - 1024))
    except OSError:
        pass
    s.setblocking(False)
    socks.append(s)
peak = 0
answered = set()
first = []
t0 = time.time()
while time.time() - t0 < dur:
    for i, s in enumerate(socks):
        try:
            s.send(b"x")
        except OSError:
            answered.add(i)
        try:
            d = s.recv(4096)
            if d:
                if i not in answered:
                    first.append(d.split(b"\r\n")[0])
                answered.add(i)
        except BlockingIOError:
            pass
        except OSError:
            answered.add(i)
    r = rss()
    peak = max(peak, r)
    time.sleep(1)
print("peak during: VmRSS %d MiB; %d of %d connections answered or closed"
      % (peak, len(answered), n), flush=True)
for s in socks:
    s.close()
time.sleep(2)
print("answers: %s" % sorted(set(first)), flush=True)
print("after: VmRSS %d MiB" % rss(), flush=True)
