"""A token made in the browser opens a service behind nginx, and stops opening it the moment it is deleted."""

import re

import pytest
from playwright.sync_api import expect

from ..conftest import PASSWORD
from ..proxies import Upstream, nginx, send
from .conftest import close_dialog, sign_in


@pytest.fixture(scope="module")
def protected(base_url, tmp_path_factory):
    """nginx on loopback in front of an upstream, asking the session's portal: yields (proxy URL, upstream)."""
    upstream = Upstream()
    with upstream.serving() as service, nginx(service, base_url, tmp_path_factory.mktemp("nginx")) as proxy:
        yield proxy, upstream


def test_delete_in_the_browser_closes_the_service_at_once(page, account, protected, problems):
    proxy, upstream = protected
    sign_in(page, account)
    page.get_by_label("Token name (optional)").fill("dashboard")
    page.get_by_role("button", name="Generate new token").click()
    token = page.locator("#new-token").input_value()
    headers = {"X-Account-Id": page.locator("#new-account-id").input_value(), "X-Auth-Token": token}
    close_dialog(page)

    opened = send(f"{proxy}/dashboard", headers=headers)
    assert opened.status == 200
    assert upstream.header(upstream.seen[-1], "X-Portal-Member-Email") == account["email"]
    assert token not in str(upstream.seen[-1])

    page.once("dialog", lambda box: box.accept())
    page.locator("tr.token-row").get_by_role("button", name=re.compile("Delete")).click()
    expect(page.locator("tr.token-row")).to_have_count(0)
    seen = len(upstream.seen)
    refused = send(f"{proxy}/dashboard", headers=headers)
    assert refused.status == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert len(upstream.seen) == seen
    assert PASSWORD not in str(upstream.seen) and problems == []
