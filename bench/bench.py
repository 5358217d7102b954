"""Measure the portal against the bare Flask floor and Django REST Framework: one run, alternating, with wrk.

Usage: bin/bench [--rounds 3] [--duration 3] [--tokens 1000,1000000] [--no-peer]

Every server is gunicorn with 2 sync workers on loopback, over SQLite. Each round measures every
wrk scenario once, in turn, so that the machine's drift touches them all alike; the table gives
medians over the rounds and ratios between scenarios of the same run.
"""

import argparse
import hmac
import json
import os
import re
import secrets as random_source
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime
from hashlib import sha256
from pathlib import Path

import requests
from sqlalchemy import MetaData, Table, create_engine, insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import inprocess  # noqa: E402
from tests.conftest import PASSWORD, csrf_from  # noqa: E402
from tests.proxies import nginx  # noqa: E402
from tests.servers import environment, gunicorn, prepare  # noqa: E402
from tokens import secret  # noqa: E402

API = "/api/2018-10-01"
SELF = f"{API}/tokens/self"
VERIFY = f"{API}/verify"
DIGEST_KEY = "server-test-digest-key-0123456789abcdef"  # the key tests.servers.environment sets
SEEDED_AT = datetime(2026, 1, 1)
UNLIMITED = {"FAILED_AUTH_RATE_LIMIT": "1000000000 per minute", "SIGN_IN_RATE_LIMIT": "1000000000 per minute",
             "TOKENS_PER_MEMBER": "1000000000"}
PEER_PYTHON = ROOT / ".venv-drf" / "bin" / "python"
LARGE_INVENTORY = 100_000  # tokens in the account of the owner's second page scenario


# --- seeding ---------------------------------------------------------------------------------

def seed_tokens(database_url: str, count: int, account_id: int | None = None, member_id: int = 1) -> None:
    """Insert ``count`` tokens of ``member_id``: into ``account_id``, or spread over many new accounts."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        tokens = Table("api_token", MetaData(), autoload_with=connection)
        accounts = 1 if account_id else max(1, count // 100)
        if not account_id:  # the new accounts follow the existing ones
            first = connection.execute(text("SELECT max(id) FROM account")).scalar() + 1
            connection.execute(text("INSERT INTO account (public_id, name, created_at) VALUES "
                                    "(:p, 'seeded', '2026-01-01 00:00:00')"),
                               [{"p": f"seed{first + n:013d}"} for n in range(accounts)])
        for batch in range(0, count, 10_000):
            rows = []
            for n in range(batch, min(batch + 10_000, count)):
                token = secret.generate("tok")
                rows.append({"public_id": random_source.token_hex(6),
                             "account_id": account_id or first + n % accounts, "member_id": member_id,
                             "digest": hmac.new(DIGEST_KEY.encode(), token.encode(), sha256).hexdigest(),
                             "hint": secret.hint(token), "name": f"seeded {n}", "scope": "read",
                             "created_via": "cli", "created_at": SEEDED_AT})
            connection.execute(insert(tokens), rows)
    engine.dispose()


def flask_command(env: dict, *arguments: str) -> str:
    return subprocess.run([sys.executable, "-m", "flask", *arguments], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout


def api_login(base: str) -> dict:
    answer = requests.post(f"{base}{API}/login", json={"username": "ada@example.com", "password": PASSWORD},
                           timeout=30)
    answer.raise_for_status()
    return answer.json()["data"]


def signed_in(base: str, email: str) -> requests.Session:
    """A browser session of ``email``, signed in through the sign-in form."""
    browser = requests.Session()
    form = browser.get(f"{base}/signin", timeout=10).text
    answer = browser.post(f"{base}/signin", data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(form)},
                          timeout=30, allow_redirects=False)
    assert answer.status_code == 302, answer.text
    return browser


# --- measuring -------------------------------------------------------------------------------

def wrk(url: str, headers: dict, duration: int, connections: int, script: Path | None = None) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url]
    for name, value in headers.items():
        command[1:1] = ["-H", f"{name}: {value}"]
    if script:
        command[1:1] = ["-s", str(script)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))

    def latency(percent):
        value, unit = re.search(rf"\s{percent}%\s+([\d.]+)(us|ms|s)", output).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": rate, "p50": latency(50), "p99": latency(99), "non2xx": int(non_2xx.group(1)) if non_2xx else 0}


def worker_rss(base: str) -> float:
    """Return the largest resident memory of the server's workers, in MiB."""
    port = base.rsplit(":", 1)[1]
    pids = subprocess.run(["pgrep", "-f", f"127.0.0.1:{port}"], capture_output=True, text=True).stdout.split()
    sizes = {}
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        parent = int(re.search(r"PPid:\s+(\d+)", status).group(1))
        sizes[pid] = (parent, int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)
    return max(size for parent, size in sizes.values() if parent != os.getpid())


