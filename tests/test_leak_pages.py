"""Revoking a token by its value from Account Preferences, and the notices banner that tells its people."""

import json
import re
from html import unescape

import pytest
from sqlalchemy import func, select

from tokens import service
from tokens.extensions import db
from tokens.models import ApiToken, AuditEvent, Member, Membership, Notice

from .conftest import Actions, flip, make_app, seed


def text_of(html: str) -> str:
    """What a reader sees of ``html``: its text, tags left out, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def signed_in(app, email):
    actions = Actions(app.test_client())
    assert actions.sign_in(email).status_code == 302
    return actions


def issue(app, email, name):
    """Give the member a token in their first account; return its value and hint."""
    with app.app_context():
        membership = db.session.scalar(select(Membership).join(Membership.member).where(Member.email == email))
        token, value = service.issue_token(membership, name)
        db.session.commit()
        return value, token.hint


def report(actions, text, *, htmx=True):
    if htmx:
        return actions.client.post("/preferences/leaked", data={"values": text},
                                   headers={"HX-Request": "true", "X-CSRFToken": actions.csrf})
    return actions.client.post("/preferences/leaked", data={"values": text, "csrf_token": actions.csrf})


def tokens_named(app, name):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(ApiToken).filter_by(name=name))


def banner(page: str) -> str:
    """The notices banner of a page, as its reader sees it ("" when there is none)."""
    found = re.search(r'<section class="notices".*?</section>', page, re.DOTALL)
    return text_of(found.group(0)) if found else ""


ANSWER = ("Received {}. Any that were tokens of this portal no longer work; their members and the "
          "account's owners are told.")


def test_the_card_is_on_account_preferences(app):
    page = signed_in(app, "bob@example.com").page().text
    assert "Revoke a token by its value" in page
    textarea = re.search(r"<textarea[^>]*>", page).group(0)
    assert 'autocomplete="off"' in textarea and 'spellcheck="false"' in textarea and 'name="values"' in textarea
    assert 'action="/preferences/leaked"' in page


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no-js"])
def test_a_leaked_token_of_another_member_is_revoked_and_its_people_told(app, htmx, caplog):
    value, hint = issue(app, "bob@example.com", "Deploy bot")
    eve = signed_in(app, "eve@example.com")  # of another account: whoever found it may report it
    response = report(eve, f"  {value}  \n\n", htmx=htmx)
    if htmx:
        assert response.status_code == 200
        assert triggered_notice_of(response) == ANSWER.format("1 value")
        assert response.text.startswith('<form id="leak-form"')
        assert re.search(r"<textarea[^>]*>\s*</textarea>", response.text)  # the textarea is empty again
        page = response.text
    else:
        assert response.status_code == 302 and response.headers["Location"] == "/preferences"
        page = eve.page().text
        assert ANSWER.format("1 value") in unescape(page)
    assert value not in page and value not in str(response.headers)
    assert not any(value in record.getMessage() for record in caplog.records)
    assert tokens_named(app, "Deploy bot") == 0
    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).filter_by(action="token.leaked"))
        assert hint in event.detail
        assert event.actor_id is None  # Eve is of another account: Acme's trail keeps her address, not her name
    # Bob (the token's member) and Ada (the owner) are told on their next page, by the token's name and hint.
    for email, whose in (("bob@example.com", "Your token"), ("ada@example.com", "The token of Bob")):
        told = banner(signed_in(app, email).page().text)
        assert f"{whose} “Deploy bot” ({hint}) in Acme was reported leaked" in told
        assert "Dismiss" in told
    assert banner(eve.page().text) == ""  # the reporter has nothing to hear of


def triggered_notice_of(response) -> str:
    """The message an htmx answer has the page show, whatever else it swaps."""
    return json.loads(response.headers["HX-Trigger"])["portal:notice"]["message"]


@pytest.mark.parametrize("values", [
    ["not a token"], ["tok_" + "A" * 36], ["FLIP"], ["FLIP", "gone", "tok_"],
], ids=["words", "shaped-like-one", "bad-checksum", "several"])
def test_values_that_are_no_token_get_the_same_answer(app, values, caplog):
    value, _ = issue(app, "bob@example.com", "Deploy bot")
    values = [flip(value) if each == "FLIP" else each for each in values]
    bob = signed_in(app, "bob@example.com")
    response = report(bob, "\n".join(values))
    assert response.status_code == 200
    count = len(values)
    assert triggered_notice_of(response) == ANSWER.format(f"{count} value{'s' if count != 1 else ''}")
    assert tokens_named(app, "Deploy bot") == 1
    for each in values:
        assert each not in response.text
    assert not any(flip(value) in record.getMessage() for record in caplog.records)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Notice)) == 0


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no-js"])
@pytest.mark.parametrize("text", ["", " \n \n", "\n".join(f"value-{n}" for n in range(101))],
                         ids=["empty", "blank-lines", "101-values"])
def test_empty_or_too_many_values_are_refused_on_the_form(app, htmx, text):
    bob = signed_in(app, "bob@example.com")
    response = report(bob, text, htmx=htmx)
    assert response.status_code == 422
    assert "Paste 1 to 100 token values, one per line." in response.text
    assert 'aria-describedby="values-hint values-errors" aria-invalid="true"' in response.text
    assert "value-7" not in response.text  # what was pasted never comes back
    if htmx:
        assert response.headers["HX-Retarget"] == "#leak-form"
        assert "<html" not in response.text
    else:
        assert "Nothing was revoked." in response.text


def test_reports_need_the_csrf_token(app):
    value, _ = issue(app, "bob@example.com", "Deploy bot")
    bob = signed_in(app, "bob@example.com")
    response = bob.client.post("/preferences/leaked", data={"values": value})
    assert response.status_code == 400
    assert tokens_named(app, "Deploy bot") == 1


def test_reports_spend_the_clients_budget(tmp_path):
    app = make_app(tmp_path / "leaks.sqlite3", RATELIMIT_ENABLED=True, LEAK_REPORT_RATE_LIMIT="2 per minute")
    seed(app)
    bob = signed_in(app, "bob@example.com")
    assert [report(bob, "something").status_code for _ in range(2)] == [200, 200]
    response = report(bob, "something")
    assert response.status_code == 429
    assert "Too many leak reports from your address." in response.text
    assert int(response.headers["Retry-After"]) > 0


def notice_ids(app, email):
    with app.app_context():
        return list(db.session.scalars(select(Notice.id).join(Member, Notice.member_id == Member.id)
                                       .where(Member.email == email).order_by(Notice.id)))


@pytest.fixture
def told(app):
    """Bob's token "Deploy bot" reported leaked: Bob and Ada each have a notice."""
    value, _ = issue(app, "bob@example.com", "Deploy bot")
    with app.app_context():
        service.revoke_leaked([value], ip="192.0.2.7")
        db.session.commit()
    return signed_in(app, "bob@example.com")


