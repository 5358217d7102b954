"""The portal's tokens protect a service behind Debian's nginx and Caddy, configured as `flask forward-auth`
prints it: the portal under gunicorn, each proxy on loopback, and an upstream that tells what it received."""

import itertools
import json
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from tokens import create_app, service
from tokens.api.authentication import READ_ONLY, UNAUTHENTICATED
from tokens.api.jsend import error_body
from tokens.extensions import db
from tokens.forward_auth import IDENTITY, PORTAL_DOWN
from tokens.models import ApiToken, utcnow

from .conftest import PASSWORD, dispose, flip, headers_of
from .proxies import PROXIES, Upstream, send
from .servers import environment, free_port, gunicorn, prepare

API = "/api/2018-10-01"
FAILURES_ALLOWED = 5
_clients = itertools.count(1)


def new_client() -> str:
    """A loopback address no other test used: failures are counted per client, and a test owns its own."""
    n = next(_clients)
    return f"127.0.{10 + n // 250}.{1 + n % 250}"


class Portal:
    """The portal under gunicorn, behind the proxies (FLASK_PROXIES=1), that a test may stop and start again."""

    def __init__(self, env: dict, folder, account_id: str):
        self.env, self.folder, self.account_id = env, folder, account_id
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._serving = ExitStack()

    def start(self):
        self._serving.enter_context(gunicorn(self.env, self.folder, workers=1, threads=4, port=self.port))

    def stop(self):
        self._serving.close()

    @contextmanager
    def stopped(self):
        self.stop()
        try:
            yield
        finally:
            self.start()

    def login(self, email="ada@example.com", account=None) -> dict:
        body = {"username": email, "password": PASSWORD, **({"account": account} if account else {})}
        answer = send(f"{self.base}{API}/login", "POST", {"Content-Type": "application/json"},
                      body=json.dumps(body).encode())
        assert answer.status == 200, answer
        return answer.json()["data"]

    def read_token(self, credentials) -> dict:
        answer = send(f"{self.base}{API}/tokens", "POST", {**headers_of(credentials), "Content-Type":
                      "application/json"}, body=b'{"name": "reader", "scope": "read"}')
        assert answer.status == 201, answer
        return answer.json()["data"]


# The tests name `portal` before `proxy`, so that pytest groups them by portal first: it boots two, not three.
@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def portal(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("forward-auth")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'portal.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    env = environment(url, PROXIES="1", FAILED_AUTH_RATE_LIMIT=f"{FAILURES_ALLOWED} per minute",
                      SIGN_IN_RATE_LIMIT="100000 per minute")
    portal = Portal(env, folder, prepare(env))
    # The same database, in-process: a second account, and what a test does that no request does.
    portal.app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url,
                             "SECRET_KEY": env["FLASK_SECRET_KEY"], "TOKEN_DIGEST_KEY": env["FLASK_TOKEN_DIGEST_KEY"],
                             "ARGON2_PARAMETERS": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}})
    with portal.app.app_context():
        globex = service.create_account("Globex")
        service.add_member(globex, "eve@example.com", "Eve", PASSWORD, "owner")
        acme = service.find_account(portal.account_id)
        service.add_member(acme, "bob@example.com", "Bob", PASSWORD, "member")
        db.session.commit()
    portal.start()
    yield portal
    portal.stop()
    dispose(portal.app)


@pytest.fixture(scope="module")
def upstream():
    service_ = Upstream()
    with service_.serving() as base:
        service_.base = base
        yield service_


@pytest.fixture(scope="module", params=sorted(PROXIES))
def proxy(request, portal, upstream, tmp_path_factory):
    """The proxy in front of the upstream, configured as generated: its kind, base URL and log."""
    folder = tmp_path_factory.mktemp(request.param)
    with PROXIES[request.param](upstream.base, portal.base, folder) as base:
        yield SimpleNamespace(kind=request.param, base=base, log=folder / "proxy.log")


