"""The pictures of docs/, taken from the real app: a screenshot of each step and two animations, the
once-only dialog on a phone, rotation, a leak report's banner, a webhook and its delivery log, the Members page
(with a token policy), and the first-run setup page.

Not a test of the suite: pytest collects this file only when given it by name, as `bin/docs` does
(with PORTAL_DOCS=docs) to take the pictures of docs/ again. Run by hand without PORTAL_DOCS, it takes
them into a temporary folder instead, leaving docs/ as it is.
"""

import io
import os
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from tokens import service
from tokens.extensions import db
from tokens.models import Membership, WebhookMessage, utcnow

from ..conftest import PASSWORD
from ..receiver import Receiver
from .conftest import close_dialog
from .test_webhooks import deliver_pending

SIZE = {"width": 1280, "height": 720}  # a desktop: tables side by side (they stack up to 72rem)
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def pictures(tmp_path):
    folder = Path(os.environ["PORTAL_DOCS"]) if os.environ.get("PORTAL_DOCS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Film:
    """Frames of a page, saved as an animated GIF (each frame held ``hold`` ms, the last one longer)."""

    def __init__(self, page):
        self.page, self.frames = page, []

    def shoot(self, hold=900):
        self.frames.append((Image.open(io.BytesIO(self.page.screenshot())).convert("RGB"), hold))

    def save(self, path: Path):
        images = [image.quantize(colors=255, method=Image.Quantize.MEDIANCUT) for image, _ in self.frames]
        durations = [hold for _, hold in self.frames]
        durations[-1] = 2500
        images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=True)


def new_page(browser, base_url, viewport=SIZE):
    context = browser.new_context(base_url=base_url, viewport=viewport,
                                  permissions=["clipboard-read", "clipboard-write"],
                                  color_scheme="light", locale="en-GB", timezone_id="UTC")
    return context.new_page()


