"""The operator's `flask` commands."""

import re

from sqlalchemy import func, select

from tokens.extensions import db
from tokens.models import Account, Member, Membership

from .conftest import HIDDEN_NAMES, PASSWORD, PUBLIC_URL, Actions, client_at


def test_create_account_prints_its_id(runner, app):
    result = runner.invoke(args=["create-account", "Initech"])
    assert result.exit_code == 0
    with app.app_context():
        account = db.session.scalar(select(Account).filter_by(name="Initech"))
    assert f"Created account 'Initech' with id {account.public_id}" in result.output


def test_add_a_new_member_with_a_role_who_can_then_sign_in(runner, app):
    account_id = app.config["SEED"]["globex"]
    result = runner.invoke(args=["add-member", account_id, "Zoe@Example.com", "--role", "admin",
                                 "--name", "Zoe"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Added zoe@example.com to 'Globex' as admin" in result.output
    assert PASSWORD not in result.output
    with app.app_context():
        membership = db.session.scalar(select(Membership).join(Membership.member).filter_by(
            email="zoe@example.com"))
        assert membership.role == "admin" and membership.account.public_id == account_id
    assert Actions(app.test_client()).sign_in("zoe@example.com").status_code == 302


def test_an_existing_member_is_added_without_a_password(runner, app):
    def ada():
        with app.app_context():
            member = db.session.scalar(select(Member).filter_by(email="ada@example.com"))
            return {"id": member.id, "password_hash": member.password_hash,
                    "roles": {m.account.name: m.role for m in member.memberships},
                    "members": db.session.scalar(select(func.count(Member.id)))}
    before = ada()
    # An answer is ready, so a prompt would not abort the command: only the output would show it.
    result = runner.invoke(args=["add-member", app.config["SEED"]["globex"], "ada@example.com"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert result.output == "Added ada@example.com to 'Globex' as member\n"
    after = ada()
    assert before["roles"] == {"Acme": "owner"} and after["roles"] == {"Acme": "owner", "Globex": "member"}
    # The same member (no new one), her password untouched.
    assert (after["id"], after["password_hash"], after["members"]) == (before["id"], before["password_hash"],
                                                                       before["members"])


def test_mistakes_get_a_clear_error(runner, app):
    unknown = runner.invoke(args=["add-member", "nope", "x@example.com", "--password", PASSWORD])
    assert unknown.exit_code == 1 and "No account has the id nope." in unknown.output
    twice = runner.invoke(args=["add-member", app.config["SEED"]["acme"], "bob@example.com"])
    assert twice.exit_code == 1 and "already a member" in twice.output
    weak = runner.invoke(args=["add-member", app.config["SEED"]["acme"], "new@example.com",
                               "--password", "short"])
    assert weak.exit_code == 1 and "at least 12 characters" in weak.output
    role = runner.invoke(args=["add-member", app.config["SEED"]["acme"], "new@example.com", "--role", "king"])
    assert role.exit_code == 2 and "'king' is not one of" in role.output
    empty = runner.invoke(args=["create-account", "  "])
    assert empty.exit_code == 1 and "Give the account a name." in empty.output


def test_set_role_keeps_an_owner(runner, app):
    acme = app.config["SEED"]["acme"]
    result = runner.invoke(args=["set-role", acme, "bob@example.com", "admin"])
    assert result.exit_code == 0 and "bob@example.com is now admin in 'Acme'" in result.output
    last_owner = runner.invoke(args=["set-role", acme, "ada@example.com", "member"])
    assert last_owner.exit_code == 1 and "at least one owner" in last_owner.output
    stranger = runner.invoke(args=["set-role", acme, "eve@example.com", "admin"])
    assert stranger.exit_code == 1 and "eve@example.com is not a member of that account." in stranger.output


def test_list_and_revoke_tokens(runner, app):
    from tokens import service
    from tokens.models import Membership
    with app.app_context():
        bob = db.session.scalar(select(Membership).join(Membership.member).filter_by(email="bob@example.com"))
        token, token_secret = service.issue_token(bob, "bob's job", via="cli")
        db.session.commit()
        token_id, hint = token.public_id, token.hint
    listed = runner.invoke(args=["list-tokens", app.config["SEED"]["acme"]])
    assert listed.exit_code == 0 and token_id in listed.output and hint in listed.output
    assert "bob@example.com" in listed.output and token_secret not in listed.output
    assert re.search(r"  created 20\d\d-\d\d-\d\d \d\d:\d\d UTC  expires never  used never  bob's job$",
                     listed.output, re.M)  # times as the pages write them
    revoked = runner.invoke(args=["revoke-token", token_id])
    assert revoked.exit_code == 0 and f"Deleted the token {hint} of bob@example.com" in revoked.output
    assert "The account has no tokens." in runner.invoke(args=["list-tokens", app.config["SEED"]["acme"]]).output
    again = runner.invoke(args=["revoke-token", token_id])
    assert again.exit_code == 1 and "No token has that id." in again.output


def test_a_token_the_operator_deletes_still_reads_right_on_the_audit_trail(runner, app):
    from tokens import service
    name = "n" * service.NAME_MAX  # the longest name, and the longest note: the trail keeps it all
    with app.app_context():
        bob = db.session.scalar(select(Membership).join(Membership.member).filter_by(email="bob@example.com"))
        token, _ = service.issue_token(bob, name, via="cli", scope="read", expires_at=service.expiry(90))
        db.session.commit()
        token_id, hint = token.public_id, token.hint
    assert runner.invoke(args=["revoke-token", token_id]).exit_code == 0
    ada = Actions(app.test_client())
    ada.sign_in()
    page = ada.client.get("/audit").text
    assert f"{name} · <code>{hint}</code> · read only · expires " in page and " UTC · by the operator" in page
    assert token_id not in page


def test_deactivate_ends_sessions_and_tokens(runner, app):
    bob = Actions(app.test_client())
    bob.sign_in("bob@example.com")
    bob.generate("soon gone")
    result = runner.invoke(args=["deactivate", "bob@example.com"])
    assert result.exit_code == 0 and "Deactivated bob@example.com; 1 token deleted" in result.output
    assert bob.client.get("/preferences").status_code == 302
    assert Actions(app.test_client()).sign_in("bob@example.com").status_code == 422


def test_account_and_display_names_with_hidden_characters_are_refused(runner, app):
    for what, name in HIDDEN_NAMES.items():
        account = runner.invoke(args=["create-account", name])
        assert account.exit_code == 1, what
        assert "The account name contains invisible control characters" in account.output, what
        member = runner.invoke(args=["add-member", app.config["SEED"]["acme"], "new@example.com", "--name", name,
                                     "--password", PASSWORD])
        assert member.exit_code == 1, what
        assert "The display name contains invisible control characters" in member.output, what
    with app.app_context():
        assert db.session.scalar(select(func.count(Account.id))) == 2
        assert db.session.scalar(select(Member).filter_by(email="new@example.com")) is None


def test_reset_password_prints_a_link_at_the_public_url(published):
    printed = published.test_cli_runner().invoke(args=["reset-password", "bob@example.com"]).output
    link = re.search(rf"^{re.escape(PUBLIC_URL)}(/reset/\S+)$", printed, re.M).group(1)
    page = client_at(published, PUBLIC_URL).get(link)
    assert page.status_code == 200 and "bob@example.com" in page.text


def test_reset_password_without_a_public_url_prints_the_local_address(runner, app):
    printed = runner.invoke(args=["reset-password", "bob@example.com"]).output
    assert re.search(r"^http://127\.0\.0\.1:5000/reset/\S+$", printed, re.M)
