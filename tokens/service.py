"""What the portal does: accounts and members, issuing, listing and revoking tokens, the audit trail.

Functions here take plain arguments, never read the request, and leave committing to the caller,
so the browser pages, the API and the CLI share them.
"""

import enum
import hmac
import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam, delete, exists, func, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from . import secret
from .extensions import db
from .models import ROLES, SCOPES, Account, ApiToken, AuditEvent, Invitation, Member, Membership, expired, utcnow

NAME_MAX = 100
PASSWORD_MIN = 12
PASSWORD_MAX = 1024
# Characters a name may not hold, as the body of a regular-expression class that Python and the
# OpenAPI document (ECMA-262) read alike: controls, invisible format characters (zero-width,
# bidirectional overrides) and private use. Invisible in a list, they would let two names look
# alike. Emoji sequences keep their zero-width joiner (U+200D).
INVISIBLE_CHARACTERS = (r"\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b\u200c\u200e\u200f\u202a-\u202e"
                        r"\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ue000-\uf8ff")
_INVISIBLE = re.compile(f"[{INVISIBLE_CHARACTERS}\\ud800-\\udfff]")  # and lone surrogates
TOKEN_ID_PATTERN = re.compile(r"[0-9A-Za-z]{12}")
NO_SUCH_TOKEN = "There is no such token in your list."  # noqa: S105 (a message)
ALREADY_GENERATED = "This token was already generated; its secret was shown once."
EXPIRY_DAYS = (7, 30, 90)
LONGEST_EXPIRY = timedelta(days=5 * 366)
LAST_USED_EVERY = timedelta(minutes=1)
DEFAULT_TOKEN_NAMES = {"web": "Web token", "api": "API login token", "cli": "CLI token"}


class ServiceError(Exception):
    """A refusal with a message a person understands."""


class InvalidInput(ServiceError):
    pass


class TokenLimitReached(ServiceError):
    pass


class DuplicateRequest(ServiceError):
    """The same Generate form was submitted twice; the first submission made the token."""


class NotFound(ServiceError):
    pass


class Forbidden(ServiceError):
    pass


class InvalidLink(ServiceError):
    """An invitation or reset link that cannot be used, with the reason."""


class Revoked(enum.Enum):
    DELETED = "deleted"
    ALREADY_GONE = "already gone"


# --- passwords and members -------------------------------------------------------------------

def _hasher() -> PasswordHasher:
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


def end_sessions(member: Member) -> None:
    """Sign the member out everywhere: every session cookie issued so far stops working."""
    member.session_version += 1


def authenticate_member(email: str, password: str) -> Member | None:
    """Return the active member with this email and password, or None.

    A hash is verified even for an unknown email, so the answer takes as long either way.
    """
    hasher = _hasher()
    member = member_by_email(email)
    stored = member.password_hash if member else _dummy_hash(hasher)
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if member is None or not member.active:
        return None
    if hasher.check_needs_rehash(stored):
        member.password_hash = hasher.hash(password)
    return member


def _dummy_hash(hasher: PasswordHasher) -> str:
    cached = current_app.extensions.get("portal_dummy_hash")
    if cached is None:
        cached = current_app.extensions["portal_dummy_hash"] = hasher.hash("not a real password")
    return cached


def normalize_email(email: str) -> str:
    return email.strip().lower()


def member_by_email(email: str) -> Member | None:
    """Return the member with this email (any case), or None.

    Text no email can contain never reaches the database (PostgreSQL refuses NUL bytes).
    """
    email = normalize_email(email)
    return None if "\x00" in email else db.session.scalar(select(Member).where(Member.email == email))


def clean_text(value: str, what: str, max_length: int = NAME_MAX) -> str:
    """Return ``value`` stripped, refusing control characters and overlong text."""
    value = (value or "").strip()
    if len(value) > max_length:
        raise InvalidInput(f"{what} is too long: {max_length} characters at most.")
    if _INVISIBLE.search(value):
        raise InvalidInput(f"{what} contains invisible control characters; remove them.")
    return value


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
    if role not in ROLES:
        raise InvalidInput(f"The role must be one of {', '.join(ROLES)}.")
    email = normalize_email(email)
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


