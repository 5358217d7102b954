"""The audit trail: what happened in an account, by whom, from where."""

from sqlalchemy import select

from ..extensions import db
from ..models import AuditEvent, Member, Membership
from .roles import require_manager

AUDIT_PAGE_SIZE = 50


def record(account_id: int, actor_id: int | None, action: str, subject: str | None = None,
           ip: str | None = None, *, member_id: int | None = None, detail: str | None = None) -> AuditEvent:
    """Add an event to the account's audit trail (in the caller's transaction); never pass a secret."""
    event = AuditEvent(account_id=account_id, actor_id=actor_id, action=action, subject=subject, ip=ip,
                       member_id=member_id, detail=detail)
    db.session.add(event)
    return event


def record_in_every_account(member: Member, action: str, actor_id: int | None, ip: str | None) -> None:
    """Note an event about a member in the trail of each account they belong to."""
    for membership in member.memberships:
        record(membership.account_id, actor_id, action, member.email, ip, member_id=member.id)


def audit_page(actor: Membership, page: int = 1) -> tuple[list[AuditEvent], int, bool]:
    """Return one page of the account's audit trail, newest first, the page's number and whether more follow."""
    require_manager(actor)
    page = min(max(1, page), 1_000_000)  # the database's offset is a 64-bit integer
    events = list(db.session.scalars(
        select(AuditEvent).filter_by(account_id=actor.account_id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .offset((page - 1) * AUDIT_PAGE_SIZE).limit(AUDIT_PAGE_SIZE + 1)))
    return events[:AUDIT_PAGE_SIZE], page, len(events) > AUDIT_PAGE_SIZE
