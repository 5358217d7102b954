"""The account's token policy in the browser: owners set it on the Members page, Generate follows it."""

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from tokens import service
from tokens.extensions import db
from tokens.models import Account, ApiToken, AuditEvent, Member, Membership, utcnow

from .conftest import PASSWORD, Actions


def text_of(html: str) -> str:
    """What a reader sees of ``html``: its text, tags left out, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def htmx_headers(actions):
    return {"HX-Request": "true", "X-CSRFToken": actions.csrf}


def signed_in(app, email):
    actions = Actions(app.test_client())
    assert actions.sign_in(email).status_code == 302
    return actions


def membership_of(email):
    """The member's membership in Acme (inside an app context)."""
    return db.session.scalar(select(Membership).join(Membership.member).where(
        Member.email == email, Membership.account.has(name="Acme")))


def set_policy(app, max_days, must_expire=False):
    with app.app_context():
        account = db.session.scalar(select(Account).filter_by(name="Acme"))
        service.set_policy(account, max_days, must_expire)
        db.session.commit()


def policy_of(app):
    with app.app_context():
        return service.TokenPolicy.of(db.session.scalar(select(Account).filter_by(name="Acme")))


@pytest.fixture
def carl(app):
    """Carl, admin of Acme, signed in."""
    with app.app_context():
        service.add_member(service.find_account(app.config["SEED"]["acme"]), "carl@example.com", "Carl", PASSWORD,
                           "admin")
        db.session.commit()
    return signed_in(app, "carl@example.com")


def test_an_owner_sets_the_policy_in_place_with_htmx(member, app):
    page = member.client.get("/members").text
    assert "<h2 id=\"policy-title\">Token policy</h2>" in page
    assert "This account's policy: tokens may live as long as their members choose." in text_of(page)
    response = member.client.post("/members/policy", data={"max_days": "30"}, headers=htmx_headers(member))
    assert response.status_code == 200
    html = unescape(response.text)
    assert "<html" not in html and html.startswith('<section id="token-policy"')
    assert "This account's policy: every token must expire within 30 days." in text_of(html)
    assert '<option selected value="30">30 days</option>' in html
    assert 'checked id="must_expire"' in html  # a longest lifetime implies it
    assert "The token policy is saved: every token must expire within 30 days." in response.headers["HX-Trigger"]
    assert policy_of(app) == service.TokenPolicy(30, True)
    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).filter_by(action="account.policy_changed"))
        assert event.detail == "now every token must expire within 30 days"


def test_an_owner_sets_the_policy_without_javascript(member, app):
    response = member.client.post("/members/policy", data={"max_days": "none", "must_expire": "y",
                                                           "csrf_token": member.csrf})
    assert response.status_code == 302 and response.headers["Location"] == "/members"
    page = text_of(member.client.get("/members").text)
    assert "The token policy is saved: every token must expire." in page
    assert policy_of(app) == service.TokenPolicy(None, True)
    # Back to no limit at all.
    member.client.post("/members/policy", data={"max_days": "none", "csrf_token": member.csrf})
    assert policy_of(app).free


def test_an_unknown_lifetime_is_refused_on_the_form(member, app):
    response = member.client.post("/members/policy", data={"max_days": "45"}, headers=htmx_headers(member))
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#token-policy"
    assert "Not a valid choice" in response.text
    assert policy_of(app).free


def test_an_admin_reads_the_policy_but_cannot_set_it(carl, app):
    set_policy(app, 90)
    page = carl.client.get("/members").text
    assert "This account's policy: every token must expire within 90 days." in text_of(page)
    assert "Only the account's owners can change it." in text_of(page)
    assert 'action="/members/policy"' not in page
    for headers, data in ((htmx_headers(carl), {}), ({}, {"csrf_token": carl.csrf})):
        response = carl.client.post("/members/policy", data={"max_days": "none", **data}, headers=headers)
        assert response.status_code == 403
        assert "Only the account's owners can set its token policy." in unescape(response.text)
    assert policy_of(app) == service.TokenPolicy(90, True)


def test_a_member_cannot_reach_the_policy(app):
    bob = signed_in(app, "bob@example.com")
    response = bob.client.post("/members/policy", data={"max_days": "none"}, headers=htmx_headers(bob))
    assert response.status_code == 403


def test_generate_says_the_policy_and_offers_an_allowed_expiry(app):
    set_policy(app, 7)
    page = unescape(signed_in(app, "bob@example.com").page().text)
    assert "This account's policy: every token must expire within 7 days." in page
    assert '<option selected value="7">In 7 days</option>' in page


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no-js"])
@pytest.mark.parametrize(("max_days", "expires", "refusal"), [
    (30, "never", "every token must expire within 30 days: choose an expiry of 30 days or less"),
    (7, "30", "every token must expire within 7 days: choose an expiry of 7 days or less"),
    (None, "never", "every token must expire: choose when the token expires"),
])
def test_generate_is_refused_with_the_policys_words(app, htmx, max_days, expires, refusal):
    set_policy(app, max_days, must_expire=True)
    bob = signed_in(app, "bob@example.com")
    response = bob.generate("Forever", htmx=htmx, expires=expires, scope="read")
    assert response.status_code == 422
    html = unescape(response.text)
    assert f"This account's token policy says {refusal}" in html
    assert ("<html" in html) is not htmx  # htmx gets the form alone, a plain post the page
    # The refusal is the Expires field's error, tied to it (after the policy's hint) for screen readers.
    assert 'aria-describedby="expires-hint expires-errors" aria-invalid="true" id="expires"' in html
    assert '<ul class="errors" id="expires-errors"><li>This account' in html
    if htmx:
        assert response.headers["HX-Retarget"] == "#generate-form"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_a_date_beyond_the_policy_is_refused_on_the_date_field(app):
    set_policy(app, 30)
    bob = signed_in(app, "bob@example.com")
    later = (utcnow() + timedelta(days=60)).date().isoformat()
    response = bob.generate("Later", expires="date", expires_on=later)
    assert response.status_code == 422
    assert "expires_on-errors" in response.text
    assert "every token must expire within 30 days" in response.text


def test_tokens_beyond_the_policy_are_listed_for_owners_and_admins(member, carl, app):
    with app.app_context():
        bob = membership_of("bob@example.com")
        forever, _ = service.issue_token(bob, "Forever job")
        long_lived, _ = service.issue_token(bob, "Yearly report", expires_at=utcnow() + timedelta(days=200))
        service.issue_token(bob, "Weekly job", expires_at=utcnow() + timedelta(days=7))
        db.session.commit()
        hints = forever.hint, long_lived.hint
    assert "With no policy set, no token is beyond it." in member.client.get("/members").text
    response = member.client.post("/members/policy", data={"max_days": "90"}, headers=htmx_headers(member))
    for html in (unescape(response.text), unescape(member.client.get("/members").text),
                 unescape(carl.client.get("/members").text)):
        beyond = html[html.index("<h3>Tokens beyond the policy</h3>"):]
        assert "They keep working until they expire or someone deletes them" in text_of(beyond)
        rows = beyond.split("<tr>")[2:]
        assert len(rows) == 2
        assert "Forever job" in rows[0] and "Bob" in rows[0] and hints[0] in rows[0] and "Never" in rows[0]
        assert "Yearly report" in rows[1] and hints[1] in rows[1] and "<time" in rows[1]
        assert "Weekly job" not in beyond
    # The tokens still work: the policy never cuts them off.
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 3
