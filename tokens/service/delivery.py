"""Delivering webhook messages: one attempt at a time, claimed in the database, retried with backoff.

An attempt is three steps, each its own transaction, so that no database lock is held while the receiver
takes its time: ``claim`` (one conditional UPDATE: of several workers, or a retry and a sweep at once, one
makes the attempt), ``post`` (the HTTP request, no database), ``finish`` (the log, then delivered, a retry
later, or given up; an endpoint whose deliveries keep failing is turned off and its account's owners told).
"""

import socket
import ssl
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from http.client import HTTPException

from flask import current_app
from sqlalchemy import delete, select, update
from standardwebhooks import Webhook as Signer
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError, NewConnectionError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util import parse_url
from urllib3.util.ssl_match_hostname import CertificateError as NameMismatch

from ..extensions import db
from ..labels import utc_time
from ..models import Account, Webhook, WebhookAttempt, WebhookMessage, utcnow
from .addresses import Refused, allowed_addresses, default_port
from .audit import record
from .notices import active_owners_of, notify
from .webhooks import drop_waiting, signing_secrets

LEASE = timedelta(minutes=2)  # a claimed attempt not finished by then (its worker died) may be made again
LOST_AFTER = timedelta(minutes=1)  # a message due this long ago was lost by the queue: the sweep requeues it
USER_AGENT = "token-portal-webhooks/1"


def lease() -> timedelta:
    """How long a claimed attempt is its worker's: LEASE, or longer if a receiver may take longer to answer."""
    return max(LEASE, timedelta(seconds=2 * current_app.config["WEBHOOK_TIMEOUT"] + 30))


@dataclass(frozen=True)
class Claimed:
    """A message's attempt, claimed: what to send, and where."""

    message_id: int
    public_id: str
    attempt: int
    url: str
    secrets: tuple[str, ...]  # the endpoint's signing secret, and its old ones while they still sign
    payload: str


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    text: str


def claim(public_id: str, now: datetime | None = None) -> Claimed | None:
    """Claim the message's next attempt if it is due and still pending; None when there is nothing to do now."""
    now = now or utcnow()
    row = db.session.execute(
        update(WebhookMessage).where(WebhookMessage.public_id == public_id, WebhookMessage.state == "pending",
                                     WebhookMessage.due_at <= now)
        .values(attempts=WebhookMessage.attempts + 1, due_at=now + lease())
        .returning(WebhookMessage.id, WebhookMessage.webhook_id, WebhookMessage.attempts,
                   WebhookMessage.payload)).first()
    if row is None:
        return None
    hook = db.session.get(Webhook, row.webhook_id)
    if not hook.enabled:
        _log(row.id, row.attempts, Outcome(False, None, "Not sent: the webhook is turned off."), now)
        _settle(row.id, row.attempts, "dropped")
        return None
    if row.attempts > len(current_app.config["WEBHOOK_RETRY_DELAYS"]) + 1:  # earlier attempts never finished
        _log(row.id, row.attempts, Outcome(False, None, "Given up: the attempts before never finished."), now)
        if _settle(row.id, row.attempts, "failed"):
            _count_failure(row.webhook_id, now)
        return None
    return Claimed(row.id, public_id, row.attempts, hook.url, signing_secrets(hook, now), row.payload)


