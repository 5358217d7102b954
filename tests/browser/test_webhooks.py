"""Webhooks in Chromium, by keyboard alone: add one, copy its signing secret, see a real receiver get a signed
event (checked with the reference library), read the delivery log, send a test event, change its events, make a
new signing secret, delete it in place."""

from playwright.sync_api import expect
from sqlalchemy import func, select

from tokens.extensions import db
from tokens.models import AuditEvent, WebhookMessage

from ..receiver import Receiver
from .conftest import sign_in
from .test_keyboard import tab_to


def deliver_pending(app):
    queue = app.extensions["queue"]
    with app.app_context():
        due = list(db.session.scalars(select(WebhookMessage.public_id).filter_by(state="pending")))
    for message_id in due:
        queue.deliver_webhook(message_id)


def copied(page) -> str:
    """Copy the secret shown, by keyboard; return what the clipboard holds."""
    tab_to(page, page.get_by_role("button", name="Copy"))
    page.keyboard.press("Enter")
    return page.evaluate("navigator.clipboard.readText()")


def new_secrets_made(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent).filter_by(
            action="webhook.secret_rolled"))


def test_a_webhook_by_keyboard_from_adding_it_to_deleting_it(page, live_app, account, problems, monkeypatch):
    monkeypatch.setitem(live_app.config, "WEBHOOK_ALLOWED_NETWORKS", ["127.0.0.1/32"])  # the receiver is here
    sign_in(page, account)
    with Receiver() as receiver:
        tab_to(page, page.get_by_role("link", name="Webhooks"))
        page.keyboard.press("Enter")
        page.wait_for_url("**/webhooks")
        tab_to(page, page.get_by_label("Payload URL"))
        page.keyboard.type(receiver.url)
        tab_to(page, page.get_by_label("A member joined"))
        page.keyboard.press("Space")  # not this one
        tab_to(page, page.get_by_role("button", name="Add webhook"))
        page.keyboard.press("Enter")
        expect(page.get_by_text("It is shown only this once")).to_be_visible()
        secret = copied(page)
        assert secret.startswith("whsec_")
        row = page.locator("tr", has_text=receiver.url)
        expect(row).to_contain_text("token.created, token.deleted, token.rotated, token.expiring, token.leaked, "
                                    "member.removed")

        page.goto("/preferences")  # an event: a token made
        page.get_by_label("Token name (optional)").fill("hooked")
        page.get_by_role("button", name="Generate new token").click()
        expect(page.locator("dialog[open]")).to_be_visible()
        deliver_pending(live_app)
        [event] = receiver.verified(secret)  # the copied secret checks the signature
        assert event["type"] == "token.created" and event["data"]["token"]["name"] == "hooked"

        page.goto("/webhooks")
        tab_to(page, page.get_by_role("link", name=receiver.url))
        page.keyboard.press("Enter")
        expect(page.locator("table.deliveries")).to_contain_text("Delivered: 204 No Content")
        tab_to(page, page.get_by_role("button", name="Send test event"))
        page.keyboard.press("Enter")
        expect(page.locator("#messages, .messages").first).to_contain_text("A test event is queued")
        deliver_pending(live_app)
        assert [payload["type"] for payload in receiver.verified(secret)] == ["token.created", "webhook.test"]

        tab_to(page, page.get_by_label("A token was created"))  # it no longer wants token.created
        page.keyboard.press("Space")
        tab_to(page, page.get_by_role("button", name="Save changes"))
        page.keyboard.press("Enter")
        expect(page.locator("#messages")).to_contain_text("The webhook is changed")
        expect(page.locator(".facts")).to_contain_text("token.deleted, token.rotated")
        expect(page.get_by_label("A token was created")).not_to_be_checked()

        tab_to(page, page.get_by_label("24 hours"))  # a radio group is one stop: the choice made, then arrows
        page.keyboard.press("ArrowUp")
        page.keyboard.press("ArrowUp")
        expect(page.get_by_label("none: every old secret stops at once")).to_be_checked()
        tab_to(page, page.get_by_role("button", name="Make a new secret"))
        page.keyboard.press("Enter")
        expect(page.get_by_text("The old ones sign nothing any more")).to_be_visible()
        new_secret = copied(page)
        assert new_secret.startswith("whsec_") and new_secret != secret
        tab_to(page, page.get_by_role("button", name="Send test event"))
        page.keyboard.press("Enter")
        expect(page.locator("#messages")).to_contain_text("A test event is queued")
        deliver_pending(live_app)
        receiver.received.pop(0)
        receiver.received.pop(0)  # the two signed with the first secret
        assert [payload["type"] for payload in receiver.verified(new_secret)] == ["webhook.test"]

        # A double click makes one new secret, and shows it (Chromium sends the form once; a second post of the
        # same page would be refused, test_webhooks.py shows).
        before = new_secrets_made(live_app)  # the portal is shared: other tests make secrets too
        page.get_by_role("button", name="Make a new secret").dblclick()
        expect(page.get_by_role("textbox", name="Signing secret")).to_be_visible()
        assert new_secrets_made(live_app) == before + 1

    page.goto("/webhooks")
    row = page.locator("tr", has_text=receiver.url)
    asked = []
    page.once("dialog", lambda box: (asked.append(box.message), box.accept()))
    tab_to(page, row.get_by_role("button", name=f"Delete the webhook to {receiver.url}"))
    page.keyboard.press("Enter")
    expect(row).to_have_count(0)
    assert asked and receiver.url in asked[0]
    expect(page.locator("#messages")).to_contain_text("was deleted; nothing more is sent to it")
    assert problems == []
