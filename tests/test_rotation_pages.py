"""Rotate on Account Preferences through Flask's test client: the ask, the once-only answer, the rows,
the refusals, and the old secret working through its grace only."""

import re
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from tokens import service
from tokens.extensions import db
from tokens.models import ApiToken, utcnow

from .conftest import PASSWORD, Actions, csrf_from
from .test_sudo import MINUTE, confirmation, password_typed

TOKEN_PATTERN = re.compile(r"tok_[0-9A-Za-z]{36}")
HOUR, DAY = 3600, 86400


def generated(member, name):
    """Generate a token with the page's form; return its public id and its secret."""
    response = member.generate(name)
    assert response.status_code == 201
    token_id = re.search(r'<tr class="token-row" id="token-([0-9A-Za-z]{12})">', response.text).group(1)
    return token_id, TOKEN_PATTERN.search(response.text).group(0)


def rotate(member, token_id, grace=HOUR, *, htmx=True):
    """Post the rotate form, as htmx does (the CSRF token as a header) or as a plain form."""
    url = f"/preferences/tokens/{token_id}/rotate"
    if htmx:
        headers = {"HX-Request": "true", "X-CSRFToken": member.csrf}
        return member.client.post(url, data={"grace": grace}, headers=headers)
    return member.client.post(url, data={"grace": grace, "csrf_token": member.csrf})


def row(html, token_id):
    return re.search(rf'<tr class="token-row[^"]*" id="token-{token_id}">.*?</tr>', html, re.S).group(0)


def api_status(app, secret):
    """Call the API (the token list, which every token may read) with a token of Ada's in Acme; return the status."""
    headers = {"X-Account-Id": app.config["SEED"]["acme"], "X-Auth-Token": secret}
    return app.extensions["api"].test_client().get("/tokens", headers=headers).status_code


def tokens_named(app, name):
    with app.app_context():
        return list(db.session.scalars(select(ApiToken).filter_by(name=name).order_by(ApiToken.id)))


def test_without_javascript_rotate_asks_then_shows_the_new_secret_once(member, app):
    token_id, old_secret = generated(member, "deploy")
    page = member.page().text
    assert f'<form method="get" action="/preferences/tokens/{token_id}/rotate">' in row(page, token_id)

    asked = member.client.get(f"/preferences/tokens/{token_id}/rotate")
    assert asked.status_code == 200 and "<html" in asked.text
    assert '<h1 id="rotate-title">Rotate the token “deploy”?</h1>' in asked.text
    # The four graces, 24 hours chosen unless the member says otherwise.
    choices = re.findall(r'<label class="check"><input( autofocus checked)? id="grace-\d" name="grace" type="radio" '
                         r'value="(\d+)"> <span>([^<]+)</span></label>', asked.text)
    assert choices == [("", "0", "none: the old token stops at once"), ("", "3600", "1 hour"),
                       (" autofocus checked", "86400", "24 hours"), ("", "604800", "7 days")]
    assert '<a href="/preferences">Cancel</a>' in asked.text
    assert len(tokens_named(app, "deploy")) == 1  # asking rotates nothing

    answer = member.client.post(f"/preferences/tokens/{token_id}/rotate",
                                data={"grace": HOUR, "csrf_token": csrf_from(asked.text)})
    assert answer.status_code == 201 and "<html" in answer.text
    new_secret = TOKEN_PATTERN.search(answer.text).group(0)
    assert new_secret != old_secret and 'id="new-token"' in answer.text and "shown only this once" in answer.text
    old, new = tokens_named(app, "deploy")
    assert old.public_id == token_id and old.replaced_at is not None
    assert timedelta(minutes=59) < old.expires_at - utcnow() <= timedelta(hours=1)
    rows = re.findall(r'<tr class="token-row[^"]*" id="token-([0-9A-Za-z]{12})">', answer.text)
    assert rows == [new.public_id, token_id]  # the new one on top
    old_row = row(answer.text, token_id)
    assert '<tr class="token-row replaced"' in old_row
    assert '<strong class="badge replaced">Replaced</strong>, stops working at <time datetime=' in old_row
    assert "Rotate" not in old_row and "Delete the token deploy" in old_row  # Delete ends the grace early
    assert new_secret not in member.page().text  # shown once


