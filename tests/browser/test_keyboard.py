"""The whole walkthrough with the keyboard alone: sign in, generate, copy, OK, delete with its confirmation."""

from playwright.sync_api import expect

from ..conftest import PASSWORD
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
