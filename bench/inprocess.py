"""Measure one request through the WSGI app in-process (no network): the floor and the portal of one or more trees.

Usage: python bench/inprocess.py [--tree DIR ...] [--repeats 5] [--calls 20000] [--no-budget] [--pages]

Each scenario runs in its own process: the floor (`bench.bare:app`) and, for every tree, the portal
(`app:app`) answering `GET tokens/self` and `GET verify`, imported from that tree over a fresh SQLite
database made by that tree's migrations, both with the same valid token (X-Auth-Token). The request line
goes to a file through the portal's own logging, as under gunicorn. The processes take turns, repeat
after repeat, so that the machine's drift touches all alike.

The budget splits a portal request into its pieces, each timed alone in the API's request context (see
``alone``), "everything else" being what the whole request costs beyond the floor and those pieces; and
it also takes each piece out (a throwaway patch in the measuring process, see ``without``), timing whole
requests with and without it: what removing the piece would save, cache effects included. Times are the
CPU time of the measuring thread, so that other processes on the machine's cores count less.

With ``--pages`` the portal's scenarios are Account Preferences instead (``PAGES``), signed in through the
sign-in form, over an account of 1,000 tokens: compare trees to see what a change to the pages costs.
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
from unittest.mock import patch

ROOT = Path(__file__).resolve().parent.parent
API = "/api/2018-10-01"
SELF = f"{API}/tokens/self"
PATHS = {"tokens/self": SELF, "verify": f"{API}/verify"}  # the portal's scenarios
# With --pages: Account Preferences, signed in as a member with 50 tokens, and as the owner of an account of
# 1,000 (the member's 50 and the owner's 950), whose first page shows 50 rows.
PAGES = {"member's page": "bob@example.com", "owner's first page": "ada@example.com"}
FLOOR = "bare Flask floor"
PIECES = ("lookup", "digest", "log line", "headers", "answer", "budget")
BATCH = 100  # requests per batch of the budget
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
    started = time.thread_time_ns()
    for _ in range(calls):
        copy = environ.copy()
        copy["wsgi.input"] = BytesIO(body)
        answer = app(copy, start_response)
        for _chunk in answer:
            pass
        if hasattr(answer, "close"):
            answer.close()
    return (time.thread_time_ns() - started) / calls / 1000


@contextmanager
def without(piece: str, app, environ: dict):
    """Take one piece out of the portal's request for a while (a throwaway patch, undone on leaving)."""
    from flask import Response, jsonify

    from tokens import logs, secret
    from tokens.api import jsend
    from tokens.budgets import Budget
    from tokens.extensions import db
    from tokens.service import callers

    api = app.extensions["api"]
    token = environ["HTTP_X_AUTH_TOKEN"]
    with ExitStack() as patches:
        if piece == "lookup":  # the row as the database gives it, fetched now ("last used" stays fresh)
            with api.app_context():
                row = callers.CALLER_BY_DIGEST.first(db.engine, digest=callers.token_digest(token))
            patches.enter_context(patch.object(callers.CALLER_BY_DIGEST, "first", lambda engine, **_: row))
        elif piece == "digest":
            parsed = secret.parse(token)
            with api.app_context():
                digest = callers.token_digest(token)
            patches.enter_context(patch.object(secret, "parse", lambda candidate: parsed))
            patches.enter_context(patch.object(callers, "token_digest", lambda candidate: digest))
        elif piece == "log line":
            for hooks in (api.before_request_funcs, api.after_request_funcs):
                patches.enter_context(patch.dict(hooks, {None: [
                    hook for hook in hooks.get(None, []) if hook.__module__ != logs.__name__]}))
        elif piece == "headers":  # the after_request hook, or the answers' class that carries them
            if hook := getattr(jsend, "headers", None):
                hooks = api.after_request_funcs
                patches.enter_context(patch.dict(hooks, {None: [h for h in hooks.get(None, []) if h is not hook]}))
            patches.enter_context(patch.object(api, "response_class", Response))
        elif piece == "answer":  # the view, answering the floor's small document instead
            endpoint = api.url_map.bind("", script_name=API).match(environ["PATH_INFO"].removeprefix(API))[0]
            patches.enter_context(patch.dict(api.view_functions, {
                endpoint: lambda **_: jsonify(status="success", data={"token": {"id": "bare"}})}))
        elif piece == "budget":
            patches.enter_context(patch.object(Budget, "retry_after", lambda self, client: None))
        yield


