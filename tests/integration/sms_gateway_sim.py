"""LOCAL SIMULATOR of an SMS gateway, for rad's gateway sender (ra/sms.c).

sms_gateway_sim.py PORT TOKEN-FILE OUT-DIR

Listens on 127.0.0.1:PORT. POST /v1/messages with `Authorization: Bearer
<the token in TOKEN-FILE, read at each request>` and a JSON object of
exactly "to" (E.164), "sender" and "text" (strings) is stored as
OUT-DIR/<n>.json and answered 202 {"id": n}. Nothing is delivered to any
phone. A wrong or missing token is answered 401, a malformed body 400, any
other path or method 404; while OUT-DIR/fail exists every message is
answered 503 and not stored.
"""
import http.server
import json
import os
import re
import sys

PORT, TOKEN_FILE, OUT = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Gateway(http.server.BaseHTTPRequestHandler):
    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get('Content-Length') or 0)
        data = self.rfile.read(n) if 0 < n <= 65536 else b''
        if self.path != '/v1/messages':
            return self.answer(404, {'error': 'not found'})
        with open(TOKEN_FILE) as f:
            token = f.read().strip()
        if self.headers.get('Authorization') != 'Bearer ' + token:
            return self.answer(401, {'error': 'bad token'})
        try:
            msg = json.loads(data)
            assert isinstance(msg, dict) and sorted(msg) == ['sender', 'text', 'to']
            assert all(isinstance(v, str) for v in msg.values())
            assert re.fullmatch(r'\+[1-9][0-9]{7,14}', msg['to'])
            assert self.headers.get('Content-Type') == 'application/json'
        except (ValueError, AssertionError):
            return self.answer(400, {'error': 'malformed message'})
        if os.path.exists(os.path.join(OUT, 'fail')):
            return self.answer(503, {'error': 'simulated outage'})
        i = len([x for x in os.listdir(OUT) if x.endswith('.json')]) + 1
        with open(os.path.join(OUT, '%d.json' % i), 'w') as f:
            json.dump(msg, f)
        return self.answer(202, {'id': i})

    do_GET = do_PUT = lambda self: self.answer(404, {'error': 'not found'})

    def log_message(self, fmt, *args):
        pass


http.server.ThreadingHTTPServer(('127.0.0.1', PORT), Gateway).serve_forever()
