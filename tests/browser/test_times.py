"""Times in the viewer's time zone, "3 minutes ago" where it helps, the exact UTC time on hover."""

import re
from datetime import UTC
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from .conftest import close_dialog, sign_in
from .test_walkthrough import tokens_of


def test_times_show_in_the_viewers_zone_with_the_exact_utc_time_on_hover(browser, base_url, live_app, account):
    context = browser.new_context(base_url=base_url, timezone_id="Asia/Tokyo", locale="en-GB")
    page = context.new_page()
    sign_in(page, account)
    page.get_by_label("Token name (optional)").fill("timed")
    page.get_by_role("button", name="Generate new token").click()
    close_dialog(page)
    [token] = tokens_of(live_app, account["member_id"])
    created = token.created_at
    tokyo = created.astimezone(ZoneInfo("Asia/Tokyo"))
    # en-GB's medium date and short time; its September is "Sept".
    local = f"{tokyo.day} {tokyo:%b}{'t' if tokyo.month == 9 else ''} {tokyo:%Y}, {tokyo:%H:%M}"
    time = page.locator("tr.token-row td").first.locator("time")
    expect(time).to_have_text(re.compile(rf"^{local} \((now|1 minute ago)\)$"))
    expect(time).to_have_attribute("title", created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
    page.reload()  # a rendered page and a swapped row read alike
    expect(time).to_have_text(re.compile(rf"^{local} "))
    context.close()
