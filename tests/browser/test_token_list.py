"""The token list in Chromium: Show more and the search, with JavaScript (in place) and without (pages)."""

import re

from playwright.sync_api import expect

from ..test_token_list import add_tokens
from .conftest import sign_in
from .test_walkthrough import count_navigations


def names(page):
    """The names listed, top to bottom (each name's cell has how it was made on a line below it)."""
    return [text.splitlines()[0] for text in page.locator("tr.token-row td.name").all_inner_texts()]


def test_with_javascript_show_more_appends_and_the_search_swaps_in_place(page, live_app, account, problems):
    add_tokens(live_app, account["email"], 120, prefix="t-")
    sign_in(page, account)
    navigations = count_navigations(page)
    rows = page.locator("tr.token-row")
    expect(rows).to_have_count(50)
    assert names(page)[:2] == ["t-119", "t-118"]
    page.get_by_role("link", name="Show more").click()
    expect(rows).to_have_count(100)
    page.get_by_role("link", name="Show more").click()
    expect(rows).to_have_count(120)
    expect(page.get_by_role("link", name="Show more")).to_have_count(0)
    assert names(page) == [f"t-{n}" for n in range(119, -1, -1)]  # none twice, none missing

    page.get_by_label("Search").press_sequentially("t-11")
    expect(rows).to_have_count(11)  # t-119 to t-110, and t-11
    assert names(page)[-1] == "t-11"
    page.get_by_label("Search").fill("nothing like it")
    expect(page.get_by_text("No API tokens match “nothing like it”.")).to_be_visible()
    assert navigations == [] and page.evaluate("window.stillTheSamePage")
    assert problems == []


def test_without_javascript_show_more_and_the_search_are_pages(browser, base_url, live_app, account):
    add_tokens(live_app, account["email"], 60, prefix="t-")
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, account)
    rows = page.locator("tr.token-row")
    expect(rows).to_have_count(50)
    page.get_by_role("link", name="Show more").click()
    page.wait_for_url(re.compile(r"/preferences\?before="))
    assert names(page) == [f"t-{n}" for n in range(9, -1, -1)]
    expect(page.get_by_role("link", name="Show more")).to_have_count(0)
    page.get_by_role("link", name="Newest tokens").click()
    expect(rows).to_have_count(50)
    page.get_by_label("Search").fill("t-5")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"q=t-5"))
    assert names(page) == [f"t-{n}" for n in range(59, 49, -1)] + ["t-5"]
    context.close()
