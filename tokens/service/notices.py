"""Notices: what a member must hear of on their next page (a token reported leaked, or rotated by someone
else), until they dismiss it. Written when it happens, in the words the banner shows; never a secret."""

from sqlalchemy import delete, select

from ..extensions import db
from ..models import Member, Membership, Notice
from .errors import NotFound


def notify(account_id: int, member_ids, kind: str, text: str, token: str | None = None) -> None:
    """Leave the same notice for each of ``member_ids`` (each once); ``token``, a token's public id, gives it a
    Rotate button."""
    for member_id in set(member_ids):
        db.session.add(Notice(account_id=account_id, member_id=member_id, kind=kind, text=text, token_id=token))


def active_owners_of(account_id: int) -> set[int]:
    """Return the member ids of the account's active owners."""
    return set(db.session.scalars(select(Membership.member_id).join(Membership.member).where(
        Membership.account_id == account_id, Membership.role == "owner", Member.active.is_(True))))


def notices_for(member: Member) -> list[Notice]:
    """Return the member's notices, oldest first."""
    return list(db.session.scalars(select(Notice).filter_by(member_id=member.id).order_by(Notice.id)))


def dismiss_notice(member: Member, notice_id: int) -> None:
    """Remove one of the member's notices (another's, or one gone, is NotFound)."""
    if db.session.execute(delete(Notice).filter_by(id=notice_id, member_id=member.id)).rowcount != 1:
        raise NotFound("That notice is no longer there.")
