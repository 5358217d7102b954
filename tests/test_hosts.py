"""The Host header, as a client sends it to the portal under gunicorn: the pages answer only to the portal's own
host names (FLASK_PUBLIC_URL's and FLASK_TRUSTED_HOSTS'); the health probe and the API answer to any."""

import json

import pytest

from .conftest import PASSWORD
from .proxies import send
from .servers import environment, gunicorn, prepare

API = "/api/2018-10-01"
UNKNOWN_HOST = "This portal does not answer to that host name."


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """At https://tokens.example.com, also called portal.internal and any name under corp.example, behind one
    proxy (FLASK_PROXIES=1): gunicorn on a loopback port, over a fresh SQLite database."""
    folder = tmp_path_factory.mktemp("hosts")
    env = environment(f"sqlite:///{folder / 'portal.sqlite3'}", PUBLIC_URL="https://tokens.example.com",
                      TRUSTED_HOSTS="portal.internal, .corp.example", PROXIES="1")
    account_id = prepare(env)
    with gunicorn(env, folder, workers=1, threads=2) as base:
        login = send(f"{base}{API}/login", "POST", {"Content-Type": "application/json", "Host": "evil.example"},
                     body=json.dumps({"username": "ada@example.com", "password": PASSWORD}).encode())
        assert login.status == 200, login
        yield {"base": base, "account_id": account_id, "credentials": login.json()["data"]}


@pytest.mark.parametrize("path", ["/", "/signin", "/setup", "/static/app.css", "/nowhere"])
@pytest.mark.parametrize("host", ["evil.example", "tokens.example.com.evil.example", "127.0.0.1", "corp.example.org",
                                  "tokens.example.com@evil.example", ""])
def test_a_page_asked_for_by_another_host_name_gets_a_page_saying_so(portal, host, path):
    answer = send(f"{portal['base']}{path}", headers={"Host": host})
    assert answer.status == 400, answer
    assert answer.headers["Content-Type"].startswith("text/html")
    assert UNKNOWN_HOST in answer.body.decode()
    assert "evil.example" not in answer.body.decode()  # nothing on it leads to the host asked for


def test_a_form_posted_to_another_host_name_is_refused_before_its_csrf_check(portal):
    answer = send(f"{portal['base']}/signin", "POST", {
        "Host": "evil.example", "Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"},
        body=f"email=ada%40example.com&password={PASSWORD}".encode())
    assert answer.status == 400 and UNKNOWN_HOST in answer.body.decode()


@pytest.mark.parametrize("host", ["tokens.example.com", "tokens.example.com:443", "Tokens.Example.COM",
                                  "portal.internal", "portal.internal:8000", "ci.corp.example", "a.b.corp.example"])
def test_the_portals_own_host_names_are_answered(portal, host):
    answer = send(f"{portal['base']}/signin", headers={"Host": host})
    assert answer.status == 200 and "Sign in" in answer.body.decode()


def test_behind_the_proxy_the_host_it_forwards_is_the_one_checked(portal):
    # The proxy reaches the portal by its own address, and says which name the browser asked for.
    asked = send(f"{portal['base']}/signin", headers={"X-Forwarded-Host": "tokens.example.com"})
    assert asked.status == 200
    forged = send(f"{portal['base']}/signin",
                  headers={"Host": "tokens.example.com", "X-Forwarded-Host": "evil.example"})
    assert forged.status == 400 and UNKNOWN_HOST in forged.body.decode()


def test_the_health_probe_is_answered_whatever_the_host(portal):
    answer = send(f"{portal['base']}/healthz", headers={"Host": "10.0.0.7:8000"})
    assert answer.status == 200 and answer.json()["status"] == "ok"


@pytest.mark.parametrize("host", ["evil.example", "10.0.0.7:8000", "service.example"])
def test_the_api_answers_whatever_the_host(portal, host):
    credentials = portal["credentials"]
    me = send(f"{portal['base']}{API}/tokens/self", headers={"Host": host, **credentials})
    assert me.status == 200 and me.json()["data"]["account"]["id"] == portal["account_id"]
    # Forward auth: nginx asks by the portal's internal address, Caddy and Traefik forward the service's name.
    for headers in ({"Host": host}, {"Host": "127.0.0.1:8000", "X-Forwarded-Host": host}):
        verified = send(f"{portal['base']}{API}/verify", headers={**headers, **credentials})
        assert verified.status == 200 and verified.headers["X-Portal-Account-Id"] == portal["account_id"]
        refused = send(f"{portal['base']}{API}/verify", headers=headers)
        assert refused.status == 401 and refused.json()["status"] == "fail"