def member_exists(email: str) -> bool:
    return member_by_email(email) is not None


def find_account(public_id: str) -> Account:
    account = db.session.scalar(select(Account).where(Account.public_id == public_id))
    if account is None:
        raise NotFound(f"No account has the id {public_id}.")
    return account


def default_membership(member: Member) -> Membership | None:
    """Return the membership the member works in: for now, their first account."""
    return member.memberships[0] if member.memberships else None


# --- first-run setup -------------------------------------------------------------------------

def setup_is_open() -> bool:
    """Tell whether the portal has no member yet, so the first-run setup may create one."""
    return not db.session.scalar(select(exists().where(Member.id.is_not(None))))


def setup_code() -> str:
    """Return the one-time setup code, derived from the secret key so every worker agrees."""
    mac = hmac.new(current_app.config["SECRET_KEY"].encode(), b"first-run setup", "sha256")
    return secret.base62(int.from_bytes(mac.digest()[:11]), 15)


def check_setup_code(candidate: str) -> bool:
    return hmac.compare_digest((candidate or "").strip().encode(), setup_code().encode())


def first_run_setup(account_name: str, email: str, display_name: str, password: str) -> Membership:
    """Create the first account and its owner; refused once any member exists."""
    if not setup_is_open():
        raise ServiceError("This portal is already set up; sign in instead.")
    account = create_account(account_name)
    return add_member(account, email, display_name, password, role="owner")


# --- tokens ----------------------------------------------------------------------------------

def clean_token_name(name: str) -> str:
    """Return a valid token name, or raise InvalidInput saying what is wrong."""
    return clean_text(name, "The token name")


def issue_token(membership: Membership, name: str = "", *, via: str = "web",
                scope: str = "read-write", expires_at: datetime | None = None,
                nonce: str | None = None, ip: str | None = None) -> tuple[ApiToken, str]:
    """Create a token for the member in the account; return it and its secret, shown once.

    ``nonce`` identifies one submitted form: a second submission of it raises DuplicateRequest
    instead of creating a second token (enforced by a unique index, so also under a race).
    """
    name = clean_token_name(name) or DEFAULT_TOKEN_NAMES[via]
    if scope not in SCOPES:
        raise InvalidInput(f"The scope must be {' or '.join(SCOPES)}.")
    check_expiry(expires_at)
    if nonce and _nonce_used(membership.member_id, nonce):
        raise DuplicateRequest(ALREADY_GENERATED)
    limit = current_app.config["TOKENS_PER_MEMBER"]
    held = db.session.scalar(select(func.count()).select_from(ApiToken).filter_by(
        account_id=membership.account_id, member_id=membership.member_id))
    if held >= limit:
        raise TokenLimitReached(
            f"You hold {held} tokens in this account, the most allowed is {limit}. "
            "Delete one you no longer use, then generate a new one.")
    token_secret = secret.generate(current_app.config["TOKEN_PREFIX"])
    token = ApiToken(account_id=membership.account_id, member_id=membership.member_id,
                     digest=token_digest(token_secret), hint=secret.hint(token_secret),
                     name=name, scope=scope, created_via=via, request_nonce=nonce,
                     expires_at=expires_at)
    db.session.add(token)
    try:
        db.session.flush()
    except IntegrityError as clash:
        db.session.rollback()
        if nonce and _nonce_used(membership.member_id, nonce):
            raise DuplicateRequest(ALREADY_GENERATED) from clash
        raise
    record(membership.account_id, membership.member_id, "token.created", token.public_id, ip,
           member_id=membership.member_id)
    return token, token_secret