def timed(function, calls: int) -> float:
    """Microseconds per call of ``function``, less the loop's own cost."""
    def nothing():
        return None
    spent = []
    for each in (function, nothing):
        started = time.thread_time_ns()
        for _ in range(calls):
            each()
        spent.append(time.thread_time_ns() - started)
    return (spent[0] - spent[1]) / calls / 1000


def alone(app, environ: dict, calls: int) -> dict[str, float]:
    """Microseconds of each piece timed alone, ``calls`` times, in the API's request context of the request measured.

    headers: an API answer with the REST headers less a plain one; answer: the view (its document, verify's
    identity headers) less the floor's small document, both through the API's JSON.
    """
    from flask import Response, g, jsonify

    from tokens import logs, secret
    from tokens.api import jsend
    from tokens.budgets import failed_authentications
    from tokens.extensions import db
    from tokens.service.callers import CALLER_BY_DIGEST, authenticate_token, token_digest

    api = app.extensions["api"]
    inner = {**environ, "SCRIPT_NAME": API, "PATH_INFO": environ["PATH_INFO"].removeprefix(API)}
    token, account, client = inner["HTTP_X_AUTH_TOKEN"], inner["HTTP_X_ACCOUNT_ID"], inner["REMOTE_ADDR"]
    add_headers = getattr(jsend, "headers", None)  # an after_request hook, where the code has one

    def with_headers():
        response = api.response_class(b"{}", mimetype="application/json")
        return add_headers(response) if add_headers else response

    with api.request_context(inner) as context:
        view = api.view_functions[context.request.endpoint]
        digest = token_digest(token)
        g.caller = authenticate_token(token, account, ip=client)
        db.session.remove()  # "last used" was written by the warm-up: nothing to commit
        response = api.make_response(view())

        def log_line():
            logs.start_timer()
            logs.log_request(response)

        return {
            "lookup": timed(lambda: CALLER_BY_DIGEST.first(db.engine, digest=digest), calls),
            "digest": timed(lambda: secret.parse(token) and token_digest(token), calls),
            "log line": timed(log_line, calls),
            "headers": timed(with_headers, calls)
            - timed(lambda: Response(b"{}", mimetype="application/json"), calls),
            "answer": timed(view, calls)
            - timed(lambda: jsonify(status="success", data={"token": {"id": "bare"}}), calls),
            "budget": timed(lambda: failed_authentications.retry_after(client), calls),
        }


