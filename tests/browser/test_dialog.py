"""The once-only dialog in Chromium: focus, asking before a secret is discarded, snippet formats, manual copy."""

import json
import re
import subprocess

from playwright.sync_api import expect

from .conftest import INSECURE_HOST, close_dialog, sign_in


def generate(page, name="deploy"):
    page.get_by_label("Token name (optional)").fill(name)
    page.get_by_role("button", name="Generate new token").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    return dialog


def test_focus_moves_into_the_dialog_and_ok_asks_once_before_discarding(page, account, problems):
    sign_in(page, account)
    dialog = generate(page)
    assert page.evaluate("document.activeElement.closest('dialog') !== null")
    token = page.locator("#new-token").input_value()
    page.keyboard.press("Escape")
    dialog.get_by_role("button", name="OK").click()
    expect(dialog).to_be_visible()  # not yet: nothing was copied
    expect(dialog.locator("[data-copy-status]")).to_contain_text("Nothing was copied yet")
    assert token in page.content()
    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("dialog")).to_have_count(0)
    assert token not in page.content()
    assert problems == []


def test_copying_or_the_stored_box_lets_ok_close_at_once(page, account, problems):
    sign_in(page, account)
    dialog = generate(page, "copied")
    dialog.locator("[data-copy=new-account-id]").click()  # the account id alone keeps nothing secret
    dialog.get_by_role("button", name="OK").click()
    expect(dialog.locator("[data-copy-status]")).to_contain_text("Nothing was copied yet")
    dialog.locator("[data-copy=new-token]").click()
    expect(dialog.locator("[data-copy-status]")).to_have_text("Copied: Token “copied”.")
    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("dialog")).to_have_count(0)

    generate(page, "stored")
    close_dialog(page)  # ticks "I have stored…", then OK closes at once
    assert problems == []


def test_the_snippet_formats_are_ready_to_use(page, base_url, account, problems):
    sign_in(page, account)
    dialog = generate(page, "snippets")
    account_id, token = page.locator("#new-account-id").input_value(), page.locator("#new-token").input_value()
    snippet = dialog.locator("#new-headers")
    expect(snippet).to_have_value(f"X-Account-Id: {account_id}\nX-Auth-Token: {token}")

    dialog.get_by_label("Copy as:").select_option(label=".env lines")
    expect(dialog.get_by_label("Both (.env lines)")).to_have_value(
        f"PORTAL_ACCOUNT_ID={account_id}\nPORTAL_AUTH_TOKEN={token}")

    dialog.get_by_label("Copy as:").select_option(label="curl command")
    dialog.get_by_role("button", name="Copy both").click()
    expect(dialog.locator("[data-copy-status]")).to_have_text("Copied: Both (curl command).")
    command = page.evaluate("navigator.clipboard.readText()")
    assert command.startswith("curl ") and f"{base_url}/api/2018-10-01/tokens/self" in command
    # The copied command works as pasted into a shell: it authenticates as the new token.
    answer = subprocess.run(["sh", "-c", command + " --silent --max-time 10"], capture_output=True, text=True,
                            check=True).stdout
    me = json.loads(answer)["data"]
    assert me["account"]["id"] == account_id and me["token"]["name"] == "snippets"
    close_dialog(page)
    assert problems == []


def test_without_a_clipboard_the_value_is_selected_for_a_manual_copy(browser, base_url, account):
    """http://portal.test:PORT (loopback, mapped by Chromium) is not a secure context: no Clipboard API."""
    port = re.search(r":(\d+)$", base_url).group(1)
    context = browser.new_context(base_url=f"http://{INSECURE_HOST}:{port}")
    page = context.new_page()
    sign_in(page, account)
    assert page.evaluate("window.isSecureContext") is False
    dialog = generate(page, "manual copy")
    dialog.locator("[data-copy=new-token]").click()
    status = dialog.locator("[data-copy-status]")
    expect(status).to_have_text("Token “manual copy” is selected: press Ctrl+C (⌘C on a Mac) to copy it.")
    token = page.locator("#new-token").input_value()
    assert page.evaluate("window.getSelection().toString() || document.activeElement.value.substring("
                         "document.activeElement.selectionStart, document.activeElement.selectionEnd)") == token
    page.keyboard.press("Control+C")  # the manual copy counts: OK now closes at once
    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("dialog")).to_have_count(0)
    context.close()