def browser_actions(base: str, count: int, threads: int = 4) -> dict:
    """Generate then Delete ``count`` tokens through the htmx endpoints; rates, latencies and answer sizes."""
    browser = signed_in(base, "ada@example.com")
    page = browser.get(f"{base}/preferences", timeout=10)
    headers = {"HX-Request": "true", "X-CSRFToken": csrf_from(page.text)}

    def generate(n):
        started = time.perf_counter()
        answer = browser.post(f"{base}/preferences/tokens", headers=headers, timeout=30, data={
            "name": f"bench {n}", "scope": "read", "expires": "never", "nonce": random_source.token_urlsafe(16)})
        assert answer.status_code == 201, answer.text
        token_id = re.search(r'hx-delete="/preferences/tokens/([0-9A-Za-z]{12})"', answer.text).group(1)
        return time.perf_counter() - started, len(answer.content), token_id

    def delete(token_id):
        started = time.perf_counter()
        answer = browser.delete(f"{base}/preferences/tokens/{token_id}", headers=headers, timeout=30)
        assert answer.status_code == 200, answer.text
        return time.perf_counter() - started, len(answer.content), None

    def timed(action, inputs):
        with ThreadPoolExecutor(threads) as pool:
            started = time.perf_counter()
            done = list(pool.map(action, inputs))
            elapsed = time.perf_counter() - started
        times = sorted(seconds * 1000 for seconds, _, _ in done)
        return done, {"rps": len(done) / elapsed, "p50": times[len(times) // 2],
                      "p99": times[int(len(times) * 0.99)], "bytes": max(size for _, size, _ in done)}

    results = {}
    made, results["Generate"] = timed(generate, range(count))
    _, results["Delete"] = timed(delete, [token_id for _, _, token_id in made])
    plain = browser.post(f"{base}/preferences/tokens", timeout=30, data={
        "name": "plain", "scope": "read", "expires": "never", "nonce": random_source.token_urlsafe(16),
        "csrf_token": headers["X-CSRFToken"]})
    results["page"] = {"bytes": len(browser.get(f"{base}/preferences", timeout=10).content),
                       "plain_generate_bytes": len(plain.content)}
    return results


def post_script(folder: Path, path: str, body: dict) -> Path:
    script = folder / f"post-{abs(hash(path))}.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(body))}\n'
                      'wrk.headers["Content-Type"] = "application/json"\n')
    return script