def budget(app, environ: dict, calls: int) -> dict[str, float]:
    """Microseconds of the whole request ("total"), of each piece alone and of each piece taken out ("<piece> out").

    The floor gives its total only. The total is the median of batches of BATCH requests. Taken out: the
    request runs with the piece and without it in turn, ``calls`` requests each way in batches; the figure
    is the median difference between a batch with it and the next one without, which a drift or a burst of
    other work on the machine touches alike.
    """
    rounds = max(1, calls // BATCH)
    if "api" not in app.extensions:
        return {"total": statistics.median(per_request(app, environ, BATCH) for _ in range(rounds))}
    whole, figures = [], alone(app, environ, calls)
    for piece in PIECES:
        differences = []
        for _ in range(rounds):
            kept = per_request(app, environ, BATCH)
            with without(piece, app, environ):
                differences.append(kept - per_request(app, environ, BATCH))
            whole.append(kept)
        figures[f"{piece} out"] = statistics.median(differences)
    return {"total": statistics.median(whole), **figures}


def child(kind: str) -> None:
    """Import the app of the current directory, check the request, warm up, then measure per stdin line.

    A line holding a number measures that many requests; "budget <number>" times the pieces instead.
    """
    import json

    from werkzeug.test import EnvironBuilder

    sys.path[0] = os.getcwd()  # the tree measured comes first, not this script's folder
    base = {"REMOTE_ADDR": "127.0.0.1"}
    headers = {}
    if kind in PAGES:
        from app import app
        headers = {"Cookie": f"session={signed_in(app, PAGES[kind])}"}
    elif kind in PATHS:
        from app import app
        if given := os.environ.get("INPROCESS_CREDENTIALS"):  # the token of the tree's first scenario
            headers = json.loads(given)
        else:
            login = EnvironBuilder(f"{API}/login", method="POST", environ_base=base,
                                   json={"username": OWNER, "password": PASSWORD}).get_environ()
            status, body = call(app, login)
            assert status.startswith("200"), (status, body)
            headers = json.loads(body)["data"]
    else:
        from bench.bare import app
    path = "/preferences" if kind in PAGES else PATHS.get(kind, SELF)
    environ = EnvironBuilder(path, headers=headers, environ_base=base).get_environ()
    status, body = call(app, environ)
    assert status.startswith("200"), (status, body)
    per_request(app, environ, WARM_UP // 20 if kind in PAGES else WARM_UP)
    print("ready", json.dumps(headers), flush=True)
    for line in sys.stdin:
        command, _, calls = line.strip().rpartition(" ")
        if command == "budget":
            print(json.dumps(budget(app, environ, int(calls))), flush=True)
        else:
            print(per_request(app, environ, int(calls)), flush=True)


def signed_in(app, email: str) -> str:
    """Sign ``email`` in through the sign-in form; return the session cookie's value."""
    import re

    browser = app.test_client()
    form = browser.get("/signin", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    answer = browser.post("/signin", data={"email": email, "password": PASSWORD, "csrf_token": csrf},
                          environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return browser.get_cookie("session").value


# --- the parent: set up every scenario, take turns, report medians ---------------------------

def prepare(env: dict, tree: Path, pages: bool = False) -> None:
    """Migrate and create an account with its owner, with the `flask` commands of ``tree``; for the pages, a
    member too, and 1,000 tokens."""
    def flask(*arguments):
        return subprocess.run([sys.executable, "-m", "flask", *arguments], cwd=tree, env=env, check=True,
                              capture_output=True, text=True).stdout
    flask("db", "upgrade")
    account_id = flask("create-account", "Acme").rsplit(" ", 1)[-1].strip()
    flask("add-member", account_id, OWNER, "--password", PASSWORD, "--role", "owner")
    if pages:
        from bench.bench import seed_tokens

        flask("add-member", account_id, PAGES["member's page"], "--password", PASSWORD, "--role", "member")
        seed_tokens(env["DATABASE_URL"], 50, account_id=1, member_id=2)
        seed_tokens(env["DATABASE_URL"], 950, account_id=1, member_id=1)


@contextmanager
def scenario(kind: str, tree: Path, env: dict, log: Path):
    """Start a child measuring ``kind`` in ``tree``; yield a function measuring ``calls`` requests (or the budget).

    The function's ``credentials`` are the headers the child authenticates with.
    """
    import json

    with open(log, "wb") as stderr:
        process = subprocess.Popen([sys.executable, __file__, "--child", kind], cwd=tree, env=env, text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)

    def answer() -> str:
        if line := process.stdout.readline():
            return line
        raise RuntimeError(f"{kind} in {tree} failed:\n{log.read_text()[-3000:]}")

    try:
        ready = answer()  # ready, and the credentials

        def measure(calls: int, what: str = "") -> float | dict:
            process.stdin.write(f"{what} {calls}\n")
            process.stdin.flush()
            return json.loads(answer())
        measure.credentials = json.loads(ready.removeprefix("ready "))
        yield measure
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def label(tree: Path) -> str:
    revision = subprocess.run(["git", "-C", str(tree), "describe", "--always", "--dirty"],
                              capture_output=True, text=True).stdout.strip()
    return f"{tree}" + (f" ({revision})" if revision else "")


def compare(trees: list[Path], repeats: int = 5, calls: int = 20_000, budgets: bool = True,
            pages: bool = False) -> tuple[dict[str, list[float]], dict[str, dict[str, list[float]]]]:
    """Microseconds per request of every scenario, the floor's first, ``repeats`` times each; and the budgets.

    Portal scenarios are named "<path>, <tree>". The budgets (when asked) give every scenario's total
    and each portal scenario's pieces, ``repeats`` times each, over a tenth of ``calls`` requests each way.
    """
    import json

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.servers import environment

    with tempfile.TemporaryDirectory(prefix="portal-inprocess-") as folder, ExitStack() as stack:
        folder = Path(folder)
        measures = {FLOOR: stack.enter_context(scenario("floor", ROOT, {**os.environ}, folder / "floor.log"))}
        for n, tree in enumerate(trees):
            env = environment(f"sqlite:///{folder / f'portal-{n}.sqlite3'}", **LIMITS)
            prepare(env, tree, pages)
            name = label(tree)
            name += f" #{n + 1}" if any(kind.endswith(f", {name}") for kind in measures) else ""
            for path in PAGES if pages else PATHS:
                measure = measures[f"{path}, {name}"] = stack.enter_context(
                    scenario(path, tree, env, folder / f"portal-{n}-{path.replace('/', '-')}.log"))
                env = {**env, "INPROCESS_CREDENTIALS": json.dumps(measure.credentials)}
        times = {name: [] for name in measures}
        pieces = {name: {} for name in measures}
        for repeat in range(repeats):  # every other repeat in reverse, so that no scenario always goes first
            for name in (list(measures) if repeat % 2 == 0 else reversed(measures)):
                times[name].append(measures[name](calls))
                if budgets:
                    for piece, value in measures[name](max(BATCH, calls // 10), "budget").items():
                        pieces[name].setdefault(piece, []).append(value)
    return times, (pieces if budgets else {})


def budget_table(pieces: dict[str, dict[str, list[float]]]) -> str:
    """Per portal scenario, two columns in µs (medians): each piece alone, with everything else by subtraction;
    and what taking each piece out of the request saves."""
    floor = statistics.median(pieces[FLOOR]["total"])
    portals = {name: measured for name, measured in pieces.items() if name != FLOOR}
    lines = ["| µs per request | " + " | ".join(f"{name}: alone | taken out" for name in portals) + " |",
             "| --- |" + " --- | --- |" * len(portals)]
    columns = []
    for measured in portals.values():
        column = {"floor": (floor, None)}
        column.update({piece: (statistics.median(measured[piece]), statistics.median(measured[f"{piece} out"]))
                       for piece in PIECES})
        total = statistics.median(measured["total"])
        column["everything else"] = (total - sum(own for own, _ in column.values()), None)
        column["total"] = (total, None)
        columns.append(column)
    for row in ("floor", *PIECES, "everything else", "total"):
        cells = [f"{own:.1f} | " + (f"{out:.1f}" if out is not None else "") for own, out in
                 (column[row] for column in columns)]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path, help="a checkout of the project (default: this one)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20_000, help="requests per measurement")
    parser.add_argument("--no-budget", action="store_true", help="skip timing the pieces of a request")
    parser.add_argument("--pages", action="store_true", help="measure Account Preferences instead (no budget)")
    parser.add_argument("--child", choices=("floor", *PATHS, *PAGES), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        return child(options.child)
    trees = [tree.resolve() for tree in options.tree or [ROOT]]
    times, pieces = compare(trees, options.repeats, options.calls, budgets=not (options.no_budget or options.pages),
                            pages=options.pages)
    floor = statistics.median(times[FLOOR])
    print(f"In-process, one request through the WSGI app: {options.repeats} repeats x {options.calls:,} calls, "
          f"medians; {os.cpu_count()} cores\n")
    print("| scenario | µs per request | ratio to floor | range over repeats (µs) |\n| --- | --- | --- | --- |")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.1f} | {statistics.median(values) / floor:.2f} | "
              f"{min(values):.1f} to {max(values):.1f} |")
    if pieces:
        print(f"\nBudget: each piece timed alone ({options.calls // 10:,} calls), everything else by subtraction; "
              f"and each piece taken out (with it less without it, {options.calls // 10:,} requests each way, "
              f"batches of {BATCH}); medians over the repeats\n")
        print(budget_table(pieces))


if __name__ == "__main__":
    main()
