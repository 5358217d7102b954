"""Rate limits: sign-in (web and API) and failed token authentication, per client address."""

import time

import pytest
import requests

from tokens import service
from tokens.extensions import db

from .conftest import API, PASSWORD, Actions, csrf_from, flip, headers_of, login, make_app, seed
from .servers import environment, gunicorn, prepare
from .test_teams import join as join_from_link


@pytest.fixture
def limited(tmp_path):
    app = make_app(tmp_path / "limits.sqlite3", RATELIMIT_ENABLED=True,
                   SIGN_IN_RATE_LIMIT="3 per minute", FAILED_AUTH_RATE_LIMIT="4 per minute")
    app.config["SEED"] = seed(app)
    return app


def test_api_login_is_limited_with_a_jsend_429(limited):
    client = limited.test_client()
    answers = [client.post(f"{API}/login", json={"username": "ada@example.com", "password": "wrong"})
               for _ in range(3)]
    # Each answer tells the client where it stands, as Flask-Limiter's headers do.
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"3"}
    assert all(0 < int(a.headers["X-RateLimit-Reset"]) - time.time() <= 61 for a in answers)
    refused = client.post(f"{API}/login", json={"username": "ada@example.com", "password": PASSWORD})
    assert refused.status_code == 429
    assert refused.json["status"] == "fail" and "Too many requests" in refused.json["data"]["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60 and refused.headers["X-RateLimit-Remaining"] == "0"
    other_client = limited.test_client()
    assert other_client.post(f"{API}/login", json={"username": "ada@example.com", "password": PASSWORD},
                             environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200


def test_failed_token_authentication_is_limited_but_success_is_not(limited):
    client = limited.test_client()
    credentials = headers_of(login(client))
    for _ in range(10):
        assert client.get(f"{API}/tokens/self", headers=credentials).status_code == 200
    bad = {**credentials, "X-Auth-Token": flip(credentials["X-Auth-Token"], -1)}
    # One budget for the whole API: failures spread over its endpoints add up.
    attempts = [("get", "/tokens/self"), ("get", "/tokens"), ("post", "/tokens"), ("delete", "/tokens/AAAAAAAAAAAA"),
                ("post", "/logout")]
    statuses = [getattr(client, method)(API + path, headers=bad).status_code for method, path in attempts]
    assert statuses == [401, 401, 401, 401, 429]
    blocked = client.get(f"{API}/tokens/self", headers=credentials)
    assert blocked.status_code == 429 and blocked.json["status"] == "fail" and "Retry-After" in blocked.headers
    assert client.get(f"{API}/openapi.json").status_code == 200  # the public description stays readable


def test_web_sign_in_is_limited(limited):
    client = limited.test_client()
    actions = Actions(client)
    for _ in range(3):
        assert actions.sign_in(password="wrong").status_code == 422
    refused = actions.sign_in()
    assert refused.status_code == 429
    assert "Too many requests" in refused.text and "<html" in refused.text
    assert "Retry-After" in refused.headers
    assert client.get("/signin").status_code == 200  # reading the form is not limited


def test_every_limit_of_the_failed_authentication_setting_counts(tmp_path):
    app = make_app(tmp_path / "two-limits.sqlite3", RATELIMIT_ENABLED=True, SIGN_IN_RATE_LIMIT="100 per minute",
                   FAILED_AUTH_RATE_LIMIT="100 per minute;2 per hour")
    seed(app)
    client = app.test_client()
    bad = {**headers_of(login(client)), "X-Auth-Token": "tok_" + "A" * 36}
    statuses = [client.get(f"{API}/tokens/self", headers=bad).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]  # the hourly limit, though far below the minute's


@pytest.fixture
def account_limited(tmp_path):
    app = make_app(tmp_path / "accounts.sqlite3", RATELIMIT_ENABLED=True, SIGN_IN_RATE_LIMIT="1000 per minute",
                   ACCOUNT_SIGN_IN_RATE_LIMIT="5 per hour", DEVICE_SIGN_IN_RATE_LIMIT="3 per hour")
    app.config["SEED"] = seed(app)
    return app


def from_address(app, n: int):
    """A browser at its own address: failures per address never add up to anything."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
    return client


def test_guessing_one_accounts_password_from_many_addresses_stops_but_not_its_members_browser(account_limited):
    app = account_limited
    own = from_address(app, 200)  # Ada's own browser: it signed in before, so it holds a device cookie
    ada = Actions(own)
    assert ada.sign_in().status_code == 302
    assert own.post("/signout", data={"csrf_token": ada.csrf}).status_code == 302
    for n in range(5):
        assert Actions(from_address(app, n)).sign_in(password="wrong guess").status_code == 422
    refused = Actions(from_address(app, 50)).sign_in()  # the right password, from a browser never seen
    assert refused.status_code == 429 and "Too many failed sign-ins for this account" in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    api = from_address(app, 51).post(f"{API}/login", json={"username": "ada@example.com", "password": PASSWORD})
    assert api.status_code == 429 and "Too many failed sign-ins for this account" in api.json["data"]["message"]
    assert Actions(own).sign_in().status_code == 302  # the member's own browser still signs in
    assert Actions(from_address(app, 52)).sign_in("eve@example.com").status_code == 302  # other accounts too


def test_a_device_counts_its_own_failures(account_limited):
    app = account_limited
    browser = from_address(app, 9)
    assert Actions(browser).sign_in().status_code == 302
    device = browser.get_cookie("portal-device").value
    again = app.test_client()
    again.set_cookie("portal-device", device)
    for _ in range(3):
        assert Actions(again).sign_in(password="wrong").status_code == 422
    assert Actions(again).sign_in().status_code == 429  # its own budget (3) is spent...
    assert Actions(from_address(app, 10)).sign_in().status_code == 302  # ...not the account's (5)


def test_an_unknown_email_is_counted_alike_so_the_limit_tells_nothing(account_limited):
    app = account_limited
    answers = [Actions(from_address(app, n)).sign_in("nobody@example.com", "guess").status_code for n in range(6)]
    assert answers == [422] * 5 + [429]


@pytest.mark.parametrize("whose", ["another member's", "forged"])
def test_a_device_cookie_for_another_email_or_forged_vouches_for_nothing(account_limited, whose):
    app = account_limited
    eves = from_address(app, 20)
    assert Actions(eves).sign_in("eve@example.com").status_code == 302
    cookie = eves.get_cookie("portal-device").value if whose == "another member's" else "forged.cookie.value"
    for n in range(5):
        client = from_address(app, 30 + n)
        client.set_cookie("portal-device", cookie)
        assert Actions(client).sign_in(password="wrong").status_code == 422
    blocked = from_address(app, 40)
    blocked.set_cookie("portal-device", cookie)
    assert Actions(blocked).sign_in().status_code == 429  # the failures counted against Ada's account


def test_guessing_from_many_addresses_behind_a_proxy_under_gunicorn(tmp_path):
    """As an attacker with many addresses meets it: gunicorn, FLASK_PROXIES=1, each guess from another address."""
    env = environment(f"sqlite:///{tmp_path / 'portal.sqlite3'}", PROXIES="1", ACCOUNT_SIGN_IN_RATE_LIMIT="20 per hour")
    prepare(env)
    with gunicorn(env, tmp_path, workers=1, threads=2) as base:
        def browser(address: str) -> requests.Session:
            session = requests.Session()
            session.headers["X-Forwarded-For"] = address  # what the one trusted proxy would say
            return session

        def sign_in(session: requests.Session, password: str) -> int:
            form = session.get(f"{base}/signin", timeout=10)
            return session.post(f"{base}/signin", timeout=10, allow_redirects=False, data={
                "email": "ada@example.com", "password": password, "csrf_token": csrf_from(form.text)}).status_code

        own = browser("203.0.113.250")
        assert sign_in(own, PASSWORD) == 302
        statuses = [sign_in(browser(f"198.51.100.{n}"), "a wrong guess") for n in range(21)]
        assert statuses == [422] * 20 + [429]
        assert sign_in(browser("198.51.100.99"), PASSWORD) == 429
        api = requests.post(f"{base}{API}/login", json={"username": "ada@example.com", "password": PASSWORD},
                            headers={"X-Forwarded-For": "198.51.100.98"}, timeout=10)
        assert api.status_code == 429
        again = browser("203.0.113.250")  # the member's browser, its session gone, its device cookie kept
        again.cookies.set("portal-device", own.cookies.get("portal-device"))
        assert sign_in(again, PASSWORD) == 302


def test_an_overlong_username_is_counted_under_a_bounded_key(account_limited):
    storage = account_limited.extensions["budgets"].storage
    client = from_address(account_limited, 60)
    client.post(f"{API}/login", json={"username": "x" * 60_000 + "@example.com", "password": "guess"})
    assert all(len(key) < 400 for key in storage.storage), "a key holds the whole username"


# --- joining from an invitation link, signed out, with the password of a sign-in the email has already ---------

def invitation_for(app, email: str) -> str:
    """An invitation link from Ada (Acme's owner) for ``email``."""
    with app.app_context():
        ada = service.membership_in(service.find_member("ada@example.com"), app.config["SEED"]["acme"])
        _, link_token = service.invite(ada, email, "member")
        db.session.commit()
    return f"/join/{link_token}"


def join(client, link: str, password: str = PASSWORD):
    """Post the link's form from ``client``; return the answer."""
    return join_from_link(client.application, link, client=client, password=password)[1]


def test_a_wrong_password_on_an_invitation_link_spends_the_accounts_budget(account_limited):
    app = account_limited
    link = invitation_for(app, "eve@example.com")  # Eve signs in here already, in Globex
    assert [join(from_address(app, n), link, "a wrong guess").status_code for n in range(5)] == [422] * 5
    refused = join(from_address(app, 5), link)  # the right password waits too
    assert refused.status_code == 429 and "Too many failed sign-ins for this account" in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert Actions(from_address(app, 6)).sign_in("eve@example.com").status_code == 429  # one budget with sign-in


def test_a_spent_budget_answers_alike_on_a_link_for_an_email_new_here(account_limited):
    app = account_limited
    for n in range(5):  # failed sign-ins for an unknown email are counted as for any other
        assert Actions(from_address(app, n)).sign_in("newcomer@example.com", "guess").status_code == 422
    assert join(from_address(app, 5), invitation_for(app, "newcomer@example.com")).status_code == 429


def test_joining_is_limited_per_address_like_sign_in(limited):
    link = invitation_for(limited, "eve@example.com")
    client = limited.test_client()
    assert [join(client, link, "a wrong guess").status_code for _ in range(4)] == [422, 422, 422, 429]
    assert client.get(link).status_code == 200  # reading the page is not limited
