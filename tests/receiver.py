"""A real webhook receiver: an HTTP server on loopback, in a thread, that keeps every request it gets and answers
from a script (statuses in turn, then 204), and checks signatures with the reference library."""

import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


class Receiver:
    def __init__(self, answers=(), *, delay: float = 0.0, redirect_to: str | None = None, tls=None,
                 trickle: float = 0.0):
        """``tls``: (certificate file, key file) to answer https://; ``trickle``: the seconds between each byte
        of an answer that never ends (a receiver holding a worker)."""
        self.answers = list(answers)  # the statuses of the first answers, in turn; then 204 No Content
        self.delay, self.redirect_to, self.trickle = delay, redirect_to, trickle
        self.received: list[tuple[dict, str, str]] = []  # (headers, body, path)
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with receiver.arrived:
                    receiver.received.append((dict(self.headers), body, self.path))
                    status = receiver.answers.pop(0) if receiver.answers else 204
                    receiver.arrived.notify_all()
                if receiver.delay:
                    time.sleep(receiver.delay)  # a receiver that takes its time (the portal must not wait)
                if receiver.trickle:
                    try:
                        for byte in b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 1000:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(receiver.trickle)
                    except OSError:  # the portal hung up
                        return
                self.send_response(302 if receiver.redirect_to else status)
                if receiver.redirect_to:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        # Polled often, so that stopping it takes no half second.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return self.url_at("127.0.0.1")

    def url_at(self, host: str) -> str:
        return f"{self.scheme}://{host}:{self.server.server_port}/hooks/portal"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 30) -> list[tuple[dict, str, str]]:
        """Wait until ``count`` requests came (or fail, saying how many did)."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.received) >= count, timeout), (
                f"{len(self.received)} of {count} requests arrived within {timeout} s")
            return list(self.received)

    def verified(self, secret: str) -> list[dict]:
        """Every payload received, each checked with Standard Webhooks' reference library (raises if forged)."""
        return [Webhook(secret).verify(body, headers) for headers, body, _ in self.received]
