#!/usr/bin/env python3
"""token-proxy.py PORT MIGD_PORT TOKEN: a proxy in front of migd's TCP
listener that, unlike migd today, wants "Authorization: Bearer TOKEN" for
every read of /v1/ (401 with migd's error envelope without it), for the
status page's token prompt to be tested on. The page's own files pass
freely. Answers are relayed as they come, so event streams stay live.
Prints "listening", then per request: METHOD PATH and "token" or "no token"."""
import http.client
import http.server
import json
import sys

port, upstream, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


class Proxy(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        given = self.headers.get("Authorization") == "Bearer " + token
        print(self.command, self.path, "token" if given else "no token", flush=True)
        if self.path.startswith("/v1/") and not given:
            body = json.dumps({"error": {"code": "unauthenticated", "message":
                               "reading migd here needs the token."}}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        conn = http.client.HTTPConnection("127.0.0.1", upstream)
        conn.request("GET", self.path)
        answer = conn.getresponse()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "date", "server"):
                self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        while True:
            chunk = answer.read1(65536)
            if not chunk:
                break
            self.wfile.write(chunk)
            self.wfile.flush()
        conn.close()

    def log_message(self, fmt, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy)
print("listening", flush=True)
server.serve_forever()
