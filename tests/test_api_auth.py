"""Every way to fail authentication gets the one same 401, and a bad checksum never reaches the database."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tokens.extensions import db
from tokens.models import ApiToken, utcnow

from .conftest import API, flip, headers_of, login


@pytest.fixture
def ada(client):
    return login(client)


def uniform(response):
    """What a client can observe of a refusal, minus the clock."""
    headers = {k: v for k, v in response.headers.items() if k not in ("Date",)}
    return response.status_code, response.get_data(), headers


@pytest.fixture
def reference(client, ada):
    """The answer to a request with no credentials at all: every refusal must look the same."""
    return uniform(client.get(f"{API}/tokens/self"))


def test_the_reference_refusal(reference):
    status, body, headers = reference
    assert status == 401
    assert body.startswith(b'{"data":{"message":"Authentication failed') and b'"status":"fail"' in body
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert "Set-Cookie" not in headers


BAD_HEADERS = {
    "empty bearer": lambda t, a: {"Authorization": "Bearer "},
    "bearer only a word": lambda t, a: {"Authorization": "Bearer"},
    "two spaces": lambda t, a: {"Authorization": f"Bearer  {t}"},
    "a tab": lambda t, a: {"Authorization": f"Bearer\t{t}"},
    "trailing junk": lambda t, a: {"Authorization": f"Bearer {t} junk"},
    "trailing space": lambda t, a: {"Authorization": f"Bearer {t} "},
    "basic scheme": lambda t, a: {"Authorization": f"Basic {t}"},
    "token scheme": lambda t, a: {"Authorization": f"Token {t}"},
    "no scheme": lambda t, a: {"Authorization": t},
    "one character flipped": lambda t, a: {"X-Account-Id": a, "X-Auth-Token": flip(t)},
    "flipped in the prefix": lambda t, a: {"X-Account-Id": a, "X-Auth-Token": flip(t, 1)},
    "well-formed unknown": lambda t, a: {"X-Account-Id": a, "X-Auth-Token": _unknown_token()},
    "truncated": lambda t, a: {"X-Account-Id": a, "X-Auth-Token": t[:-1]},
    "overlong": lambda t, a: {"X-Account-Id": a, "X-Auth-Token": t + "A"},
    "100 KB": lambda t, a: {"X-Account-Id": a, "X-Auth-Token": "A" * 100_000},
    "non-ASCII": lambda t, a: {"X-Account-Id": a, "X-Auth-Token": t[:-1] + "é"},
    "homoglyph": lambda t, a: {"X-Account-Id": a, "X-Auth-Token": t.replace("o", "\u043e", 1)},
    "emoji": lambda t, a: {"X-Account-Id": a, "X-Auth-Token": t[:-1] + "😀"},
    "NUL byte": lambda t, a: {"X-Account-Id": a, "X-Auth-Token": t[:-1] + "\x00"},
    "SQL metacharacters": lambda t, a: {"X-Account-Id": "' OR 1=1 --", "X-Auth-Token": "tok_' OR '1'='1"},
    "other account's id": lambda t, a: {"X-Account-Id": "AAAAAAAAAAAAAAAAA", "X-Auth-Token": t},
    "account id with a NUL": lambda t, a: {"X-Account-Id": a + "\x00", "X-Auth-Token": t},
    "token without account id": lambda t, a: {"X-Auth-Token": t},
    "account id without token": lambda t, a: {"X-Account-Id": a},
    "both schemes": lambda t, a: {"Authorization": f"Bearer {t}", "X-Auth-Token": t, "X-Account-Id": a},
    "bearer for another account": lambda t, a: {"Authorization": f"Bearer {t}", "X-Account-Id": "B" * 17},
}


def _unknown_token():
    from tokens import secret
    return secret.generate("tok")


@pytest.mark.parametrize("case", BAD_HEADERS)
def test_bad_credentials_get_the_uniform_401(client, ada, reference, case):
    headers = BAD_HEADERS[case](ada["X-Auth-Token"], ada["X-Account-Id"])
    assert uniform(client.get(f"{API}/tokens/self", headers=headers)) == reference
    assert uniform(client.post(f"{API}/tokens", headers=headers)) == reference


def test_two_authorization_headers_are_refused(client, ada, reference):
    headers = [("Authorization", f"Bearer {ada['X-Auth-Token']}"), ("Authorization", f"Bearer {ada['X-Auth-Token']}")]
    assert uniform(client.get(f"{API}/tokens/self", headers=headers)) == reference
    doubled = [("X-Account-Id", ada["X-Account-Id"]), ("X-Auth-Token", ada["X-Auth-Token"]),
               ("X-Auth-Token", ada["X-Auth-Token"])]
    assert uniform(client.get(f"{API}/tokens/self", headers=doubled)) == reference


def test_tokens_in_the_query_string_or_form_are_ignored(client, ada, reference):
    token = ada["X-Auth-Token"]
    assert uniform(client.get(f"{API}/tokens/self?token={token}&X-Auth-Token={token}"
                              f"&X-Account-Id={ada['X-Account-Id']}")) == reference
    assert uniform(client.post(f"{API}/logout", data={"X-Auth-Token": token,
                                                      "X-Account-Id": ada["X-Account-Id"]})) == reference


def test_a_deleted_token_replayed_gets_the_uniform_401(client, ada, reference):
    assert client.post(f"{API}/logout", headers=headers_of(ada)).status_code == 200
    assert uniform(client.get(f"{API}/tokens/self", headers=headers_of(ada))) == reference


def test_an_expired_token_gets_the_uniform_401(client, app, ada, reference):
    with app.app_context():
        db.session.execute(ApiToken.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert uniform(client.get(f"{API}/tokens/self", headers=headers_of(ada))) == reference


def test_a_deactivated_members_tokens_get_the_uniform_401(client, app, ada, reference):
    from tokens.models import Member
    with app.app_context():
        db.session.scalar(select(Member).filter_by(email="ada@example.com")).active = False
        db.session.commit()
    assert uniform(client.get(f"{API}/tokens/self", headers=headers_of(ada))) == reference


@pytest.mark.parametrize("case", ["one character flipped", "truncated", "overlong", "100 KB", "emoji", "NUL byte"])
def test_a_malformed_token_never_reaches_the_database(client, ada, case, statements):
    headers = BAD_HEADERS[case](ada["X-Auth-Token"], ada["X-Account-Id"])
    with statements() as seen:
        assert client.get(f"{API}/tokens/self", headers=headers).status_code == 401
    assert seen == []


def test_a_good_token_costs_one_select_and_tokens_self_nothing_more(client, ada, statements):
    client.get(f"{API}/tokens/self", headers=headers_of(ada))  # "last used" is written now, not below
    with statements() as seen:
        assert client.get(f"{API}/tokens/self", headers=headers_of(ada)).status_code == 200
    assert len(seen) == 1 and re.match(r"SELECT .* WHERE api_token\.digest = ", " ".join(seen[0].split())), seen


@pytest.mark.parametrize("path, queries", [("/tokens/self", 1), ("/tokens", 3)])  # the list adds its tokens
def test_authenticated_endpoints_cost_a_fixed_number_of_queries(client, app, ada, path, queries, statements):
    """The digest lookup answers tokens/self; the list adds the membership, and its tokens with their members."""
    client.get(f"{API}/tokens/self", headers=headers_of(ada))
    with statements() as seen:
        assert client.get(API + path, headers=headers_of(ada)).status_code == 200
    assert len(seen) == queries, seen
