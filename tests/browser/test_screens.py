"""Every page fits the screen, from a 320 px phone to a 1440 px desktop, in light and dark schemes.

Nothing scrolls sideways, every control is in view, Delete and Remove sit next to the name they act on,
no short word breaks across lines, tables stay inside their cards, and the once-only dialog keeps OK in
view. The pages: setup (on a portal nobody has set up), join, "Forgot your password?" and its answer, sign-in,
preferences with the dialog, the rotate dialog, a replaced row and the rotate page, members (with a token
policy), audit, webhooks (a new one's secret), a webhook's page and its new signing secret; the signed-in ones
under a notice banner.
Set PORTAL_SCREENS to a folder to keep a screenshot of each page there.
"""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tokens import service
from tokens.extensions import db
from tokens.models import WebhookAttempt, WebhookMessage, utcnow

from ..conftest import PASSWORD
from .conftest import close_dialog
from .test_accessibility import violations

OWNER = "screens-owner@example.com"
LONG_NAME = "deploy-to-production-eu-west-1-and-eu-central-1 for the billing service"
# Width, colour scheme: the phone and desktop widths in both schemes, the others once.
SCREENS = [(320, "light"), (390, "light"), (390, "dark"), (768, "dark"), (1024, "light"), (1280, "light"),
           (1280, "dark"), (1440, "light")]
AXE_WIDTHS = {390, 1280}
PUBLIC_HOOK = "https://93.184.215.14"  # a public address: a webhook may be sent there


@pytest.fixture(scope="module")
def portal(live_app):
    """An account with three members, a pending invitation, tokens (a long name, a used one, one expiring), a token
    policy the older ones outlive, a notice of a token reported leaked and a warning of one expiring."""
    with live_app.app_context():
        account = service.create_account("Screens & Co")
        owner = service.add_member(account, OWNER, "Ada Lovelace", PASSWORD, "owner")
        grace = service.add_member(account, "grace.hopper@example.com", "Grace Hopper", PASSWORD, "admin")
        service.add_member(account, "linus@example.com", "Linus", PASSWORD, "member")
        used, _ = service.issue_token(owner, "Nightly backup")
        used.last_used_at, used.last_used_ip = utcnow() - timedelta(hours=3), "2001:db8:85a3::8a2e:370:7334"
        service.issue_token(owner, "CI deploy job", scope="read", expires_at=utcnow() + timedelta(days=30))
        service.issue_token(owner, LONG_NAME)
        service.issue_token(grace, "Grace's laptop")
        _, link = service.invite(owner, "new.colleague@example.com", "member")
        # A policy the older tokens outlive (listed on Members), and a leak report: a banner on every page.
        service.set_policy(account, 30, True)
        _, leaked = service.issue_token(owner, "Laptop key", expires_at=utcnow() + timedelta(days=7))
        service.revoke_leaked([leaked], ip="2001:db8:85a3::8a2e:370:7334")
        service.issue_token(owner, "Release signing", expires_at=utcnow() + timedelta(days=3))
        service.send_expiry_warnings()  # a second notice, with its Rotate button
        # Two webhooks (public addresses need no DNS here), one turned off; a log of every kind of attempt.
        hook, _ = service.create_webhook(owner, f"{PUBLIC_HOOK}/{'events/' * 12}portal", ["token.created"])
        off, _ = service.create_webhook(owner, f"{PUBLIC_HOOK}/chat", list(service.WEBHOOK_EVENTS))
        off.enabled, off.disabled_reason = False, "Turned off: 5 deliveries in a row failed every attempt."
        for number, (ok, status, outcome) in enumerate([
                (True, 204, "204 No Content"), (False, 500, "500 Internal Server Error"),
                (False, None, "No answer within 10 seconds."),
                (False, 302, "302 Found: redirects are not followed (the URL to send to is the one saved)")]):
            message = WebhookMessage(public_id=f"msg_screens{number}", webhook_id=hook.id, event="token.created",
                                     payload="{}", state="delivered" if ok else "pending", attempts=1)
            message.attempt_log.append(WebhookAttempt(attempt=1, ok=ok, status_code=status, outcome=outcome))
            db.session.add(message)
        hook_id = hook.public_id
        db.session.commit()
    return {"email": OWNER, "join": f"/join/{link}", "hook": hook_id}


# Whatever does not fit: the page's sideways overflow, controls out of view, tables out of their card,
# Delete or Remove away from the name, and short words (a whole word fits any line) broken across lines.
MISFITS = """(shortWord) => {
  const found = [];
  const overflow = document.documentElement.scrollWidth - innerWidth;
  if (overflow > 0) found.push(`the page is ${overflow}px wider than the screen`);
  for (const control of document.querySelectorAll("a, button, input:not([type=hidden]), select, textarea")) {
    const box = control.getBoundingClientRect();
    if (!control.checkVisibility() || box.width <= 1) continue;
    if (box.left < 0 || box.right > innerWidth + 0.5)
      found.push(`${control.outerHTML.slice(0, 60)} is out of view (${box.left}..${box.right})`);
  }
  for (const table of document.querySelectorAll(".card table")) {
    const box = table.getBoundingClientRect(), card = table.closest(".card").getBoundingClientRect();
    if (box.left < card.left || box.right > card.right)
      found.push(`a table leaves its card (${box.left}..${box.right} in ${card.left}..${card.right})`);
  }
  for (const row of document.querySelectorAll("tr.token-row, table.members tbody tr")) {
    const name = (row.querySelector("td.name") ?? row.cells[0]).getBoundingClientRect();
    const button = row.querySelector("button.danger").getBoundingClientRect();
    if (button.bottom <= name.top || button.top >= name.bottom)
      found.push(`${row.querySelector("button.danger").ariaLabel} is not next to the name`);
  }
  for (const hint of document.querySelectorAll(".hint")) {  // a short hint stays on one line on a desktop
    const lines = hint.getBoundingClientRect().height / parseFloat(getComputedStyle(hint).lineHeight);
    if (innerWidth >= 1280 && hint.textContent.length < 80 && hint.checkVisibility() && lines > 1.6)
      found.push(`the hint "${hint.textContent}" wraps`);
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let text; (text = walker.nextNode());) {
    if (!text.parentElement.checkVisibility() || text.parentElement.closest(".visually-hidden")) continue;
    for (const word of text.data.matchAll(/[^\\s\\/-]+/g)) {  // a line may end after a hyphen or slash
      if (word[0].length > shortWord) continue;
      const range = document.createRange();
      range.setStart(text, word.index);
      range.setEnd(text, word.index + word[0].length);
      if (new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size > 1)
        found.push(`"${word[0]}" breaks across lines`);
    }
  }
  return found;
}"""