def test_with_htmx_rotate_answers_the_dialog_the_new_row_and_the_old_row(member, app):
    token_id, _ = generated(member, "ci")
    asked = member.client.get(f"/preferences/tokens/{token_id}/rotate", headers={"HX-Request": "true"})
    assert asked.status_code == 200 and "<html" not in asked.text
    assert asked.text.startswith(f'<dialog class="confirm-dialog" id="rotate-dialog" data-rotate="{token_id}"')
    assert "<hx-partial" not in asked.text  # the row stays as it is
    assert '<button type="button" data-dialog-cancel>Cancel</button>' in asked.text
    assert "csrf_token" not in asked.text  # htmx sends it as a header

    answer = rotate(member, token_id, DAY)
    assert answer.status_code == 201 and "<html" not in answer.text and len(answer.data) < 6 * 1024
    html = answer.text
    secret = TOKEN_PATTERN.search(html).group(0)
    assert html.startswith('<dialog class="token-dialog" data-once-secret') and html.count(secret) == 2
    old, new = tokens_named(app, "ci")
    assert new.hint == f"tok_…{secret[-4:]}"
    new_row = html.index('<hx-partial hx-target="#token-rows" hx-swap="afterbegin">')
    old_row = html.index(f'<hx-partial hx-target="#token-{token_id}" hx-swap="outerHTML">')
    assert f'id="token-{new.public_id}"' in html[new_row:old_row] and "stops working at" in html[old_row:]
    assert 'hx-target="#generate-form"' not in html  # Generate's form is left as it is
    assert timedelta(hours=23, minutes=59) < old.expires_at - utcnow() <= timedelta(days=1)


def test_with_no_grace_the_old_row_goes_and_the_old_token_stops_at_once(member, app):
    token_id, old_secret = generated(member, "leaked")
    answer = rotate(member, token_id, 0)
    assert answer.status_code == 201
    assert f'<hx-partial hx-target="#token-{token_id}" hx-swap="delete"></hx-partial>' in answer.text
    [new] = tokens_named(app, "leaked")
    assert new.public_id != token_id
    assert api_status(app, old_secret) == 401 and api_status(app, TOKEN_PATTERN.search(answer.text).group(0)) == 200
    assert f'id="token-{token_id}"' not in member.page().text


def test_the_old_token_works_through_its_grace_and_not_after(member, app):
    app.config["SESSION_IDLE_MINUTES"] = 24 * 60  # Ada stays signed in while the clock moves on
    token_id, old_secret = generated(member, "graceful")
    new_secret = TOKEN_PATTERN.search(rotate(member, token_id, HOUR).text).group(0)
    assert api_status(app, old_secret) == 200 and api_status(app, new_secret) == 200
    with freeze_time(utcnow() + timedelta(minutes=59)):
        assert api_status(app, old_secret) == 200
    with freeze_time(utcnow() + timedelta(hours=1, seconds=1)):
        assert api_status(app, old_secret) == 401 and api_status(app, new_secret) == 200
        expired = row(member.page().text, token_id)
        assert '<strong class="badge">Expired</strong>' in expired and "Replaced" not in expired


def test_deleting_the_old_token_ends_its_grace_at_once(member, app):
    token_id, old_secret = generated(member, "cut short")
    new_secret = TOKEN_PATTERN.search(rotate(member, token_id, 7 * DAY).text).group(0)
    assert api_status(app, old_secret) == 200
    assert member.delete(token_id).status_code == 200
    assert api_status(app, old_secret) == 401 and api_status(app, new_secret) == 200


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_a_token_already_rotated_is_refused_with_its_reason(member, app, htmx):
    token_id, _ = generated(member, "twice")
    assert rotate(member, token_id, HOUR).status_code == 201
    again = rotate(member, token_id, HOUR, htmx=htmx)
    assert again.status_code == 409
    assert "The token “twice” (tok_…" in again.text and "was already rotated" in again.text
    assert '<ul class="errors form-errors" role="alert">' in again.text
    assert '<button type="submit" class="primary">Rotate</button>' not in again.text  # nothing left to rotate
    if htmx:  # the dialog that asked shows why, and the row, if it still offered Rotate, shows it replaced
        assert again.headers["HX-Retarget"] == "#rotate-dialog" and again.headers["HX-Reswap"] == "outerHTML"
        partial = again.text[again.text.index(f'<hx-partial hx-target="#token-{token_id}" hx-swap="outerHTML">'):]
        assert "stops working at" in partial and ">Rotate</button>" not in partial
    assert len(tokens_named(app, "twice")) == 2
    # Its page says so too, and offers no second rotation.
    page = member.client.get(f"/preferences/tokens/{token_id}/rotate").text
    assert "It was rotated already: it stops working at" in page and ">Rotate</button>" not in page


def test_a_member_cannot_rotate_anothers_token(app, member):
    token_id, _ = generated(member, "ada's")
    bob = Actions(app.test_client())
    bob.sign_in("bob@example.com")
    assert bob.client.get(f"/preferences/tokens/{token_id}/rotate").status_code == 404
    refused = rotate(bob, token_id)
    assert refused.status_code == 404 and "There is no such token in your list." in refused.text
    assert refused.headers["HX-Reswap"] == "none"
    assert rotate(bob, token_id, htmx=False).status_code == 404
    [token] = tokens_named(app, "ada's")
    assert token.replaced_at is None


