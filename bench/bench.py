"""Measure token authentication against the bare Flask floor, in one run, alternating, with wrk.

Usage: bin/bench [--rounds 3] [--duration 3] [--tokens 1000,100000]
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
from contextlib import ExitStack
from datetime import datetime
from hashlib import sha256
from pathlib import Path

import requests
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import environment, gunicorn, prepare  # noqa: E402
from tokens import secret  # noqa: E402

API = "/api/2018-10-01"
DIGEST_KEY = "server-test-digest-key-0123456789abcdef"  # the key tests.servers.environment sets
SEEDED_AT = datetime(2026, 1, 1)


def seed_tokens(database_url: str, count: int) -> None:
    """Add ``count`` tokens over many accounts (one member each), straight into the database."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        existing = connection.execute(text("SELECT count(*) FROM api_token")).scalar()
        accounts = max(1, count // 100)
        for batch in range(0, count - existing, 10_000):
            rows = []
            for n in range(batch, min(batch + 10_000, count - existing)):
                token = secret.generate("tok")
                digest = hmac.new(DIGEST_KEY.encode(), token.encode(), sha256).hexdigest()
                rows.append({"public_id": random_source.token_hex(6), "account_id": 2 + n % accounts,
                             "member_id": 1, "digest": digest,
                             "hint": secret.hint(token), "name": f"seeded {n}", "scope": "read", "created_via": "cli",
                             "created_at": SEEDED_AT})
            if batch == 0:
                for account in range(2, accounts + 2):  # account 1 is the measured member's own
                    connection.execute(text("INSERT INTO account (public_id, name, created_at) VALUES "
                                            "(:p, :n, '2026-01-01 00:00:00')"), {"p": f"bench{account:012d}", "n": "b"})
            connection.execute(insert(table(connection, "api_token")), rows)
    engine.dispose()


def table(connection, name):
    from sqlalchemy import MetaData, Table
    return Table(name, MetaData(), autoload_with=connection)


def wrk(url: str, headers: dict, duration: int, connections: int) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url]
    for name, value in headers.items():
        command[1:1] = ["-H", f"{name}: {value}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    def latency(percent):
        value, unit = re.search(rf"\s{percent}%\s+([\d.]+)(us|ms|s)", output).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": rate, "p50": latency(50), "p99": latency(99), "non2xx": int(non_2xx.group(1)) if non_2xx else 0}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--tokens", default="1000,100000", help="stored-token counts to compare")
    options = parser.parse_args()
    counts = [int(c) for c in options.tokens.split(",")]

    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as folder, ExitStack() as servers:
        folder = Path(folder)
        bare_env = {**os.environ}
        bare = servers.enter_context(gunicorn(bare_env, folder, workers=2, app="bench.bare:app"))
        portals = {}
        for count in counts:
            url = f"sqlite:///{folder / f'portal-{count}.sqlite3'}"
            env = environment(url, FAILED_AUTH_RATE_LIMIT="100000000 per minute",
                              SIGN_IN_RATE_LIMIT="100000000 per minute")
            prepare(env)
            seed_tokens(url, count)
            base = servers.enter_context(gunicorn(env, folder, workers=2))
            login = requests.post(f"{base}{API}/login", json={"username": "ada@example.com",
                                                             "password": "correct horse battery staple"}, timeout=10)
            portals[count] = (base, login.json()["data"])
        smallest = counts[0]
        base, credentials = portals[smallest]
        bad_checksum = credentials["X-Auth-Token"][:-1] + ("A" if credentials["X-Auth-Token"][-1] != "A" else "B")
        scenarios = {"bare Flask floor": (bare, {})}
        for count, (portal, creds) in portals.items():
            scenarios[f"tokens/self, X-Auth-Token, {count:,} tokens"] = (portal, creds)
        scenarios["tokens/self, Bearer"] = (base, {"Authorization": f"Bearer {credentials['X-Auth-Token']}"})
        scenarios["tokens/self, bad checksum (401)"] = (base, {**credentials, "X-Auth-Token": bad_checksum})
        scenarios["tokens/self, unknown token (401)"] = (base, {**credentials, "X-Auth-Token": secret.generate("tok")})
        for _ in range(options.rounds):
            for name, (server, headers) in scenarios.items():
                results.setdefault(name, []).append(
                    wrk(f"{server}{API}/tokens/self", headers, options.duration, options.connections))

    floor = statistics.median(r["rps"] for r in results["bare Flask floor"])
    lines = ["| scenario | req/s (median) | ratio to floor | p50 ms | p99 ms | non-2xx |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name, runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        lines.append(f"| {name} | {rps:,.0f} | {rps / floor:.2f} | {statistics.median(r['p50'] for r in runs):.2f} | "
                     f"{statistics.median(r['p99'] for r in runs):.2f} | {sum(r['non2xx'] for r in runs)} |")
    report = "\n".join(lines)
    print(report)
    print(json.dumps({"rounds": options.rounds, "duration_s": options.duration, "connections": options.connections,
                      "cpu_count": os.cpu_count()}))


if __name__ == "__main__":
    main()
