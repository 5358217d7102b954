"""The pictures of docs/, taken from the real app: a screenshot of each step and two animations.

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

from ..conftest import PASSWORD

SIZE = {"width": 1100, "height": 720}


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


def test_the_pictures_of_each_step(browser, base_url, account, pictures):
    context = browser.new_context(base_url=base_url, viewport=SIZE, permissions=["clipboard-read", "clipboard-write"],
                                  color_scheme="light", locale="en-GB", timezone_id="UTC")
    page = context.new_page()
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
    film.shoot(150)  # the row fading out
    expect(row).to_have_count(0)
    expect(page.locator("#messages")).to_contain_text("The token was deleted")
    film.shoot()
    film.save(pictures / "delete-token.gif")
    page.screenshot(path=pictures / "5-the-token-deleted.png")
    context.close()

    stills = sorted(pictures.glob("*.png"))
    assert [still.name for still in stills] == ["1-sign-in.png", "2-account-preferences.png", "3-the-token-dialog.png",
                                                "4-the-token-listed.png", "5-the-token-deleted.png"]
    for still in stills:
        with Image.open(still) as image:
            assert image.size == (SIZE["width"], SIZE["height"])
    for animation in ("generate-token.gif", "delete-token.gif"):
        with Image.open(pictures / animation) as gif:
            assert gif.is_animated  # two frames or more (Pillow merges frames that did not change)
