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
OLD_SECRETS = 3  # old secrets signing beside the current one, at most: each adds a signature to every delivery


class WebhookLimitReached(ServiceError):
    status = 409


class SecretChanged(ServiceError):
    """The secret was replaced since the page asking for a new one was shown (a second click, another tab)."""

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
    """Return the secrets a delivery is signed with now: the endpoint's, and its old ones while they still sign
    (a receiver checking any of them finds its signature: Standard Webhooks sends several, separated by spaces)."""
    return tuple(signing_secret(salt) for salt in (hook.secret_salt, *(salt for salt, _ in hook.old_secrets(now))))


def secret_version(hook: Webhook) -> str:
    """Name the endpoint's current secret without telling anything of it: a page asking for a new one carries
    this, so that a second click, or another tab, makes no second one."""
    return hashlib.sha256(f"version {hook.secret_salt}".encode()).hexdigest()[:16]


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
    return f"{hook.host} · {', '.join(hook.event_list)}"[:400]


def change_webhook(actor: Membership, public_id: str, url: str, events, ip: str | None = None) -> Webhook | None:
    """Send an endpoint's events to another URL, or other events to it; return it, or None if nothing changed.

    What waits for it goes to the new URL, signed with the same secret, unless its event is no longer wanted. A
    new URL starts its count of failures afresh.
    """
    hook = find_webhook(actor, public_id)
    url, events = addresses.check_url(url), clean_webhook_events(events)
    if (url, events) == (hook.url, hook.events):
        return None
    before, moved = _describe(hook), url != hook.url
    hook.url, hook.events = url, events
    if moved:
        hook.failed_in_row = 0
    db.session.execute(update(WebhookMessage).where(
        WebhookMessage.webhook_id == hook.id, WebhookMessage.state == "pending",
        WebhookMessage.event.not_in([*hook.event_list, TEST_EVENT])).values(state="dropped"))
    # The path is left out (a chat server's may hold a secret), so a new URL on the same host is said in words.
    record(actor.account_id, actor.member_id, "webhook.changed", hook.public_id, ip,
           detail=f"{_describe(hook)} (was {before}{'; a new URL' if moved else ''})"[:400])
    return hook


def roll_secret(actor: Membership, public_id: str, grace: timedelta, seen: str | None = None,
                ip: str | None = None) -> tuple[Webhook, str]:
    """Give an endpoint a new signing secret; return it with the secret (to be shown once).

    The one it had signs too for ``grace``, beside the older ones still in theirs (a secret made and never
    copied leaves the receiver's signing); with none, every old one stops at once (it may have leaked).
    ``seen``, the ``secret_version`` the asking page showed, refuses a second secret for one click; so does a
    conditional UPDATE for two managers at once.
    """
    hook = find_webhook(actor, public_id)
    now, current = utcnow(), hook.secret_salt
    if seen is not None and seen != secret_version(hook):
        raise SecretChanged("This webhook's signing secret was replaced since that page was shown (by a second "
                            "click, another tab or another manager), so no other one was made. If no one copied "
                            "the one made then, make a new one here: the old ones sign on for their graces.")
    signing = [(current, now + grace), *hook.old_secrets(now)] if grace else hook.old_secrets(now)
    kept = signing[:OLD_SECRETS] if grace else []
    replaced = db.session.execute(
        update(Webhook).where(Webhook.id == hook.id, Webhook.secret_salt == current)
        .values(secret_salt=secrets.token_hex(16),
                old_salts=[{"salt": salt, "until": until.isoformat()} for salt, until in kept])
        .execution_options(synchronize_session=False)).rowcount
    if not replaced:
        raise SecretChanged("Another new signing secret was made at the same moment: reload the page.")
    db.session.refresh(hook)
    said = f"the old secret signs too until {utc_time(now + grace)}" if grace else "the old secret stopped at once"
    if stopped := len(signing) - len(kept):
        said += f"; {'so did ' if not grace else ''}{stopped} older one{'s' if stopped != 1 else ''}" + (
            f" stopped (at most {OLD_SECRETS} old ones sign)" if grace else "")
    record(actor.account_id, actor.member_id, "webhook.secret_rolled", hook.public_id, ip,
           detail=f"{hook.host} · {said}")
    return hook, signing_secret(hook.secret_salt)


def stop_old_secrets(actor: Membership, public_id: str, ip: str | None = None) -> Webhook:
    """End the graces of an endpoint's old secrets: only its current one signs from now on."""
    hook = find_webhook(actor, public_id)
    if hook.old_secrets():
        hook.old_salts = []
        record(actor.account_id, actor.member_id, "webhook.old_secrets_stopped", hook.public_id, ip,
               detail=hook.host)
    return hook


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
