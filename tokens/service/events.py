"""Events an account's webhooks hear of: written as messages, one per endpoint that wants the event, in the
transaction of what happened. Once it commits, the queue is told (``queue.py``); a sweep finds any it lost.
"""

import secrets
from datetime import datetime

import orjson
from sqlalchemy import select

from ..extensions import db
from ..models import Account, Member, Webhook, WebhookMessage, utcnow
from .jobs import after_commit

# The events an endpoint may ask for, as the page lists them.
EVENTS = {
    "token.created": "A token was created",
    "token.deleted": "A token was deleted",
    "token.rotated": "A token was rotated",
    "token.expiring": "A token expires in 7 days, or in 1 day",
    "token.leaked": "A token was reported leaked (and deleted)",
    "member.joined": "A member joined",
    "member.removed": "A member was removed",
}


def emit(account_id: int, event: str, *, actor_id: int | None = None, token=None, member_email: str | None = None,
         detail: str | None = None) -> int:
    """Write the event for each of the account's endpoints that wants it; return how many.

    ``token`` is anything with a token's public id, name, hint, scope and expiry (a row, or a deleted one's
    columns): the payload names it so, never with its secret.
    """
    hooks = list(db.session.scalars(select(Webhook).where(
        Webhook.account_id == account_id, Webhook.enabled.is_(True), Webhook.events.contains(event))))
    hooks = [hook for hook in hooks if event in hook.event_list]
    if not hooks:
        return 0
    account = db.session.get(Account, account_id)
    data = {"account": account_data(account),
            "actor": db.session.scalar(select(Member.email).filter_by(id=actor_id)) if actor_id else None}
    if token is not None:
        data["token"] = {"id": token.public_id, "name": token.name, "hint": token.hint, "scope": token.scope,
                         "expires_at": _time(token.expires_at),
                         "member": db.session.scalar(select(Member.email).filter_by(id=token.member_id))}
    if member_email is not None:
        data["member"] = {"email": member_email}
    if detail:
        data["detail"] = detail
    for hook in hooks:
        add_message(hook, event, data)
    return len(hooks)


def account_data(account: Account) -> dict:
    return {"id": account.public_id, "name": account.name}


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def add_message(hook: Webhook, event: str, data: dict) -> WebhookMessage:
    """Add a message (the body Standard Webhooks suggests: type, timestamp, data) and have it queued on commit."""
    now = utcnow()
    message = WebhookMessage(public_id=f"msg_{secrets.token_urlsafe(18)}", webhook_id=hook.id, event=event,
                             payload=orjson.dumps({"type": event, "timestamp": _time(now), "data": data}).decode(),
                             due_at=now, created_at=now)
    db.session.add(message)
    after_commit("deliver_webhook", message.public_id)
    return message