def through(proxy, upstream, path="/service/things?page=2", method="GET", headers=None, source=None, body=None):
    """Send a request through the proxy; return the answer and what the upstream received of it (or None)."""
    before = len(upstream.seen)
    answer = send(proxy.base + path, method, headers, source or new_client(), body)
    received = upstream.seen[before:]
    assert len(received) <= 1
    return answer, (received[0] if received else None)


def test_a_valid_token_reaches_the_service_with_who_calls_and_without_the_secret(portal, proxy, upstream):
    ada = portal.login()
    token_id = send(f"{portal.base}{API}/tokens/self", headers=headers_of(ada)).json()["data"]["token"]["id"]
    for headers in (headers_of(ada), {"Authorization": f"Bearer {ada['X-Auth-Token']}"}):
        answer, received = through(proxy, upstream, headers=headers)
        assert answer.status == 200 and received["path"] == "/service/things?page=2"
        assert {name: upstream.header(received, name) for name in IDENTITY} == {
            "X-Portal-Account-Id": portal.account_id, "X-Portal-Member-Id": "1",
            "X-Portal-Member-Email": "ada@example.com", "X-Portal-Member-Role": "owner",
            "X-Portal-Token-Id": token_id, "X-Portal-Token-Scope": "read-write"}
        assert upstream.header(received, "X-Auth-Token") is None and upstream.header(received, "Authorization") is None
        assert ada["X-Auth-Token"] not in str(received)
    answer, received = through(proxy, upstream, method="POST", body=b'{"a": 1}',
                               headers={**headers_of(ada), "Content-Type": "application/json"})
    assert answer.status == 200 and received["method"] == "POST" and received["body"] == '{"a": 1}'


def test_a_read_token_reads_and_may_not_write(portal, proxy, upstream):
    reader = portal.read_token(portal.login())
    for method in ("GET", "HEAD", "OPTIONS"):
        answer, received = through(proxy, upstream, method=method, headers=headers_of(reader))
        assert answer.status == 200 and received["method"] == method
        assert upstream.header(received, "X-Portal-Token-Scope") == "read"
    # The client's own copies of the method headers never reach the portal: claiming a write for a read
    # would be refused if they did.
    answer, received = through(proxy, upstream, headers={
        **headers_of(reader), "X-Original-Method": "DELETE", "X-Forwarded-Method": "DELETE"})
    assert answer.status == 200 and received["method"] == "GET"
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        forged = {"X-Original-Method": "GET", "X-Forwarded-Method": "GET"}  # claiming a read changes nothing
        answer, received = through(proxy, upstream, method=method, headers={**headers_of(reader), **forged},
                                   body=b"{}")
        assert answer.status == 403 and received is None
        assert answer.json() == {"status": "fail", "data": {"message": READ_ONLY}}


@pytest.mark.parametrize("case", ["no token", "a flipped character", "expired", "deleted", "another account's",
                                  "of a removed member", "another account's id"])
def test_a_refused_token_never_reaches_the_service(portal, proxy, upstream, case):
    ada = portal.login()
    headers = headers_of(ada)
    if case == "no token":
        headers = {}
    elif case == "a flipped character":
        headers["X-Auth-Token"] = flip(ada["X-Auth-Token"])
    elif case == "expired":
        with portal.app.app_context():
            db.session.execute(update(ApiToken).where(ApiToken.digest == service.token_digest(ada["X-Auth-Token"]))
                               .values(expires_at=utcnow() - timedelta(seconds=1)))
            db.session.commit()
    elif case == "deleted":
        token_id = send(f"{portal.base}{API}/tokens/self", headers=headers).json()["data"]["token"]["id"]
        assert send(f"{portal.base}{API}/tokens/{token_id}", "DELETE", headers).status == 200
    elif case == "another account's":
        headers = headers_of(portal.login("eve@example.com"))
        headers["X-Account-Id"] = portal.account_id
    elif case == "of a removed member":
        headers = headers_of(portal.login("bob@example.com"))
        assert through(proxy, upstream, headers=headers)[0].status == 200
        with portal.app.app_context():
            owner = service.membership_in(service.find_member("ada@example.com"), portal.account_id)
            bob = service.membership_in(service.find_member("bob@example.com"), portal.account_id)
            service.remove_member(owner, bob.id)
            db.session.commit()
            service.add_member(service.find_account(portal.account_id), "bob@example.com", "", None, "member")
            db.session.commit()  # back for the next run, without the token
    elif case == "another account's id":
        headers["X-Account-Id"] = send(f"{portal.base}{API}/tokens/self", headers=headers_of(
            portal.login("eve@example.com"))).json()["data"]["account"]["id"]
    for method in ("GET", "POST"):
        answer, received = through(proxy, upstream, method=method, headers=headers)
        assert answer.status == 401 and received is None
        assert answer.headers.get_all("WWW-Authenticate") == ['Bearer realm="api"']
        assert answer.json() == {"status": "fail", "data": {"message": UNAUTHENTICATED}}


