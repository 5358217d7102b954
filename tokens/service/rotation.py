"""Rotation: a token replaced by a new one of the same name, scope and lifetime, the old one kept
working for a grace window so that programs can move to the new secret without an outage.

One conditional statement claims the old token (an UPDATE, or a DELETE when there is no grace), so of
many concurrent rotations of one token exactly one succeeds; the others are refused.
"""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update

from ..extensions import db
from ..labels import utc_time
from ..models import ROLES, ApiToken, Membership, utcnow
from .api_tokens import DESCRIBED, check_token_limit, find_token, new_token
from .audit import describe_token, record
from .errors import Forbidden, InvalidInput, NotFound, ServiceError
from .policy import PolicyForbids, TokenPolicy

HOUR, DAY = 3600, 86400
# The graces offered, in seconds; the API takes any number of seconds up to the longest.
GRACE_CHOICES = {0: "none: the old token stops at once", HOUR: "1 hour", DAY: "24 hours", 7 * DAY: "7 days"}
MAX_GRACE = 7 * DAY


class AlreadyReplaced(ServiceError):
    """The token was rotated already: its replacement is the one to rotate."""

    status = 409


@dataclass
class Rotation:
    """A rotation's outcome: the new token and its secret (shown once), and the old token while its grace
    runs (None: it stopped at once)."""

    token: ApiToken
    secret: str
    replaced: ApiToken | None


def clean_grace(seconds) -> timedelta:
    """Return the grace of ``seconds`` (a whole number from 0 to 7 days; JSON's 3600.0 is one), or raise
    InvalidInput."""
    if isinstance(seconds, float) and seconds.is_integer():
        seconds = int(seconds)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= MAX_GRACE:
        raise InvalidInput(f"The grace is a whole number of seconds from 0 to {MAX_GRACE} (7 days).")
    return timedelta(seconds=seconds)


def rotate_token(actor: Membership | None, token_id: str, grace: timedelta, *, via: str,
                 ip: str | None = None) -> Rotation:
    """Replace a token the actor may manage (``actor`` None: the operator, any token) with a new one.

    The new token keeps the name, scope and lifetime (a 30-day token becomes a new 30-day token from
    now) and belongs to the old one's member. The old one keeps working for ``grace``, never past its
    own expiry; with no grace it is deleted at once.
    """
    old = _find(actor, token_id)
    if old.replaced_at is not None:
        raise AlreadyReplaced(
            f"The token “{old.name}” ({old.hint}) was already rotated; it stops working at "
            f"{utc_time(old.expires_at)}. Rotate its replacement instead, or delete it to end its grace now.")
    owner = _membership(old)
    _check_right(actor, owner)
    now = utcnow()
    lifetime = old.expires_at - old.created_at if old.expires_at is not None else None
    expires_at = now + lifetime if lifetime is not None else None
    policy = TokenPolicy.of(owner.account)
    if not policy.allows(expires_at, now):
        raise PolicyForbids(
            f"This account's token policy says {policy.describe()}, and “{old.name}” "
            f"{'never expires' if lifetime is None else f'lives {_days(lifetime)}'}: its replacement would "
            "break the policy. Generate a token within the policy instead.")
    grace_ends = now + grace
    if old.expires_at is not None:
        grace_ends = min(grace_ends, old.expires_at)  # a grace never lengthens a token's life
    old_described = describe_token(old)
    # Claimed by its digest too: SQLite reuses a deleted row's id, so the id alone could name the new token
    # another rotation just made in the old one's place.
    unclaimed = (ApiToken.id == old.id, ApiToken.digest == old.digest, ApiToken.replaced_at.is_(None))
    if grace_ends > now:
        check_token_limit(owner, "Rotate it with no grace (the old token stops at once), or delete one first.")
        claimed = db.session.execute(
            update(ApiToken).where(*unclaimed)
            .values(replaced_at=now, expires_at=grace_ends).execution_options(synchronize_session=False)).rowcount
        replaced = old
    else:
        claimed = db.session.execute(
            delete(ApiToken).where(*unclaimed)
            .returning(*DESCRIBED).execution_options(synchronize_session=False)).first() is not None
        replaced = None
    if not claimed:
        raise AlreadyReplaced(f"The token “{old.name}” ({old.hint}) was just rotated elsewhere: "
                              "its replacement is in the list.")
    if replaced is not None:
        db.session.refresh(replaced)
    else:
        db.session.expunge(old)
    token, token_secret = new_token(old.account_id, old.member_id, name=old.name, scope=old.scope,
                                    created_via=via, expires_at=expires_at)
    ends = (f"a grace of {_length(grace_ends - now)}: the old one works until {utc_time(grace_ends)}" if replaced
            else "no grace: the old one stopped at once")
    record(old.account_id, actor.member_id if actor else None, "token.rotated", old.public_id, ip,
           member_id=old.member_id,
           detail=f"{old_described} · replaced by {token.name} {token.hint} · {ends}")
    return Rotation(token, token_secret, replaced)


def _find(actor: Membership | None, token_id: str) -> ApiToken:
    if actor is not None:
        return find_token(actor, token_id)
    token = db.session.scalar(select(ApiToken).filter_by(public_id=token_id))
    if token is None:
        raise NotFound("No token has that id.")
    return token


def _membership(token: ApiToken) -> Membership:
    """The membership the token belongs to (its account, its member, their role)."""
    return db.session.scalar(select(Membership).filter_by(account_id=token.account_id, member_id=token.member_id))


def _check_right(actor: Membership | None, owner: Membership) -> None:
    """Refuse an admin the new secret of an owner's token: it would act as the owner. (Whose tokens one
    may see at all, ``find_token`` decided.)"""
    if actor is None or actor.member_id == owner.member_id:
        return
    if ROLES.index(actor.role) > ROLES.index(owner.role):
        raise Forbidden(f"Only an owner can rotate an owner's token: its new secret would act as "
                        f"{owner.member.display_name}. Ask them to rotate it, or delete it.")


def _length(span: timedelta) -> str:
    """Say a grace as the choices do: "7 days", "24 hours", "90 minutes" (whole ones), else in seconds."""
    seconds = round(span.total_seconds())
    for unit, size, least in (("day", DAY, 2 * DAY), ("hour", HOUR, HOUR), ("minute", 60, 60)):
        if seconds >= least and seconds % size == 0:
            return f"{seconds // size} {unit}{'s' if seconds != size else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _days(lifetime: timedelta) -> str:
    days = lifetime / timedelta(days=1)
    return f"{days:.0f} days" if days >= 1 else "less than a day"
