"""Roles in an account, and the one check of who may give, change or take them."""

from collections.abc import Callable

from sqlalchemy import func, select, update

from ..extensions import db
from ..models import ROLES, Account, Member, Membership
from .errors import Forbidden, InvalidInput, ServiceError

NOT_A_MANAGER = "Only the account's owners and admins can do that."


def clean_role(role: str) -> str:
    """Return ``role`` if it is one of the roles, else raise InvalidInput."""
    if role not in ROLES:
        raise InvalidInput(f"The role must be one of {', '.join(ROLES)}.")
    return role


def require_manager(membership: Membership) -> None:
    """Refuse anyone but the account's owners and admins."""
    if not membership.manages:
        raise Forbidden(NOT_A_MANAGER)


def check_role_change(actor: Membership | None, target: Membership | None, new_role: str | None) -> None:
    """Allow giving ``new_role`` to ``target``, or refuse it saying why (see ``role_refusal``)."""
    refusal = role_refusal(actor, target, new_role, lambda: active_owners(target.account_id))
    if refusal is not None:
        raise refusal


def role_refusal(actor: Membership | None, target: Membership | None, new_role: str | None,
                 owners: Callable[[], int]) -> ServiceError | None:
    """Return why giving ``new_role`` to ``target`` is refused, or None when it is allowed.

    ``actor`` None is the operator (the CLI); ``target`` None is a newcomer (an invitation);
    ``new_role`` None takes the role away (removal; deactivation when the operator does it). Owners
    and admins manage roles, only owners give or take the owner role, and an account always keeps an
    active owner (an inactive one does not count). ``owners`` counts the account's active owners, asked
    only when the answer depends on it: the check counts under the account's lock, the Members page
    (which disables what would be refused) counts once for all its rows.
    """
    current = target.role if target is not None else None
    if actor is not None:
        if not actor.manages:
            return Forbidden(NOT_A_MANAGER)
        if actor.role != "owner" and "owner" in (current, new_role):
            return Forbidden("Only an owner can invite another owner." if target is None
                             else "Only an owner can give, take or remove the owner role.")
    if current == "owner" and new_role != "owner" and target.member.active and owners() == 1:
        if actor is None and new_role is None:
            return InvalidInput(f"{target.member.email} is the last active owner of {target.account.name!r}: "
                                "make someone else an owner first.")
        return InvalidInput("The account needs at least one owner: make someone else an owner first.")
    return None


def active_owners(account_id: int, *, lock: bool = True) -> int:
    """Count the account's active owners, holding the account's lock until the caller commits.

    Without the lock, two owners demoting (or removing) each other at once could both see the
    other one still there and leave the account with none. A page that only shows them counts
    without it (``lock=False``): a read must not queue behind, or hold up, the account's changes.
    """
    if lock:
        db.session.execute(update(Account).where(Account.id == account_id).values(id=Account.id))
    return db.session.scalar(select(func.count()).select_from(Membership).join(Membership.member).where(
        Membership.account_id == account_id, Membership.role == "owner", Member.active.is_(True)))