def check_expiry(expires_at: datetime | None) -> datetime | None:
    """Return ``expires_at`` if it is never (None) or in the next five years."""
    if expires_at is not None and not utcnow() < expires_at <= utcnow() + LONGEST_EXPIRY:
        raise InvalidInput("The expiry date must be in the future, and within five years.")
    return expires_at


def expiry(days: int | None = None, on: date | None = None) -> datetime | None:
    """Return when a token made now expires: after ``days``, at the end of day ``on`` (UTC), or never."""
    if days is not None:
        if days not in EXPIRY_DAYS:
            raise InvalidInput(f"A token expires after {', '.join(map(str, EXPIRY_DAYS))} days, or on a date.")
        return utcnow() + timedelta(days=days)
    if on is not None:
        return datetime.combine(on, time.max, tzinfo=UTC)
    return None


class CompiledSelect:
    """A Core SELECT compiled once per kind of database and run straight on a pooled DBAPI connection.

    For the one query every API request makes: it skips the ORM session and SQLAlchemy's
    per-execution work (cache keys, result objects), keeping the column types' conversions.
    """

    def __init__(self, statement):
        self.statement = statement
        self._compiled = {}

    def _compile(self, dialect):
        compiled = self.statement.compile(dialect=dialect)
        names = compiled.positiontup  # None where parameters are passed by name (psycopg)
        converters = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                      for column in self.statement.selected_columns]
        return str(compiled), names, dict(compiled.params), converters

    def first(self, **parameters) -> tuple | None:
        """Return the first row, converted, or None; database errors are raised as SQLAlchemy's."""
        engine = db.engine
        dialect = engine.dialect
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        if key not in self._compiled:
            self._compiled[key] = self._compile(dialect)
        sql, names, defaults, converters = self._compiled[key]
        parameters = {**defaults, **parameters}
        arguments = [parameters[name] for name in names] if names is not None else parameters
        connection = cursor = None
        try:
            connection = engine.raw_connection()  # connecting can fail too (the database is down)
            cursor = connection.cursor()
            cursor.execute(sql, arguments)
            row = cursor.fetchone()
            cursor.close()
        except dialect.loaded_dbapi.Error as error:
            lost = connection is None or dialect.is_disconnect(error, connection.dbapi_connection, cursor)
            if lost and connection is not None:
                connection.invalidate(error)
            raise DBAPIError.instance(sql, None, error, dialect.loaded_dbapi.Error, hide_parameters=True,
                                      connection_invalidated=lost, dialect=dialect) from error
        finally:
            if connection is not None:
                connection.close()
        if row is None:
            return None
        return tuple(convert(value) if convert else value for convert, value in zip(converters, row, strict=True))


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
    account_id: int
    account_public_id: str
    account_name: str
    member_id: int
    member_email: str
    member_name: str
    role: str

    @property
    def can_write(self) -> bool:
        return self.scope == "read-write"

    @property
    def is_expired(self) -> bool:
        return expired(self.expires_at)


