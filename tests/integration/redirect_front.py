#!/usr/bin/python3
"""A registry front that answers blob downloads with 307, as Docker Hub and GHCR do, for the
registry client's redirect test. Manifests and everything else go to the upstream registry
(repository rewritten to runcvm/test, credentials passed on); a blob GET with the right Basic
credentials is redirected by what the repository's last component asks for:
  plain-http -> http://runcvm-cdn.example/... (not loopback: the client must refuse it)
  big        -> the CDN, which sends 1 MiB more than the blob
  loop       -> the same URL again, for ever
  otherwise  -> the CDN on another port (another origin)
The CDN serves BLOB_DIR/<hex> and logs each request's Authorization header to LOG.
usage: redirect_front.py PORT_FILE UPSTREAM_PORT BLOB_DIR LOG USER PASSWORD"""
import base64, http.client, os, re, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, upstream_port, blob_dir, log_file, user, password = sys.argv[1:7]
expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
log_lock = threading.Lock()
BLOB = re.compile(r"^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$")


class Cdn(BaseHTTPRequestHandler):
    def do_GET(self):
        with log_lock, open(log_file, "a") as log:
            log.write(f"cdn {self.path} auth={self.headers.get('Authorization', '-')}\n")
        kind, _, hex_digest = self.path.strip("/").partition("/")
        path = os.path.join(blob_dir, os.path.basename(hex_digest))
        if not os.path.isfile(path):
            self.send_response(404); self.end_headers(); return
        data = open(path, "rb").read() + (b"\0" * (1 << 20) if kind == "big" else b"")
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:  # the client stops reading at the declared size: that is the test
            pass

    def log_message(self, *args):
        pass


class Front(BaseHTTPRequestHandler):
    def relay(self):
        blob = BLOB.match(self.path)
        if blob and self.command == "GET":
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="runcvm-test"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            mode = blob.group(1).rsplit("/", 1)[-1]
            hex_digest = blob.group(2)[7:]
            cdn = f"http://127.0.0.1:{self.server.cdn_port}"
            location = {"plain-http": f"http://runcvm-cdn.example/blobs/{hex_digest}",
                        "big": f"{cdn}/big/{hex_digest}", "loop": self.path}.get(mode, f"{cdn}/blobs/{hex_digest}")
            self.send_response(307)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = re.sub(r"^/v2/.+?/(manifests|blobs)/", r"/v2/runcvm/test/\1/", self.path)
        upstream = http.client.HTTPConnection("127.0.0.1", int(upstream_port))
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "accept")}
        upstream.request(self.command, path, headers=headers)
        answer = upstream.getresponse()
        body = answer.read()
        self.send_response(answer.status)
        for name in ("Content-Type", "Docker-Content-Digest", "WWW-Authenticate"):
            if answer.getheader(name): self.send_header(name, answer.getheader(name))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)

    do_GET = do_HEAD = relay

    def log_message(self, *args):
        pass


cdn = ThreadingHTTPServer(("127.0.0.1", 0), Cdn)
front = ThreadingHTTPServer(("127.0.0.1", 0), Front)
front.cdn_port = cdn.server_address[1]
threading.Thread(target=cdn.serve_forever, daemon=True).start()
open(port_file, "w").write(str(front.server_address[1]))
front.serve_forever()