def post(claimed: Claimed, now: datetime | None = None) -> Outcome:
    """Send the attempt: sign it, connect to an address checked at this moment, never follow a redirect.

    WEBHOOK_TIMEOUT bounds the whole attempt (looking the name up, connecting, sending, the answer's head),
    not each read: a receiver trickling its answer a byte at a time is cut off all the same.
    """
    parts = parse_url(claimed.url)
    port = parts.port or default_port(parts.scheme)
    seconds = current_app.config["WEBHOOK_TIMEOUT"]
    deadline = time.monotonic() + seconds
    try:
        addresses = allowed_addresses(parts.host, port, wait=seconds)
    except Refused as refusal:
        return Outcome(False, None, f"Not sent: {refusal}"[:200])
    moment = now or utcnow()
    headers = {
        "webhook-id": claimed.public_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": " ".join(Signer(secret).sign(claimed.public_id, moment, claimed.payload)
                                      for secret in claimed.secrets),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Host": parts.netloc,
    }
    for address in addresses:  # each checked address in turn, as a browser would (IPv6, then IPv4...)
        left = deadline - time.monotonic()
        if left <= 0:
            break
        outcome = _send(parts, address, port, headers, claimed.payload, left)
        if outcome is not None:
            return outcome
    else:
        return Outcome(False, None, f"Could not connect to {parts.host} at any of its addresses"
                                    f" ({', '.join(addresses)})."[:200])
    return _late(seconds)


def _late(seconds: float) -> Outcome:
    return Outcome(False, None, f"No answer within {seconds:g} second{'s' if seconds != 1 else ''}.")


def _send(parts, address: str, port: int, headers: dict, payload: str, left: float) -> Outcome | None:
    """POST to one address within ``left`` seconds; None when it refused the connection (another may take it)."""
    seconds = current_app.config["WEBHOOK_TIMEOUT"]
    if parts.scheme == "https":  # connected to the address checked, TLS checks the certificate for the URL's name
        connection = HTTPSConnection(address, port, timeout=left, server_hostname=parts.host,
                                     assert_hostname=parts.host,
                                     ssl_context=tls_context(current_app.config["WEBHOOK_CA_BUNDLE"]))
    else:
        connection = HTTPConnection(address, port, timeout=left)
    cut = threading.Event()

    def cut_off():  # the deadline passed: wake whatever read or write waits on the socket
        cut.set()
        if (sock := connection.sock) is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
    timer = threading.Timer(left, cut_off)
    timer.start()
    try:
        connection.request("POST", parts.request_uri, body=payload.encode(), headers=headers)
        response = connection.getresponse()
        status, reason = response.status, f"{response.status} {response.reason or ''}".strip()
    except NewConnectionError:  # refused, or unreachable (ConnectTimeoutError's kin, so caught first)
        return _late(seconds) if cut.is_set() else None
    except (ssl.SSLError, ssl.CertificateError, SSLError, NameMismatch) as error:
        return _late(seconds) if cut.is_set() else Outcome(
            False, None, f"The TLS handshake failed: {getattr(error, 'verify_message', None) or _reason(error)}"[:200])
    except (OSError, HTTPException, HTTPError) as error:  # timed out, cut off, or answered with no HTTP
        return _late(seconds) if cut.is_set() or isinstance(error, TimeoutError | Urllib3Timeout) else Outcome(
            False, None, f"Could not connect: {_reason(error)}"[:200])
    finally:
        timer.cancel()
        connection.close()  # the answer's body is not read: only its status counts
    if cut.is_set():  # cut off inside the answer's head, which then ends as if complete: no answer
        return _late(seconds)
    if 200 <= status < 300:
        return Outcome(True, status, reason)
    if 300 <= status < 400:
        return Outcome(False, status, f"{reason}: redirects are not followed (the URL to send to is the one saved)")
    return Outcome(False, status, reason)


@cache
def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """The system's trusted authorities, and those of WEBHOOK_CA_BUNDLE (an office's own CA) if set."""
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


def _reason(error) -> str:
    return str(getattr(error, "reason", None) or error).split(": ", 1)[-1]


