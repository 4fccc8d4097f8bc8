"""An HTTP server that answers every WebSocket upgrade with a redirect, for
wsprobe's redirect tests: `GET /<status>/...` answers <status> (301, 302,
307, 308) with `Location: TARGET` (the first argument), and `GET /loop`
redirects to itself, for ever. Binds 127.0.0.1 on a port the kernel picks
and prints `READY http://127.0.0.1:PORT`. Python's standard library only.
"""

import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

TARGET = sys.argv[1]


class Redirect(BaseHTTPRequestHandler):
    def do_GET(self):
        parts = self.path.strip("/").split("/")
        if parts[0] == "loop":
            status, location = 302, "/loop"
        elif parts[0].isdigit():
            status, location = int(parts[0]), TARGET
        else:
            status, location = 404, None
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Redirect)
print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
