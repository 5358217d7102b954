"""A team in Chromium: an owner invites, the newcomer joins and makes a token, the owner deletes it in place."""

import re

from playwright.sync_api import expect

from tokens import service
from tokens.extensions import db
from tokens.models import Membership

from ..conftest import PASSWORD
from .conftest import close_dialog, sign_in
from .test_keyboard import tab_to
from .test_walkthrough import count_navigations


def test_invite_join_generate_and_the_owner_deletes_in_place(page, browser, base_url, account, problems):
    sign_in(page, account)
    page.get_by_role("link", name="Members").click()
    email = f"joiner-{account['id'].lower()}@example.com"
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Create an invitation link").click()
    link = page.get_by_label("Invitation link").input_value()
    assert re.fullmatch(rf"{re.escape(base_url)}/join/\S+", link)
    # The link's expiry and the pending invitation's show in local time, the exact UTC time on hover.
    for expiry in (page.locator(".secret-box time"), page.locator(".invitations time")):
        expect(expiry).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
        expect(expiry).not_to_have_text(re.compile("UTC"))

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
    # With JavaScript, choosing a member applies the filter at once, in place.
    page.get_by_label("Tokens of").select_option(str(account["member_id"]))  # the owner, who has no token
    expect(row).to_have_count(0)
    expect(page.get_by_text("No API tokens to show.")).to_be_visible()
    page.get_by_label("Tokens of").select_option(label="everyone in the account")
    expect(row).to_have_count(1)
    confirmations = []
    page.once("dialog", lambda box: (confirmations.append(box.message), box.accept()))
    row.get_by_role("button", name=re.compile("Delete")).click()
    expect(row).to_have_count(0)
    assert "of Joiner" in confirmations[0]
    assert navigations == [] and page.evaluate("window.stillTheSamePage")

    newcomer.reload()
    expect(newcomer.locator("tr.token-row")).to_have_count(0)

    # The owner removes the newcomer; the owner's own Remove, next in the list, is disabled: focus goes to <main>.
    page.goto("/members")
    page.once("dialog", lambda box: box.accept())
    page.get_by_role("button", name="Remove Joiner").click()
    expect(page.locator("#messages")).to_contain_text("Joiner was removed from the account, with 0 tokens.")
    expect(page.locator("#main")).to_be_focused()
    assert problems == []
    newcomer_context.close()


def test_a_member_of_another_account_joins_from_the_link_with_their_password(page, live_app, account, problems):
    """Signed out, by keyboard: the link's form is the newcomer's, and their own password joins their sign-in."""
    with live_app.app_context():
        elsewhere = service.create_account(f"Elsewhere {account['id']}")
        email = service.add_member(elsewhere, f"known-{account['id'].lower()}@example.com", "Known Person",
                                   PASSWORD).member.email
        owner = db.session.scalar(db.select(Membership).filter_by(member_id=account["member_id"]))
        _, link_token = service.invite(owner, email, "member")
        db.session.commit()
    page.goto(f"/join/{link_token}")
    expect(page.get_by_role("heading", name=re.compile("^Join Team"))).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("already has a sign-in")
    tab_to(page, page.get_by_label("Your name"))
    page.keyboard.type("Someone Else")  # not theirs to change here: the name stays as it was
    tab_to(page, page.get_by_label("Password", exact=True))
    page.keyboard.type(PASSWORD)
    tab_to(page, page.get_by_label("Repeat the password"))
    page.keyboard.type(PASSWORD)
    tab_to(page, page.get_by_role("button", name="Join"))
    page.keyboard.press("Enter")
    page.wait_for_url("**/preferences")
    expect(page.locator("#messages")).to_contain_text(re.compile(
        r"You already had a sign-in here, so Team \d+ was added to it\. Your name and password are unchanged\."))
    expect(page.get_by_role("combobox", name="Account")).to_have_value(account["id"])
    with live_app.app_context():
        assert service.find_member(email).display_name == "Known Person"
    assert problems == []
