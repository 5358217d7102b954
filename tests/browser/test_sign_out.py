"""Signing out in Chromium: Back must not bring a signed-in page back from a cache."""

import re

import pytest
from playwright.sync_api import expect

from tokens import service
from tokens.extensions import db
from tokens.models import Member

from .conftest import sign_in


@pytest.fixture
def everyday_page(browser_type, browser_type_launch_args, base_url):
    """A page of a Chromium with its back/forward cache on, as people's are (Playwright turns it off)."""
    browser = browser_type.launch(**browser_type_launch_args, ignore_default_args=["--disable-back-forward-cache"])
    page = browser.new_context(base_url=base_url).new_page()
    yield page
    browser.close()


def give_token(live_app, account, name):
    """Give the account's owner a token named ``name``, as if made earlier."""
    with live_app.app_context():
        member = db.session.get(Member, account["member_id"])
        service.issue_token(service.membership_in(member, account["id"]), name, via="web")
        db.session.commit()


def test_back_after_sign_out_shows_sign_in_not_the_page(everyday_page, live_app, account):
    page = everyday_page
    give_token(live_app, account, "back-button canary")
    sign_in(page, account)
    expect(page.locator("tr.token-row", has_text="back-button canary")).to_be_visible()
    expect(page.locator(".account-line")).to_contain_text(account["id"])

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    page.go_back(wait_until="commit")  # a page restored from the cache fires no load event

    # Nothing kept the page: the browser asked again, and the portal sent it to sign in.
    expect(page).to_have_url(re.compile(r"/signin\?next=/preferences$"))
    content = page.content()
    assert "back-button canary" not in content and account["id"] not in content
