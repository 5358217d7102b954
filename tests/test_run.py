"""bin/run's server (``python -m tokens.run``): on the port asked for, its first-run link at that port, each
request logged once, and a clear line when the port is taken."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from .conftest import dispose, make_app
from .servers import ROOT, environment, free_port


@pytest.fixture
def env(tmp_path):
    """A throwaway instance: an empty, migrated SQLite database of its own, and no public URL."""
    database = tmp_path / "portal.sqlite3"
    dispose(make_app(database))
    settings = environment(f"sqlite:///{database}", QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    for name in ("PORT", "FLASK_PUBLIC_URL", "FLASK_RUN_PORT", "FLASK_RUN_HOST"):
        settings.pop(name, None)
    return settings


def run(env, args, log):
    # A session of its own, as a terminal's: Ctrl+C (SIGINT to the group) reaches bin/run, the server and the worker.
    return subprocess.Popen([sys.executable, "-m", "tokens.run", *args], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.mark.parametrize("how", ["--port", "PORT"])
def test_it_serves_on_the_port_asked_for_and_prints_the_first_run_link_there(env, tmp_path, how):
    port = free_port()
    args = ["--port", str(port)] if how == "--port" else []
    if how == "PORT":
        env["PORT"] = str(port)
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        process = run(env, args, log)
        try:
            for _ in range(300):
                if " * Running on " in log_path.read_text() or process.poll() is not None:
                    break
                time.sleep(0.1)
            printed = log_path.read_text()
            link = re.search(r"First run: open (\S+)", printed).group(1)
            assert link.startswith(f"http://127.0.0.1:{port}/setup?code=")
            assert f" * Running on http://127.0.0.1:{port}" in printed
            page = requests.get(link, timeout=30)
            assert page.status_code == 200 and "Setup code" in page.text
            for _ in range(100):  # the worker beside it
                if "Huey consumer started" in log_path.read_text():
                    break
                time.sleep(0.1)
        finally:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl+C
            process.wait(timeout=30)
    printed = log_path.read_text()
    # One command ran both, and Ctrl+C stopped both: the worker gracefully, nothing left running.
    assert f"Worker on sqlite:///{tmp_path / 'queue.sqlite3'}" in printed
    # huey's words, or the worker's own when Ctrl+C came as huey was starting (before it took the signal over)
    assert "Consumer exiting." in printed or "Worker stopped." in printed, printed
    assert subprocess.run(["pgrep", "-s", str(process.pid)], capture_output=True).returncode == 1
    # The portal's own line, and not werkzeug's as well; werkzeug's start lines stay.
    assert len([line for line in printed.splitlines() if "GET /setup" in line]) == 1, printed
    assert re.search(r"INFO tokens\.requests: GET /setup 200 ", printed), printed
    assert "Press CTRL+C to quit" in printed


def test_a_taken_port_is_said_in_one_line_with_what_to_run(env):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "tokens.run", "--port", str(port)], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr == f"Port {port} is in use: run bin/run --port {port + 1}\n"
    assert "First run" not in result.stdout + result.stderr


def test_not_a_port_is_refused_before_anything_starts(env):
    env["PORT"] = "five thousand"
    result = subprocess.run([sys.executable, "-m", "tokens.run"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "'five thousand' is not a port number" in result.stderr
