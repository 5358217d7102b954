"""The notices banner, in Chromium: a token reported leaked through the API shows on the member's next page."""

import json

from playwright.sync_api import expect
from sqlalchemy import select

from tokens import service
from tokens.extensions import db
from tokens.models import Membership

from ..conftest import API
from .conftest import sign_in
from .test_accessibility import violations


def test_a_leak_report_shows_on_the_next_page_and_dismisses_in_place(page, live_app, base_url, account, problems):
    with live_app.app_context():
        membership = db.session.scalar(select(Membership).filter_by(member_id=account["member_id"]))
        token, value = service.issue_token(membership, "Deploy bot")
        db.session.commit()
        hint = token.hint
    sign_in(page, account)
    reported = page.request.post(f"{base_url}{API}/tokens/revoke", data=json.dumps([value]),
                                 headers={"Content-Type": "application/json"})
    assert reported.status == 202

    page.reload()
    banner = page.get_by_role("region", name="Needs your attention")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(f"Your token “Deploy bot” ({hint}) in {membership_name(live_app, account)}"
                                   " was reported leaked")
    assert violations(page) == []
    page.evaluate("window.stillTheSamePage = true")
    dismiss = banner.get_by_role("button", name="Dismiss")
    dismiss.focus()
    page.keyboard.press("Enter")  # reachable and usable by keyboard
    expect(banner).to_be_hidden()
    expect(page.locator(".notice-item")).to_have_count(0)
    assert page.evaluate("window.stillTheSamePage") is True  # removed in place, no page load
    assert page.evaluate("document.activeElement.id") == "main"  # focus did not fall to <body>
    page.reload()
    expect(page.locator("section.notices")).to_have_count(0)
    assert problems == []


def membership_name(live_app, account):
    with live_app.app_context():
        return service.find_account(account["id"]).name
