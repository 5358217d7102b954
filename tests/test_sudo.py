"""Sudo mode: making credentials, inviting and changing roles ask for the password again once it is old."""

import re
import time

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from tokens import service
from tokens.extensions import db
from tokens.models import ApiToken, AuditEvent, Invitation, Membership

from .conftest import PASSWORD, Actions, csrf_from, make_app, seed

MINUTE = 60
HIDDEN_FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def password_typed(client, seconds_ago: int) -> None:
    """Move the moment the password was last typed back by ``seconds_ago``."""
    with client.session_transaction() as session:
        session["password_at"] = int(time.time()) - seconds_ago


def confirmation(html: str) -> tuple[str, dict]:
    """The confirmation form's address and the fields it posts back (besides the password)."""
    form = re.search(r'<form id="confirm-password" method="post" action="([^"]+)".*?</form>', html, re.S)
    return form.group(1), dict(HIDDEN_FIELD.findall(form.group(0)))


def bob_membership(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Membership.id).join(Membership.member).filter_by(email="bob@example.com"))


def counts(app) -> tuple:
    """What an action refused for want of a password must leave as it was."""
    with app.app_context():
        return (db.session.scalar(select(func.count(ApiToken.id))),
                db.session.scalar(select(func.count(Invitation.id))),
                sorted(db.session.execute(select(Membership.id, Membership.role)).all()))


# Each guarded action, as the page's own form posts it (plain, without JavaScript).
ACTIONS = {
    "generate": lambda app, who: ("/preferences/tokens",
                                  {"name": 'deploy "prod" <b>', "scope": "read", "expires": "never",
                                   "nonce": who.nonce()}, "generate an API token"),
    "invite": lambda app, who: ("/members/invitations", {"email": "new@example.com", "role": "admin"},
                                "invite someone to the account"),
    "change role": lambda app, who: (f"/members/{bob_membership(app)}/role", {"role": "admin"},
                                     "change a member's role"),
}


def done(app, action: str) -> bool:
    """Tell whether ``action`` took effect."""
    with app.app_context():
        if action == "generate":
            token = db.session.scalar(select(ApiToken).filter_by(name='deploy "prod" <b>'))
            return token is not None and token.scope == "read"
        if action == "invite":
            return db.session.scalar(select(Invitation).filter_by(email="new@example.com")) is not None
        return db.session.get(Membership, bob_membership(app)).role == "admin"


@pytest.mark.parametrize("action", ACTIONS)
def test_an_old_password_is_asked_again_and_the_action_goes_on(app, member, action):
    url, fields, doing = ACTIONS[action](app, member)
    password_typed(member.client, 2 * 60 * MINUTE + MINUTE)  # past SUDO_MODE_MINUTES (120)
    before = counts(app)

    asked = member.client.post(url, data={**fields, "csrf_token": member.csrf})

    assert asked.status_code == 403 and counts(app) == before
    assert "Confirm your password" in asked.text and f"You are about to {escape(doing)}." in asked.text
    address, kept = confirmation(asked.text)
    assert address == url
    # The form brings back what was asked for, escaped, with a fresh CSRF token of its own.
    assert {name: value for name, value in kept.items() if name != "csrf_token"} == {
        name: value.replace('"', "&#34;").replace("<", "&lt;").replace(">", "&gt;") for name, value in fields.items()}
    cancel = re.search(r'<a href="([^"]+)">Cancel</a>', asked.text).group(1)
    assert cancel == ("/preferences" if action == "generate" else "/members")  # the page the action is on

    answer = member.client.post(url, data={**fields, "csrf_token": csrf_from(asked.text), "sudo_password": PASSWORD})

    assert answer.status_code in (201, 302) and done(app, action)
    if action == "generate":  # the once-only secret, shown as without the detour
        assert 'id="new-token"' in answer.text and "deploy &#34;prod&#34; &lt;b&gt;" in answer.text


@pytest.mark.parametrize("action", ACTIONS)
def test_htmx_asks_in_a_dialog_over_the_page(app, member, action):
    url, fields, doing = ACTIONS[action](app, member)
    password_typed(member.client, 3 * 60 * MINUTE)
    before = counts(app)

    asked = member.client.post(url, data=fields, headers={"HX-Request": "true", "X-CSRFToken": member.csrf})

    assert asked.status_code == 403 and counts(app) == before
    # Not where the action's answer would go: a modal dialog added to the page.
    assert asked.headers["HX-Retarget"] == "body" and asked.headers["HX-Reswap"] == "beforeend"
    assert asked.text.lstrip().startswith("<dialog") and "data-confirm-password" in asked.text
    assert f"You are about to {escape(doing)}." in asked.text and "csrf_token" in confirmation(asked.text)[1]


