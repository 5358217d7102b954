"""Who an API request speaks for: the authentication hot path, one indexed SELECT per request."""

import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import joinedload

from .. import secret
from ..database import CompiledSelect
from ..extensions import db
from ..models import Account, ApiToken, Member, Membership, expired, utcnow
from .api_tokens import revoke_token, token_digest
from .audit import describe_token, record

LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who an API request speaks for: its token (named as on ApiToken), the account and the member."""

    id: int
    public_id: str
    name: str
    hint: str
    scope: str
    created_via: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str | None
    replaced_at: datetime | None
    account_id: int
    account_public_id: str
    account_name: str
    member_id: int
    member_email: str
    member_name: str
    role: str
    digest: str  # what the database keeps of the token (never the token): the tokens it makes note it

    @property
    def can_write(self) -> bool:
        """Tell whether the token may change things (its scope is read-write)."""
        return self.scope == "read-write"

    @property
    def is_expired(self) -> bool:
        """Tell whether the token is past its expiry."""
        return expired(self.expires_at)


# One query answers who is calling: the token by its digest, while its member is active and
# still belongs to its account. Its columns are Caller's, in order.
CALLER_BY_DIGEST = CompiledSelect(
    select(ApiToken.id, ApiToken.public_id, ApiToken.name, ApiToken.hint, ApiToken.scope, ApiToken.created_via,
           ApiToken.created_at, ApiToken.expires_at, ApiToken.last_used_at, ApiToken.last_used_ip,
           ApiToken.replaced_at, ApiToken.account_id, Account.public_id, Account.name,
           ApiToken.member_id, Member.email, Member.display_name, Membership.role, ApiToken.digest)
    .join(Account, Account.id == ApiToken.account_id)
    .join(Member, Member.id == ApiToken.member_id)
    .join(Membership, (Membership.account_id == ApiToken.account_id) & (Membership.member_id == ApiToken.member_id))
    .where(ApiToken.digest == bindparam("digest"), Member.active.is_(True)))


def authenticate_token(token_secret: str, account_public_id: str | None = None,
                       ip: str | None = None) -> Caller | None:
    """Return the caller a token speaks for, or None: malformed, unknown, expired, other account.

    A token failing its checksum never reaches the database; a good one costs one indexed lookup.
    "Last used" is written (in the session, for the caller to commit) at most once a minute per token.
    """
    if secret.parse(token_secret) is None:
        return None
    digest = token_digest(token_secret)
    row = CALLER_BY_DIGEST.first(db.engine, digest=digest)
    if row is None or not hmac.compare_digest(row[-1], digest):
        return None
    caller = Caller(*row)
    if caller.is_expired:
        return None
    if account_public_id is not None and not hmac.compare_digest(
            account_public_id.encode("utf-8", "replace"), caller.account_public_id.encode()):
        return None
    now = utcnow()
    if caller.last_used_at is None or now - caller.last_used_at >= LAST_USED_EVERY:
        db.session.execute(update(ApiToken).where(
            ApiToken.id == caller.id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_EVERY),
        ).values(last_used_at=now, last_used_ip=ip))
        caller = replace(caller, last_used_at=now, last_used_ip=ip)
    return caller


def membership_of(caller: Caller) -> Membership:
    """Return the membership an API caller acts in, with its account and member, in one query."""
    return db.session.scalar(select(Membership).filter_by(account_id=caller.account_id, member_id=caller.member_id)
                             .options(joinedload(Membership.account), joinedload(Membership.member)))


def log_out(caller, ip: str | None = None) -> None:
    """Delete the token an API call was made with (``caller``), and note the logout."""
    revoke_token(membership_of(caller), caller.public_id, ip)
    record(caller.account_id, caller.member_id, "api.logout", caller.public_id, ip, detail=describe_token(caller))
