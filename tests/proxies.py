"""Real reverse proxies for the forward-auth tests: Debian's nginx and Caddy on loopback ports, and the service
they protect (an upstream that answers with the headers it received and remembers every request)."""

import http.client
import json
import os
import socket
import subprocess
import time
from contextlib import contextmanager
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from tokens.forward_auth import configuration

from .servers import free_port, in_thread

# Debian's packages, as `bin/test` installs them.
NGINX, CADDY = "/usr/sbin/nginx", "/usr/bin/caddy"


class Answer:
    """What a client received: the status, the headers (any case) and the body."""

    def __init__(self, status: int, headers: Message, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Answer {self.status} {self.body[:200]!r}>"


def send(url: str, method: str = "GET", headers: dict | None = None, source: str = "127.0.0.1",
         body: bytes | None = None) -> Answer:
    """Send one request from the loopback address ``source`` (127.0.0.2 is another client than 127.0.0.1)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15, source_address=(source, 0))
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else "") or "/",
                           body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


class Upstream:
    """The protected service: answers 200 with the request's method, path and headers, and keeps them."""

    def __init__(self):
        self.seen: list[dict] = []

    @staticmethod
    def header(received: dict, name: str) -> str | None:
        """Return the one value of a header the service received (None if absent; two values fail)."""
        values = [value for key, value in received["headers"] if key.lower() == name.lower()]
        assert len(values) <= 1, f"{name} arrived {len(values)} times: {values}"
        return values[0] if values else None

    @contextmanager
    def serving(self):
        seen = self.seen

        class Echo(BaseHTTPRequestHandler):
            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                request = {"method": self.command, "path": self.path, "headers": self.headers.items(),
                           "body": self.rfile.read(length).decode("latin-1")}
                seen.append(request)
                body = json.dumps(request).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = answer

            def log_message(self, *args):  # quiet: the tests read ``seen``
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        server.daemon_threads = True
        with in_thread(server) as base:
            yield base


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    """Wait until something listens on the loopback ``port``; fail with the log if the process died."""
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError(f"the proxy exited: {log.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the proxy did not listen: {log.read_text()}")


@contextmanager
def running(command: list[str], port: int, folder: Path, env: dict | None = None):
    """Run a proxy until the block ends; yield its base URL."""
    log = folder / "proxy.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_port(port, process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=15)


def nginx_conf(server_block: str, folder: Path) -> str:
    """Wrap a server block in a whole nginx configuration that keeps every file in ``folder``."""
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\nerror_log stderr warn;\n"
            f"events {{ worker_connections 256; }}\n"
            f"http {{\n    access_log off;\n{temp}\n{server_block}}}\n")


@contextmanager
def nginx(upstream: str, portal: str | None, folder: Path, port: int | None = None):
    """Run Debian's nginx in front of ``upstream`` with the generated configuration (or, without a portal, as a
    plain proxy: the reference for what forward auth costs); yield its base URL."""
    port = port or free_port()
    if portal:
        server = configuration("nginx", upstream, portal, f"127.0.0.1:{port}")
    else:
        server = f"server {{\n    listen 127.0.0.1:{port};\n    location / {{ proxy_pass {upstream}; }}\n}}\n"
    conf = folder / "nginx.conf"
    conf.write_text(nginx_conf(server, folder))
    with running([NGINX, "-c", str(conf), "-p", str(folder), "-e", "stderr"], port, folder) as base:
        yield base


@contextmanager
def caddy(upstream: str, portal: str, folder: Path, port: int | None = None):
    """Run Debian's Caddy with the generated configuration in front of ``upstream``; yield its base URL."""
    port = port or free_port()
    conf = folder / "Caddyfile"
    generated = configuration("caddy", upstream, portal, f"127.0.0.1:{port}")
    conf.write_text(generated.replace("\n{\n", "\n{\n\tadmin off\n", 1))  # into its global options
    env = {**os.environ, "HOME": str(folder), "XDG_DATA_HOME": str(folder / "data"),
           "XDG_CONFIG_HOME": str(folder / "config")}
    with running([CADDY, "run", "--config", str(conf), "--adapter", "caddyfile"], port, folder, env) as base:
        yield base


PROXIES = {"nginx": nginx, "caddy": caddy}
