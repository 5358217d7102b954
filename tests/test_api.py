"""The REST API through Flask's test client: the header scheme, JSend, and every bad input."""

import json
import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from tokens import secret, service
from tokens.extensions import db
from tokens.models import ApiToken, AuditEvent, utcnow

from .conftest import API, HIDDEN_NAMES, PASSWORD, Actions, headers_of, login


@pytest.fixture
def ada(client):
    """Ada's credentials from an API login."""
    return login(client)


def token_row(app, public_id):
    with app.app_context():
        return db.session.scalar(select(ApiToken).filter_by(public_id=public_id))


# --- login -----------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["json", "form"])
def test_login_answers_the_platforms_two_headers(client, app, encoding):
    fields = {"username": "ada@example.com", "password": PASSWORD}
    response = client.post(f"{API}/login", **{encoding if encoding == "json" else "data": fields})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    body = response.json
    assert body["status"] == "success"
    assert set(body["data"]) == {"X-Account-Id", "X-Auth-Token"}
    assert body["data"]["X-Account-Id"] == app.config["SEED"]["acme"]
    # The token shows in the member's list, made via API login, expiring in 30 days.
    listed = client.get(f"{API}/tokens", headers=headers_of(body["data"])).json["data"]
    assert [t["created_via"] for t in listed] == ["login"]
    with app.app_context():
        [token] = db.session.scalars(select(ApiToken)).all()
        assert timedelta(days=29, hours=23) < token.expires_at - utcnow() <= timedelta(days=30)
        assert token.name == "API login token"
        actions = [e.action for e in db.session.scalars(select(AuditEvent))]
        assert actions == ["token.created", "api.login"]


def test_login_purges_the_members_expired_login_tokens(client, app):
    first = login(client)
    with app.app_context():
        for token in db.session.scalars(select(ApiToken)):
            token.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    second = login(client)
    with app.app_context():
        assert db.session.scalars(select(ApiToken)).all().__len__() == 1
    assert client.get(f"{API}/tokens/self", headers=headers_of(first)).status_code == 401
    assert client.get(f"{API}/tokens/self", headers=headers_of(second)).status_code == 200


def test_login_into_another_account_of_the_member(client, app):
    with app.app_context():
        globex = service.find_account(app.config["SEED"]["globex"])
        service.add_member(globex, "ada@example.com", "", None)
        db.session.commit()
    credentials = login(client, account=app.config["SEED"]["globex"])
    assert credentials["X-Account-Id"] == app.config["SEED"]["globex"]
    refused = client.post(f"{API}/login", json={"username": "bob@example.com", "password": PASSWORD,
                                                 "account": app.config["SEED"]["globex"]})
    assert refused.status_code == 404
    assert refused.json == {"status": "fail", "data": {"message": "You are not a member of that account."}}


@pytest.mark.parametrize("request_args, status, message", [
    ({"json": {"username": "ada@example.com", "password": "wrong"}}, 401, "do not match"),
    ({"json": {"username": "nobody@example.com", "password": PASSWORD}}, 401, "do not match"),
    ({"json": {"username": "ada@example.com"}}, 400, "Send username and password."),
    ({"json": {"username": 7, "password": PASSWORD}}, 422, "username must be a string"),
    ({"data": '{"username": "\\ud800", "password": "x"}', "content_type": "application/json"}, 422,
     "username must be a string (of Unicode text)."),
    ({"data": '{"username": "ada@example.com", "password": "\\udfff"}', "content_type": "application/json"}, 422,
     "password must be a string (of Unicode text)."),
    ({"data": "[" * 5000 + "]" * 5000, "content_type": "application/json"}, 422, "The body must be a JSON object."),
    ({"data": '{"username": NaN, "password": "x"}', "content_type": "application/json"}, 422,
     "username must be a string"),
    ({"json": ["ada", PASSWORD]}, 422, "The body must be a JSON object."),
    ({"data": "{not json", "content_type": "application/json"}, 422, "The body must be a JSON object."),
    ({"json": {"username": "ada@example.com", "password": PASSWORD, "admin": True}}, 422, "Unknown field 'admin'"),
    ({"data": "username=ada", "content_type": "text/plain"}, 415, "Send JSON"),
    ({"json": {"username": "a" * 70_000, "password": "x"}}, 413, "too large"),
    ({"json": {"username": "ada\x00@example.com", "password": PASSWORD}}, 401, "do not match"),
])
def test_login_refusals_are_jsend(client, request_args, status, message):
    response = client.post(f"{API}/login", **request_args)
    assert response.status_code == status
    assert response.json["status"] == "fail" and message in response.json["data"]["message"]


