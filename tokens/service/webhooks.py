"""Webhooks: an account's owners and admins name URLs that hear of its events, signed as the Standard Webhooks
specification says (https://www.standardwebhooks.com: webhook-id, webhook-timestamp, webhook-signature).

An event is written as one message per endpoint that wants it, in the transaction of what happened (a token
that is not made sends nothing, and a message is never lost between the two). Once that commits, the queue's
worker delivers it (``delivery.py``); a sweep finds any the queue lost.
"""

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update

from ..extensions import db
from ..labels import utc_time
from ..models import Membership, Webhook, WebhookAttempt, WebhookMessage, utcnow
from . import addresses
from .audit import record
from .errors import InvalidInput, NotFound, ServiceError
from .events import EVENTS, account_data, add_message
from .roles import require_manager

TEST_EVENT = "webhook.test"  # sent only by "Send test event", to the one endpoint
LOG_SIZE = 100  # the attempts a delivery log shows
TEST_BACKLOG = 10  # no test event for a webhook with this many deliveries waiting


class WebhookLimitReached(ServiceError):
    status = 409


def signing_secret(salt: str) -> str:
    """Return the signing secret of an endpoint's salt (``whsec_`` and base64, as Standard Webhooks writes one).

    Derived from TOKEN_DIGEST_KEY and the salt, so the database holds no secret: a copy of it cannot sign.
    TOKEN_DIGEST_KEY, unlike SECRET_KEY, is never changed (every token would stop working).
    """
    key = str(current_app.config["TOKEN_DIGEST_KEY"]).encode()
    derived = hmac.new(key, f"webhook signing secret {salt}".encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(derived).decode()


def signing_secrets(hook: Webhook, now: datetime | None = None) -> tuple[str, ...]:
    """Return the secrets a delivery is signed with now: the endpoint's, and its old one while that still signs
    (a receiver checking either finds its signature: Standard Webhooks sends several, separated by spaces)."""
    if hook.old_secret_until(now):
        return signing_secret(hook.secret_salt), signing_secret(hook.previous_salt)
    return (signing_secret(hook.secret_salt),)


def clean_webhook_events(events) -> str:
    """Return the events wanted (a list, or names separated by spaces) in the page's order, separated by spaces;
    or refuse an empty or unknown choice."""
    chosen = set(events.split() if isinstance(events, str) else events or ())
    if not chosen:
        raise InvalidInput("Choose at least one event to send.")
    if unknown := chosen - set(EVENTS):
        raise InvalidInput(f"There is no event called {sorted(unknown)[0]!r}.")
    return " ".join(event for event in EVENTS if event in chosen)


def create_webhook(actor: Membership, url: str, events, ip: str | None = None) -> tuple[Webhook, str]:
    """Add an endpoint to the actor's account; return it and its signing secret (to be shown once)."""
    require_manager(actor)
    url = addresses.check_url(url)
    events = clean_webhook_events(events)
    limit = current_app.config["WEBHOOKS_PER_ACCOUNT"]
    held = len(account_webhooks(actor))
    if held >= limit:
        raise WebhookLimitReached(f"This account has {held} webhooks, the most allowed is {limit}. "
                                  "Delete one it no longer needs first.")
    hook = Webhook(account_id=actor.account_id, url=url, events=events, secret_salt=secrets.token_hex(16))
    db.session.add(hook)
    db.session.flush()
    record(actor.account_id, actor.member_id, "webhook.created", hook.public_id, ip, detail=_describe(hook))
    return hook, signing_secret(hook.secret_salt)


def _describe(hook: Webhook) -> str:
    host = addresses.host_of(hook.url)
    return f"{host} · {', '.join(hook.event_list)}"[:400]


def change_webhook(actor: Membership, public_id: str, url: str, events, ip: str | None = None) -> bool:
    """Send an endpoint's events to another URL, or other events to it; return whether anything changed.

    What already waits for it goes to the new URL, signed with the same secret.
    """
    hook = find_webhook(actor, public_id)
    url, events = addresses.check_url(url), clean_webhook_events(events)
    if (url, events) == (hook.url, hook.events):
        return False
    before = _describe(hook)
    hook.url, hook.events = url, events
    record(actor.account_id, actor.member_id, "webhook.changed", hook.public_id, ip,
           detail=f"{_describe(hook)} (was {before})"[:400])
    return True


def roll_secret(actor: Membership, public_id: str, grace: timedelta, ip: str | None = None) -> tuple[Webhook, str]:
    """Give an endpoint a new signing secret; the one it had signs too for ``grace`` (none: it stops at once).
    Return the endpoint and its new secret (to be shown once). An older secret still signing stops now."""
    hook = find_webhook(actor, public_id)
    now = utcnow()
    hook.previous_salt, hook.previous_until = (hook.secret_salt, now + grace) if grace else (None, None)
    hook.secret_salt = secrets.token_hex(16)
    record(actor.account_id, actor.member_id, "webhook.secret_rolled", hook.public_id, ip, detail=(
        f"{addresses.host_of(hook.url)} · the old secret signs too until {utc_time(hook.previous_until)}" if grace
        else f"{addresses.host_of(hook.url)} · the old secret stopped at once"))
    return hook, signing_secret(hook.secret_salt)


def account_webhooks(actor: Membership) -> list[Webhook]:
    """Return the account's endpoints, oldest first."""
    require_manager(actor)
    return list(db.session.scalars(select(Webhook).filter_by(account_id=actor.account_id).order_by(Webhook.id)))


def find_webhook(actor: Membership, public_id: str) -> Webhook:
    """Return one of the account's endpoints, or NotFound (another account's is not there)."""
    require_manager(actor)
    hook = db.session.scalar(select(Webhook).filter_by(account_id=actor.account_id, public_id=public_id))
    if hook is None:
        raise NotFound("There is no such webhook in this account.")
    return hook


def delete_webhook(actor: Membership, public_id: str, ip: str | None = None) -> Webhook:
    """Remove an endpoint, its messages and its log; what is queued for it is then dropped."""
    hook = find_webhook(actor, public_id)
    record(actor.account_id, actor.member_id, "webhook.deleted", hook.public_id, ip, detail=_describe(hook))
    db.session.execute(delete(Webhook).where(Webhook.id == hook.id))
    return hook


def set_enabled(actor: Membership, public_id: str, enabled: bool, ip: str | None = None) -> Webhook:
    """Turn an endpoint on (its count of failures starts again) or off (what is owed to it is dropped)."""
    hook = find_webhook(actor, public_id)
    hook.enabled, hook.failed_in_row, hook.disabled_reason = enabled, 0, None if enabled else (
        f"Turned off by {actor.member.display_name} at {utc_time(utcnow())}.")
    if not enabled:
        drop_waiting(hook.id)
    record(actor.account_id, actor.member_id, "webhook.enabled" if enabled else "webhook.disabled",
           hook.public_id, ip, detail=_describe(hook))
    return hook


def drop_waiting(webhook_id: int) -> int:
    """Give up on what waits for a webhook being turned off (an attempt under way ends as it ends)."""
    return db.session.execute(update(WebhookMessage).where(
        WebhookMessage.webhook_id == webhook_id, WebhookMessage.state == "pending").values(state="dropped")).rowcount


def send_test(actor: Membership, public_id: str) -> WebhookMessage:
    """Queue a test event for one endpoint (on or off, whatever events it wants)."""
    hook = find_webhook(actor, public_id)
    if not hook.enabled:
        raise InvalidInput("This webhook is turned off: turn it on to send it a test event.")
    backlog = db.session.scalar(select(func.count()).select_from(WebhookMessage).filter_by(
        webhook_id=hook.id, state="pending"))
    if backlog >= TEST_BACKLOG:
        raise InvalidInput(f"{backlog} deliveries already wait for this webhook: a test event would wait behind "
                           "them. Its log says why they have not gone.")
    data = {"account": account_data(actor.account), "actor": actor.member.email,
            "message": "A test event, sent from the portal's Webhooks page."}
    return add_message(hook, TEST_EVENT, data)


def delivery_log(actor: Membership, public_id: str) -> tuple[Webhook, list[tuple[WebhookAttempt, WebhookMessage]]]:
    """Return an endpoint and its latest attempts, newest first, each with its message."""
    hook = find_webhook(actor, public_id)
    rows = db.session.execute(
        select(WebhookAttempt, WebhookMessage).join(WebhookMessage, WebhookAttempt.message_id == WebhookMessage.id)
        .where(WebhookMessage.webhook_id == hook.id).order_by(WebhookAttempt.id.desc()).limit(LOG_SIZE)).all()
    return hook, [tuple(row) for row in rows]


def waiting(actor: Membership, public_id: str) -> list[WebhookMessage]:
    """Return the endpoint's messages still to be delivered, oldest first."""
    hook = find_webhook(actor, public_id)
    return list(db.session.scalars(select(WebhookMessage).filter_by(webhook_id=hook.id, state="pending")
                                   .order_by(WebhookMessage.id)))
