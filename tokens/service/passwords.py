"""Passwords: argon2id hashes, the length rule, changing and resetting them (every session then ends)."""

import hmac
import time
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from ..extensions import db
from ..models import Member
from . import links
from .audit import record_in_every_account
from .errors import InvalidInput, InvalidLink, WrongPassword

PASSWORD_MIN = 12
PASSWORD_MAX = 1024
RESET_LINK_LIFE = timedelta(days=1)
# An emailed link ("Forgot your password?") lives an hour: a mailbox keeps it long after it is needed.
EMAILED_RESET_LINK_LIFE = timedelta(hours=1)


def _hasher() -> PasswordHasher:
    """Return an argon2id hasher at the configured cost."""
    return PasswordHasher(**current_app.config["ARGON2_PARAMETERS"])


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``."""
    return _hasher().hash(password)


def clean_password(password: str) -> str:
    """Return ``password`` if it is long enough to resist guessing (and short enough to hash)."""
    if len(password) < PASSWORD_MIN:
        raise InvalidInput(f"Choose a password of at least {PASSWORD_MIN} characters.")
    if len(password) > PASSWORD_MAX:
        raise InvalidInput(f"Choose a password of at most {PASSWORD_MAX} characters.")
    return password


def password_matches(member: Member | None, password: str) -> bool:
    """Tell whether ``password`` is the member's.

    A hash is verified even without a member, so that the answer takes as long either way.
    """
    hasher = _hasher()
    try:
        hasher.verify(member.password_hash if member else _dummy_hash(hasher), password)
    except (VerificationError, InvalidHashError):
        return False
    return member is not None


def refresh_hash(member: Member, password: str) -> None:
    """Hash the (verified) password again if the cost settings grew since it was hashed."""
    hasher = _hasher()
    if hasher.check_needs_rehash(member.password_hash):
        member.password_hash = hasher.hash(password)


def _dummy_hash(hasher: PasswordHasher) -> str:
    """Return a hash to verify when there is no member, so that timing tells nothing."""
    cached = current_app.extensions.get("portal_dummy_hash")
    if cached is None:
        cached = current_app.extensions["portal_dummy_hash"] = hasher.hash("not a real password")
    return cached


def end_sessions(member: Member) -> None:
    """Sign the member out everywhere: every session cookie issued so far stops working."""
    member.session_version += 1


def change_password(member: Member, current: str, new: str) -> None:
    """Set a new password after checking the current one; every other session ends."""
    try:
        _hasher().verify(member.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise WrongPassword("That is not your current password.") from None
    _set_password(member, new, "member.password_changed", member.id, None)


def reset_password(member: Member, new: str, ip: str | None = None) -> None:
    """Set the password a reset link was made for; every session ends."""
    _set_password(member, new, "member.password_reset", None, ip)


def _set_password(member: Member, new: str, action: str, actor_id: int | None, ip: str | None) -> None:
    """Set a new password, end every session and note it in the member's accounts."""
    member.password_hash = hash_password(clean_password(new))
    end_sessions(member)
    record_in_every_account(member, action, actor_id, ip)


def reset_link(member: Member, life: timedelta | None = None) -> str:
    """Return a one-time password reset link token, valid a day (an operator's), or for ``life`` (an emailed one).

    It carries a fingerprint of the current password hash, so it stops working once used; a shorter life is
    carried as its deadline, signed with the rest.
    """
    value = [member.id, _fingerprint(member)]
    if life is not None:
        value.append(int(time.time() + life.total_seconds()))
    return links.sign("password reset", value)


def _fingerprint(member: Member) -> str:
    """Return a keyed fingerprint of the password hash: it changes once the password does."""
    return hmac.new(current_app.config["SECRET_KEY"].encode(), member.password_hash.encode(), "sha256").hexdigest()[:16]


def read_reset_link(link_token: str) -> Member:
    """Return the member a reset link is for, or raise InvalidLink saying why it cannot be used."""
    member_id, fingerprint, *deadline = links.read("password reset", link_token, RESET_LINK_LIFE)
    if deadline and time.time() > deadline[0]:
        raise InvalidLink("This link has expired. Ask for a new one: “Forgot your password?” on the sign-in page.")
    member = db.session.get(Member, member_id) if isinstance(member_id, int) else None
    if member is None or not member.active or not hmac.compare_digest(str(fingerprint), _fingerprint(member)):
        raise InvalidLink("This reset link was already used or is no longer valid. Ask for a new one.")
    return member