def test_under_a_path_prefix_the_confirmation_posts_to_the_prefixed_address(app, member):
    password_typed(member.client, 3 * 60 * MINUTE)
    fields = {"name": "prefixed", "nonce": member.nonce(), "csrf_token": member.csrf}
    asked = member.client.post("/preferences/tokens", data=fields, base_url="http://localhost/portal")
    address, _ = confirmation(asked.text)
    assert asked.status_code == 403 and address == "/portal/preferences/tokens"
    assert '<a href="/portal/preferences">Cancel</a>' in asked.text


def test_a_recent_password_is_not_asked_again(app, member):
    password_typed(member.client, 2 * 60 * MINUTE - MINUTE)
    assert member.generate("fresh enough", htmx=False).status_code == 201


def test_confirming_once_covers_the_next_two_hours(app, member):
    password_typed(member.client, 5 * 60 * MINUTE)
    url, fields, _ = ACTIONS["invite"](app, member)
    assert member.client.post(url, data={**fields, "csrf_token": member.csrf, "sudo_password": PASSWORD}
                              ).status_code == 201
    assert member.generate("right after", htmx=False).status_code == 201


def test_changing_the_password_counts_as_typing_it(app, member):
    password_typed(member.client, 5 * 60 * MINUTE)
    changed = member.client.post("/preferences/password", data={
        "current": PASSWORD, "password": "another long password", "confirm": "another long password",
        "csrf_token": member.csrf})
    assert changed.status_code == 302
    assert member.generate("after a password change", htmx=False).status_code == 201


def test_a_wrong_password_changes_nothing_and_counts_as_a_failed_sign_in(app, member):
    password_typed(member.client, 5 * 60 * MINUTE)
    url, fields, _ = ACTIONS["generate"](app, member)
    before = counts(app)

    wrong = member.client.post(url, data={**fields, "csrf_token": member.csrf, "sudo_password": "not it"})

    assert wrong.status_code == 403 and counts(app) == before
    assert "That is not your password." in wrong.text and "not it" not in wrong.text
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEvent.id)).filter_by(action="member.sign_in_failed")) >= 1
    empty = member.client.post(url, data={**fields, "csrf_token": member.csrf, "sudo_password": ""})
    assert empty.status_code == 403 and "Enter your password." in empty.text and counts(app) == before


def test_guessing_the_password_spends_the_sign_in_budget(tmp_path):
    app = make_app(tmp_path / "sudo.sqlite3", RATELIMIT_ENABLED=True, DEVICE_SIGN_IN_RATE_LIMIT="3 per hour")
    seed(app)
    member = Actions(app.test_client())
    assert member.sign_in().status_code == 302
    password_typed(member.client, 5 * 60 * MINUTE)
    url, fields, _ = ACTIONS["generate"](app, member)
    for _ in range(3):
        assert member.client.post(url, data={**fields, "csrf_token": member.csrf,
                                             "sudo_password": "a guess"}).status_code == 403
    # This browser signed in before, so it spends its own device budget: the right password waits too.
    paused = member.client.post(url, data={**fields, "csrf_token": member.csrf, "sudo_password": PASSWORD})
    assert paused.status_code == 429 and "Retry-After" in paused.headers
    with app.app_context():
        assert db.session.scalar(select(func.count(ApiToken.id)).filter_by(name=fields["name"])) == 0


def test_someone_elses_password_does_not_confirm(app, member):
    with app.app_context():
        service.add_member(service.find_account(app.config["SEED"]["acme"]), "mal@example.com", "Mal",
                           "mal's own password", "member")
        db.session.commit()
    password_typed(member.client, 5 * 60 * MINUTE)
    url, fields, _ = ACTIONS["invite"](app, member)
    answer = member.client.post(url, data={**fields, "csrf_token": member.csrf,
                                           "sudo_password": "mal's own password"})
    assert answer.status_code == 403 and not done(app, "invite")


def test_guessing_the_current_password_spends_the_sign_in_budget(tmp_path):
    app = make_app(tmp_path / "guess.sqlite3", RATELIMIT_ENABLED=True, DEVICE_SIGN_IN_RATE_LIMIT="3 per hour")
    seed(app)
    member = Actions(app.test_client())
    assert member.sign_in().status_code == 302

    def change(current):
        return member.client.post("/preferences/password", data={
            "current": current, "password": "another long password", "confirm": "another long password",
            "csrf_token": member.csrf})

    for _ in range(3):
        wrong = change("a guess")
        assert wrong.status_code == 422 and "That is not your current password." in wrong.text
    assert change(PASSWORD).status_code == 429  # the right one waits too, as at sign-in
    with app.app_context():
        assert service.authenticate_member("ada@example.com", PASSWORD) is not None