# --- the run ---------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--tokens", default="1000,1000000", help="stored-token counts to compare")
    parser.add_argument("--actions", type=int, default=300, help="Generate and Delete requests to make")
    parser.add_argument("--no-peer", action="store_true", help="skip Django REST Framework")
    options = parser.parse_args()
    counts = [int(c) for c in options.tokens.split(",")]

    with tempfile.TemporaryDirectory(prefix="portal-bench-") as folder, ExitStack() as servers:
        folder = Path(folder)
        print("Seeding and starting servers ...", file=sys.stderr)
        floor = servers.enter_context(gunicorn({**os.environ}, folder, app="bench.bare:app"))
        scenarios = {"bare Flask floor": (floor, SELF, {}, None)}
        rss = {"bare Flask": floor}

        for count in counts:  # scenarios 1 and 2: a valid token over 1,000 and 1,000,000 stored ones
            url = f"sqlite:///{folder / f'portal-{count}.sqlite3'}"
            env = environment(url, **UNLIMITED)
            prepare(env)
            seed_tokens(url, count)
            base = servers.enter_context(gunicorn(env, folder))
            credentials = api_login(base)
            scenarios[f"tokens/self, X-Auth-Token, {count:,} tokens"] = (base, SELF, credentials, None)
            rss[f"portal, {count:,} tokens"] = base
            if count == counts[0]:  # forward auth: every request to a protected service costs one verify
                scenarios[f"verify, X-Auth-Token, {count:,} tokens"] = (base, VERIFY, credentials, None)
                portal, main_credentials = base, credentials
                raw_env = {**env, "PORTAL_DATABASE": str(folder / f"portal-{count}.sqlite3")}
                raw = servers.enter_context(gunicorn(raw_env, folder, app="bench.raw_lookup:app"))
                scenarios["reference: bare Flask + one raw sqlite3 lookup"] = (raw, SELF, credentials, None)
        token = main_credentials["X-Auth-Token"]
        bad_checksum = token[:-1] + ("A" if token[-1] != "A" else "B")
        scenarios["tokens/self, Authorization: Bearer"] = (portal, SELF, {"Authorization": f"Bearer {token}"}, None)
        # Scenario 7: a service (the floor) behind nginx, then behind nginx asking the portal about every request
        # (forward auth, as `flask forward-auth nginx` configures it).
        for name, asked in (("nginx -> bare Flask", None), ("nginx + forward auth -> bare Flask", portal)):
            proxy_folder = folder / ("nginx-guarded" if asked else "nginx-plain")
            proxy_folder.mkdir()
            scenarios[name] = (servers.enter_context(nginx(floor, asked, proxy_folder)), SELF, main_credentials, None)
        # Scenario 3: refused tokens.
        scenarios["tokens/self, bad checksum (401)"] = (
            portal, SELF, {**main_credentials, "X-Auth-Token": bad_checksum}, None)
        scenarios["tokens/self, unknown token (401)"] = (
            portal, SELF, {**main_credentials, "X-Auth-Token": secret.generate("tok")}, None)

        # Scenario 4: the pages. Bob (member) has 50 tokens; Ada (owner) sees the first page of an inventory of
        # 1,000, and of one of 100,000 in a second database.
        url = f"sqlite:///{folder / 'pages.sqlite3'}"
        env = environment(url, **UNLIMITED)
        account = prepare(env)
        flask_command(env, "add-member", account, "bob@example.com", "--password", PASSWORD, "--role", "member")
        seed_tokens(url, 50, account_id=1, member_id=2)
        seed_tokens(url, 950, account_id=1, member_id=1)
        pages = servers.enter_context(gunicorn(env, folder))
        # The owner's first page again over an account of 100,000 tokens: paged, it should not notice.
        url = f"sqlite:///{folder / 'pages-large.sqlite3'}"
        large_env = environment(url, **UNLIMITED)
        prepare(large_env)
        seed_tokens(url, LARGE_INVENTORY, account_id=1, member_id=1)
        large_pages = servers.enter_context(gunicorn(large_env, folder))
        page_sizes = {}
        for who, server, email in (("a member's page, 50 tokens", pages, "bob@example.com"),
                                   ("an owner's inventory, 1,000 tokens", pages, "ada@example.com"),
                                   (f"an owner's inventory, {LARGE_INVENTORY:,} tokens", large_pages,
                                    "ada@example.com")):
            browser = signed_in(server, email)
            name = f"Account Preferences, {who}"
            scenarios[name] = (server, "/preferences", {"Cookie": f"session={browser.cookies.get('session')}"}, None)
            page_sizes[name] = len(browser.get(f"{server}/preferences", timeout=60).content)

        # Scenario 6: API login with argon2-cffi's default cost (the other portals hash cheaply).
        url = f"sqlite:///{folder / 'login.sqlite3'}"
        env = environment(url, **UNLIMITED)
        del env["FLASK_ARGON2_PARAMETERS"]
        prepare(env)
        login_portal = servers.enter_context(gunicorn(env, folder))
        scenarios["POST login (argon2id, default cost)"] = (
            login_portal, f"{API}/login", {}, post_script(folder, "login", {"username": "ada@example.com",
                                                                              "password": PASSWORD}))

        if not options.no_peer:  # the peer: Django REST Framework's TokenAuthentication, 1,000 tokens
            peer_env = {**os.environ, "PEER_DATABASE": str(folder / "peer.sqlite3")}
            peer_dir = ROOT / "bench" / "drf"
            key = subprocess.run([str(PEER_PYTHON), "peer.py", "seed", str(counts[0])], cwd=peer_dir, env=peer_env,
                                 check=True, capture_output=True, text=True).stdout.strip()
            peer = servers.enter_context(gunicorn(peer_env, folder, app="peer:application", python=str(PEER_PYTHON),
                                                  cwd=peer_dir))
            scenarios[f"DRF TokenAuthentication, {counts[0]:,} tokens"] = (
                peer, SELF, {"Authorization": f"Token {key}"}, None)
            rss["Django REST Framework"] = peer

        print(f"Warming up, then measuring {len(scenarios)} scenarios x {options.rounds} rounds ...", file=sys.stderr)
        for server, path, headers, script in scenarios.values():  # first requests load code and fill caches
            wrk(f"{server}{path}", headers, 1, options.connections, script)
        results: dict[str, list[dict]] = {}
        for _ in range(options.rounds):
            for name, (server, path, headers, script) in scenarios.items():
                results.setdefault(name, []).append(
                    wrk(f"{server}{path}", headers, options.duration, options.connections, script))
        actions = browser_actions(pages, options.actions)  # scenario 5
        rss["portal, pages"] = pages
        memory = {name: worker_rss(base) for name, base in rss.items()}

    print(f"In-process, {options.rounds} rounds ...", file=sys.stderr)  # the servers stopped: the CPU is free
    in_process, _ = inprocess.compare([ROOT], repeats=options.rounds, budgets=False)
    print(report(results, actions, memory, counts, options, in_process, page_sizes))


