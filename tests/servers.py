"""Real servers for the tests: the portal under gunicorn on free loopback ports, over a database of either kind."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from .conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def in_thread(server):
    """Run a server of the standard library's kind (werkzeug's included) in a thread; yield its base URL; stop it."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(database_url: str, **settings) -> dict:
    """The environment of a portal process: the database, fixed keys, cheap hashing, then ``settings``."""
    env = {**os.environ, "FLASK_APP": "app", "DATABASE_URL": database_url,
           "FLASK_SECRET_KEY": "server-test-session-key-0123456789abcdef",
           "FLASK_TOKEN_DIGEST_KEY": "server-test-digest-key-0123456789abcdef",
           "FLASK_ARGON2_PARAMETERS": json.dumps({"time_cost": 1, "memory_cost": 1024, "parallelism": 1})}
    env.update({f"FLASK_{name}": value for name, value in settings.items()})
    return env


# The `flask` commands an operator runs first, in one process: each start of `flask` costs a second (imports).
PREPARE = """
import io, sys
from contextlib import redirect_stdout
from flask.cli import cli

def flask(*args):
    printed = io.StringIO()
    with redirect_stdout(printed):
        status = cli.main(list(args), prog_name="flask", standalone_mode=False)
    if status:
        sys.exit(f"flask {args[0]} exited with {status}: {printed.getvalue()}")
    return printed.getvalue()

flask("db", "upgrade")
account_id = flask("create-account", "Acme").rsplit(" ", 1)[-1].strip()
flask("add-member", account_id, sys.argv[1], "--password", sys.argv[2], "--role", "owner")
print(account_id)
"""


def prepare(env: dict, owner: str = "ada@example.com") -> str:
    """Migrate the database and create an account with an owner, through the `flask` commands."""
    done = subprocess.run([sys.executable, "-c", PREPARE, owner, PASSWORD], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True)
    return done.stdout.split()[-1]


@contextmanager
def gunicorn(env: dict, folder: Path, workers: int = 2, threads: int = 1, app: str = "app:app",
             python: str = sys.executable, cwd: Path = ROOT, port: int | None = None):
    """Serve the portal (or another WSGI ``app``) with gunicorn on a loopback port; yield its base URL; stop it."""
    port = port or free_port()
    log_path = folder / f"gunicorn-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [python, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
             "--bind", f"127.0.0.1:{port}", app], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    # The master accepts at once; the answer waits for a worker to boot (a second or more when busy).
                    requests.get(base, timeout=(1, 30))
                    break
                except (requests.ConnectionError, requests.Timeout):  # not listening yet
                    time.sleep(0.1)
            else:
                raise RuntimeError(f"gunicorn did not start: {log_path.read_text()}")
            yield base
        finally:
            process.terminate()
            process.wait(timeout=15)