def test_api_login_and_post_tokens_are_told_apart(client, app, ada):
    made = client.post(f"{API}/tokens", json={}, headers=headers_of(ada)).json["data"]["token"]
    assert made["created_via"] == "api" and made["name"] == "API token"
    listed = client.get(f"{API}/tokens", headers=headers_of(ada)).json["data"]
    assert [(t["name"], t["created_via"]) for t in listed] == [("API token", "api"), ("API login token", "login")]
    page = Actions(app.test_client())
    page.sign_in()
    text = page.page().text
    assert text.count("made by API login") == 1 and text.count("made with the API") == 1


def test_expired_login_tokens_removed_at_the_next_login_are_on_the_audit_trail(client, app, ada):
    kept = client.post(f"{API}/tokens", json={"name": "kept", "expires_in_days": 7}, headers=headers_of(ada))
    with app.app_context():
        db.session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(days=1)))
        db.session.commit()
        hint = db.session.scalar(select(ApiToken.hint).filter_by(created_via="login"))
    login(client)
    listed = client.get(f"{API}/tokens", headers=headers_of(login(client))).json["data"]
    assert [t["name"] for t in listed] == ["API login token", "API login token", "kept"]  # a POST token stays
    member = Actions(app.test_client())
    member.sign_in()
    page = member.client.get("/audit").text
    removed = re.findall(r'<td data-label="Who">—</td>\s*<td data-label="What">deleted a token</td>\s*'
                         r'<td data-label="For">Ada</td>\s*<td data-label="Details">(.*?)</td>', page)
    assert len(removed) == 1 and kept.status_code == 201
    assert removed[0].startswith(f"API login token · <code>{hint}</code> · read and write · expires ")
    assert removed[0].endswith(" UTC · expired, removed at the next API login")


# --- authenticated endpoints -----------------------------------------------------------------

def test_self_list_create_delete_logout(client, app, ada):
    headers = headers_of(ada)
    me = client.get(f"{API}/tokens/self", headers=headers).json["data"]
    assert me["account"] == {"id": app.config["SEED"]["acme"], "name": "Acme"}
    assert me["member"] == {"email": "ada@example.com", "name": "Ada", "role": "owner"}
    assert me["token"]["created_via"] == "login" and me["token"]["scope"] == "read-write"
    assert ada["X-Auth-Token"] not in json.dumps(me)

    created = client.post(f"{API}/tokens", json={"name": "ci", "scope": "read", "expires_in_days": 7},
                          headers=headers)
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    new = created.json["data"]
    assert new["token"]["name"] == "ci" and new["token"]["scope"] == "read"
    assert new["X-Account-Id"] == ada["X-Account-Id"] and secret.parse(new["X-Auth-Token"])

    listed = client.get(f"{API}/tokens", headers=headers).json["data"]
    assert [t["name"] for t in listed] == ["ci", "API login token"]  # newest first
    assert all("X-Auth-Token" not in t and t["hint"].startswith("tok_…") for t in listed)

    deleted = client.delete(f"{API}/tokens/{new['token']['id']}", headers=headers)
    assert deleted.status_code == 200 and deleted.json == {"status": "success", "data": {"id": new["token"]["id"]}}
    assert client.get(f"{API}/tokens/self", headers=headers_of(new)).status_code == 401
    assert client.delete(f"{API}/tokens/{new['token']['id']}", headers=headers).status_code == 404

    assert client.post(f"{API}/logout", headers=headers).json == {"status": "success", "data": None}
    assert client.get(f"{API}/tokens/self", headers=headers).status_code == 401
    with app.app_context():
        actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["token.created", "api.login", "token.created", "token.deleted", "token.deleted", "api.logout"]


def test_bearer_works_alone_and_with_the_account_header(client, ada):
    bearer = {"Authorization": f"Bearer {ada['X-Auth-Token']}"}
    assert client.get(f"{API}/tokens/self", headers=bearer).status_code == 200
    assert client.get(f"{API}/tokens/self", headers={**bearer, "X-Account-Id": ada["X-Account-Id"]}).status_code == 200


def test_logout_by_get_also_works(client, ada):
    assert client.get(f"{API}/logout", headers=headers_of(ada)).status_code == 200
    assert client.get(f"{API}/tokens", headers=headers_of(ada)).status_code == 401


def test_a_token_deleted_in_the_browser_fails_on_the_next_request(client, app, ada, member):
    [token] = [t for t in client.get(f"{API}/tokens", headers=headers_of(ada)).json["data"]]
    assert member.delete(token["id"]).status_code == 200
    assert client.get(f"{API}/tokens", headers=headers_of(ada)).status_code == 401