def test_an_admin_is_refused_an_owners_new_secret(app, member):
    token_id, _ = generated(member, "owner's")
    with app.app_context():
        acme = service.find_account(app.config["SEED"]["acme"])
        service.add_member(acme, "cy@example.com", "Cy", PASSWORD, "admin")
        db.session.commit()
    cy = Actions(app.test_client())
    cy.sign_in("cy@example.com")
    cys_id, _ = generated(cy, "cy's")
    bob = Actions(app.test_client())
    bob.sign_in("bob@example.com")
    bobs_id, _ = generated(bob, "bob's")
    # Cy's list offers Rotate on Cy's own token and on Bob's (a member's), not on Ada's (an owner's).
    page = cy.page().text
    assert [f'id="rotate-{i}"' in page for i in (cys_id, bobs_id, token_id)] == [True, True, False]
    assert cy.client.get(f"/preferences/tokens/{token_id}/rotate").status_code == 200  # typed in, it opens
    for htmx in (True, False):
        refused = rotate(cy, token_id, htmx=htmx)
        assert refused.status_code == 403
        assert "Its new secret would act as Ada (owner): only they can rotate it." in refused.text
        assert not TOKEN_PATTERN.search(refused.text)
    [token] = tokens_named(app, "owner's")
    assert token.replaced_at is None


def test_the_token_limit_and_the_policy_are_explained(app, member):
    token_id, _ = generated(member, "limited")
    app.config["TOKENS_PER_MEMBER"] = 1
    refused = rotate(member, token_id, HOUR, htmx=False)
    assert refused.status_code == 409 and "the most allowed is 1" in refused.text
    assert "Rotate it with no grace (the old token stops at once)" in refused.text
    assert rotate(member, token_id, 0).status_code == 201  # as the message advises
    app.config["TOKENS_PER_MEMBER"] = 50

    token_id, _ = generated(member, "long-lived")
    with app.app_context():
        service.set_policy(service.find_account(app.config["SEED"]["acme"]), max_days=7, must_expire=True)
        db.session.commit()
    refused = rotate(member, token_id, HOUR)
    assert refused.status_code == 422 and "its replacement would break the policy" in refused.text
    assert len(tokens_named(app, "long-lived")) == 1


def test_an_old_password_is_asked_before_the_rotation(app, member):
    token_id, _ = generated(member, "sudo")
    password_typed(member.client, 3 * 60 * MINUTE)
    asked = rotate(member, token_id, HOUR)
    assert asked.status_code == 403 and "You are about to rotate an API token." in asked.text
    assert asked.headers["HX-Retarget"] == "body"  # a dialog over the rotate dialog
    address, kept = confirmation(asked.text)
    assert address == f"/preferences/tokens/{token_id}/rotate" and kept["grace"] == "3600"
    assert len(tokens_named(app, "sudo")) == 1
    answer = member.client.post(address, data={**kept, "sudo_password": PASSWORD})
    assert answer.status_code == 201 and 'id="new-token"' in answer.text  # the page, its dialog open
    assert len(tokens_named(app, "sudo")) == 2


def test_a_grace_not_offered_is_refused_in_the_form(member, app):
    token_id, _ = generated(member, "odd")
    for odd in (12345, "an hour", ""):
        refused = rotate(member, token_id, odd, htmx=False)
        assert refused.status_code == 422
        assert ('<ul class="errors" id="grace-errors"><li>Choose how long the old token keeps working: none: the old '
                'token stops at once, 1 hour, 24 hours, 7 days.</li></ul>') in refused.text
    assert len(tokens_named(app, "odd")) == 1


def test_an_expired_token_is_replaced_with_no_grace_asked(member, app):
    token_id, _ = generated(member, "stale")
    with app.app_context():
        db.session.execute(ApiToken.__table__.update().where(ApiToken.public_id == token_id).values(
            created_at=utcnow() - timedelta(days=31), expires_at=utcnow() - timedelta(days=1)))
        db.session.commit()
    asked = member.client.get(f"/preferences/tokens/{token_id}/rotate").text
    assert "It has expired" in asked and 'type="radio"' not in asked
    answer = rotate(member, token_id, grace=re.search(r'name="grace" value="(\d+)"', asked).group(1))
    assert answer.status_code == 201
    assert f'<hx-partial hx-target="#token-{token_id}" hx-swap="delete"></hx-partial>' in answer.text
    [new] = tokens_named(app, "stale")
    assert new.public_id != token_id
    assert timedelta(days=29, hours=23) < new.expires_at - utcnow() <= timedelta(days=30)  # its 30 days again
