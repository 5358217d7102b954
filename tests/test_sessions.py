"""A session starts afresh at sign-in, ends when idle or old, and its CSRF tokens die with it."""

import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from .conftest import Actions, csrf_from, make_app, seed

HOUR = 3600


def rows(client) -> int:
    return client.get("/preferences").text.count('class="token-row')


def test_a_csrf_token_from_before_sign_in_does_not_work_after_it(client):
    actions = Actions(client)
    before = csrf_from(client.get("/signin").text)
    assert actions.sign_in().status_code == 302
    refused = actions.generate("planted", csrf=False, htmx=False, csrf_token=before)
    assert refused.status_code == 400 and rows(client) == 0
    assert actions.generate("mine").status_code == 201 and rows(client) == 1


@pytest.mark.parametrize("entrance", ["sign in", "join"])
def test_nothing_set_before_sign_in_survives_it(client, app, entrance):
    with client.session_transaction() as session:
        session["planted"] = "by someone at this browser before"
    if entrance == "sign in":
        assert Actions(client).sign_in().status_code == 302
    else:
        owner = app.test_client()
        Actions(owner).sign_in()
        page = owner.post("/members/invitations", data={"email": "new@example.com", "role": "member",
                                                         "csrf_token": csrf_from(owner.get("/members").text)})
        link = page.text.split("/join/", 1)[1].split('"', 1)[0].split("<", 1)[0]
        form = client.get(f"/join/{link}")
        assert client.post(f"/join/{link}", data={"display_name": "New", "password": "a new long password",
                                                  "confirm": "a new long password",
                                                  "csrf_token": csrf_from(form.text)}).status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session and "_user_id" in session


def age(client, **seconds_ago):
    """Move the session's clocks back: started or last seen that many seconds ago."""
    with client.session_transaction() as session:
        for key, ago in seconds_ago.items():
            session[key] = int(time.time()) - ago


@pytest.mark.parametrize("seconds_ago, signed_in", [
    ({"seen": 59 * 60}, True),
    ({"seen": 61 * 60}, False),  # idle past SESSION_IDLE_MINUTES (60)
    ({"started": 11 * HOUR + 59 * 60}, True),
    ({"started": 12 * HOUR + 60}, False),  # older than SESSION_MAX_HOURS (12), however busy
])
def test_a_session_ends_when_idle_or_old(client, member, seconds_ago, signed_in):
    age(client, **seconds_ago)
    page = client.get("/preferences")
    assert page.status_code == (200 if signed_in else 302)
    if not signed_in:
        assert page.headers["Location"].startswith("/signin")
        with client.session_transaction() as session:
            assert "_user_id" not in session and "csrf_token" not in session


def test_a_busy_session_stays_and_is_seen_again(client, member):
    age(client, seen=30 * 60)
    assert client.get("/preferences").status_code == 200
    with client.session_transaction() as session:
        assert time.time() - session["seen"] < 5


def test_a_session_cookie_from_before_the_limits_ends(client, member):
    with client.session_transaction() as session:
        del session["started"], session["seen"]
    assert client.get("/preferences").status_code == 302


def forged_csrf(app, client, seconds_ago: int) -> str:
    """A CSRF token for this session, signed as if that many seconds ago."""
    with client.session_transaction() as session:
        secret = session["csrf_token"]
    serializer = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token")
    real_time = time.time
    try:
        time.time = lambda: real_time() - seconds_ago
        return serializer.dumps(secret)
    finally:
        time.time = real_time


@pytest.mark.parametrize("hours_ago, accepted", [(2, True), (11, True), (13, False), (8 * 24, False)])
def test_a_csrf_token_lives_no_longer_than_a_session(client, app, member, hours_ago, accepted):
    token = forged_csrf(app, client, hours_ago * HOUR)
    response = member.generate("aged", htmx=False, csrf=False, csrf_token=token)
    assert response.status_code == (201 if accepted else 400)
    assert rows(client) == (1 if accepted else 0)


def test_with_https_the_cookie_is_host_only(tmp_path):
    app = make_app(tmp_path / "https.sqlite3", HTTPS=True)
    seed(app)
    client = app.test_client()
    response = Actions(client).sign_in()
    cookies = response.headers.getlist("Set-Cookie")
    assert {cookie.split("=", 1)[0] for cookie in cookies} == {"__Host-session", "__Host-portal-device"}
    for cookie in cookies:
        assert "; Secure" in cookie and "; Path=/" in cookie and "Domain=" not in cookie
