"""A team in Chromium: an owner invites, the newcomer joins and makes a token, the owner deletes it in place."""

import re

from playwright.sync_api import expect

from ..conftest import PASSWORD
from .conftest import close_dialog, sign_in
from .test_walkthrough import count_navigations


def test_invite_join_generate_and_the_owner_deletes_in_place(page, browser, base_url, account, problems):
    sign_in(page, account)
    page.get_by_role("link", name="Members").click()
    email = f"joiner-{account['id'].lower()}@example.com"
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Create an invitation link").click()
    link = page.get_by_label("Invitation link").input_value()
    assert re.fullmatch(rf"{re.escape(base_url)}/join/\S+", link)

    newcomer_context = browser.new_context(base_url=base_url)
    newcomer = newcomer_context.new_page()
    newcomer.goto(link)
    expect(newcomer.get_by_role("heading", name=re.compile("^Join Team"))).to_be_visible()
    newcomer.get_by_label("Your name").fill("Joiner")
    newcomer.get_by_label("Password", exact=True).fill(PASSWORD)
    newcomer.get_by_label("Repeat the password").fill(PASSWORD)
    newcomer.get_by_role("button", name="Join").click()
    newcomer.wait_for_url("**/preferences")
    newcomer.get_by_label("Token name (optional)").fill("joiner's deploy")
    newcomer.get_by_role("button", name="Generate new token").click()
    expect(newcomer.locator("#new-account-id")).to_have_value(account["id"])
    close_dialog(newcomer)
    expect(newcomer.locator("tr.token-row")).to_have_count(1)

    page.goto("/preferences")
    row = page.locator("tr.token-row", has_text="joiner's deploy")
    expect(row).to_contain_text("Joiner")
    navigations = count_navigations(page)
    confirmations = []
    page.once("dialog", lambda box: (confirmations.append(box.message), box.accept()))
    row.get_by_role("button", name=re.compile("Delete")).click()
    expect(row).to_have_count(0)
    assert "of Joiner" in confirmations[0]
    assert navigations == [] and page.evaluate("window.stillTheSamePage")

    newcomer.reload()
    expect(newcomer.locator("tr.token-row")).to_have_count(0)
    assert problems == []
    newcomer_context.close()