def test_identity_headers_a_client_sends_never_reach_the_service(portal, proxy, upstream):
    forged = {"X-Portal-Account-Id": "forged", "X-Portal-Member-Email": "root@example.com",
              "x-portal-member-role": "owner", "X-PORTAL-TOKEN-SCOPE": "read-write", "X-Portal-Member-Id": "0",
              "X-Portal-Token-Id": "forged",
              # Spellings that servers which fold "_" into "-" (CGI, WSGI) would read as the same name.
              "X-Portal_Member-Email": "root@example.com", "X_Portal_Token_Scope": "read-write"}
    answer, received = through(proxy, upstream, headers=forged)
    assert answer.status == 401 and received is None
    reader = portal.read_token(portal.login())
    answer, received = through(proxy, upstream, headers={**headers_of(reader), **forged})
    assert answer.status == 200
    assert upstream.header(received, "X-Portal-Account-Id") == portal.account_id
    assert upstream.header(received, "X-Portal-Member-Email") == "ada@example.com"
    assert upstream.header(received, "X-Portal-Token-Scope") == "read"
    assert "forged" not in str(received) and "root@example.com" not in str(received)
    portal_headers = [name for name, _ in received["headers"] if name.lower().replace("_", "-").startswith("x-portal")]
    assert sorted(portal_headers) == sorted(IDENTITY)


def test_a_guessing_client_is_slowed_and_others_are_not(portal, proxy, upstream):
    ada = portal.login()
    guesser, other = new_client(), new_client()
    bad = {**headers_of(ada), "X-Auth-Token": flip(ada["X-Auth-Token"])}
    for _ in range(FAILURES_ALLOWED):
        assert through(proxy, upstream, headers=bad, source=guesser)[0].status == 401
    for headers in (bad, headers_of(ada)):  # spent: even a good token waits
        answer, received = through(proxy, upstream, headers=headers, source=guesser)
        assert answer.status == 429 and received is None
        assert 0 < int(answer.headers["Retry-After"]) <= 60
        assert answer.json()["status"] == "fail" and "try again" in answer.json()["data"]["message"].lower()
    answer, received = through(proxy, upstream, headers=headers_of(ada), source=other)
    assert answer.status == 200 and upstream.header(received, "X-Portal-Member-Email") == "ada@example.com"


def test_with_the_portal_stopped_nothing_passes_and_it_recovers_without_a_proxy_restart(portal, proxy, upstream):
    ada = portal.login()
    with portal.stopped():
        for method in ("GET", "POST", "DELETE"):
            answer, received = through(proxy, upstream, method=method, headers=headers_of(ada))
            assert received is None
            if proxy.kind == "nginx":  # in the portal's words, as the README says
                assert answer.status == 503 and answer.json() == error_body(PORTAL_DOWN)
            else:  # Caddy's own answer
                assert answer.status == 502 and answer.body == b""
    assert ada["X-Auth-Token"] not in proxy.log.read_text()  # the proxy logged the failures, not the token
    answer, received = through(proxy, upstream, headers=headers_of(ada))
    assert answer.status == 200 and upstream.header(received, "X-Portal-Member-Email") == "ada@example.com"
