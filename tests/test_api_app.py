"""The REST API is an app of its own: none of the browser's per-request work runs for its requests."""

import pytest
from flask_wtf.csrf import CSRFError

from tokens.extensions import csrf

from .conftest import API, PASSWORD, Actions, headers_of, login


def api_calls_succeed(client, credentials):
    """Read, create, delete, log in and log out through the API; no answer sets a cookie."""
    me = client.get(f"{API}/tokens/self", headers=credentials)
    assert me.status_code == 200 and me.json["data"]["member"]["email"] == "ada@example.com"
    created = client.post(f"{API}/tokens", headers=credentials, json={"name": "made past the browser"})
    assert created.status_code == 201
    deleted = client.delete(f"{API}/tokens/{created.json['data']['token']['id']}", headers=credentials)
    assert deleted.status_code == 200
    fresh = client.post(f"{API}/login", json={"username": "bob@example.com", "password": PASSWORD})
    assert fresh.status_code == 200
    logged_out = client.post(f"{API}/logout", headers=credentials)
    assert logged_out.status_code == 200
    # Refusals and errors too: a 401 (the token just logged out), a 404, a 405.
    refusals = [client.get(f"{API}/tokens/self", headers=credentials), client.get(f"{API}/nothing/here"),
                client.put(f"{API}/tokens", headers=credentials)]
    assert [answer.status_code for answer in refusals] == [401, 404, 405]
    for answer in (me, created, deleted, fresh, logged_out, *refusals):
        assert "Set-Cookie" not in answer.headers and "Vary" not in answer.headers


def test_a_csrf_check_that_refuses_every_request_refuses_no_api_call(client, monkeypatch):
    assert Actions(client).sign_in().status_code == 302  # the client sends a session cookie from now on
    credentials = headers_of(login(client))

    def refuse(**kwargs):
        raise CSRFError("refused, whatever the request")
    monkeypatch.setattr(csrf, "protect", refuse)
    refused = client.get("/preferences")
    assert refused.status_code == 400 and "This page had expired" in refused.text
    api_calls_succeed(client, credentials)


class BrowserHookRan(Exception):
    pass


def test_no_hook_of_the_browser_app_runs_for_the_api(app, client):
    armed = []

    def hook(*args):
        if armed:
            raise BrowserHookRan
        return args[0] if args else None
    app.before_request(hook)
    app.after_request(hook)
    app.teardown_request(hook)
    assert Actions(client).sign_in().status_code == 302
    credentials = headers_of(login(client))
    armed.append(True)
    with pytest.raises(BrowserHookRan):
        client.get("/preferences")
    api_calls_succeed(client, credentials)
