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
from .api_tokens import DESCRIBED, any_token, check_token_limit, find_token, new_token, record_deletion
from .audit import describe_token, record
from .errors import Forbidden, InvalidInput, ServiceError
from .notices import notify
from .policy import check_policy

HOUR, DAY = 3600, 86400


def grace_choices(none: str) -> dict[int, str]:
    """The graces offered for how long an old one (token, signing secret) keeps working, in seconds; ``none``
    says what no grace does."""
    return {0: f"none: {none}", HOUR: "1 hour", DAY: "24 hours", 7 * DAY: "7 days"}


# The graces offered for a token; the API takes any number of seconds up to the longest.
GRACE_CHOICES = grace_choices("the old token stops at once")
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
                 ip: str | None = None, made_by: str | None = None) -> Rotation:
    """Replace a token the actor may manage (``actor`` None: the operator, any token) with a new one.

    The new token keeps the name, scope and lifetime (a 30-day token becomes a new 30-day token from
    now) and belongs to the old one's member. The old one keeps working for ``grace``, never past its
    own expiry; with no grace it is deleted at once. ``made_by`` is the digest of the token that asked
    through the API (a leak report of that one deletes the new one too).
    """
    old = find_token(actor, token_id) if actor is not None else any_token(token_id)
    now = utcnow()
    if old.replaced_at is not None:
        stops = "stops" if old.expires_at > now else "stopped"
        raise AlreadyReplaced(
            f"The token “{old.name}” ({old.hint}) was already rotated; it {stops} working at "
            f"{utc_time(old.expires_at)}. Rotate its replacement instead, or delete it to end its grace now.")
    holder = _membership(old)
    _check_right(actor, holder)
    expires_at = now + (old.expires_at - old.created_at) if old.expires_at is not None else None
    check_policy(holder.account, expires_at, now, replacing=old)
    grace_ends = now + grace
    if old.expires_at is not None:
        grace_ends = min(grace_ends, old.expires_at)  # a grace never lengthens a token's life
    old_described = describe_token(old)
    _purge_ended_graces(holder, ip)
    # Claimed by its digest too: SQLite reuses a deleted row's id, so the id alone could name the new token
    # another rotation just made in the old one's place.
    unclaimed = (ApiToken.id == old.id, ApiToken.digest == old.digest, ApiToken.replaced_at.is_(None))
    if grace_ends > now:
        check_token_limit(holder, "Rotate it with no grace (the old token stops at once), or delete one first.",
                          "You hold" if actor is None or actor.member_id == holder.member_id
                          else f"{holder.member.display_name} holds")
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
                                    created_via=via, expires_at=expires_at, made_by_digest=made_by)
    ends = (f"a grace of {_length(grace_ends - now)}: the old one works until {utc_time(grace_ends)}" if replaced
            else "no grace: the old one stopped at once")
    record(old.account_id, actor.member_id if actor else None, "token.rotated", old.public_id, ip,
           member_id=old.member_id,
           detail=f"{old_described} · replaced by {token.name} {token.hint} · {ends}", token=old)
    if actor is not None and actor.member_id != holder.member_id:  # the member hears who holds the new secret
        notify(old.account_id, [holder.member_id], "token.rotated", (
            f"{actor.member.display_name} rotated your token “{old.name}” ({old.hint}) in {holder.account.name} "
            f"at {utc_time(now)}: its new secret ({token.hint}) was shown to them, and {ends}."))
    return Rotation(token, token_secret, replaced)


def _purge_ended_graces(holder: Membership, ip: str | None) -> None:
    """Delete the member's replaced tokens whose grace is over (each noted on the trail), so that a program
    rotating its own token every day never piles them up against the token limit."""
    ended = db.session.execute(delete(ApiToken).where(
        ApiToken.account_id == holder.account_id, ApiToken.member_id == holder.member_id,
        ApiToken.replaced_at.is_not(None), ApiToken.expires_at <= utcnow()).returning(*DESCRIBED))
    for token in ended:
        record_deletion(token, None, ip, note="replaced, removed at the next rotation once its grace was over")


def _membership(token: ApiToken) -> Membership:
    """The membership the token belongs to (its account, its member, their role)."""
    return db.session.scalar(select(Membership).filter_by(account_id=token.account_id, member_id=token.member_id))


def _below(role: str) -> tuple[str, ...]:
    """The roles whose tokens a ``role`` may rotate besides its own: an owner an admin's or a member's, an admin
    a member's. The new secret acts as the token's member, so never a peer's or a superior's."""
    return ROLES[ROLES.index(role) + 1:] if role in ("owner", "admin") else ()


def rotatable_members(actor: Membership) -> set[int]:
    """Return the ids of the members whose tokens ``actor`` may rotate (themselves included), for the list's
    Rotate buttons; ``rotate_token`` holds to the same rule."""
    below = db.session.scalars(select(Membership.member_id).where(
        Membership.account_id == actor.account_id, Membership.role.in_(_below(actor.role)))) if actor.manages else []
    return {actor.member_id, *below}


def _check_right(actor: Membership | None, holder: Membership) -> None:
    """Let a manager rotate (and so hold the new secret of) only the tokens of members below their own role
    (``_below``). (Whose tokens one may see at all, ``find_token`` decided.)"""
    if actor is None or actor.member_id == holder.member_id:
        return
    if holder.role not in _below(actor.role):
        raise Forbidden(f"Its new secret would act as {holder.member.display_name} ({holder.role}): only they "
                        f"can rotate it{' (or an owner)' if holder.role == 'admin' else ''}. Delete it instead, "
                        "or ask them.")


def _length(span: timedelta) -> str:
    """Say a grace as the choices do: "7 days", "24 hours", "90 minutes" (whole ones), else in seconds."""
    seconds = round(span.total_seconds())
    for unit, size, least in (("day", DAY, 2 * DAY), ("hour", HOUR, HOUR), ("minute", 60, 60)):
        if seconds >= least and seconds % size == 0:
            return f"{seconds // size} {unit}{'s' if seconds != size else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"
