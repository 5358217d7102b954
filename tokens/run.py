"""``bin/run``: the portal under the development server, on a port of the operator's choice, and its background
worker (``flask worker``) beside it.

    bin/run [--port N] [--host ADDRESS]        (or PORT=N bin/run)

The port defaults to PORT, else 5000; the host to 127.0.0.1, so nobody else on the network reaches a portal
that has not been set up yet. A port already taken is said in one line, with what to run instead.
"""

import argparse
import errno
import os
import signal
import socket
import subprocess
import sys

DEFAULT_PORT = 5000


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1 to 65535)")
    return int(text)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bin/run", description="Run the portal with the development server.")
    parser.add_argument("--port", type=_port, default=os.environ.get("PORT") or DEFAULT_PORT,
                        help=f"the port to serve on (default: $PORT, else {DEFAULT_PORT})")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default: 127.0.0.1, this machine only)")
    args = parser.parse_args(argv)
    args.port = _port(str(args.port))  # PORT comes as text and is checked as --port is
    return args


def taken(host: str, port: int) -> str | None:
    """Say why the server could not listen at ``host``:``port``, or None if it can (it binds as werkzeug does)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                who = " (on macOS, the AirPlay receiver)" if port == DEFAULT_PORT else ""
                return f"Port {port} is in use{who}: run bin/run --port {port + 1 if port < 65535 else 8000}"
            return f"Cannot listen on {host}:{port}: {error.strerror or error}"
    return None


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    if refusal := taken(args.host, args.port):
        sys.exit(refusal)
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    # The background worker beside the server: one command runs everything. Ctrl+C reaches both (the terminal
    # signals the whole group); a stop asked of bin/run alone (SIGTERM) is passed on to the server.
    worker = subprocess.Popen([*flask, "worker"])  # noqa: S603 - our own command, no shell
    # werkzeug says where it runs once it listens; the portal then prints the first-run link at that address.
    server = subprocess.Popen([*flask, "run", "--host", args.host, "--port", str(args.port)])  # noqa: S603
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    try:
        status = server.wait()
    except KeyboardInterrupt:
        status = server.wait()
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGINT)  # huey's graceful stop: the task running finishes
        worker.wait(timeout=30)
    sys.exit(status)


if __name__ == "__main__":
    main()
