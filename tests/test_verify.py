"""The verify endpoint: a reverse proxy's forward-auth question, answered with the API's own authentication."""

import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
from sqlalchemy import select, update

from tokens import service
from tokens.extensions import db
from tokens.forward_auth import IDENTITY
from tokens.models import ApiToken, utcnow

from .conftest import API, PASSWORD, flip, headers_of, login
from .test_api_auth import BAD_HEADERS, uniform

VERIFY = f"{API}/verify"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@pytest.fixture
def ada(client):
    return login(client)


def read_token(client, credentials) -> dict:
    """A read-only token of the same member, made through the API."""
    made = client.post(f"{API}/tokens", json={"name": "reader", "scope": "read"}, headers=headers_of(credentials))
    assert made.status_code == 201
    return made.json["data"]


def identity(response) -> dict:
    return {name: response.headers.get(name) for name in IDENTITY}


@pytest.mark.parametrize("method", METHODS)
def test_a_valid_token_passes_with_its_identity_in_headers(client, app, ada, method):
    response = client.open(VERIFY, method=method, headers=headers_of(ada))
    assert response.status_code == 200
    token = client.get(f"{API}/tokens/self", headers=headers_of(ada)).json["data"]["token"]
    assert identity(response) == {
        "X-Portal-Account-Id": ada["X-Account-Id"], "X-Portal-Member-Id": str(app.config["SEED"]["ada_id"]),
        "X-Portal-Member-Email": "ada@example.com", "X-Portal-Member-Role": "owner",
        "X-Portal-Token-Id": token["id"], "X-Portal-Token-Scope": "read-write"}
    if method not in ("HEAD", "OPTIONS"):
        assert response.json["data"] == {"account": ada["X-Account-Id"], "member": app.config["SEED"]["ada_id"],
                                         "email": "ada@example.com", "role": "owner", "token": token["id"],
                                         "scope": "read-write"}


def test_bearer_works_as_on_the_api(client, ada):
    response = client.get(VERIFY, headers={"Authorization": f"Bearer {ada['X-Auth-Token']}"})
    assert response.status_code == 200 and response.headers["X-Portal-Account-Id"] == ada["X-Account-Id"]


