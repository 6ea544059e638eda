#!/usr/bin/env python3
# Usage: tests/bench/bench_ra_hashflood.py HOST PORT [N=100] [SECONDS=20]
# (ra/README.md "Password hashing cap").
# N client addresses (127.0.0.2..), each sending wrong-password log-ins in a
# loop for DUR s (within the per-address limit: each address 30 a minute at
# most, rad's default), while /health is timed every 0.5 s; prints its
# median and maximum latency and the answers' statuses.
import http.client, json, socket, statistics, sys, threading, time
host, port = sys.argv[1], int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 100
dur = float(sys.argv[4]) if len(sys.argv) > 4 else 20
stop = time.time() + dur
codes = {}
lock = threading.Lock()
def flood(i):
    src = "127.0.%d.%d" % (1 + i // 250, 2 + i % 250)
    sent = 0
    while time.time() < stop and sent < 30:
        try:
            c = http.client.HTTPConnection(host, port, timeout=30, source_address=(src, 0))
            c.request("POST", "/v1/login", json.dumps({"email": "nobody%d@example.com" % i,
                      "password": "Wrong-Pass-1x"}), {"Content-Type": "application/json"})
            r = c.getresponse(); r.read(); c.close()
            with lock:
                codes[r.status] = codes.get(r.status, 0) + 1
        except Exception as e:
            with lock:
                codes[type(e).__name__] = codes.get(type(e).__name__, 0) + 1
        sent += 1
ts = [threading.Thread(target=flood, args=(i,)) for i in range(n)]
for t in ts: t.start()
lat = []
while time.time() < stop:
    t0 = time.time()
    c = http.client.HTTPConnection(host, port, timeout=60)
    c.request("GET", "/health"); c.getresponse().read(); c.close()
    lat.append(time.time() - t0)
    time.sleep(0.5)
for t in ts: t.join()
print("/health: %d samples, median %.3f s, max %.3f s; log-ins: %s" %
      (len(lat), statistics.median(lat), max(lat), codes))
