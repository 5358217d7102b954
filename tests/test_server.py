"""A real HTTP client against the portal served by gunicorn, as API clients will meet it."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from .conftest import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
API = "/api/2018-10-01"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn with two workers on a free loopback port, over a fresh SQLite database; stopped at the end."""
    folder = tmp_path_factory.mktemp("gunicorn")
    env = {**os.environ, "FLASK_APP": "app", "DATABASE_URL": f"sqlite:///{folder / 'portal.sqlite3'}",
           "FLASK_SECRET_KEY": "gunicorn-test-session-key-0123456789abcdef",
           "FLASK_TOKEN_DIGEST_KEY": "gunicorn-test-digest-key-0123456789abcdef",
           "FLASK_ARGON2_PARAMETERS": json.dumps({"time_cost": 1, "memory_cost": 1024, "parallelism": 1})}
    flask = [sys.executable, "-m", "flask"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    created = subprocess.run([*flask, "create-account", "Acme"], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True).stdout
    account_id = created.rsplit(" ", 1)[-1].strip()
    subprocess.run([*flask, "add-member", account_id, "ada@example.com", "--password", PASSWORD, "--role", "owner"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    log = open(folder / "gunicorn.log", "wb")  # noqa: SIM115 (closed with the server)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "app:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}{API}/openapi.json", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"gunicorn did not start: {(folder / 'gunicorn.log').read_text()}")
        yield {"base": base, "account_id": account_id}
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_login_self_list_create_delete_logout(server):
    base = server["base"] + API
    session = requests.Session()
    login = session.post(f"{base}/login", json={"username": "ada@example.com", "password": PASSWORD}, timeout=5)
    assert login.status_code == 200 and login.headers["Cache-Control"] == "no-store"
    credentials = login.json()["data"]
    assert credentials["X-Account-Id"] == server["account_id"]
    session.headers.update(credentials)

    me = session.get(f"{base}/tokens/self", timeout=5).json()["data"]
    assert me["member"]["email"] == "ada@example.com" and me["token"]["created_via"] == "api"
    assert [t["id"] for t in session.get(f"{base}/tokens", timeout=5).json()["data"]] == [me["token"]["id"]]

    created = session.post(f"{base}/tokens", json={"name": "deploy", "scope": "read"}, timeout=5)
    assert created.status_code == 201
    new_id = created.json()["data"]["token"]["id"]
    assert {t["id"] for t in session.get(f"{base}/tokens", timeout=5).json()["data"]} == {me["token"]["id"], new_id}
    assert session.delete(f"{base}/tokens/{new_id}", timeout=5).json() == {"status": "success",
                                                                          "data": {"id": new_id}}

    assert session.post(f"{base}/logout", timeout=5).status_code == 200
    # The very next request with the logged-out token, whichever worker answers, is refused.
    for _ in range(4):
        refused = session.get(f"{base}/tokens/self", timeout=5)
        assert refused.status_code == 401 and refused.json()["status"] == "fail"
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_100_kb_header_is_refused_by_the_server_not_answered(server):
    response = requests.get(f"{server['base']}{API}/tokens/self", timeout=5,
                            headers={"X-Account-Id": server["account_id"], "X-Auth-Token": "A" * 100_000})
    assert response.status_code in (400, 431)  # gunicorn refuses oversized header fields itself


def test_the_browser_pages_are_served_too(server):
    page = requests.get(f"{server['base']}/signin", timeout=5)
    assert page.status_code == 200 and "Sign in" in page.text
    assert requests.get(f"{server['base']}/static/vendor/htmx-4.0.1.min.js", timeout=5).status_code == 200