def test_verifying_writes_last_used_as_any_api_call(client, app, ada):
    with app.app_context():
        db.session.execute(update(ApiToken).values(last_used_at=None, last_used_ip=None))
        db.session.commit()
    assert client.get(VERIFY, headers=headers_of(ada), environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    with app.app_context():
        token = db.session.scalar(select(ApiToken))
        assert token.last_used_ip == "192.0.2.7" and utcnow() - token.last_used_at < timedelta(minutes=1)


@pytest.mark.parametrize("method, forwarded, allowed", [
    ("GET", {}, True),
    ("HEAD", {}, True),
    ("OPTIONS", {}, True),
    ("GET", {"X-Original-Method": "GET"}, True),
    ("GET", {"X-Forwarded-Method": "HEAD"}, True),
    ("POST", {}, False),
    ("DELETE", {}, False),
    ("PUT", {}, False),
    ("PATCH", {}, False),
    # nginx's subrequest is a GET: the forwarded method decides.
    ("GET", {"X-Original-Method": "POST"}, False),
    ("GET", {"X-Forwarded-Method": "DELETE"}, False),
    # The most demanding method counts: a forwarded GET never makes a write a read.
    ("POST", {"X-Original-Method": "GET", "X-Forwarded-Method": "GET"}, False),
    ("GET", {"X-Original-Method": "GET", "X-Forwarded-Method": "PUT"}, False),
    # A method the portal does not know writes; so does lower case, and a header sent twice.
    ("GET", {"X-Original-Method": "PROPFIND"}, False),
    ("GET", {"X-Original-Method": "post"}, False),
    ("GET", {"X-Forwarded-Method": ["GET", "POST"]}, False),
])
def test_a_read_token_reads_and_may_not_write(client, ada, method, forwarded, allowed):
    reader = read_token(client, ada)
    response = client.open(VERIFY, method=method, headers={**headers_of(reader), **forwarded})
    if allowed:
        assert response.status_code == 200 and response.headers["X-Portal-Token-Scope"] == "read"
    else:
        assert response.status_code == 403
        assert response.json["data"]["message"] == ("This token may only read: its scope is read. "
                                                    "Use a read-write token.")
        assert not any(name in response.headers for name in IDENTITY)


def test_a_read_write_token_may_write(client, ada):
    response = client.get(VERIFY, headers={**headers_of(ada), "X-Original-Method": "DELETE"})
    assert response.status_code == 200 and response.headers["X-Portal-Token-Scope"] == "read-write"


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_every_refusal_is_the_apis_uniform_401(client, ada, case):
    reference = uniform(client.get(f"{API}/tokens/self"))
    headers = BAD_HEADERS[case](ada["X-Auth-Token"], ada["X-Account-Id"])
    refused = uniform(client.get(VERIFY, headers=headers))
    assert refused == reference
    assert refused[0] == 401 and refused[2]["WWW-Authenticate"].startswith("Bearer")
    assert not any(name in refused[2] for name in IDENTITY)


def test_expired_deleted_foreign_and_removed_tokens_are_refused(client, app, ada):
    eve = login(client, "eve@example.com")
    bob = login(client, "bob@example.com")
    assert client.get(VERIFY, headers={**headers_of(eve), "X-Account-Id": ada["X-Account-Id"]}).status_code == 401
    with app.app_context():
        db.session.execute(update(ApiToken).where(ApiToken.member.has(email="eve@example.com"))
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert client.get(VERIFY, headers=headers_of(eve)).status_code == 401
    assert client.get(VERIFY, headers=headers_of(bob)).status_code == 200
    with app.app_context():
        owner = service.membership_in(service.find_member("ada@example.com"), ada["X-Account-Id"])
        bob_membership = service.membership_in(service.find_member("bob@example.com"), ada["X-Account-Id"])
        service.remove_member(owner, bob_membership.id)
        db.session.commit()
    assert client.get(VERIFY, headers=headers_of(bob)).status_code == 401
    assert client.post(f"{API}/logout", headers=headers_of(ada)).status_code == 200
    assert client.get(VERIFY, headers=headers_of(ada)).status_code == 401


def test_a_bad_checksum_never_reaches_the_database(client, ada, statements):
    with statements() as seen:
        assert client.get(VERIFY, headers={**headers_of(ada), "X-Auth-Token": flip(ada["X-Auth-Token"])}
                          ).status_code == 401
    assert seen == []


def test_a_valid_token_costs_one_select(client, ada, statements):
    client.get(VERIFY, headers=headers_of(ada))  # "last used" is written now, not below
    with statements() as seen:
        assert client.get(VERIFY, headers=headers_of(ada)).status_code == 200
    assert len(seen) == 1 and re.match(r"SELECT .* WHERE api_token\.digest = ", " ".join(seen[0].split())), seen


def test_the_body_is_never_read(client, ada):
    response = client.post(VERIFY, data=b"{not json", content_type="application/json", headers=headers_of(ada))
    assert response.status_code == 200


@pytest.mark.parametrize("email, sent", [
    ("zoë@example.com", "zo%C3%AB@example.com"),
    ("ζήτα@παράδειγμα.ελ", "%CE%B6%CE%AE%CF%84%CE%B1@%CF%80%CE%B1%CF%81%CE%AC%CE%B4%CE%B5%CE%B9%CE%B3%CE%BC%CE%B1"
                          ".%CE%B5%CE%BB"),
    ("100%real@example.com", "100%25real@example.com"),
    ("o'brien+ci@example.com", "o'brien+ci@example.com"),
])
def test_an_email_outside_plain_ascii_is_percent_encoded(client, app, email, sent):
    with app.app_context():
        acme = service.find_account(app.config["SEED"]["acme"])
        service.add_member(acme, email, "", PASSWORD, "member")
        db.session.commit()
    response = client.get(VERIFY, headers=headers_of(login(client, email)))
    assert response.status_code == 200
    assert response.headers["X-Portal-Member-Email"] == sent and unquote(sent) == email
    assert response.json["data"]["email"] == email
