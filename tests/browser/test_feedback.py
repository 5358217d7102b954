"""Every htmx action shows it is in flight, and a designed message when it fails; never an error page swapped in."""

import re
import time

import pytest
from flask import abort, request
from playwright.sync_api import expect

from tokens import service
from tokens.extensions import db

from ..conftest import PASSWORD, dispose, make_app
from .conftest import close_dialog, serving, sign_in

FAIL_WITH = "X-Test-Fail-With"
SLOW = "X-Test-Slow"


@pytest.fixture(scope="module")
def failing(tmp_path_factory):
    """A portal whose request fails with the status a test asks for (in a header): its real error answers.

    It also answers slowly when asked, so that a test sees a request in flight.
    """
    app = make_app(tmp_path_factory.mktemp("failing") / "portal.sqlite3")

    @app.before_request
    def fail_on_request():
        if request.headers.get(SLOW):
            time.sleep(float(request.headers[SLOW]))
        if request.headers.get(FAIL_WITH):
            abort(int(request.headers[FAIL_WITH]))
    with app.app_context():
        account = service.create_account("Failing")
        service.add_member(account, "owner@example.com", "Owner", PASSWORD, "owner")
        db.session.commit()
    with serving(app) as base:
        yield base
    dispose(app)


@pytest.fixture
def owner_page(browser, failing):
    context = browser.new_context(base_url=failing)
    page = context.new_page()
    sign_in(page, {"email": "owner@example.com"})
    yield page
    context.close()


def fail_next(page, path_pattern, status, header=FAIL_WITH):
    """Make the next request to ``path_pattern`` fail on the server with ``status``."""
    page.route(path_pattern, lambda route: route.continue_(headers={**route.request.headers, header: str(status)}),
               times=1)


EXPECTED = {403: "You are not allowed to do that.", 404: "There is nothing here.",
            429: "Too many requests. Wait a little, then try again.",
            503: "The portal cannot answer right now. Nothing was changed; please try again in a moment."}


@pytest.mark.parametrize("status", [403, 404, 429, 503])
def test_a_failing_generate_or_delete_says_why_and_leaves_the_page_as_it_was(owner_page, status):
    page = owner_page
    page.get_by_role("button", name="Generate new token").click()
    close_dialog(page)
    rows = page.locator("tr.token-row")
    expect(rows.first).to_be_visible()
    count, table = rows.count(), page.locator("#token-rows").inner_html()

    fail_next(page, "**/preferences/tokens", status)
    page.get_by_role("button", name="Generate new token").click()
    expect(page.locator("#messages")).to_contain_text(EXPECTED[status])
    expect(page.locator("dialog")).to_have_count(0)
    expect(page.locator(".htmx-request, [aria-busy]")).to_have_count(0)  # the request is over
    assert page.locator("#token-rows").inner_html() == table

    fail_next(page, re.compile(r".*/preferences/tokens/\w+$"), status)
    page.once("dialog", lambda box: box.accept())
    rows.first.get_by_role("button", name=re.compile("Delete")).click()
    expect(page.locator("#messages")).to_contain_text(EXPECTED[status])
    expect(rows).to_have_count(count)  # the row stays: nothing was deleted
    expect(page.locator(".htmx-request, [aria-busy]")).to_have_count(0)
    assert page.locator("#token-rows").inner_html() == table


def test_an_answer_that_is_not_the_portals_is_never_swapped_in(owner_page):
    page = owner_page
    page.route("**/preferences/tokens", lambda route: route.fulfill(
        status=502, content_type="text/html", body="<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"), times=1)
    page.get_by_role("button", name="Generate new token").click()
    expect(page.locator("#messages")).to_contain_text("The portal cannot answer right now. Please try again")
    assert "Bad Gateway" not in page.content()


def test_no_answer_at_all_says_the_portal_could_not_be_reached(owner_page):
    page = owner_page
    page.route("**/preferences/tokens", lambda route: route.abort("connectionrefused"), times=1)
    page.get_by_role("button", name="Generate new token").click()
    expect(page.locator("#messages")).to_contain_text("The portal could not be reached.")
    expect(page.get_by_role("button", name="Generate new token")).to_be_enabled()
    page.get_by_role("button", name="Dismiss this message").click()  # messages stay until dismissed
    expect(page.locator("#messages .message")).to_have_count(0)


def test_an_action_in_flight_shows_it(owner_page):
    page = owner_page
    fail_next(page, "**/preferences/tokens", 1.5, header=SLOW)  # the server takes 1.5 s to answer
    page.get_by_role("button", name="Generate new token").click()
    form = page.locator("#generate-form")
    expect(form).to_have_attribute("aria-busy", "true")
    expect(form).to_have_class(re.compile(r"\bhtmx-request\b"))
    expect(page.get_by_role("button", name="Generate new token")).to_be_disabled()
    expect(page.locator("dialog[open]")).to_be_visible()
    close_dialog(page)
    expect(page.locator("[aria-busy], .htmx-request")).to_have_count(0)  # nothing is left marked in flight

    # Delete in flight shows its spinner in place of its word: the button keeps its size, nothing wraps.
    rows = page.locator("tr.token-row")
    count, delete = rows.count(), rows.first.get_by_role("button", name=re.compile("Delete"))
    at_rest = delete.bounding_box()
    fail_next(page, re.compile(r".*/preferences/tokens/\w+$"), 1.5, header=SLOW)
    page.once("dialog", lambda box: box.accept())
    delete.click()
    expect(delete).to_have_class(re.compile(r"\bhtmx-request\b"))
    in_flight = delete.bounding_box()
    assert (in_flight["width"], in_flight["height"]) == (at_rest["width"], at_rest["height"])
    assert delete.evaluate("button => getComputedStyle(button, '::after').animationName") == "spin"
    expect(rows).to_have_count(count - 1)


def test_a_refused_password_change_is_said_in_place_at_the_first_wrong_field(owner_page):
    page = owner_page
    card = page.get_by_role("region", name="Password")
    page.evaluate("window.stillTheSamePage = true")
    new = "a brand new passphrase"
    for current, confirm, wrong, said in [("not my password", new, "Current password", "not your current password"),
                                          (PASSWORD, "something else", "Repeat the new password", "passwords differ")]:
        card.get_by_label("Current password").fill(current)
        card.get_by_label("New password", exact=True).fill(new)
        card.get_by_label("Repeat the new password").fill(confirm)
        card.get_by_role("button", name="Change password").click()
        expect(card.locator(".errors")).to_contain_text(said)
        expect(card.get_by_label(wrong)).to_be_focused()  # on a phone, it scrolls into view too
    assert page.evaluate("window.stillTheSamePage")  # swapped in place, not a new page
