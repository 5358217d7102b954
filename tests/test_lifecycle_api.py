"""A token's life past Generate, through the API and the CLI: rotation with a grace, the account's token
policy, and leak reports by value."""

from datetime import datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from tokens import secret, service
from tokens.extensions import db
from tokens.models import ApiToken, AuditEvent, Notice, utcnow

from .conftest import API, PASSWORD, dispose, headers_of, login, make_app, seed


def service_time(text):
    """Read a time the API wrote (ISO 8601, ``Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def create(client, credentials, **fields):
    response = client.post(f"{API}/tokens", headers=headers_of(credentials), json=fields)
    assert response.status_code == 201, response.json
    return response.json["data"]


def works(client, credentials) -> bool:
    status = client.get(f"{API}/tokens/self", headers=headers_of(credentials)).status_code
    assert status in (200, 401)
    return status == 200


def events(app, action):
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).filter_by(action=action).order_by(AuditEvent.id)))


def set_policy(app, max_days, must_expire=False, account="acme"):
    with app.app_context():
        service.set_policy(service.find_account(app.config["SEED"][account]), max_days, must_expire)
        db.session.commit()


# --- rotation --------------------------------------------------------------------------------

def test_rotation_keeps_name_scope_and_lifetime_and_the_old_token_works_for_the_grace(client, app):
    ada = login(client)
    old = create(client, ada, name="deploy", scope="read-write", expires_in_days=30)
    with freeze_time(utcnow() + timedelta(days=3)):  # rotated three days later: a new 30-day token from then
        response = client.post(f"{API}/tokens/{old['token']['id']}/rotate", headers=headers_of(ada),
                               json={"grace_seconds": 3600})
        now = utcnow()
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    new, replaced = response.json["data"], response.json["data"]["replaced"]
    assert new["X-Account-Id"] == ada["X-Account-Id"] and secret.parse(new["X-Auth-Token"])
    assert new["X-Auth-Token"] != old["X-Auth-Token"]
    assert {key: new["token"][key] for key in ("name", "scope", "created_via")} == {
        "name": "deploy", "scope": "read-write", "created_via": "api"}
    lifetime = service_time(new["token"]["expires_at"]) - service_time(new["token"]["created_at"])
    assert timedelta(days=30) - timedelta(seconds=5) < lifetime <= timedelta(days=30)
    assert replaced["id"] == old["token"]["id"] and replaced["replaced_at"] is not None
    assert service_time(replaced["expires_at"]) - now == timedelta(hours=1)
    # Both work during the grace; the old one is refused once it ends, the new one goes on.
    with freeze_time(now + timedelta(minutes=59)):
        assert works(client, old) and works(client, new)
    with freeze_time(now + timedelta(hours=1, seconds=1)):
        assert not works(client, old) and works(client, new)
    [event] = events(app, "token.rotated")
    assert event.subject == old["token"]["id"]
    assert f"deploy · {old['token']['hint']}" in event.detail
    assert f"replaced by deploy {new['token']['hint']} · a grace of 1 hour: the old one works until" in event.detail


def test_a_program_rotates_its_own_token_and_without_grace_the_old_one_stops_at_once(client, app):
    ada = login(client)
    program = create(client, ada, name="cron", scope="read-write")
    response = client.post(f"{API}/tokens/self/rotate", headers=headers_of(program))
    assert response.status_code == 201
    data = response.json["data"]
    assert data["replaced"] is None and data["token"]["name"] == "cron" and data["token"]["expires_at"] is None
    assert not works(client, program) and works(client, data)
    assert client.post(f"{API}/tokens/self/rotate", headers=headers_of(program)).status_code == 401
    listed = client.get(f"{API}/tokens", headers=headers_of(ada)).json["data"]
    assert [t["name"] for t in listed].count("cron") == 1


def test_rotating_a_token_in_its_grace_is_refused_with_the_reason(client):
    ada = login(client)
    old = create(client, ada, name="deploy")
    path = f"{API}/tokens/{old['token']['id']}/rotate"
    assert client.post(path, headers=headers_of(ada), json={"grace_seconds": 86400}).status_code == 201
    again = client.post(path, headers=headers_of(ada), json={"grace_seconds": 86400})
    assert again.status_code == 409
    assert "was already rotated" in again.json["data"]["message"]
    assert "Rotate its replacement instead" in again.json["data"]["message"]


@pytest.mark.parametrize("body", [{"grace_seconds": -1}, {"grace_seconds": 604801}, {"grace_seconds": True},
                                  {"grace_seconds": 1.5}, {"grace_seconds": "3600"}, {"grace": 3600}, [3600]])
def test_a_grace_outside_its_bounds_is_refused_and_nothing_changes(client, app, body):
    ada = login(client)
    old = create(client, ada, name="deploy")
    response = client.post(f"{API}/tokens/{old['token']['id']}/rotate", headers=headers_of(ada), json=body)
    assert response.status_code == 422
    assert works(client, old)
    assert events(app, "token.rotated") == []


def test_a_form_sends_the_grace_as_text(client):
    ada = login(client)
    old = create(client, ada)
    response = client.post(f"{API}/tokens/{old['token']['id']}/rotate", headers=headers_of(ada),
                           data={"grace_seconds": "604800"})
    assert response.status_code == 201 and response.json["data"]["replaced"]["id"] == old["token"]["id"]


def test_who_may_rotate_whose_token(client, app):
    ada, bob = login(client), login(client, "bob@example.com")
    bobs = create(client, bob, name="bob's")
    adas = create(client, ada, name="ada's")
    read_only = create(client, bob, scope="read")
    # A member reaches only their own tokens: another's is not there (404), as for Delete.
    assert client.post(f"{API}/tokens/{adas['token']['id']}/rotate", headers=headers_of(bob)).status_code == 404
    # A read token may not rotate, not even itself.
    refused = client.post(f"{API}/tokens/self/rotate", headers=headers_of(read_only))
    assert refused.status_code == 403 and works(client, read_only)
    # An owner may rotate a member's token: the new one is still Bob's, and Bob is told who holds its secret.
    rotated = client.post(f"{API}/tokens/{bobs['token']['id']}/rotate", headers=headers_of(ada))
    assert rotated.status_code == 201 and rotated.json["data"]["token"]["member"] == "bob@example.com"
    with app.app_context():
        [notice] = service.notices_for(service.find_member("bob@example.com"))
        assert notice.text.startswith(f"Ada rotated your token “bob's” ({bobs['token']['hint']}) in Acme at ")
        assert f"its new secret ({rotated.json['data']['token']['hint']}) was shown to them" in notice.text
        assert service.notices_for(service.find_member("ada@example.com")) == []
    # The new secret acts as its member: a manager never gets a peer's or a superior's. An admin may not
    # rotate an owner's token, nor another admin's.
    with app.app_context():
        service.set_role(app.config["SEED"]["acme"], "bob@example.com", "admin")
        service.add_member(service.find_account(app.config["SEED"]["acme"]), "dora@example.com", "Dora",
                                  PASSWORD, "admin")
        db.session.commit()
    doras = create(client, login(client, "dora@example.com"), name="dora's")
    for token, whose in ((adas, "Ada (owner)"), (doras, "Dora (admin)")):
        refused = client.post(f"{API}/tokens/{token['token']['id']}/rotate", headers=headers_of(bob))
        assert refused.status_code == 403
        assert refused.json["data"]["message"].startswith(f"Its new secret would act as {whose}: only they can")
        assert works(client, token)



def test_rotating_with_a_grace_needs_room_under_the_token_limit(database):
    app = make_app(database, TOKENS_PER_MEMBER=2)
    app.config["SEED"] = seed(app)
    client = app.test_client()
    try:
        ada = login(client)
        second = create(client, ada)
        full = client.post(f"{API}/tokens/{second['token']['id']}/rotate", headers=headers_of(ada),
                           json={"grace_seconds": 3600})
        assert full.status_code == 409 and "Rotate it with no grace" in full.json["data"]["message"]
        assert client.post(f"{API}/tokens/{second['token']['id']}/rotate", headers=headers_of(ada)).status_code == 201
    finally:
        dispose(app)


# --- the account's token policy -----------------------------------------------------------------

def test_the_policy_refuses_what_it_forbids_on_the_api_and_names_itself(client, app):
    ada = login(client)
    forever = create(client, ada, name="forever")
    set_policy(app, 30)
    for fields in ({}, {"expires_in_days": 90}):
        refused = client.post(f"{API}/tokens", headers=headers_of(ada), json=fields)
        assert refused.status_code == 422
        assert "token policy says every token must expire within 30 days" in refused.json["data"]["message"]
    assert create(client, ada, expires_in_days=30)["token"]["expires_at"]
    # Rotating a token that never expires would make another one: refused too, the old one untouched.
    refused = client.post(f"{API}/tokens/{forever['token']['id']}/rotate", headers=headers_of(ada))
    assert refused.status_code == 422 and "“forever” never expires" in refused.json["data"]["message"]
    assert works(client, forever)
    # The tokens made before the policy keep working; the owners see them listed.
    with app.app_context():
        membership = service.default_membership(service.find_member("ada@example.com"))
        assert [t.name for t in service.tokens_beyond_policy(membership)] == ["forever"]
    [event] = events(app, "account.policy_changed")
    assert event.detail == "now every token must expire within 30 days"


def test_an_api_login_token_is_capped_by_the_policy(client, app):
    set_policy(app, 7)
    ada = login(client)
    with app.app_context():
        [token] = db.session.scalars(select(ApiToken)).all()
        assert timedelta(days=6, hours=23) < token.expires_at - utcnow() <= timedelta(days=7)
    assert works(client, ada)


def test_must_expire_alone_refuses_only_never(client, app):
    ada = login(client)
    set_policy(app, None, must_expire=True)
    refused = client.post(f"{API}/tokens", headers=headers_of(ada), json={})
    assert refused.status_code == 422 and "every token must expire: choose when" in refused.json["data"]["message"]
    assert create(client, ada, expires_in_days=90)


# --- leak reports ----------------------------------------------------------------------------

def report(client, body, **kwargs):
    return client.post(f"{API}/tokens/revoke", json=body, **kwargs)


def test_a_leak_report_deletes_only_the_matching_tokens_and_answers_only_what_it_received(client, app, caplog):
    ada, eve = login(client), login(client, "eve@example.com")
    bob = login(client, "bob@example.com")
    leaked = create(client, bob, name="ci")
    kept = create(client, bob, name="kept")
    globex = create(client, eve, name="globex ci")
    unknown = secret.generate("tok")  # well formed, but never issued
    values = [leaked["X-Auth-Token"], unknown, "not a token", "", globex["X-Auth-Token"],
              leaked["X-Auth-Token"][:-1] + "x", f"  {leaked['X-Auth-Token']}  "]
    response = report(client, values, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 202
    assert response.json == {"status": "success", "data": {"received": len(values)}}
    assert not works(client, leaked) and not works(client, globex)
    assert works(client, kept) and works(client, ada) and works(client, bob)
    # Each deleted token is on its own account's trail, with the reporter's address, never the value.
    reported = events(app, "token.leaked")
    assert sorted(e.subject for e in reported) == sorted([leaked["token"]["id"], globex["token"]["id"]])
    assert {e.ip for e in reported} == {"203.0.113.9"} and {e.actor_id for e in reported} == {None}
    assert all("reported leaked from 203.0.113.9" in e.detail for e in reported)
    # Bob and Acme's owner (Ada) are told by name and hint; Eve (Globex's owner and the token's member) once.
    with app.app_context():
        texts = list(db.session.scalars(select(Notice.text).order_by(Notice.id)))
    assert len(texts) == 3
    assert sum(f"“ci” ({leaked['token']['hint']})" in text for text in texts) == 2
    assert sum(f"“globex ci” ({globex['token']['hint']})" in text for text in texts) == 1
    # No log line holds a value (the suite's autouse check reads every record too).
    assert not any(leaked["X-Auth-Token"] in record.getMessage() for record in caplog.records)


def test_reporting_the_same_token_again_answers_the_same(client):
    bob = login(client, "bob@example.com")
    leaked = create(client, bob)
    first = report(client, [leaked["X-Auth-Token"]])
    second = report(client, [leaked["X-Auth-Token"]])
    assert first.status_code == second.status_code == 202
    assert first.json == second.json == {"status": "success", "data": {"received": 1}}


@pytest.mark.parametrize("request_args, status", [
    ({"json": {"tokens": ["x"]}}, 422),
    ({"json": []}, 422),
    ({"json": ["tok_x"] * 101}, 422),
    ({"json": ["ok", 42]}, 422),
    ({"json": [None]}, 422),
    ({"json": "tok_abc"}, 422),
    ({"data": "[", "content_type": "application/json"}, 422),
    ({"data": "[" * 100_000 + "]" * 100_000, "content_type": "application/json"}, 413),
    ({"data": {"tokens": "x"}}, 415),
    ({"data": "tok_abc", "content_type": "text/plain"}, 415),
])
def test_a_malformed_report_gets_a_client_error_and_deletes_nothing(client, app, request_args, status):
    bob = login(client, "bob@example.com")
    response = client.post(f"{API}/tokens/revoke", **request_args)
    assert response.status_code == status
    assert response.json["status"] == "fail"
    assert works(client, bob)


def test_leak_reports_count_against_a_budget_per_client(tmp_path):
    app = make_app(tmp_path / "leaks.sqlite3", RATELIMIT_ENABLED=True, LEAK_REPORT_RATE_LIMIT="2 per minute")
    client = app.test_client()
    answers = [report(client, ["tok_x"]).status_code for _ in range(3)]
    assert answers == [202, 202, 429]
    other = report(client, ["tok_x"], environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 202


def test_a_leak_report_needs_no_authentication_and_ignores_credentials(client):
    bob = login(client, "bob@example.com")
    leaked = create(client, bob)
    response = report(client, [leaked["X-Auth-Token"]], headers={"X-Auth-Token": "tok_wrong"})
    assert response.status_code == 202 and not works(client, leaked)


# --- the CLI ---------------------------------------------------------------------------------

def test_the_cli_rotates_a_token_and_prints_the_new_secret_once(client, app, runner):
    ada = login(client)
    old = create(client, ada, name="nightly", expires_in_days=7)
    result = runner.invoke(args=["rotate-token", old["token"]["id"], "--grace", "1h"])
    assert result.exit_code == 0, result.output
    assert "the old one works until" in result.output
    new_secret = result.output.split("X-Auth-Token: ")[1].strip()
    assert works(client, {"X-Account-Id": ada["X-Account-Id"], "X-Auth-Token": new_secret})
    assert works(client, old)
    with app.app_context():
        new = db.session.scalar(select(ApiToken).filter_by(digest=service.token_digest(new_secret)))
        assert (new.name, new.created_via) == ("nightly", "cli")
    listed = runner.invoke(args=["list-tokens", app.config["SEED"]["acme"]]).output.splitlines()
    [old_line] = [line for line in listed if line.startswith(old["token"]["id"])]
    assert "(replaced: its grace ends then)" in old_line
    assert sum("replaced" in line for line in listed) == 1
    again = runner.invoke(args=["rotate-token", old["token"]["id"]])
    assert again.exit_code == 1 and "already rotated" in again.output
    [event] = events(app, "token.rotated")
    assert event.actor_id is None


def test_the_cli_refuses_a_rotation_the_policy_forbids(client, app, runner):
    ada = login(client)
    old = create(client, ada, name="forever")
    result = runner.invoke(args=["set-policy", app.config["SEED"]["acme"], "--max-days", "90"])
    assert result.exit_code == 0 and "every token must expire within 90 days" in result.output
    refused = runner.invoke(args=["rotate-token", old["token"]["id"]])
    assert refused.exit_code == 1 and "token policy says every token must expire within 90 days" in refused.output
    assert works(client, old)


def test_the_cli_revokes_tokens_by_value_from_standard_input_only(client, app, runner):
    bob = login(client, "bob@example.com")
    leaked, kept = create(client, bob), create(client, bob)
    result = runner.invoke(args=["revoke-token", "--value", "-"],
                           input=f"{leaked['X-Auth-Token']}\n\nnonsense\n")
    assert result.exit_code == 0 and "Read 2 values" in result.output
    assert not works(client, leaked) and works(client, kept)
    assert [e.ip for e in events(app, "token.leaked")] == [None]
    on_the_command_line = runner.invoke(args=["revoke-token", "--value", kept["X-Auth-Token"]])
    assert on_the_command_line.exit_code == 2 and "standard input only" in on_the_command_line.output
    assert works(client, kept)
    assert runner.invoke(args=["revoke-token"]).exit_code == 2


def test_a_signed_in_reporter_is_named_only_in_their_own_accounts_trail(client, app):
    bob, eve = login(client, "bob@example.com"), login(client, "eve@example.com")
    acme_token, globex_token = create(client, bob), create(client, eve)
    with app.app_context():
        ada = service.find_member("ada@example.com")
        assert service.revoke_leaked([acme_token["X-Auth-Token"], globex_token["X-Auth-Token"]], "192.0.2.1", ada) == 2
        db.session.commit()
    actors = {event.subject: event.actor_id for event in events(app, "token.leaked")}
    assert actors == {acme_token["token"]["id"]: app.config["SEED"]["ada_id"], globex_token["token"]["id"]: None}


def test_a_leak_report_deletes_the_tokens_the_leaked_one_made_but_not_the_members_others(client, app):
    bob = login(client, "bob@example.com")
    leaked = create(client, bob, name="ci")
    # Whoever holds the leaked token rotates it (no grace: its value is dead), then makes another with the new one.
    renewed = client.post(f"{API}/tokens/self/rotate", headers=headers_of(leaked)).json["data"]
    spawned = create(client, renewed, name="spawn")
    made_by_bob = create(client, bob, name="bob's own")  # made with Bob's login token, not with the leaked one
    assert not works(client, leaked) and works(client, renewed) and works(client, spawned)
    assert report(client, [leaked["X-Auth-Token"]]).json["data"] == {"received": 1}
    assert not works(client, renewed) and not works(client, spawned)
    assert works(client, made_by_bob) and works(client, bob)
    details = {event.subject: event.detail for event in events(app, "token.leaked")}
    assert set(details) == {renewed["token"]["id"], spawned["token"]["id"]}
    assert all("made by a token reported leaked" in detail for detail in details.values())
    with app.app_context():
        texts = [n.text for n in service.notices_for(service.find_member("bob@example.com"))]
    assert sum("was made with a token reported leaked, and deleted with it" in text for text in texts) == 2


def test_a_rotation_removes_the_members_replaced_tokens_whose_grace_is_over(client, app):
    ada = login(client)
    program = create(client, ada, name="daily")
    for day in range(3):  # a program rotating itself each day with a day's grace
        with freeze_time(utcnow() + timedelta(days=day, minutes=day)):
            response = client.post(f"{API}/tokens/self/rotate", headers=headers_of(program),
                                   json={"grace_seconds": 86400})
            assert response.status_code == 201
            program = response.json["data"]
    with app.app_context():
        daily = list(db.session.scalars(select(ApiToken).filter_by(name="daily")))
    # The new one and the one in its grace; the first, its grace over, was removed (and noted on the trail).
    assert len(daily) == 2 and sum(token.replaced_at is not None for token in daily) == 1
    assert any("once its grace was over" in event.detail for event in events(app, "token.deleted"))


def test_set_policy_without_options_prints_the_policy_and_an_option_left_out_keeps_its_setting(app, runner):
    acme = app.config["SEED"]["acme"]
    assert "tokens may live as long as their members choose" in runner.invoke(args=["set-policy", acme]).output
    assert runner.invoke(args=["set-policy", acme, "--must-expire"]).exit_code == 0
    kept = runner.invoke(args=["set-policy", acme, "--max-days", "30"])
    assert "every token must expire within 30 days" in kept.output
    assert "every token must expire within 30 days" in runner.invoke(args=["set-policy", acme]).output
    cleared = runner.invoke(args=["set-policy", acme, "--max-days", "none", "--may-never-expire"])
    assert "tokens may live as long as their members choose" in cleared.output
