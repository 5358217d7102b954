"""Accounts and who belongs to them: creating them, adding members, finding both, signing in, first run."""

import hmac

from flask import current_app
from sqlalchemy import exists, select

from .. import secret
from ..extensions import db
from ..models import Account, Member, Membership, utcnow
from .audit import record, record_in_every_account
from .errors import InvalidInput, NotFound, ServiceError
from .names import clean_email, clean_text, normalize_email
from .passwords import clean_password, hash_password, password_matches, refresh_hash
from .roles import clean_role


def create_account(name: str) -> Account:
    """Create an account with a random public id."""
    name = clean_text(name, "The account name")
    if not name:
        raise InvalidInput("Give the account a name.")
    account = Account(name=name)
    db.session.add(account)
    db.session.flush()
    return account


def add_member(account: Account, email: str, display_name: str, password: str | None,
               role: str = "member") -> Membership:
    """Add a member to an account with ``role``, creating the member if the email is new."""
    clean_role(role)
    email = clean_email(email)
    member = member_by_email(email)
    if member is None:
        if password is None:
            raise InvalidInput("A new member needs a password.")
        clean_password(password)
        display_name = clean_text(display_name, "The display name") or email.split("@")[0]
        member = Member(email=email, display_name=display_name, password_hash=hash_password(password))
        db.session.add(member)
        db.session.flush()
    elif db.session.scalar(select(Membership).filter_by(account_id=account.id, member_id=member.id)):
        raise InvalidInput(f"{email} is already a member of this account.")
    membership = Membership(account=account, member=member, role=role)
    db.session.add(membership)
    db.session.flush()
    return membership


def member_by_email(email: str) -> Member | None:
    """Return the member with this email (any case), or None.

    Text no email can contain never reaches the database (PostgreSQL refuses NUL bytes).
    """
    email = normalize_email(email)
    return None if "\x00" in email else db.session.scalar(select(Member).where(Member.email == email))


def member_exists(email: str) -> bool:
    """Tell whether someone signs in with this email."""
    return member_by_email(email) is not None


def find_member(email: str) -> Member:
    """Return the member with this email, or raise NotFound."""
    member = member_by_email(email)
    if member is None:
        raise NotFound(f"No member has the email {normalize_email(email)}.")
    return member


def find_account(public_id: str) -> Account:
    """Return the account with this public id, or raise NotFound."""
    account = db.session.scalar(select(Account).where(Account.public_id == public_id))
    if account is None:
        raise NotFound(f"No account has the id {public_id}.")
    return account


def membership_in(member: Member, account_public_id: str | None) -> Membership | None:
    """Return the member's membership in the account with that public id, if any."""
    return next((m for m in member.memberships if m.account.public_id == account_public_id), None)


def default_membership(member: Member) -> Membership | None:
    """Return the membership the member works in: for now, their first account."""
    return member.memberships[0] if member.memberships else None


def find_membership(member: Member, account_public_id: str | None) -> Membership:
    """Return the member's membership in the account named, or in their first account."""
    membership = membership_in(member, account_public_id) if account_public_id else default_membership(member)
    if membership is None:
        raise NotFound("You are not a member of that account.")
    return membership


def authenticate_member(email: str, password: str) -> Member | None:
    """Return the active member with this email and password, or None (as slowly for an unknown email)."""
    member = member_by_email(email)
    if not password_matches(member, password) or not member.active:
        return None
    refresh_hash(member, password)
    return member


def record_sign_in(member: Member, ip: str | None) -> None:
    """Note a sign-in: the member's last one, and an event in each of their accounts."""
    member.last_sign_in_at = utcnow()
    record_in_every_account(member, "member.signed_in", member.id, ip)


def record_failed_sign_in(email: str, ip: str | None) -> None:
    """Note a failed sign-in in the accounts of the member it was for (if the email is one)."""
    member = member_by_email(email)
    if member is not None:
        record_in_every_account(member, "member.sign_in_failed", None, ip)


# --- first run -------------------------------------------------------------------------------

def setup_is_open() -> bool:
    """Tell whether the portal has no member yet, so the first-run setup may create one."""
    return not db.session.scalar(select(exists().where(Member.id.is_not(None))))


def setup_code() -> str:
    """Return the one-time setup code, derived from the secret key so every worker agrees."""
    mac = hmac.new(current_app.config["SECRET_KEY"].encode(), b"first-run setup", "sha256")
    return secret.base62(int.from_bytes(mac.digest()[:11]), 15)


def check_setup_code(candidate: str) -> bool:
    """Tell whether ``candidate`` is the setup code (compared in constant time)."""
    return hmac.compare_digest((candidate or "").strip().encode(), setup_code().encode())


def first_run_setup(account_name: str, email: str, display_name: str, password: str,
                    ip: str | None = None) -> Membership:
    """Create the first account and its owner, who is signed in; refused once any member exists."""
    if not setup_is_open():
        raise ServiceError("This portal is already set up; sign in instead.")
    account = create_account(account_name)
    owner = add_member(account, email, display_name, password, role="owner")
    record(account.id, owner.member_id, "account.created", account.name, ip)
    record(account.id, owner.member_id, "member.added", owner.member.email, ip, member_id=owner.member_id,
           detail="owner")
    record_sign_in(owner.member, ip)
    return owner
