"""The whole walkthrough with the keyboard alone: sign in, generate, copy, OK, delete with its confirmation."""

from playwright.sync_api import expect

from ..conftest import PASSWORD
from .conftest import sign_in
from .test_walkthrough import tokens_of


def tab_to(page, target, limit=60):
    """Press Tab until ``target`` has the focus, which must be visible; fail if Tab never gets there."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            assert target.evaluate("element => getComputedStyle(element).outlineStyle") != "none", "focus not shown"
            return
    raise AssertionError(f"Tab never reaches {target}")


def test_the_walkthrough_with_the_keyboard_alone(page, live_app, account, problems):
    page.goto("/signin")
    tab_to(page, page.get_by_label("Email"))
    page.keyboard.type(account["email"])
    tab_to(page, page.get_by_label("Password"))
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/preferences")

    tab_to(page, page.get_by_label("Token name (optional)"))
    page.keyboard.type("keyboard")
    tab_to(page, page.get_by_role("button", name="Generate new token"))
    page.keyboard.press("Enter")
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    assert page.evaluate("document.activeElement.closest('dialog') !== null")  # focus moved into it

    tab_to(page, dialog.get_by_role("button", name="Copy both"))
    page.keyboard.press("Enter")
    expect(dialog.locator("[data-copy-status]")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()").startswith("X-Account-Id: ")
    tab_to(page, dialog.get_by_role("button", name="OK"))
    page.keyboard.press("Space")  # a real button: Space presses it (on a link it would scroll)
    expect(page.locator("dialog")).to_have_count(0)

    row = page.locator("tr.token-row", has_text="keyboard")
    confirmations = []
    page.once("dialog", lambda box: (confirmations.append(box.message), box.accept()))  # Enter on the confirm box
    tab_to(page, row.get_by_role("button", name="Delete the token keyboard"))
    page.keyboard.press("Enter")
    expect(row).to_have_count(0)
    assert "“keyboard”" in confirmations[0]
    expect(page.locator("#messages")).to_contain_text("The token was deleted")
    assert tokens_of(live_app, account["member_id"]) == []
    assert problems == []


def test_the_first_tab_reaches_a_skip_link_to_the_main_content(page, account, problems):
    sign_in(page, account)
    for path in ("/preferences", "/members"):
        page.goto(path)
        skip = page.get_by_role("link", name="Skip to main content")
        assert skip.bounding_box()["width"] <= 1  # out of sight until it has the focus
        page.keyboard.press("Tab")
        expect(skip).to_be_focused()
        assert skip.bounding_box()["width"] > 50
        page.keyboard.press("Enter")
        expect(page.locator("main#main")).to_be_focused()
        page.keyboard.press("Tab")  # Tab goes on from main, past the header
        assert page.evaluate("document.querySelector('main').contains(document.activeElement)")
    assert problems == []


def test_on_sign_in_shift_tab_from_the_email_reaches_the_skip_link(page):
    page.goto("/signin")
    expect(page.get_by_label("Email")).to_be_focused()  # autofocus: main content already
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
