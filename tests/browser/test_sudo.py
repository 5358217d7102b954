"""Sudo mode in Chromium: an old password is asked again, in a dialog or on a page, and the action goes on."""

import re
import time

import pytest
from playwright.sync_api import expect

from tokens import service
from tokens.extensions import db

from ..conftest import PASSWORD
from .conftest import sign_in
from .test_accessibility import violations
from .test_walkthrough import count_navigations

HOUR = 3600
# What Chromium's console says of each ask (its answer is a 403: the action was not taken); nothing else may show.
ASKED = "Failed to load resource: the server responded with a status of 403 (FORBIDDEN)"
REFUSED = "Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)"
TOKEN = re.compile(r"^tok_[0-9A-Za-z]{36}$")


def password_typed_hours_ago(page, live_app, hours: float) -> None:
    """Age the browser's session as if the password was typed ``hours`` ago (signed as the portal signs it)."""
    serializer = live_app.session_interface.get_signing_serializer(live_app)
    cookie = next(c for c in page.context.cookies() if c["name"] == live_app.config["SESSION_COOKIE_NAME"])
    session = serializer.loads(cookie["value"])
    session["password_at"] = int(time.time() - hours * HOUR)
    page.context.add_cookies([{**cookie, "value": serializer.dumps(session)}])


def generate_with_an_old_password(page, live_app, account, name):
    """Sign in, let three hours pass since the password was typed, then ask for a token named ``name``."""
    sign_in(page, account)
    password_typed_hours_ago(page, live_app, 3)
    page.get_by_label("Token name (optional)").fill(name)
    page.get_by_role("button", name="Generate new token").click()


def test_with_javascript_a_dialog_asks_and_the_token_follows(page, live_app, account, problems):
    generate_with_an_old_password(page, live_app, account, "asked again")

    dialog = page.get_by_role("dialog", name="Confirm your password")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("You are about to generate an API token.")
    expect(dialog.get_by_label("Your password")).to_be_focused()  # type at once; Enter confirms
    assert violations(page) == []
    assert problems == [ASKED]

    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/preferences/tokens")
    secret = page.get_by_role("dialog", name="Your new API token")
    expect(secret).to_be_visible()
    expect(secret.get_by_label("Token “asked again”")).to_have_value(TOKEN)
    expect(page.locator("tr.token-row", has_text="asked again")).to_have_count(1)


@pytest.mark.parametrize("leave", ["Cancel", "Escape"])
def test_leaving_the_dialog_takes_no_action(page, live_app, account, problems, leave):
    generate_with_an_old_password(page, live_app, account, "never made")
    dialog = page.get_by_role("dialog", name="Confirm your password")
    expect(dialog).to_be_visible()
    if leave == "Cancel":
        dialog.get_by_role("button", name="Cancel").click()
    else:
        page.keyboard.press("Escape")
    expect(page.locator("dialog")).to_have_count(0)
    page.reload()
    expect(page.locator("tr.token-row", has_text="never made")).to_have_count(0)
    # Asked again, it asks again.
    page.get_by_role("button", name="Generate new token").click()
    expect(page.get_by_role("dialog", name="Confirm your password")).to_be_visible()
    assert problems == [ASKED, ASKED]


def test_with_javascript_a_role_change_goes_on_after_the_password(page, live_app, account, problems):
    with live_app.app_context():
        service.add_member(service.find_account(account["id"]), f"helper-{account['id'].lower()}@example.com",
                           "Helper", PASSWORD, "member")
        db.session.commit()
    sign_in(page, account)
    password_typed_hours_ago(page, live_app, 3)
    page.goto("/members")
    save = page.locator("tr", has_text="Helper").get_by_role("button", name="Save")
    page.get_by_label("Role of Helper").select_option("admin")
    save.click()
    # Cancelled, the select shows the role Helper still holds, not the one never saved.
    page.get_by_role("dialog", name="Confirm your password").get_by_role("button", name="Cancel").click()
    expect(page.get_by_label("Role of Helper")).to_have_value("member")
    page.get_by_label("Role of Helper").select_option("admin")
    save.click()
    page.get_by_role("dialog", name="Confirm your password").get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/members")
    expect(page.locator("#messages")).to_contain_text("Helper is now admin.")
    expect(page.get_by_label("Role of Helper")).to_have_value("admin")
    # The password fresh, htmx changes roles in place, saying so as the page did; the only owner's role is
    # disabled until someone else is owner.
    owner_row = page.locator("tr", has_text=account["email"])
    own = owner_row.get_by_role("combobox")
    expect(own).to_be_disabled()
    expect(owner_row).to_contain_text("The account needs at least one owner: make someone else an owner first.")
    navigations = count_navigations(page)
    page.get_by_label("Role of Helper").select_option("owner")
    save.click()
    expect(page.locator("#messages")).to_contain_text("Helper is now owner.")
    expect(own).to_be_enabled()
    # Helper loses the role elsewhere: demoting oneself is refused, and the select shows the role still held.
    with live_app.app_context():
        service.set_role(account["id"], f"helper-{account['id'].lower()}@example.com", "admin")
        db.session.commit()
    own.select_option("member")
    owner_row.get_by_role("button", name="Save").click()
    expect(page.locator("#messages")).to_contain_text(
        "The account needs at least one owner: make someone else an owner first.")
    expect(own).to_have_value("owner")
    expect(own).to_be_disabled()
    expect(page.get_by_label("Role of Helper")).to_have_value("admin")
    assert navigations == [] and page.evaluate("window.stillTheSamePage")
    assert problems == [ASKED, ASKED, REFUSED]


def test_without_javascript_a_page_asks_and_the_token_follows(browser, base_url, live_app, account):
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    page = context.new_page()
    generate_with_an_old_password(page, live_app, account, "asked on a page")

    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    page.get_by_label("Your password").fill("not my password")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("That is not your password.")).to_be_visible()
    expect(page.get_by_role("link", name="Cancel")).to_have_attribute("href", "/preferences")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_label("Token “asked on a page”")).to_have_value(TOKEN)
    context.close()


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_dialog_and_the_page_fit_every_screen(browser, base_url, live_app, account, width, scheme):
    for javascript in (True, False):
        context = browser.new_context(base_url=base_url, viewport={"width": width, "height": 844},
                                      color_scheme=scheme, java_script_enabled=javascript)
        page = context.new_page()
        generate_with_an_old_password(page, live_app, account, "")
        asked = page.locator("#confirm-password")
        expect(asked).to_be_visible()
        box = asked.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        expect(page.get_by_role("button", name="Confirm")).to_be_in_viewport()
        context.close()