def finish(claimed: Claimed, outcome: Outcome, now: datetime | None = None) -> float | None:
    """Log the attempt, and settle the message; return in how many seconds to try again, or None when done.

    Only the message's latest claim settles it: an attempt that outlived its lease (another one was made
    meanwhile), or one whose webhook was turned off as it ran, is logged and changes nothing else.
    """
    now = now or utcnow()
    message = db.session.get(WebhookMessage, claimed.message_id)
    if message is None:  # its webhook was deleted meanwhile
        return None
    _log(message.id, claimed.attempt, outcome, now)
    if outcome.ok:
        if _settle(message.id, claimed.attempt, "delivered"):
            db.session.execute(update(Webhook).where(Webhook.id == message.webhook_id).values(failed_in_row=0))
        return None
    delays = current_app.config["WEBHOOK_RETRY_DELAYS"]
    if claimed.attempt <= len(delays):
        delay = float(delays[claimed.attempt - 1])
        retried = db.session.execute(update(WebhookMessage).where(*_current(message.id, claimed.attempt))
                                     .values(due_at=now + timedelta(seconds=delay))).rowcount
        return delay if retried else None
    if _settle(message.id, claimed.attempt, "failed"):
        _count_failure(message.webhook_id, now)
    return None


def _log(message_id: int, attempt: int, outcome: Outcome, now: datetime) -> None:
    db.session.add(WebhookAttempt(message_id=message_id, attempt=attempt, ok=outcome.ok,
                                  status_code=outcome.status_code, outcome=outcome.text[:200], created_at=now))


def _current(message_id: int, attempt: int) -> tuple:
    """Where the message is still pending, and ``attempt`` its latest claim."""
    return (WebhookMessage.id == message_id, WebhookMessage.state == "pending", WebhookMessage.attempts == attempt)


def _settle(message_id: int, attempt: int, state: str) -> bool:
    """Settle the message if ``attempt`` is still its latest claim; return whether it was."""
    return bool(db.session.execute(update(WebhookMessage).where(*_current(message_id, attempt))
                                   .values(state=state)).rowcount)


def _count_failure(webhook_id: int, now: datetime) -> None:
    """Count a delivery that failed every attempt; at WEBHOOK_DISABLE_AFTER in a row, turn the endpoint off
    (once: a conditional UPDATE) and tell the account's owners."""
    failed = db.session.execute(update(Webhook).where(Webhook.id == webhook_id)
                                .values(failed_in_row=Webhook.failed_in_row + 1)
                                .returning(Webhook.failed_in_row)).scalar_one()
    if failed < current_app.config["WEBHOOK_DISABLE_AFTER"]:
        return
    reason = f"Turned off at {utc_time(now)}: {failed} deliveries in a row failed every attempt."
    hook = db.session.execute(update(Webhook).where(Webhook.id == webhook_id, Webhook.enabled.is_(True))
                              .values(enabled=False, disabled_reason=reason)
                              .returning(Webhook.account_id, Webhook.public_id, Webhook.url)).first()
    if hook is None:
        return
    drop_waiting(webhook_id)
    account = db.session.get(Account, hook.account_id)
    record(hook.account_id, None, "webhook.disabled", hook.public_id, detail=reason)
    notify(hook.account_id, active_owners_of(hook.account_id), "webhook.disabled", (
        f"The webhook to {hook.url[:120]} in {account.name} was turned off: {failed} deliveries in a row failed "
        "every attempt. Check its delivery log on the Webhooks page, mend the receiver, then turn it on again."))


def lost_messages(now: datetime | None = None) -> list[str]:
    """Return the pending messages whose attempt is overdue: the queue lost them (it was down when they were
    written, or a worker died mid-attempt)."""
    now = now or utcnow()
    return list(db.session.scalars(select(WebhookMessage.public_id).where(
        WebhookMessage.state == "pending", WebhookMessage.due_at <= now - LOST_AFTER).limit(500)))


def prune_log(now: datetime | None = None) -> int:
    """Forget messages settled longer ago than WEBHOOK_LOG_DAYS, with their attempts; return how many."""
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["WEBHOOK_LOG_DAYS"])
    return db.session.execute(delete(WebhookMessage).where(
        WebhookMessage.state != "pending", WebhookMessage.created_at < cutoff)).rowcount
