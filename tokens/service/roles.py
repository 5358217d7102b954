"""Roles in an account, and the one check of who may give, change or take them."""

from sqlalchemy import func, select, update

from ..extensions import db
from ..models import ROLES, Account, Member, Membership
from .errors import Forbidden, InvalidInput


def clean_role(role: str) -> str:
    """Return ``role`` if it is one of the roles, else raise InvalidInput."""
    if role not in ROLES:
        raise InvalidInput(f"The role must be one of {', '.join(ROLES)}.")
    return role


def require_manager(membership: Membership) -> None:
    """Refuse anyone but the account's owners and admins."""
    if not membership.manages:
        raise Forbidden("Only the account's owners and admins can do that.")


def check_role_change(actor: Membership | None, target: Membership | None, new_role: str | None) -> None:
    """Allow giving ``new_role`` to ``target``, or refuse it saying why.

    ``actor`` None is the operator (the CLI); ``target`` None is a newcomer (an invitation);
    ``new_role`` None takes the role away (removal; deactivation when the operator does it). Owners
    and admins manage roles, only owners give or take the owner role, and an account always keeps an
    active owner (an inactive one does not count).
    """
    current = target.role if target is not None else None
    if actor is not None:
        require_manager(actor)
        if actor.role != "owner" and "owner" in (current, new_role):
            raise Forbidden("Only an owner can invite another owner." if target is None
                            else "Only an owner can give, take or remove the owner role.")
    if (current == "owner" and new_role != "owner" and target.member.active
            and active_owners(target.account_id) == 1):
        if actor is None and new_role is None:
            raise InvalidInput(f"{target.member.email} is the last active owner of {target.account.name!r}: "
                               "make someone else an owner first.")
        raise InvalidInput("The account needs at least one owner: make someone else an owner first.")


def active_owners(account_id: int) -> int:
    """Count the account's active owners, holding the account's lock until the caller commits.

    Without the lock, two owners demoting (or removing) each other at once could both see the
    other one still there and leave the account with none.
    """
    db.session.execute(update(Account).where(Account.id == account_id).values(id=Account.id))
    return db.session.scalar(select(func.count()).select_from(Membership).join(Membership.member).where(
        Membership.account_id == account_id, Membership.role == "owner", Member.active.is_(True)))