def token_id_of(client, credentials):
    return client.get(f"{API}/tokens/self", headers=headers_of(credentials)).json["data"]["token"]["id"]


def test_a_member_reaches_only_their_own_tokens(client, app, ada):
    bob = login(app.test_client(), "bob@example.com")  # a member of Acme, like Ada (its owner)
    listed = client.get(f"{API}/tokens", headers=headers_of(bob)).json["data"]
    assert [t["member"] for t in listed] == ["bob@example.com"]
    response = client.delete(f"{API}/tokens/{token_id_of(client, ada)}", headers=headers_of(bob))
    assert response.status_code == 404 and response.json["status"] == "fail"
    assert client.get(f"{API}/tokens/self", headers=headers_of(ada)).status_code == 200


def test_an_owner_manages_the_accounts_tokens_and_nothing_beyond(client, app, ada):
    bob = login(app.test_client(), "bob@example.com")
    eve = login(app.test_client(), "eve@example.com")  # owner of another account
    listed = client.get(f"{API}/tokens", headers=headers_of(ada)).json["data"]
    assert sorted(t["member"] for t in listed) == ["ada@example.com", "bob@example.com"]
    refused = client.delete(f"{API}/tokens/{token_id_of(client, eve)}", headers=headers_of(ada))
    assert refused.status_code == 404
    assert client.get(f"{API}/tokens/self", headers=headers_of(eve)).status_code == 200
    assert client.delete(f"{API}/tokens/{token_id_of(client, bob)}", headers=headers_of(ada)).status_code == 200
    assert client.get(f"{API}/tokens/self", headers=headers_of(bob)).status_code == 401


def test_create_refusals(client, app, ada):
    headers = headers_of(ada)
    for body, message in [({"scope": "admin"}, "scope must be"), ({"expires_in_days": 8}, "7, 30 or 90"),
                          ({"expires_in_days": "30"}, "7, 30 or 90"), ({"expires_in_days": True}, "7, 30 or 90"),
                          ({"name": "x" * 101}, "too long"), ({"name": "a\x1b"}, "control characters"),
                          ({"name": 5}, "name must be a string"), ({"owner": "eve"}, "Unknown field"),
                          ({"expires_in_days": 7.5}, "7, 30 or 90"), ({"expires_in_days": [7]}, "7, 30 or 90")]:
        response = client.post(f"{API}/tokens", json=body, headers=headers)
        assert response.status_code == 422, body
        assert message in response.json["data"]["message"]
    for days in ("9" * 4301, "٣٠", "30.0", " 30"):
        odd = client.post(f"{API}/tokens", data={"expires_in_days": days}, headers=headers)
        assert odd.status_code == 422 and "7, 30 or 90" in odd.json["data"]["message"], days
    deep = client.post(f"{API}/tokens", data="{" * 3000, headers={**headers, "Content-Type": "application/json"})
    assert deep.status_code == 422
    plain = client.post(f"{API}/tokens", data='{"name": "x"}', headers={**headers, "Content-Type": "text/plain"})
    assert plain.status_code == 415 and plain.json["status"] == "fail"
    form = client.post(f"{API}/tokens", data={"name": "form", "expires_in_days": "30"}, headers=headers)
    assert form.status_code == 201 and form.json["data"]["token"]["expires_at"]
    app.config["TOKENS_PER_MEMBER"] = 2
    limited = client.post(f"{API}/tokens", headers=headers)
    assert limited.status_code == 409 and "the most allowed is 2" in limited.json["data"]["message"]


def test_a_read_token_may_only_read(client, app, ada):
    read = client.post(f"{API}/tokens", json={"scope": "read"}, headers=headers_of(ada)).json["data"]
    headers = headers_of(read)
    before = client.get(f"{API}/tokens", headers=headers).json["data"]
    for method, path in [("post", "/tokens"), ("delete", f"/tokens/{before[0]['id']}")]:
        response = getattr(client, method)(API + path, headers=headers)
        assert response.status_code == 403
        assert response.json["data"]["message"].startswith("This token may only read")
    assert client.get(f"{API}/tokens", headers=headers).json["data"] == before
    assert client.get(f"{API}/tokens/self", headers=headers).status_code == 200


