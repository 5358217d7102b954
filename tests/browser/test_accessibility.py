"""axe-core (vendored from npm, injected by the test) finds no violation on any page, in light and dark schemes.

The setup page is checked in test_screens, on a portal nobody has set up, at phone and desktop widths.
"""

from pathlib import Path

import pytest

from tokens import service
from tokens.extensions import db
from tokens.models import Membership

from ..conftest import dispose, make_app, seed
from ..servers import free_port
from .conftest import close_dialog, serving, sign_in

AXE = (Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js").read_text()


def violations(page) -> list[str]:
    """Run axe-core on the page as it is now; describe each violation with the elements it found."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE)  # evaluated through the debugging protocol: the page's CSP stays strict
    return page.evaluate("axe.run(document).then(result => result.violations.map(v => "
                         "`${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`))")


def audit(page, pages: dict[str, str]) -> dict[str, list[str]]:
    """Visit each page and return its violations by name, so that a failure lists every page at once."""
    report = {}
    for name, path in pages.items():
        page.goto(path)
        report[name] = violations(page)
    return report


@pytest.fixture(params=["light", "dark"])
def scheme(request, page):
    page.emulate_media(color_scheme=request.param)
    return request.param


def test_the_signed_out_pages(page, live_app, account, scheme, problems):
    with live_app.app_context():
        member = service.member_by_email(account["email"])
        reset = f"/reset/{service.reset_link(member)}"
    report = audit(page, {"sign in": "/signin", "password reset": reset, "not found": "/no/such/page"})
    assert report == {name: [] for name in report}, f"axe-core violations ({scheme} scheme)"
    assert [problem for problem in problems if "404" not in problem] == []


def test_the_forgotten_password_pages_with_email_on(page, tmp_path, scheme, problems):
    # Email on (no SMTP server listens: the pages only queue, and no worker runs here).
    app = make_app(tmp_path / "portal.sqlite3", MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(),
                   QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}")
    seed(app)
    try:
        with serving(app) as base:
            page.goto(f"{base}/signin")
            page.get_by_role("link", name="Forgot your password?").click()
            report = {"forgot": violations(page)}
            page.get_by_role("button", name="Email me a link").click()
            report["forgot, answer to an empty email"] = violations(page)
            page.get_by_label("Email").fill("bob@example.com")
            page.get_by_role("button", name="Email me a link").click()
            page.get_by_text("If bob@example.com signs in here").wait_for()
            report["forgot, answered"] = violations(page)
    finally:
        dispose(app)
    assert report == {name: [] for name in report}, f"axe-core violations ({scheme} scheme)"
    assert [problem for problem in problems if "422" not in problem] == []


def test_the_signed_in_pages_and_the_dialog(page, live_app, account, scheme, problems):
    sign_in(page, account)
    page.get_by_label("Token name (optional)").fill("deploy")
    page.get_by_role("button", name="Generate new token").click()
    page.locator("dialog[open]").wait_for()
    report = {"the once-only dialog": violations(page)}
    close_dialog(page)
    token_id = page.locator("tr.token-row").first.get_attribute("id").removeprefix("token-")
    with live_app.app_context():
        owner = db.session.scalar(db.select(Membership).filter_by(member_id=account["member_id"]))
        _, link_token = service.invite(owner, f"invited-{account['id'].lower()}@example.com", "member")
        db.session.commit()
    report |= audit(page, {"account preferences": "/preferences", "members": "/members", "audit trail": "/audit",
                           "delete confirmation": f"/preferences/tokens/{token_id}/delete"})
    page.get_by_role("button", name="Sign out").click()
    report |= audit(page, {"invitation": f"/join/{link_token}"})
    assert report == {name: [] for name in report}, f"axe-core violations ({scheme} scheme)"
    assert problems == []

