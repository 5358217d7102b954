"""The walkthrough of the product, in Chromium: generate, copy, OK, reload, delete."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tokens.extensions import db
from tokens.models import ApiToken

from .conftest import close_dialog, sign_in

TOKEN_PATTERN = re.compile(r"tok_[0-9A-Za-z]{36}")
EMPTY = re.compile(r"no API tokens in this account yet\.$")


def tokens_of(live_app, member_id):
    with live_app.app_context():
        return list(db.session.scalars(select(ApiToken).filter_by(member_id=member_id)))


def count_navigations(page):
    """Record page loads from now on; a marker on ``window`` survives only if none happens."""
    navigations = []
    page.on("request", lambda request: navigations.append(request.url)
            if request.is_navigation_request() else None)
    page.evaluate("window.stillTheSamePage = true")
    return navigations


def record_writes(page):
    """Record the (method, URL) of every request other than a GET the page sends from now on."""
    sent = []
    page.on("request", lambda request: sent.append((request.method, request.url)) if request.method != "GET" else None)
    return sent


def test_generate_copy_ok_reload_delete(page, live_app, account, problems):
    sign_in(page, account)
    section = page.get_by_role("region", name="API tokens")
    expect(section.get_by_text(EMPTY)).to_be_visible()
    navigations = count_navigations(page)
    # A token expires in 30 days unless chosen otherwise; choosing Never shows, beside it, what that means.
    expires = page.get_by_label("Expires", exact=True)
    expect(expires).to_have_value("30")
    warning = page.get_by_text("A token that never expires stays valid until someone deletes it.")
    expect(warning).to_be_hidden()
    expires.select_option("never")
    expect(warning).to_be_visible()
    assert warning.bounding_box()["x"] > expires.bounding_box()["x"] + expires.bounding_box()["width"]
    expires.select_option("30")
    expect(warning).to_be_hidden()
    page.get_by_label("Token name (optional)").fill("deploy bot")
    page.get_by_role("button", name="Generate new token").click()

    dialog = page.locator("dialog[data-once-secret]")
    expect(dialog).to_be_visible()
    assert dialog.evaluate("d => d.matches(':modal')")
    expect(dialog).to_contain_text("shown only this once")
    expect(dialog).to_contain_text("share them with no one")
    token = page.locator("#new-token").input_value()
    assert TOKEN_PATTERN.fullmatch(token)
    expect(page.locator("#new-account-id")).to_have_value(account["id"])

    # The row is already in the list, behind the dialog.
    row = section.locator("tr.token-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("deploy bot")
    expect(section.get_by_text(EMPTY)).to_be_hidden()

    for button, expected in [
        (dialog.locator("[data-copy=new-account-id]"), account["id"]),
        (dialog.locator("[data-copy=new-token]"), token),
        (dialog.locator("[data-copy=new-headers]"), f"X-Account-Id: {account['id']}\nX-Auth-Token: {token}"),
    ]:
        button.click()
        expect(button).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == expected
    expect(dialog.locator("[data-copy-status]")).to_contain_text("Copied")

    # Escape (twice, which Chromium otherwise honours) and a click outside keep the dialog.
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.mouse.click(5, 5)
    expect(dialog).to_be_visible()

    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("dialog")).to_have_count(0)
    assert token not in page.content()
    cells = row.locator("td")
    expect(cells.first.locator("time")).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    expect(cells.last.get_by_role("button", name=re.compile("Delete"))).to_be_visible()
    assert navigations == [] and page.evaluate("window.stillTheSamePage")

    page.reload()
    assert token not in page.content()
    assert token[-4:] in page.locator("tr.token-row").inner_text()
    navigations = count_navigations(page)

    confirmations = []
    page.once("dialog", lambda box: (confirmations.append(box.message), box.accept()))
    page.locator("tr.token-row").get_by_role("button", name=re.compile("Delete")).click()
    expect(page.locator("tr.token-row")).to_have_count(0)
    assert "“deploy bot”" in confirmations[0]
    expect(page.locator("#messages")).to_contain_text("The token was deleted")
    expect(section.get_by_text(EMPTY)).to_be_visible()
    assert navigations == [] and page.evaluate("window.stillTheSamePage")
    assert tokens_of(live_app, account["member_id"]) == []
    assert problems == []


def test_declining_the_confirmation_keeps_the_token(page, live_app, account):
    sign_in(page, account)
    page.get_by_role("button", name="Generate new token").click()
    close_dialog(page)
    sent = record_writes(page)
    page.evaluate("document.addEventListener('htmx:finally:request', () => { window.attemptEnded = true })")
    page.once("dialog", lambda box: box.dismiss())
    page.locator("tr.token-row").get_by_role("button", name=re.compile("Delete")).click()
    # htmx ends the attempt at once when the confirmation is declined; had it gone on, the end would
    # come only after the DELETE's answer was swapped in (the row gone).
    page.wait_for_function("() => window.attemptEnded === true")
    assert sent == []
    expect(page.locator("tr.token-row")).to_have_count(1)
    assert len(tokens_of(live_app, account["member_id"])) == 1


def test_a_double_click_makes_one_token_and_one_dialog(page, live_app, account, problems):
    sign_in(page, account)
    sent = record_writes(page)
    page.evaluate("""() => {
      const seen = window.seen = {pointerUps: 0, started: 0, ended: 0};
      addEventListener("pointerup", () => seen.pointerUps++, true);  // dispatched on a disabled button too
      document.addEventListener("htmx:before:request", () => seen.started++);
      document.addEventListener("htmx:finally:request", () => seen.ended++);
    }""")
    page.get_by_role("button", name="Generate new token").dblclick()
    expect(page.locator("dialog[data-once-secret]")).to_be_visible()
    # htmx goes from a click to its request (or drops it) without waiting: once both clicks were
    # handled and every request started has ended, the second click has done all it could.
    page.wait_for_function("() => seen.pointerUps === 2 && seen.ended === seen.started")
    assert page.evaluate("seen.started") == 1
    assert [method for method, _ in sent] == ["POST"]
    expect(page.locator("dialog")).to_have_count(1)
    expect(page.locator("tr.token-row")).to_have_count(1)
    assert len(tokens_of(live_app, account["member_id"])) == 1
    # The fresh form makes a second, distinct token.
    close_dialog(page)
    page.get_by_role("button", name="Generate new token").click()
    expect(page.locator("tr.token-row")).to_have_count(2)
    assert len(tokens_of(live_app, account["member_id"])) == 2
    assert problems == []


def test_a_token_deleted_in_another_tab_leaves_this_row_with_a_message(page, context, live_app, account):
    sign_in(page, account)
    page.get_by_role("button", name="Generate new token").click()
    close_dialog(page)
    other = context.new_page()
    other.goto("/preferences")
    other.on("dialog", lambda box: box.accept())
    other.locator("tr.token-row").get_by_role("button", name=re.compile("Delete")).click()
    expect(other.locator("tr.token-row")).to_have_count(0)

    page.on("dialog", lambda box: box.accept())
    page.locator("tr.token-row").get_by_role("button", name=re.compile("Delete")).click()
    expect(page.locator("tr.token-row")).to_have_count(0)
    expect(page.locator("#messages")).to_contain_text("already been deleted")


def test_a_signed_out_htmx_request_goes_to_sign_in(page, context, account):
    sign_in(page, account)
    page.get_by_role("button", name="Generate new token").click()
    close_dialog(page)
    context.clear_cookies()
    page.on("dialog", lambda box: box.accept())
    page.locator("tr.token-row").get_by_role("button", name=re.compile("Delete")).click()
    page.wait_for_url(re.compile(r"/signin\?next=(/|%2F)preferences$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("table")).to_have_count(0)


def test_without_javascript_both_actions_work_as_form_posts(browser, base_url, live_app, account):
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, account)
    page.get_by_label("Token name (optional)").fill("no script")
    page.get_by_role("button", name="Generate new token").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    token = page.locator("#new-token").input_value()
    assert TOKEN_PATTERN.fullmatch(token)
    expect(page.locator("tr.token-row")).to_contain_text("no script")

    dialog.get_by_role("button", name="OK").click()  # a GET form: the page again, without the secret
    page.wait_for_url(re.compile(r"/preferences\??$"))
    assert token not in page.content()

    page.locator("tr.token-row").get_by_role("button", name=re.compile("Delete")).click()
    expect(page.get_by_role("heading", name="Delete the token “no script”?")).to_be_visible()
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url("**/preferences")
    expect(page.locator("#messages")).to_contain_text("The token was deleted")
    expect(page.locator("tr.token-row")).to_have_count(0)
    assert tokens_of(live_app, account["member_id"]) == []
    context.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_without_javascript_the_new_secret_is_on_the_first_screen(browser, base_url, account, width):
    """After Generate the page opens on the once-only dialog, above the token list, not under it."""
    viewport = {"width": width, "height": 844 if width < 600 else 800}
    context = browser.new_context(base_url=base_url, java_script_enabled=False, viewport=viewport)
    page = context.new_page()
    sign_in(page, account)
    for number in range(3):  # a list long enough to push whatever follows it off the first screen
        page.get_by_label("Token name (optional)").fill(f"earlier {number}")
        page.get_by_role("button", name="Generate new token").click()
        page.locator("dialog[open]").get_by_role("button", name="OK").click()
        page.wait_for_url(re.compile(r"/preferences\??$"))
    page.get_by_label("Token name (optional)").fill("first screen")
    page.get_by_role("button", name="Generate new token").click()
    expect(page.locator("dialog[open]")).to_be_visible()
    expect(page.locator("#token-dialog-warning")).to_contain_text("shown only this once")
    field = page.locator("#new-token").bounding_box()
    assert field["y"] + field["height"] <= viewport["height"]
    assert field["y"] < page.locator("#token-rows").bounding_box()["y"]
    context.close()


def test_focus_goes_to_the_new_row_after_ok_and_to_the_next_row_after_delete(page, account, problems):
    sign_in(page, account)
    page.on("dialog", lambda box: box.accept())  # the confirm box of Delete
    for name in ("older", "newer"):
        page.get_by_label("Token name (optional)").fill(name)
        page.get_by_role("button", name="Generate new token").click()
        close_dialog(page)
        expect(page.get_by_role("button", name=f"Delete the token {name}")).to_be_focused()

    page.get_by_role("button", name="Delete the token newer").click()  # newest first: the top row
    expect(page.locator("tr.token-row", has_text="newer")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete the token older")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("tr.token-row")).to_have_count(0)
    expect(page.get_by_role("button", name="Generate new token")).to_be_focused()
    assert problems == []