# One query answers who is calling: the token by its digest, while its member is active and
# still belongs to its account. Its columns are Caller's, in order, then the digest.
CALLER_BY_DIGEST = CompiledSelect(
    select(ApiToken.id, ApiToken.public_id, ApiToken.name, ApiToken.hint, ApiToken.scope, ApiToken.created_via,
           ApiToken.created_at, ApiToken.expires_at, ApiToken.last_used_at, ApiToken.last_used_ip,
           ApiToken.account_id, Account.public_id, Account.name,
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
    row = CALLER_BY_DIGEST.first(digest=digest)
    if row is None or not hmac.compare_digest(row[-1], digest):
        return None
    caller = Caller(*row[:-1])
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


def find_membership(member: Member, account_public_id: str | None) -> Membership:
    """Return the member's membership in the account named, or in their first account."""
    membership = membership_in(member, account_public_id) if account_public_id else default_membership(member)
    if membership is None:
        raise NotFound("You are not a member of that account.")
    return membership


def log_in(member: Member, account_public_id: str | None = None,
           ip: str | None = None) -> tuple[ApiToken, str]:
    """Issue an expiring "API login" token, first purging the member's expired ones."""
    membership = find_membership(member, account_public_id)
    db.session.execute(delete(ApiToken).where(
        ApiToken.account_id == membership.account_id, ApiToken.member_id == membership.member_id,
        ApiToken.created_via == "api", ApiToken.expires_at <= utcnow()))
    days = current_app.config["API_LOGIN_TOKEN_DAYS"]
    token, token_secret = issue_token(membership, via="api", expires_at=utcnow() + timedelta(days=days), ip=ip)
    record(membership.account_id, membership.member_id, "api.login", token.public_id, ip)
    return token, token_secret


def _nonce_used(member_id: int, nonce: str) -> bool:
    return bool(db.session.scalar(select(exists().where(
        ApiToken.member_id == member_id, ApiToken.request_nonce == nonce))))


def token_digest(token_secret: str) -> str:
    """Return the stored digest of a token, keyed with TOKEN_DIGEST_KEY (not SECRET_KEY)."""
    return secret.digest(token_secret, str(current_app.config["TOKEN_DIGEST_KEY"]).encode())


def list_tokens(membership: Membership, *, everyone: bool = False, member_id: int | None = None) -> list[ApiToken]:
    """Return tokens in the account, oldest first (newest last): the member's own, or, for an
    owner or admin asking for ``everyone``, the whole inventory (optionally one member's)."""
    # The members come in one more query, not one per row: a constant cost whatever the inventory.
    query = (select(ApiToken).filter_by(account_id=membership.account_id).options(selectinload(ApiToken.member))
             .order_by(ApiToken.created_at, ApiToken.id))
    if not (everyone and membership.manages):
        query = query.filter_by(member_id=membership.member_id)
    elif member_id is not None:
        query = query.filter_by(member_id=member_id)
    return list(db.session.scalars(query))


def _visible_token_filter(membership: Membership, token_id: str) -> list:
    """Match one token the member may manage: their own, or any in the account for owners and admins.

    A malformed id is refused before it reaches the database (PostgreSQL refuses NUL bytes, for one).
    """
    if not TOKEN_ID_PATTERN.fullmatch(token_id or ""):
        raise NotFound(NO_SUCH_TOKEN)
    conditions = [ApiToken.public_id == token_id, ApiToken.account_id == membership.account_id]
    if not membership.manages:
        conditions.append(ApiToken.member_id == membership.member_id)
    return conditions


def find_token(membership: Membership, token_id: str) -> ApiToken:
    """Return a token the member may manage, by public id, or raise NotFound."""
    token = db.session.scalar(select(ApiToken).where(*_visible_token_filter(membership, token_id)))
    if token is None:
        raise NotFound(NO_SUCH_TOKEN)
    return token


def revoke_token(membership: Membership, token_id: str, ip: str | None = None) -> Revoked:
    """Delete a token the member may manage; tell one deleted earlier from one never theirs.

    A single DELETE decides, so of two concurrent revocations exactly one deletes the row.
    """
    deleted = db.session.execute(delete(ApiToken).where(*_visible_token_filter(membership, token_id))
                                 .returning(ApiToken.member_id)).first()
    if deleted is not None:
        record(membership.account_id, membership.member_id, "token.deleted", token_id, ip, member_id=deleted.member_id)
        return Revoked.DELETED
    seen = [AuditEvent.account_id == membership.account_id, AuditEvent.action == "token.deleted",
            AuditEvent.subject == token_id]
    if not membership.manages:  # a member hears only of their own tokens
        seen.append(or_(AuditEvent.actor_id == membership.member_id, AuditEvent.member_id == membership.member_id))
    if db.session.scalar(select(exists().where(*seen))):
        return Revoked.ALREADY_GONE
    raise NotFound(NO_SUCH_TOKEN)


# --- teams ----------------------------------------------------------------------------------

def require_manager(membership: Membership) -> None:
    if not membership.manages:
        raise Forbidden("Only the account's owners and admins can do that.")


def membership_in(member: Member, account_public_id: str | None) -> Membership | None:
    """Return the member's membership in the account with that public id, if any."""
    return next((m for m in member.memberships if m.account.public_id == account_public_id), None)


def list_members(membership: Membership) -> list[tuple[Membership, int]]:
    """Return the account's members with how many tokens each holds in it (owners and admins only)."""
    require_manager(membership)
    held = (select(ApiToken.member_id, func.count().label("tokens")).filter_by(account_id=membership.account_id)
            .group_by(ApiToken.member_id).subquery())
    rows = db.session.execute(
        select(Membership, func.coalesce(held.c.tokens, 0)).join(Membership.member)
        .outerjoin(held, held.c.member_id == Membership.member_id)
        .where(Membership.account_id == membership.account_id).order_by(Member.display_name, Member.id))
    return [(row[0], row[1]) for row in rows]


def token_count(membership: Membership) -> int:
    """Return how many tokens the member holds in the account."""
    return db.session.scalar(select(func.count()).select_from(ApiToken).filter_by(
        account_id=membership.account_id, member_id=membership.member_id))


def account_members(membership: Membership) -> list[Member]:
    """Return the members of the account, by name (for filters)."""
    return [m.member for m, _ in list_members(membership)]


def find_membership_by_id(actor: Membership, membership_id: int) -> Membership:
    target = db.session.get(Membership, membership_id)
    if target is None or target.account_id != actor.account_id:
        raise NotFound("There is no such member in this account.")
    return target


def _owners(account_id: int) -> int:
    """Count the account's active owners, holding the account's lock until the caller commits.

    Without the lock, two owners demoting (or removing) each other at once could both see the
    other one still there and leave the account with none.
    """
    db.session.execute(update(Account).where(Account.id == account_id).values(id=Account.id))
    return db.session.scalar(select(func.count()).select_from(Membership).join(Membership.member).where(
        Membership.account_id == account_id, Membership.role == "owner", Member.active.is_(True)))


def _check_role_change(actor: Membership, target: Membership, new_role: str | None) -> None:
    """Only owners give or take the owner role; the account always keeps an owner."""
    require_manager(actor)
    if actor.role != "owner" and "owner" in (target.role, new_role):
        raise Forbidden("Only an owner can give, take or remove the owner role.")
    if target.role == "owner" and new_role != "owner" and _owners(target.account_id) == 1:
        raise InvalidInput("The account needs at least one owner: make someone else an owner first.")


def change_role(actor: Membership, membership_id: int, role: str, ip: str | None = None) -> Membership:
    """Give a member of the account another role."""
    if role not in ROLES:
        raise InvalidInput(f"The role must be one of {', '.join(ROLES)}.")
    target = find_membership_by_id(actor, membership_id)
    _check_role_change(actor, target, role)
    return _apply_role(target, role, actor.member_id, ip)


def set_role(account_public_id: str, email: str, role: str) -> Membership:
    """Give a member another role in an account, as the operator (the account still keeps an owner)."""
    if role not in ROLES:
        raise InvalidInput(f"The role must be one of {', '.join(ROLES)}.")
    target = membership_in(find_member(email), find_account(account_public_id).public_id)
    if target is None:
        raise NotFound(f"{normalize_email(email)} is not a member of that account.")
    if target.role == "owner" and role != "owner" and _owners(target.account_id) == 1:
        raise InvalidInput("The account needs at least one owner: make someone else an owner first.")
    return _apply_role(target, role, None, None)


def _apply_role(target: Membership, role: str, actor_id: int | None, ip: str | None) -> Membership:
    if target.role != role:
        record(target.account_id, actor_id, "member.role_changed", target.member.email, ip,
               member_id=target.member_id, detail=f"{target.role} → {role}")
        target.role = role
    return target


def find_member(email: str) -> Member:
    member = member_by_email(email)
    if member is None:
        raise NotFound(f"No member has the email {normalize_email(email)}.")
    return member


def account_tokens(account_public_id: str) -> list[ApiToken]:
    """Return all tokens of an account, for the operator."""
    account = find_account(account_public_id)
    return list(db.session.scalars(select(ApiToken).filter_by(account_id=account.id)
                                   .order_by(ApiToken.created_at, ApiToken.id)))


def operator_revoke(token_id: str) -> ApiToken:
    """Delete any token by public id, as the operator; the account's audit trail says so."""
    token = db.session.scalar(select(ApiToken).filter_by(public_id=token_id))
    if token is None:
        raise NotFound("No token has that id.")
    record(token.account_id, None, "token.deleted", token.public_id, member_id=token.member_id,
           detail="by the operator")
    db.session.delete(token)
    return token


def remove_member(actor: Membership, membership_id: int, ip: str | None = None) -> int:
    """Remove a member from the account with their tokens in it; end their sessions. Return the tokens deleted."""
    target = find_membership_by_id(actor, membership_id)
    _check_role_change(actor, target, None)
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
            if membership.role == "owner" and member.active and _owners(membership.account_id) == 1:
                raise InvalidInput(f"{member.email} is the last active owner of {membership.account.name!r}: "
                                   "make someone else an owner first.")
        deleted = db.session.execute(delete(ApiToken).filter_by(member_id=member.id)).rowcount
        end_sessions(member)
    member.active = active
    _record_in_every_account(member, "member.activated" if active else "member.deactivated", None, ip)
    return deleted


def change_password(member: Member, current: str, new: str) -> None:
    """Set a new password after checking the current one; every other session ends."""
    try:
        _hasher().verify(member.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise InvalidInput("That is not your current password.") from None
    _set_password(member, new, "member.password_changed", member.id, None)


def _set_password(member: Member, new: str, action: str, actor_id: int | None, ip: str | None) -> None:
    """Set a new password; every session issued so far ends."""
    member.password_hash = hash_password(clean_password(new))
    end_sessions(member)
    _record_in_every_account(member, action, actor_id, ip)


def _record_in_every_account(member: Member, action: str, actor_id: int | None, ip: str | None) -> None:
    """Note an event about a member in the trail of each account they belong to."""
    for membership in member.memberships:
        record(membership.account_id, actor_id, action, member.email, ip, member_id=member.id)


def record_sign_in(member: Member, ip: str | None) -> None:
    member.last_sign_in_at = utcnow()
    _record_in_every_account(member, "member.signed_in", member.id, ip)


def record_failed_sign_in(email: str, ip: str | None) -> None:
    """Note a failed sign-in in the accounts of the member it was for (if the email is one)."""
    member = member_by_email(email)
    if member is not None:
        _record_in_every_account(member, "member.sign_in_failed", None, ip)


# --- signed links: invitations and password resets ---------------------------------------

def _signer(purpose: str) -> URLSafeTimedSerializer:
    """A serializer salted per purpose: a link signed for one purpose is worthless for another."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"portal {purpose}")


def _read_link(purpose: str, link_token: str, max_age: timedelta):
    try:
        return _signer(purpose).loads(link_token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        raise InvalidLink("This link has expired. Ask for a new one.") from None
    except BadSignature:
        raise InvalidLink("This link is not valid: it may have been mistyped or cut short.") from None


def invite(actor: Membership, email: str, role: str, ip: str | None = None) -> tuple[Invitation, str]:
    """Create an invitation to the account; return it and its link token (shown once)."""
    require_manager(actor)
    if role not in ROLES:
        raise InvalidInput(f"The role must be one of {', '.join(ROLES)}.")
    if role == "owner" and actor.role != "owner":
        raise Forbidden("Only an owner can invite another owner.")
    email = normalize_email(email)
    if _is_member(actor.account_id, email):
        raise InvalidInput(f"{email} is already a member of this account.")
    # A new invitation replaces any pending one for the same person.
    db.session.execute(update(Invitation).where(
        Invitation.account_id == actor.account_id, Invitation.email == email,
        Invitation.used_at.is_(None), Invitation.revoked_at.is_(None)).values(revoked_at=utcnow()))
    days = current_app.config["INVITATION_DAYS"]
    invitation = Invitation(account_id=actor.account_id, email=email, role=role, invited_by_id=actor.member_id,
                            expires_at=utcnow() + timedelta(days=days))
    db.session.add(invitation)
    db.session.flush()
    record(actor.account_id, actor.member_id, "member.invited", email, ip, detail=role)
    return invitation, _signer("invitation").dumps(invitation.public_id)


def _is_member(account_id: int, email: str) -> bool:
    return bool(db.session.scalar(select(exists().where(
        Membership.account_id == account_id, Membership.member_id == Member.id, Member.email == email))))


def read_invitation(link_token: str) -> Invitation:
    """Return the pending invitation a link names, or raise InvalidLink saying why not."""
    public = _read_link("invitation", link_token, timedelta(days=current_app.config["INVITATION_DAYS"]))
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


def pending_invitations(actor: Membership) -> list[Invitation]:
    require_manager(actor)
    return [i for i in db.session.scalars(select(Invitation).filter_by(account_id=actor.account_id)
                                          .order_by(Invitation.created_at)) if i.is_pending]


def revoke_invitation(actor: Membership, public: str, ip: str | None = None) -> None:
    require_manager(actor)
    invitation = db.session.scalar(select(Invitation).filter_by(public_id=public, account_id=actor.account_id))
    if invitation is None or not invitation.is_pending:
        raise NotFound("There is no such pending invitation.")
    invitation.revoked_at = utcnow()
    record(actor.account_id, actor.member_id, "member.invitation_revoked", invitation.email, ip)


def reset_link(member: Member) -> str:
    """Return a one-time password reset link token (for operators; the portal sends no email).

    It carries a fingerprint of the current password hash, so it stops working once used.
    """
    return _signer("password reset").dumps([member.id, _fingerprint(member)])


def _fingerprint(member: Member) -> str:
    return hmac.new(current_app.config["SECRET_KEY"].encode(), member.password_hash.encode(), "sha256").hexdigest()[:16]


def read_reset_link(link_token: str) -> Member:
    member_id, fingerprint = _read_link("password reset", link_token, timedelta(days=1))
    member = db.session.get(Member, member_id) if isinstance(member_id, int) else None
    if member is None or not member.active or not hmac.compare_digest(str(fingerprint), _fingerprint(member)):
        raise InvalidLink("This reset link was already used or is no longer valid. Ask for a new one.")
    return member


def reset_password(member: Member, new: str, ip: str | None = None) -> None:
    _set_password(member, new, "member.password_reset", None, ip)


# --- the audit trail -------------------------------------------------------------------------

AUDIT_PAGE_SIZE = 50


def audit_page(actor: Membership, page: int = 1) -> tuple[list[AuditEvent], int, bool]:
    """Return one page of the account's audit trail, newest first, the page's number and whether more follow."""
    require_manager(actor)
    page = min(max(1, page), 1_000_000)  # the database's offset is a 64-bit integer
    events = list(db.session.scalars(
        select(AuditEvent).filter_by(account_id=actor.account_id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .offset((page - 1) * AUDIT_PAGE_SIZE).limit(AUDIT_PAGE_SIZE + 1)))
    return events[:AUDIT_PAGE_SIZE], page, len(events) > AUDIT_PAGE_SIZE


# --- audit -----------------------------------------------------------------------------------

def record(account_id: int, actor_id: int | None, action: str, subject: str | None = None,
           ip: str | None = None, *, member_id: int | None = None, detail: str | None = None) -> AuditEvent:
    """Add an event to the account's audit trail (in the caller's transaction); never pass a secret."""
    event = AuditEvent(account_id=account_id, actor_id=actor_id, action=action, subject=subject, ip=ip,
                       member_id=member_id, detail=detail)
    db.session.add(event)
    return event
