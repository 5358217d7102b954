"""Rotate in Chromium, with the keyboard alone: the grace asked in a dialog, the new secret in the once-only
dialog, the old row marked replaced, both secrets working during the grace (the old one refused once the clock
passes it), and Delete ending it at once."""

import re
import urllib.error
import urllib.request
from datetime import timedelta

from freezegun import freeze_time
from playwright.sync_api import expect

from tokens.models import utcnow

from .conftest import close_dialog, sign_in


def api_status(base_url, account, secret) -> int:
    """Call the live portal's API (the token list, which every token may read) with ``secret``; return the status."""
    request = urllib.request.Request(f"{base_url}/api/2018-10-01/tokens",  # noqa: S310 (the test's own server)
                                     headers={"X-Account-Id": account["id"], "X-Auth-Token": secret})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def focused(locator) -> bool:
    return locator.evaluate("element => element === document.activeElement")


def test_rotate_with_an_hours_grace_then_delete_the_old_token(page, base_url, live_app, account, problems):
    sign_in(page, account)
    page.get_by_label("Token name (optional)").fill("deploy")
    page.get_by_label("Token name (optional)").press("Enter")
    old_secret = page.locator("#new-token").input_value()
    close_dialog(page)  # the focus goes on to the new row's Delete
    rows = page.locator("tr.token-row")
    rotate = rows.get_by_role("button", name="Rotate the token deploy")
    page.keyboard.press("Shift+Tab")
    assert focused(rotate)

    # Rotate asks in a modal dialog, 24 hours chosen; Escape takes it away and gives the focus back.
    page.keyboard.press("Enter")
    asking = page.locator("dialog#rotate-dialog")
    expect(asking).to_be_visible()
    assert asking.evaluate("dialog => dialog.matches(':modal')")
    expect(asking.get_by_label("24 hours")).to_be_checked()
    assert focused(asking.get_by_label("24 hours"))
    page.keyboard.press("Escape")
    expect(asking).to_have_count(0)
    assert focused(rotate)

    page.keyboard.press("Enter")
    expect(asking.get_by_label("24 hours")).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(asking.get_by_label("1 hour")).to_be_checked()
    page.keyboard.press("Tab")  # past the hint, to the dialog's own Rotate
    expect(asking.get_by_role("button", name="Rotate", exact=True)).to_be_focused()
    page.keyboard.press("Enter")

    # The new secret in the same once-only dialog as Generate's.
    secret_dialog = page.locator("dialog[data-once-secret]")
    expect(secret_dialog).to_be_visible()
    expect(asking).to_have_count(0)
    new_secret = page.locator("#new-token").input_value()
    assert re.fullmatch(r"tok_[0-9A-Za-z]{36}", new_secret) and new_secret != old_secret
    close_dialog(page)

    # Two rows: the new one on top, the old one replaced, working for an hour more, with Delete and no Rotate.
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator('td[data-label="Expires"]')).not_to_contain_text("Replaced")
    old_row = rows.nth(1)
    expect(old_row.locator('td[data-label="Expires"]')).to_have_text(
        re.compile(r"^Replaced, stops working at .+\(in 1 hour\)$"))
    expect(old_row.get_by_role("button", name="Rotate the token deploy")).to_have_count(0)
    assert api_status(base_url, account, old_secret) == 200 and api_status(base_url, account, new_secret) == 200
    # With the clock moved past the hour (the same app, asked in-process), the old one is refused, the new one not.
    with freeze_time(utcnow() + timedelta(hours=1, minutes=1)):
        client = live_app.test_client()
        for secret, status in ((old_secret, 401), (new_secret, 200)):
            headers = {"X-Account-Id": account["id"], "X-Auth-Token": secret}
            assert client.get("/api/2018-10-01/tokens", headers=headers).status_code == status

    # Delete ends the grace at once.
    delete = old_row.get_by_role("button", name="Delete the token deploy")
    delete.focus()
    page.once("dialog", lambda box: box.accept())
    page.keyboard.press("Enter")
    expect(rows).to_have_count(1)
    assert api_status(base_url, account, old_secret) == 401 and api_status(base_url, account, new_secret) == 200
    assert problems == []
