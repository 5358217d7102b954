"""The members of an account: the list owners and admins see, role changes, removal, deactivation."""

from typing import NamedTuple

from sqlalchemy import delete, func, select
from sqlalchemy.orm import contains_eager

from ..extensions import db
from ..models import ROLES, ApiToken, Member, Membership
from .accounts import find_account, find_member, membership_in
from .audit import record, record_in_every_account
from .errors import NotFound
from .names import normalize_email
from .passwords import end_sessions
from .roles import active_owners, check_role_change, clean_role, require_manager, role_refusal


class ListedMember(NamedTuple):
    """A member as the Members page lists them, with what the viewer may not do to them, and why."""

    membership: Membership
    tokens: int
    refused: dict[str | None, str]  # each role the viewer may not give them (None: removal), and why

    @property
    def role_locked(self) -> str | None:
        """Why the viewer can give this member no other role, when that is so."""
        others = [role for role in ROLES if role != self.membership.role]
        return self.refused[others[0]] if all(role in self.refused for role in others) else None

    @property
    def reasons(self) -> list[str]:
        """Why controls of the row are disabled, each reason once."""
        return list(dict.fromkeys(reason for reason in (self.role_locked, self.refused.get(None)) if reason))


def list_members(membership: Membership) -> list[ListedMember]:
    """Return the account's members with how many tokens each holds in it (owners and admins only).

    Each comes with what the service would refuse the viewer to do to them (the page disables it).
    """
    require_manager(membership)
    held = (select(ApiToken.member_id, func.count().label("tokens")).filter_by(account_id=membership.account_id)
            .group_by(ApiToken.member_id).subquery())
    rows = db.session.execute(
        select(Membership, func.coalesce(held.c.tokens, 0)).join(Membership.member)
        .outerjoin(held, held.c.member_id == Membership.member_id)
        .where(Membership.account_id == membership.account_id).order_by(Member.display_name, Member.id)
        .options(contains_eager(Membership.member)))  # the member joined is the row's: no query per row
    owners = active_owners(membership.account_id, lock=False)
    listed = []
    for target, tokens in rows:
        refused = {role: str(refusal) for role in (*ROLES, None)
                   if (refusal := role_refusal(membership, target, role, lambda: owners)) is not None}
        listed.append(ListedMember(target, tokens, refused))
    return listed


def account_members(membership: Membership) -> list[Member]:
    """Return the members of the account, by name (for filters).

    Without their token counts: counting reads every token of the account, and the token list's
    filter, shown with every page of it, must cost the same over 100,000 tokens as over 10.
    """
    require_manager(membership)
    return list(db.session.scalars(
        select(Member).join(Membership, Membership.member_id == Member.id)
        .where(Membership.account_id == membership.account_id).order_by(Member.display_name, Member.id)))


def find_membership_by_id(actor: Membership, membership_id: int) -> Membership:
    """Return a membership of the actor's account by id, or raise NotFound."""
    target = db.session.get(Membership, membership_id)
    if target is None or target.account_id != actor.account_id:
        raise NotFound("There is no such member in this account.")
    return target


def change_role(actor: Membership, membership_id: int, role: str, ip: str | None = None) -> Membership:
    """Give a member of the account another role."""
    clean_role(role)
    target = find_membership_by_id(actor, membership_id)
    check_role_change(actor, target, role)
    return _apply_role(target, role, actor.member_id, ip)


def set_role(account_public_id: str, email: str, role: str) -> Membership:
    """Give a member another role in an account, as the operator (the account still keeps an owner)."""
    clean_role(role)
    target = membership_in(find_member(email), find_account(account_public_id).public_id)
    if target is None:
        raise NotFound(f"{normalize_email(email)} is not a member of that account.")
    check_role_change(None, target, role)
    return _apply_role(target, role, None, None)


def _apply_role(target: Membership, role: str, actor_id: int | None, ip: str | None) -> Membership:
    """Set the role, noting the change in the audit trail when there is one."""
    if target.role != role:
        record(target.account_id, actor_id, "member.role_changed", target.member.email, ip,
               member_id=target.member_id, detail=f"{target.role} → {role}")
        target.role = role
    return target


def remove_member(actor: Membership, membership_id: int, ip: str | None = None) -> int:
    """Remove a member from the account with their tokens in it; end their sessions. Return the tokens deleted."""
    target = find_membership_by_id(actor, membership_id)
    check_role_change(actor, target, None)
    deleted = db.session.execute(delete(ApiToken).filter_by(
        account_id=target.account_id, member_id=target.member_id)).rowcount
    member = target.member
    record(actor.account_id, actor.member_id, "member.removed", member.email, ip,
           member_id=member.id, detail=f"{deleted} token{'s' if deleted != 1 else ''} deleted")
    db.session.delete(target)
    end_sessions(member)
    return deleted


def set_active(member: Member, active: bool, ip: str | None = None) -> int:
    """Deactivate (or reactivate) a member: a deactivated one loses every session and token.

    The last active owner of an account cannot be deactivated.
    """
    deleted = 0
    if not active:
        for membership in member.memberships:
            check_role_change(None, membership, None)
        deleted = db.session.execute(delete(ApiToken).filter_by(member_id=member.id)).rowcount
        end_sessions(member)
    member.active = active
    record_in_every_account(member, "member.activated" if active else "member.deactivated", None, ip)
    return deleted
