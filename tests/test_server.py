"""A real HTTP client against the portal served by gunicorn, as API clients will meet it."""

import pytest
import requests

from .conftest import PASSWORD
from .servers import environment, gunicorn, prepare

API = "/api/2018-10-01"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn with two workers on a free loopback port, over a fresh SQLite database; stopped at the end."""
    folder = tmp_path_factory.mktemp("gunicorn")
    env = environment(f"sqlite:///{folder / 'portal.sqlite3'}")
    account_id = prepare(env)
    with gunicorn(env, folder) as base:
        yield {"base": base, "account_id": account_id}


def test_login_self_list_create_delete_logout(server):
    base = server["base"] + API
    session = requests.Session()
    login = session.post(f"{base}/login", json={"username": "ada@example.com", "password": PASSWORD}, timeout=5)
    assert login.status_code == 200 and login.headers["Cache-Control"] == "no-store"
    credentials = login.json()["data"]
    assert credentials["X-Account-Id"] == server["account_id"]
    session.headers.update(credentials)

    me = session.get(f"{base}/tokens/self", timeout=5).json()["data"]
    assert me["member"]["email"] == "ada@example.com" and me["token"]["created_via"] == "login"
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
