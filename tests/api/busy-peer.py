#!/usr/bin/env python3
"""busy-peer.py PORT: a destination's migd that has no incoming slot free:
it answers every reservation 503 busy (so a source's job waits in
reserving, asking again) and every release 404 (it holds none). Prints
"listening" once it does, then each request it answers."""
import http.server
import json
import sys


class Busy(http.server.BaseHTTPRequestHandler):
    def answer(self, status, code, message):
        data = json.dumps({"error": {"code": code, "message": message}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.answer(503, "busy", "every incoming slot is taken; you are number 1 in the queue")

    def do_DELETE(self):
        self.answer(404, "not_found", "there is no such reservation here")

    def log_message(self, fmt, *args):
        print(self.command, self.path, flush=True)


server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Busy)
print("listening", flush=True)
server.serve_forever()
