"""The audit trail: what happened in an account, by whom, from where."""

from typing import NamedTuple

from sqlalchemy import select

from ..extensions import db
from ..labels import SCOPE_LABELS, utc_time
from ..models import ApiToken, AuditEvent, Member, Membership
from .events import EVENTS, emit
from .roles import require_manager

AUDIT_PAGE_SIZE = 50


class AuditPage(NamedTuple):
    """One page of the trail: its events, its number, whether more follow, and what old token events name."""

    events: list[AuditEvent]
    page: int
    more: bool
    tokens: dict[str, str]


def describe_token(token, note: str | None = None) -> str:
    """Say which token an event is about (name, hint, scope, expiry), as the trail keeps it; never the secret.

    Kept with the event when it happens, so that it still reads right once the token is gone.
    ``token`` is an ApiToken, an API caller or a deleted row: anything with its name, hint, scope and expiry.
    """
    parts = [token.name, token.hint, SCOPE_LABELS.get(token.scope, token.scope).lower()]
    if token.expires_at is not None:
        parts.append(f"expires {utc_time(token.expires_at)}")
    if note:
        parts.append(note)
    return " · ".join(parts)


def record(account_id: int, actor_id: int | None, action: str, subject: str | None = None,
           ip: str | None = None, *, member_id: int | None = None, detail: str | None = None,
           token=None) -> AuditEvent:
    """Add an event to the account's audit trail (in the caller's transaction); never pass a secret.

    The account's webhooks that want the event hear of it (``token``, the token it is about, is named to them).
    """
    event = AuditEvent(account_id=account_id, actor_id=actor_id, action=action, subject=subject, ip=ip,
                       member_id=member_id, detail=detail)
    db.session.add(event)
    if action in EVENTS:
        emit(account_id, action, actor_id=actor_id, token=token, detail=detail,
             member_email=subject if action.startswith("member.") else None)
    return event


def record_in_every_account(member: Member, action: str, actor_id: int | None, ip: str | None) -> None:
    """Note an event about a member in the trail of each account they belong to."""
    for membership in member.memberships:
        record(membership.account_id, actor_id, action, member.email, ip, member_id=member.id)


def audit_page(actor: Membership, page: int = 1) -> AuditPage:
    """Return one page of the account's audit trail, newest first, the page's number and whether more follow."""
    require_manager(actor)
    page = min(max(1, page), 1_000_000)  # the database's offset is a 64-bit integer
    events = list(db.session.scalars(
        select(AuditEvent).filter_by(account_id=actor.account_id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .offset((page - 1) * AUDIT_PAGE_SIZE).limit(AUDIT_PAGE_SIZE + 1)))
    events, more = events[:AUDIT_PAGE_SIZE], len(events) > AUDIT_PAGE_SIZE
    return AuditPage(events, page, more, _tokens_of_old_events(actor.account_id, events))


def _tokens_of_old_events(account_id: int, events: list[AuditEvent]) -> dict[str, str]:
    """Describe the tokens still there that older events (kept without a description) name by id."""
    ids = {e.subject for e in events if is_token_event(e.action) and e.detail is None and e.subject}
    if not ids:
        return {}
    tokens = db.session.scalars(select(ApiToken).where(ApiToken.account_id == account_id,
                                                       ApiToken.public_id.in_(ids)))
    return {token.public_id: describe_token(token) for token in tokens}


def is_token_event(action: str) -> bool:
    """Tell whether an event's subject is a token's public id."""
    return action.startswith(("token.", "api."))