def test_dismissing_a_notice_with_htmx_removes_it(app, told):
    [notice] = notice_ids(app, "bob@example.com")
    page = told.page().text
    assert f'hx-post="/notices/{notice}/dismiss"' in page and 'hx-target="closest .notice-item"' in page
    response = told.client.post(f"/notices/{notice}/dismiss", headers={"HX-Request": "true",
                                                                      "X-CSRFToken": told.csrf})
    assert response.status_code == 200 and response.data == b""
    assert banner(told.page().text) == ""
    assert notice_ids(app, "ada@example.com") != []  # the owner's own notice stays until she dismisses it


def test_dismissing_a_notice_without_javascript_goes_back(app, told):
    [notice] = notice_ids(app, "bob@example.com")
    page = told.client.get("/preferences?q=deploy").text
    assert '<input type="hidden" name="next" value="/preferences?q=deploy">' in page
    response = told.client.post(f"/notices/{notice}/dismiss", data={"csrf_token": told.csrf,
                                                                     "next": "/preferences?q=deploy"})
    assert response.status_code == 302 and response.headers["Location"] == "/preferences?q=deploy"
    assert notice_ids(app, "bob@example.com") == []


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/", "/\\evil.example", ""])
def test_dismiss_never_leads_to_another_site(app, told, elsewhere):
    [notice] = notice_ids(app, "bob@example.com")
    response = told.client.post(f"/notices/{notice}/dismiss", data={"csrf_token": told.csrf, "next": elsewhere})
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "no-js"])
def test_another_members_notice_is_not_found(app, told, htmx):
    [owners] = notice_ids(app, "ada@example.com")
    headers = {"HX-Request": "true", "X-CSRFToken": told.csrf} if htmx else {}
    response = told.client.post(f"/notices/{owners}/dismiss", data={} if htmx else {"csrf_token": told.csrf},
                                headers=headers)
    assert response.status_code == 404
    assert "That notice is no longer there." in response.text
    assert notice_ids(app, "ada@example.com") == [owners]


def test_pages_without_notices_show_no_banner(app):
    assert '<section class="notices"' not in signed_in(app, "bob@example.com").page().text


def test_a_notice_reads_as_text_with_its_hint_and_time_kept_whole(app):
    value, hint = issue(app, "bob@example.com", "<b>bold</b> bot")
    with app.app_context():
        service.revoke_leaked([value], ip="192.0.2.7")
        db.session.commit()
    page = signed_in(app, "bob@example.com").page().text
    assert "“&lt;b&gt;bold&lt;/b&gt; bot”" in page and "<b>bold</b>" not in page
    assert f"(<code>{hint}</code>)" in page
    assert re.search(r'reported leaked from 192\.0\.2\.7 at <span class="time">\d{4}-\d\d-\d\d \d\d:\d\d UTC</span>',
                     page)
