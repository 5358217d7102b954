"""One email rule everywhere: the syntax of an address, private domains (corp.local, team.internal) welcome."""

import html
import re

import pytest
from sqlalchemy import select

from tokens import service
from tokens.extensions import db
from tokens.models import Member, Membership

from .conftest import PASSWORD, Actions, csrf_from, make_app

PRIVATE = ["someone@corp.local", "owner@team.internal", "dev@box.localhost", "qa@ci.test", "x@mail.example"]
MALFORMED = ["not an email", "no-at-sign.corp.local", "two@@corp.local", "a@", "a b@corp.local", "a@corp..local"]


def invite(owner, email):
    return owner.client.post("/members/invitations", data={"email": email, "role": "member", "csrf_token": owner.csrf})


@pytest.fixture
def owner(app):
    actions = Actions(app.test_client())
    assert actions.sign_in("ada@example.com").status_code == 302
    return actions


@pytest.mark.parametrize("email", PRIVATE)
def test_an_owner_invites_an_address_on_a_private_domain_who_then_joins(app, owner, email):
    response = invite(owner, email)
    assert response.status_code == 201, response.text
    link = re.search(r'id="invitation-link" type="text" readonly value="http://localhost(/join/[^"]+)"',
                     response.text).group(1)
    newcomer = app.test_client()
    page = newcomer.get(link)
    joined = newcomer.post(link, data={"display_name": "Someone", "password": PASSWORD, "confirm": PASSWORD,
                                       "csrf_token": csrf_from(page.text)})
    assert joined.status_code == 302 and joined.headers["Location"] == "/preferences"
    assert Actions(app.test_client()).sign_in(email.upper()).status_code == 302  # stored and compared in lower case


@pytest.mark.parametrize("email", MALFORMED)
def test_a_malformed_invitation_address_is_refused_clearly(owner, email):
    response = invite(owner, email)
    assert response.status_code == 422
    assert "not a valid email address" in html.unescape(response.text) or "not an email address" in response.text


def test_setup_takes_an_owner_on_a_private_domain_and_refuses_a_malformed_one(tmp_path):
    fresh = make_app(tmp_path / "fresh.sqlite3")
    with fresh.app_context():
        code = service.setup_code()
    client = fresh.test_client()

    def submit(email):
        page = client.get(f"/setup?code={code}")
        return client.post("/setup", data={
            "code": code, "account_name": "Team", "display_name": "Owner", "email": email,
            "password": PASSWORD, "confirm": PASSWORD, "csrf_token": csrf_from(page.text)})

    refused = submit("owner@@team.internal")
    assert refused.status_code == 422 and "not a valid email address" in html.unescape(refused.text)
    assert submit(" Owner@Team.Internal ").status_code == 302
    with fresh.app_context():
        assert db.session.scalar(select(Member.email)) == "owner@team.internal"


def test_the_cli_adds_a_member_on_a_private_domain_and_refuses_a_malformed_one(app, runner):
    acme = app.config["SEED"]["acme"]
    added = runner.invoke(args=["add-member", acme, "Someone@Corp.Local", "--password", PASSWORD])
    assert added.exit_code == 0 and "Added someone@corp.local to 'Acme' as member" in added.output
    refused = runner.invoke(args=["add-member", acme, "someone@", "--password", PASSWORD])
    assert refused.exit_code == 1 and "not a valid email address" in refused.output
    with app.app_context():
        assert db.session.scalar(select(Membership).join(Membership.member).filter_by(email="someone@")) is None
    assert Actions(app.test_client()).sign_in("someone@corp.local").status_code == 302


def test_sign_in_refuses_a_malformed_address_clearly(app):
    response = Actions(app.test_client()).sign_in("ada example.com")
    assert response.status_code == 422 and "not an email address" in response.text
