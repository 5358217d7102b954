"""Rate limits: sign-in (web and API) and failed token authentication, per client address."""

import time

import pytest

from .conftest import API, PASSWORD, Actions, flip, headers_of, login, make_app, seed


@pytest.fixture
def limited(tmp_path):
    app = make_app(tmp_path / "limits.sqlite3", RATELIMIT_ENABLED=True,
                   SIGN_IN_RATE_LIMIT="3 per minute", FAILED_AUTH_RATE_LIMIT="4 per minute")
    seed(app)
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
