"""Invitations: owners and admins invite someone by email with a role; the signed link is used once."""

from datetime import timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy import exists, select, update

from ..extensions import db
from ..models import Invitation, Member, Membership, utcnow
from . import links
from .accounts import add_member, authenticate_member, member_by_email, member_exists, record_sign_in
from .audit import record
from .errors import Forbidden, InvalidInput, InvalidLink, NotFound
from .names import clean_email
from .passwords import clean_password
from .roles import check_role_change, clean_role, require_manager


def _life() -> timedelta:
    """How long an invitation stays valid (INVITATION_DAYS)."""
    return timedelta(days=current_app.config["INVITATION_DAYS"])


def invite(actor: Membership, email: str, role: str, ip: str | None = None) -> tuple[Invitation, str]:
    """Create an invitation to the account; return it and its link token (shown once)."""
    check_role_change(actor, None, role)
    clean_role(role)
    email = clean_email(email)
    if _is_member(actor.account_id, email):
        raise InvalidInput(f"{email} is already a member of this account.")
    pending = Invitation.account_id == actor.account_id, Invitation.email == email, \
        Invitation.used_at.is_(None), Invitation.revoked_at.is_(None)
    # A repeat (the page reloaded, the form posted again) must not silently revoke the link just handed out:
    # while one is pending, the owner revokes it first to make a new one.
    earlier = db.session.scalar(select(Invitation).where(*pending, Invitation.expires_at > utcnow()).limit(1))
    if earlier is not None:
        raise InvalidInput(f"{email} is already invited (as {earlier.role}) and the link sent stays valid. "
                           "For a new link or another role, revoke that invitation under Pending invitations first.")
    db.session.execute(update(Invitation).where(*pending).values(revoked_at=utcnow()))  # expired ones
    invitation = Invitation(account_id=actor.account_id, email=email, role=role, invited_by_id=actor.member_id,
                            expires_at=utcnow() + _life())
    db.session.add(invitation)
    db.session.flush()
    record(actor.account_id, actor.member_id, "member.invited", email, ip, detail=role)
    return invitation, links.sign("invitation", invitation.public_id)


def _is_member(account_id: int, email: str) -> bool:
    """Tell whether someone with this email belongs to the account."""
    return bool(db.session.scalar(select(exists().where(
        Membership.account_id == account_id, Membership.member_id == Member.id, Member.email == email))))


def read_invitation(link_token: str) -> Invitation:
    """Return the pending invitation a link names, or raise InvalidLink saying why not."""
    public = links.read("invitation", link_token, _life())
    invitation = db.session.scalar(select(Invitation).filter_by(public_id=public))
    if invitation is None:
        raise InvalidLink("This invitation no longer exists.")
    if invitation.used_at is not None:
        raise InvalidLink("This invitation was already used. Sign in instead.")
    if invitation.revoked_at is not None:
        raise InvalidLink("This invitation was revoked. Ask for a new one.")
    if invitation.expires_at <= utcnow():
        raise InvalidLink("This invitation has expired. Ask for a new one.")
    return invitation


def accept_invitation(invitation: Invitation, *, member: Member | None = None, display_name: str = "",
                      password: str | None = None, ip: str | None = None) -> Membership:
    """Join the invitation's account: as the signed-in ``member``, or as a new member with a password."""
    if member is not None and member.email != invitation.email:
        raise Forbidden(f"This invitation is for {invitation.email}; you are signed in as {member.email}.")
    if member is None and member_exists(invitation.email):
        raise Forbidden(f"{invitation.email} already has a sign-in here: sign in first, then open the link again.")
    if _is_member(invitation.account_id, invitation.email):
        raise InvalidLink("You are already a member of this account.")
    # One UPDATE decides, so that of two uses at once only one joins.
    used = db.session.execute(update(Invitation).where(
        Invitation.id == invitation.id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .values(used_at=utcnow())).rowcount
    if not used:
        raise InvalidLink("This invitation was already used. Sign in instead.")
    if member is None:
        membership = add_member(invitation.account, invitation.email, display_name, password, invitation.role)
    else:
        membership = Membership(account=invitation.account, member=member, role=invitation.role)
        db.session.add(membership)
        db.session.flush()
    record(invitation.account_id, membership.member_id, "member.joined", invitation.email, ip,
           member_id=membership.member_id, detail=invitation.role)
    return membership


class Joined(NamedTuple):
    """An invitation accepted from its link: the membership, and whether its member was made for it."""

    membership: Membership
    new_member: bool


def join_with_password(invitation: Invitation, display_name: str, password: str,
                       ip: str | None = None) -> Joined | None:
    """Accept an invitation from its link, signed out.

    The rules of new passwords apply first, whatever the email (InvalidInput), so that a refusal by rule tells
    nothing about it; a member whose own password predates the rules signs in first, then accepts. For an
    email new here: as a new member with this name and password, signed in (noted as a sign-in). For an email
    that signs in here already: as that member, if ``password`` is theirs (their name and password stay as they
    are); else None, as for a failed sign-in (a deactivated member too).
    """
    clean_password(password)  # before the invitation is marked used, and before the email is looked up
    if member_by_email(invitation.email) is None:
        membership = accept_invitation(invitation, display_name=display_name, password=password, ip=ip)
        record_sign_in(membership.member, ip)  # they are signed in as they join
        return Joined(membership, True)
    member = authenticate_member(invitation.email, password)
    if member is None:
        return None
    return Joined(accept_invitation(invitation, member=member, ip=ip), False)


def pending_invitations(actor: Membership) -> list[Invitation]:
    """Return the account's invitations still waiting to be used (owners and admins only)."""
    require_manager(actor)
    return [i for i in db.session.scalars(select(Invitation).filter_by(account_id=actor.account_id)
                                          .order_by(Invitation.created_at)) if i.is_pending]


def revoke_invitation(actor: Membership, public: str, ip: str | None = None) -> None:
    """Withdraw a pending invitation: its link stops working."""
    require_manager(actor)
    invitation = db.session.scalar(select(Invitation).filter_by(public_id=public, account_id=actor.account_id))
    if invitation is None or not invitation.is_pending:
        raise NotFound("There is no such pending invitation.")
    invitation.revoked_at = utcnow()
    record(actor.account_id, actor.member_id, "member.invitation_revoked", invitation.email, ip)