def test_last_use_is_written_at_most_once_a_minute(client, app, ada, statements):
    headers = {**headers_of(ada), "X-Forwarded-For": "203.0.113.9"}
    public_id = client.get(f"{API}/tokens/self", headers=headers).json["data"]["token"]["id"]
    first = token_row(app, public_id).last_used_at
    assert first is not None and token_row(app, public_id).last_used_ip == "127.0.0.1"

    def writes(seen):
        return [statement for statement in seen if "SET last_used_at" in statement]
    with statements() as seen:
        for _ in range(5):
            assert client.get(f"{API}/tokens", headers=headers).status_code == 200
    assert writes(seen) == []
    with app.app_context():
        db.session.execute(ApiToken.__table__.update().values(last_used_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()
    with statements() as seen:
        answer = client.get(f"{API}/tokens/self", headers=headers).json["data"]["token"]
    assert len(writes(seen)) == 1
    assert token_row(app, public_id).last_used_at > first
    assert answer["last_used_at"] == token_row(app, public_id).last_used_at.isoformat().replace("+00:00", "Z")


def test_the_api_ignores_the_browser_session(client, member):
    member.generate("web")
    for path in ("/tokens", "/tokens/self", "/logout"):
        response = client.get(API + path)
        assert response.status_code == 401 and "Set-Cookie" not in response.headers


def test_every_api_answer_is_neither_cached_framed_nor_sniffed(client, ada):
    for response in (client.get(f"{API}/tokens/self", headers=headers_of(ada)), client.get(f"{API}/tokens/self"),
                     client.get(f"{API}/nothing/here"), client.post(f"{API}/login", json={}),
                     client.get(f"{API}/verify", headers=headers_of(ada)),
                     FlaskClient(client.application).get(f"{API}/tokens//self")):  # a redirect, not JSON
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.status_code == 308 and response.headers["Location"].endswith(f"{API}/tokens/self")


def test_unknown_paths_and_methods_are_jsend(client, ada):
    missing = client.get(f"{API}/nothing/here", headers=headers_of(ada))
    assert missing.status_code == 404 and missing.json["status"] == "fail"
    wrong = client.put(f"{API}/tokens", headers=headers_of(ada))
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET, HEAD, OPTIONS, POST"
    assert wrong.json["status"] == "fail"
    assert client.patch(f"{API}/login").status_code == 405


def test_a_server_error_is_jsend_error_and_changes_nothing(client, app, ada, monkeypatch, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def rows():
        with app.app_context():
            return (set(db.session.scalars(select(ApiToken.public_id))),
                    set(db.session.scalars(select(AuditEvent.id))))
    before = rows()
    issued = []
    real_issue_token = service.issue_token

    def issue_then_fail(*args, **kwargs):
        """The real issue_token, its token and event written in the transaction, then a bug."""
        token, token_secret = real_issue_token(*args, **kwargs)
        db.session.flush()
        assert token.id is not None
        issued.append(token_secret)
        return 1 / 0
    # The view looks it up on the service module at each request, so the patch is what it calls.
    monkeypatch.setattr(service, "issue_token", issue_then_fail)
    caplog.clear()

    response = client.post(f"{API}/tokens", json={"name": "never kept"}, headers=headers_of(ada))

    assert issued, "the failure came before the token was written"
    [logged] = [r for r in caplog.records if r.getMessage() == f"Exception on {API}/tokens [POST]"]
    assert logged.exc_info[0] is ZeroDivisionError
    assert response.status_code == 500
    message = "Something went wrong on our side. Nothing was changed; please try again."
    assert response.json == {"status": "error", "message": message, "data": {"message": message}}
    for leak in ("ZeroDivisionError", "division by zero", "Traceback", issued[0]):
        assert leak not in response.text
    # Nothing changed: no token, no audit event, and the secret made on the way opens nothing.
    assert rows() == before
    assert client.get(f"{API}/tokens/self", headers={**headers_of(ada), "X-Auth-Token": issued[0]}).status_code == 401
    assert "never kept" not in [t["name"] for t in client.get(f"{API}/tokens", headers=headers_of(ada)).json["data"]]


def test_token_names_with_hidden_characters_are_refused(client, app, ada):
    for what, name in HIDDEN_NAMES.items():
        response = client.post(f"{API}/tokens", json={"name": name}, headers=headers_of(ada))
        assert response.status_code == 422, what
        assert response.json["data"]["message"] == ("The token name contains invisible control characters; "
                                                    "remove them."), what
    created = client.post(f"{API}/tokens", json={"name": "Zoe\u0308 👩\u200d💻"}, headers=headers_of(ada))
    assert created.status_code == 201 and created.json["data"]["token"]["name"] == "Zoë 👩\u200d💻"