def misfits(page, width: int) -> list[str]:
    return page.evaluate(MISFITS, 16 if width < 768 else 40)


def in_view(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= size["width"] \
        and box["y"] + box["height"] <= size["height"]


def listing(report: dict[str, list[str]]) -> str:
    return "\n".join(f"{name}: {problem}" for name, problems in report.items() for problem in problems)


@pytest.mark.parametrize(("width", "scheme"), SCREENS, ids=[f"{w}-{s}" for w, s in SCREENS])
def test_every_page_fits_the_screen(page, portal, fresh, width, scheme, problems, live_app, monkeypatch):
    page.set_viewport_size({"width": width, "height": 844 if width < 768 else 800})
    page.emulate_media(color_scheme=scheme)
    folder = Path(os.environ["PORTAL_SCREENS"]) if os.environ.get("PORTAL_SCREENS") else None
    report, axe = {}, {}

    def look(name):
        report[name] = misfits(page, width)
        if width in AXE_WIDTHS:
            axe[name] = violations(page)
        if folder:
            page.screenshot(path=folder / f"{width}-{scheme}-{name}.png", full_page=True, caret="initial")

    page.goto(f"{fresh}/setup")  # as from /, without the link: where the code is, then every field refused
    page.get_by_role("button", name="Create the account").click()
    expect(page.get_by_text("Enter the setup code.")).to_be_visible()
    look("setup")
    page.goto(portal["join"])
    look("join")
    # With email set up, sign-in offers "Forgot your password?": its form, then its answer (the same for all).
    monkeypatch.setitem(live_app.config, "MAIL_SERVER", "127.0.0.1")  # nothing is sent: no worker runs here
    page.goto("/signin")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(f"someone.with.a.long.address.{width}@example.com")
    look("forgot")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_text("an email with a link to choose a new password is on its way")).to_be_visible()
    look("forgot-asked")
    monkeypatch.setitem(live_app.config, "MAIL_SERVER", None)
    page.goto("/signin")
    page.get_by_label("Email").fill(portal["email"])
    look("sign-in")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/preferences")
    expect(page.locator("tr.token-row", has_text="Nightly backup")).to_contain_text("ago")
    look("preferences")

    page.get_by_label("Token name (optional)").fill(f"Phone check {width} {scheme}")
    page.get_by_role("button", name="Generate new token").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    look("dialog")
    ok = dialog.get_by_role("button", name="OK")
    report["dialog"] += [f"{what} is out of view" for what, it in (("the dialog", dialog), ("OK", ok))
                         if not in_view(page, it)]
    page.set_viewport_size({"width": width, "height": 480})  # a phone held sideways, or a small window
    report["dialog"] += [f"{what} is out of view in a low window" for what, it in (("the dialog", dialog), ("OK", ok))
                         if not in_view(page, it)]
    close_dialog(page)
    page.set_viewport_size({"width": width, "height": 844 if width < 768 else 800})

    # Rotate the token just made: the dialog asking for the grace, then the list with its row replaced.
    row = page.locator("tr.token-row", has_text=f"Phone check {width} {scheme}")
    row.get_by_role("button", name="Rotate the token").click()
    asking = page.locator("dialog#rotate-dialog")
    expect(asking).to_be_visible()
    look("rotate")
    report["rotate"] += [f"{what} is out of view" for what, it in (
        ("the rotate dialog", asking), ("Rotate", asking.get_by_role("button", name="Rotate", exact=True)))
        if not in_view(page, it)]
    asking.get_by_label("1 hour").check()
    asking.get_by_role("button", name="Rotate", exact=True).click()
    close_dialog(page)
    expect(row.filter(has_text="Replaced")).to_have_count(1)
    look("rotated")
    page.goto(page.locator("tr.token-row form[action$='/rotate']").first.get_attribute("action"))
    look("rotate-page")  # without JavaScript, the same form as a page

    page.goto("/members")
    look("members")
    page.goto("/audit")
    look("audit")
    page.goto("/webhooks")
    page.get_by_label("Payload URL").fill(f"{PUBLIC_HOOK}/{width}-{scheme}")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_label("Signing secret")).to_be_visible()
    look("webhooks")  # with the new one's secret, shown once
    page.goto(f"/webhooks/{portal['hook']}")
    look("webhook-log")
    page.get_by_role("button", name="Make a new secret").click()
    expect(page.get_by_role("textbox", name="Signing secret")).to_be_visible()
    look("webhook-secret")  # its new secret, shown once, and the old one's grace
    assert not any(report.values()), f"what does not fit at {width} px ({scheme}):\n" + listing(report)
    assert not any(axe.values()), f"axe-core violations at {width} px ({scheme}):\n" + listing(axe)
    assert [problem for problem in problems if "422" not in problem] == []  # the refused setup form's answer