def test_the_pictures_of_each_step(browser, base_url, live_app, account, fresh, pictures, monkeypatch):
    page = new_page(browser, base_url)
    page.goto("/signin")
    page.get_by_label("Email").fill(account["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.screenshot(path=pictures / "1-sign-in.png")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/preferences")
    page.screenshot(path=pictures / "2-account-preferences.png")

    film = Film(page)  # generate a token
    film.shoot()
    page.get_by_label("Token name (optional)").fill("CI deploy job")
    film.shoot()
    page.get_by_role("button", name="Generate new token").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    film.shoot(1800)
    page.screenshot(path=pictures / "3-the-token-dialog.png")
    dialog.get_by_role("button", name="Copy both").click()
    expect(dialog.locator("[data-copy-status]")).to_contain_text("Copied")
    film.shoot(1500)
    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("dialog")).to_have_count(0)
    film.shoot()
    film.save(pictures / "generate-token.gif")
    page.screenshot(path=pictures / "4-the-token-listed.png")

    film = Film(page)  # delete it
    film.shoot()
    row = page.locator("tr.token-row", has_text="CI deploy job")
    row.get_by_role("button", name="Delete the token CI deploy job").hover()
    film.shoot()
    page.once("dialog", lambda box: box.accept())
    row.get_by_role("button", name="Delete the token CI deploy job").click()
    for _ in range(20):  # the button's spinner while the portal deletes it, then the row fading out (200 ms)
        film.shoot(150)
        if not row.count():
            break
    expect(row).to_have_count(0)
    expect(page.locator("#messages")).to_contain_text("The token was deleted")
    film.shoot()
    film.save(pictures / "delete-token.gif")
    page.screenshot(path=pictures / "5-the-token-deleted.png")

    page.set_viewport_size(PHONE)  # the once-only dialog on a phone
    page.get_by_label("Token name (optional)").fill("Phone backup")
    page.get_by_role("button", name="Generate new token").click()
    expect(page.locator("dialog[open]")).to_be_visible()
    page.screenshot(path=pictures / "6-the-token-dialog-on-a-phone.png")
    close_dialog(page)
    page.set_viewport_size(SIZE)

    page.get_by_role("button", name="Dismiss this message").click()  # Delete's, from before
    row = page.locator("tr.token-row", has_text="Phone backup")  # rotate it, the old one working a day more
    row.get_by_role("button", name="Rotate the token Phone backup").click()
    asking = page.locator("dialog#rotate-dialog")
    expect(asking.get_by_label("24 hours")).to_be_checked()
    page.screenshot(path=pictures / "9-rotate-asks-for-the-grace.png")
    asking.get_by_role("button", name="Rotate", exact=True).click()
    leaked = page.locator("#new-token").input_value()
    close_dialog(page)
    expect(row.filter(has_text="Replaced")).to_have_count(1)
    page.locator("table.tokens").scroll_into_view_if_needed()  # both rows: the new one, the old one replaced
    page.screenshot(path=pictures / "10-the-token-rotated.png")

    # Someone finds the new token in a public place and reports it, without signing in: the banner tells.
    answer = page.request.post(f"{base_url}/api/2018-10-01/tokens/revoke", data=[leaked])
    assert answer.status == 202
    page.reload()
    expect(page.get_by_role("region", name="Needs your attention")).to_contain_text("reported leaked")
    page.screenshot(path=pictures / "11-a-leaked-token-reported.png")
    page.get_by_role("region", name="Needs your attention").get_by_role("button", name="Dismiss").click()
    expect(page.get_by_role("region", name="Needs your attention")).to_have_count(0)

    # A webhook, to a real receiver on loopback: its signing secret shown once; then its log, after a test event
    # the receiver failed once and took on the retry.
    monkeypatch.setitem(live_app.config, "WEBHOOK_ALLOWED_NETWORKS", ["127.0.0.1/32"])
    with Receiver([500]) as receiver:
        page.get_by_role("link", name="Webhooks").click()
        page.get_by_label("Payload URL").fill(receiver.url)
        page.get_by_role("button", name="Add webhook").click()
        expect(page.get_by_label("Signing secret")).to_be_visible()
        page.screenshot(path=pictures / "12-a-webhook-added.png", full_page=True)
        page.get_by_role("link", name=receiver.url).click()
        page.get_by_role("button", name="Send test event").click()
        deliver_pending(live_app)
        with live_app.app_context():
            for message in db.session.scalars(db.select(WebhookMessage).filter_by(state="pending")):
                message.due_at = utcnow()  # its retry, due now rather than in 5 seconds
            db.session.commit()
        deliver_pending(live_app)
        receiver.wait_for(2)
    page.reload()
    expect(page.locator("table.deliveries")).to_contain_text("Delivered: 204 No Content")
    page.screenshot(path=pictures / "13-a-webhook-delivery-log.png", full_page=True)

    with live_app.app_context():  # two more members, one with a token, and an invitation not yet used
        owner = db.session.scalar(db.select(Membership).filter_by(member_id=account["member_id"]))
        grace = service.add_member(owner.account, "grace@example.com", "Grace Hopper", PASSWORD, "admin")
        service.add_member(owner.account, "linus@example.com", "Linus", PASSWORD, "member")
        service.issue_token(grace, "Grace's laptop")
        service.invite(owner, "new.colleague@example.com", "member")
        service.set_policy(owner.account, 90, True)  # the tokens made before it, which never expire, listed
        db.session.commit()
    page.get_by_role("link", name="Members").click()
    expect(page.locator(".invitations")).to_contain_text("new.colleague@example.com")
    page.screenshot(path=pictures / "7-the-members-page.png", full_page=True)
    page.context.close()

    page = new_page(browser, fresh)  # a portal nobody has set up, reached from / without the console's link
    page.goto("/")
    page.wait_for_url("**/setup")
    page.screenshot(path=pictures / "8-the-first-run-setup.png", full_page=True)
    page.context.close()

    widths, heights = {}, {}
    for still in sorted(pictures.glob("*.png")):
        with Image.open(still) as image:
            widths[still.name], heights[still.name] = image.size
    assert widths == {"1-sign-in.png": SIZE["width"], "2-account-preferences.png": SIZE["width"],
                      "3-the-token-dialog.png": SIZE["width"], "4-the-token-listed.png": SIZE["width"],
                      "5-the-token-deleted.png": SIZE["width"], "6-the-token-dialog-on-a-phone.png": PHONE["width"],
                      "7-the-members-page.png": SIZE["width"], "8-the-first-run-setup.png": SIZE["width"],
                      "9-rotate-asks-for-the-grace.png": SIZE["width"], "10-the-token-rotated.png": SIZE["width"],
                      "11-a-leaked-token-reported.png": SIZE["width"], "12-a-webhook-added.png": SIZE["width"],
                      "13-a-webhook-delivery-log.png": SIZE["width"]}
    # The screen's height, or the whole page's (Members, setup) when it is taller.
    assert heights["6-the-token-dialog-on-a-phone.png"] == PHONE["height"]
    assert all(height == SIZE["height"] for name, height in heights.items() if name.split("-")[0] in
               ("1", "2", "3", "4", "5", "9", "10", "11"))
    assert all(heights[name] >= SIZE["height"] for name in ("7-the-members-page.png", "8-the-first-run-setup.png",
                                                           "12-a-webhook-added.png", "13-a-webhook-delivery-log.png"))
    for animation in ("generate-token.gif", "delete-token.gif"):
        with Image.open(pictures / animation) as gif:
            assert gif.is_animated  # two frames or more (Pillow merges frames that did not change)
