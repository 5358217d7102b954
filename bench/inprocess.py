"""Measure one request through the WSGI app in-process (no network): the floor and the portal of one or more trees.

Usage: python bench/inprocess.py [--tree DIR ...] [--repeats 5] [--calls 20000]

Each scenario runs in its own process: the floor (`bench.bare:app`) and the portal (`app:app`) of every
tree, imported from that tree over a fresh SQLite database made by that tree's migrations. The request is
`GET tokens/self` with a valid token; its request line goes to a file through the portal's own logging, as
under gunicorn. The processes take turns, repeat after repeat, so that the machine's drift touches all alike.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API = "/api/2018-10-01"
SELF = f"{API}/tokens/self"
FLOOR = "bare Flask floor"
OWNER, PASSWORD = "ada@example.com", "in-process bench password"
LIMITS = {"FAILED_AUTH_RATE_LIMIT": "1000000000 per minute", "SIGN_IN_RATE_LIMIT": "1000000000 per minute"}
WARM_UP = 2_000


# --- the child: one app, measured on request -------------------------------------------------

def start_response(status, headers, exc_info=None):
    start_response.status = status


def call(app, environ) -> tuple[str, bytes]:
    answer = app({**environ, "wsgi.input": BytesIO(environ["wsgi.input"].getvalue())}, start_response)
    try:
        return start_response.status, b"".join(answer)
    finally:
        if hasattr(answer, "close"):
            answer.close()


def per_request(app, environ, calls: int) -> float:
    """Microseconds per request over ``calls`` requests (WSGI mutates its environ: a fresh copy each time)."""
    body = environ["wsgi.input"].getvalue()
    started = time.perf_counter_ns()
    for _ in range(calls):
        copy = environ.copy()
        copy["wsgi.input"] = BytesIO(body)
        answer = app(copy, start_response)
        for _chunk in answer:
            pass
        if hasattr(answer, "close"):
            answer.close()
    return (time.perf_counter_ns() - started) / calls / 1000


def child(kind: str) -> None:
    """Import the app of the current directory, check the request, warm up, then measure per stdin line."""
    import json

    from werkzeug.test import EnvironBuilder

    sys.path[0] = os.getcwd()  # the tree measured comes first, not this script's folder
    base = {"REMOTE_ADDR": "127.0.0.1"}
    headers = {}
    if kind == "portal":
        from app import app
        login = EnvironBuilder(f"{API}/login", method="POST", environ_base=base,
                               json={"username": OWNER, "password": PASSWORD}).get_environ()
        status, body = call(app, login)
        assert status.startswith("200"), (status, body)
        headers = json.loads(body)["data"]
    else:
        from bench.bare import app
    environ = EnvironBuilder(SELF, headers=headers, environ_base=base).get_environ()
    status, body = call(app, environ)
    assert status.startswith("200"), (status, body)
    per_request(app, environ, WARM_UP)
    print("ready", flush=True)
    for line in sys.stdin:
        print(per_request(app, environ, int(line)), flush=True)


# --- the parent: set up every scenario, take turns, report medians ---------------------------

def prepare(env: dict, tree: Path) -> None:
    """Migrate and create an account with its owner, with the `flask` commands of ``tree``."""
    def flask(*arguments):
        return subprocess.run([sys.executable, "-m", "flask", *arguments], cwd=tree, env=env, check=True,
                              capture_output=True, text=True).stdout
    flask("db", "upgrade")
    account_id = flask("create-account", "Acme").rsplit(" ", 1)[-1].strip()
    flask("add-member", account_id, OWNER, "--password", PASSWORD, "--role", "owner")


@contextmanager
def scenario(kind: str, tree: Path, env: dict, log: Path):
    """Start a child measuring ``kind`` in ``tree``; yield a function measuring ``calls`` requests."""
    with open(log, "wb") as stderr:
        process = subprocess.Popen([sys.executable, __file__, "--child", kind], cwd=tree, env=env, text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)

    def answer() -> str:
        if line := process.stdout.readline():
            return line
        raise RuntimeError(f"{kind} in {tree} failed:\n{log.read_text()[-3000:]}")

    try:
        answer()  # ready

        def measure(calls: int) -> float:
            process.stdin.write(f"{calls}\n")
            process.stdin.flush()
            return float(answer())
        yield measure
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def label(tree: Path) -> str:
    revision = subprocess.run(["git", "-C", str(tree), "describe", "--always", "--dirty"],
                              capture_output=True, text=True).stdout.strip()
    return f"portal, {tree}" + (f" ({revision})" if revision else "")


def compare(trees: list[Path], repeats: int = 5, calls: int = 20_000) -> dict[str, list[float]]:
    """Microseconds per request of every scenario, the floor's first, ``repeats`` times each."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.servers import environment

    with tempfile.TemporaryDirectory(prefix="portal-inprocess-") as folder, ExitStack() as stack:
        folder = Path(folder)
        measures = {FLOOR: stack.enter_context(scenario("floor", ROOT, {**os.environ}, folder / "floor.log"))}
        for n, tree in enumerate(trees):
            env = environment(f"sqlite:///{folder / f'portal-{n}.sqlite3'}", **LIMITS)
            prepare(env, tree)
            name = label(tree)
            name += f" #{n + 1}" if name in measures else ""
            measures[name] = stack.enter_context(scenario("portal", tree, env, folder / f"portal-{n}.log"))
        times = {name: [] for name in measures}
        for repeat in range(repeats):  # every other repeat in reverse, so that no scenario always goes first
            for name in (list(measures) if repeat % 2 == 0 else reversed(measures)):
                times[name].append(measures[name](calls))
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path, help="a checkout of the project (default: this one)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20_000, help="requests per measurement")
    parser.add_argument("--child", choices=("floor", "portal"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        return child(options.child)
    trees = [tree.resolve() for tree in options.tree or [ROOT]]
    times = compare(trees, options.repeats, options.calls)
    floor = statistics.median(times[FLOOR])
    print(f"In-process, one request through the WSGI app: {options.repeats} repeats x {options.calls:,} calls, "
          f"medians; {os.cpu_count()} cores\n")
    print("| scenario | µs per request | ratio to floor | range over repeats (µs) |\n| --- | --- | --- | --- |")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.1f} | {statistics.median(values) / floor:.2f} | "
              f"{min(values):.1f} to {max(values):.1f} |")


if __name__ == "__main__":
    main()