def report(results, actions, memory, counts, options, in_process, page_sizes) -> str:
    def median(name, key="rps"):
        return statistics.median(r[key] for r in results[name])
    floor = median("bare Flask floor")
    lines = [f"2 gunicorn sync workers per server, SQLite, wrk -t2 -c{options.connections}, "
             f"{options.rounds} rounds x {options.duration} s, medians; {os.cpu_count()} cores", "",
             "| scenario | req/s | ratio to floor | p50 ms | p99 ms | non-2xx |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name in results:
        lines.append(f"| {name} | {median(name):,.0f} | {median(name) / floor:.2f} | {median(name, 'p50'):.2f} | "
                     f"{median(name, 'p99'):.2f} | {sum(r['non2xx'] for r in results[name])} |")
    valid = median(f"tokens/self, X-Auth-Token, {counts[0]:,} tokens")
    verify = median(f"verify, X-Auth-Token, {counts[0]:,} tokens")
    checks = [("tokens/self vs the floor (target >= 0.6)", valid / floor),
              ("verify vs the floor (target >= 0.6)", verify / floor)]
    peer = f"DRF TokenAuthentication, {counts[0]:,} tokens"
    if peer in results:
        checks += [("tokens/self vs Django REST Framework (target >= 3)", valid / median(peer)),
                   ("verify vs Django REST Framework (target >= 3)", verify / median(peer))]
    checks.append(("nginx + forward auth vs nginx alone, in front of the floor",
                   median("nginx + forward auth -> bare Flask") / median("nginx -> bare Flask")))
    if len(counts) > 1:
        checks.append((f"{counts[-1]:,} vs {counts[0]:,} stored tokens (target >= 0.9)",
                       median(f"tokens/self, X-Auth-Token, {counts[-1]:,} tokens") / valid))
    for refused in ("bad checksum", "unknown token"):
        checks.append((f"{refused} vs valid (target >= 1.0: no dearer)",
                       median(f"tokens/self, {refused} (401)") / valid))
    owner = "Account Preferences, an owner's inventory, {:,} tokens"
    checks.append((f"owner's first page, {LARGE_INVENTORY:,} vs 1,000 tokens in the account (target >= 0.9: flat)",
                   median(owner.format(LARGE_INVENTORY)) / median(owner.format(1000))))
    lines += ["", "| ratio | measured |", "| --- | --- |", *(f"| {name} | {value:.2f} |" for name, value in checks)]
    lines += ["", "| page | bytes |", "| --- | --- |", *(f"| {name} | {size:,} |" for name, size in page_sizes.items())]
    floor_us, *portal_us = (statistics.median(times) for times in in_process.values())
    lines += ["", f"In-process, one request through the WSGI app ({options.rounds} rounds, medians): "
              f"floor {floor_us:.0f} µs, " + ", ".join(
                  f"{path} {us:.0f} µs ({us / floor_us:.2f}x the floor)" for path, us in zip(
                      inprocess.PATHS, portal_us, strict=True)) + "."]
    lines += ["", f"Browser actions ({options.actions} each, 4 client threads):", "",
              "| action | req/s | p50 ms | p99 ms | answer bytes |", "| --- | --- | --- | --- | --- |"]
    for name in ("Generate", "Delete"):
        a = actions[name]
        lines.append(f"| {name} (htmx) | {a['rps']:,.0f} | {a['p50']:.1f} | {a['p99']:.1f} | {a['bytes']:,} |")
    lines.append("| the page Generate re-sends without htmx (the owner's first page, 1,000 tokens) | | | | "
                 f"{actions['page']['plain_generate_bytes']:,} |")
    lines += ["", "| server | largest worker RSS (MiB) |", "| --- | --- |",
              *(f"| {name} | {size:.0f} |" for name, size in memory.items())]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
