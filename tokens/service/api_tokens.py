"""API tokens: issue one (its secret shown once), list them, revoke one; the operator's view of all."""

import enum
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import delete, exists, func, or_, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from .. import secret
from ..extensions import db
from ..models import SCOPES, ApiToken, AuditEvent, Member, Membership, utcnow
from .accounts import find_account, find_membership
from .audit import describe_token, record
from .errors import DuplicateRequest, InvalidCursor, InvalidInput, NotFound, TokenLimitReached
from .names import clean_text
from .policy import TokenPolicy, check_policy

TOKEN_ID_PATTERN = re.compile(r"[0-9A-Za-z]{12}")
NO_SUCH_TOKEN = "There is no such token in your list."  # noqa: S105 (a message)
ALREADY_GENERATED = "This token was already generated; its secret was shown once."
EXPIRY_DAYS = (7, 30, 90)
LONGEST_EXPIRY = timedelta(days=5 * 366)
DEFAULT_TOKEN_NAMES = {"web": "Web token", "login": "API login token", "api": "API token", "cli": "CLI token"}
TOKEN_PAGE_SIZE = 50
SEARCH_LENGTH = 100  # a name is at most 100 characters; an email at most 254, searched by its first 100
HINT_SEPARATOR = re.compile(r"…|\.\.\.")
# A page's cursor: the last row's creation time (UTC, to the microsecond) and id, e.g. 2026-12-02T13:06:16.123456,42.
CURSOR_TIME = "%Y-%m-%dT%H:%M:%S.%f"
CURSOR_PATTERN = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}),(\d{1,19})")
MAX_ROW_ID = 2**63 - 1
BAD_CURSOR = "This “Show more” link is not one the portal made. Start again from the first page."


# The events after which a token is gone: deleted, rotated with no grace, reported leaked.
GONE_ACTIONS = ("token.deleted", "token.rotated", "token.leaked")


class Revoked(enum.Enum):
    DELETED = "deleted"
    ALREADY_GONE = "already gone"


def clean_token_name(name: str) -> str:
    """Return a valid token name, or raise InvalidInput saying what is wrong."""
    return clean_text(name, "The token name")


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


def token_digest(token_secret: str) -> str:
    """Return the stored digest of a token, keyed with TOKEN_DIGEST_KEY (not SECRET_KEY)."""
    return secret.digest(token_secret, str(current_app.config["TOKEN_DIGEST_KEY"]).encode())


def issue_token(membership: Membership, name: str = "", *, via: str = "web",
                scope: str = "read-write", expires_at: datetime | None = None,
                nonce: str | None = None, ip: str | None = None, made_by: str | None = None) -> tuple[ApiToken, str]:
    """Create a token for the member in the account; return it and its secret, shown once.

    ``made_by`` is the digest of the token that asked for it through the API, kept so that a leak report
    of that token deletes this one too.

    ``nonce`` identifies one submitted form: a second submission of it raises DuplicateRequest
    instead of creating a second token (enforced by a unique index, so also under a race).
    """
    name = clean_token_name(name) or DEFAULT_TOKEN_NAMES[via]
    if scope not in SCOPES:
        raise InvalidInput(f"The scope must be {' or '.join(SCOPES)}.")
    check_expiry(expires_at)
    check_policy(membership.account, expires_at)
    if nonce and _nonce_used(membership.member_id, nonce):
        raise DuplicateRequest(ALREADY_GENERATED)
    check_token_limit(membership, "Delete one you no longer use, then generate a new one.")
    token, token_secret = new_token(membership.account_id, membership.member_id, name=name, scope=scope,
                                    created_via=via, expires_at=expires_at, request_nonce=nonce,
                                    made_by_digest=made_by)
    record(membership.account_id, membership.member_id, "token.created", token.public_id, ip,
           member_id=membership.member_id, detail=describe_token(token), token=token)
    return token, token_secret


def check_token_limit(membership: Membership, advice: str, holder: str = "You hold") -> None:
    """Refuse one more token to a member holding TOKENS_PER_MEMBER in the account, saying what to do."""
    limit = current_app.config["TOKENS_PER_MEMBER"]
    held = token_count(membership)
    if held >= limit:
        raise TokenLimitReached(f"{holder} {held} tokens in this account, the most allowed is {limit}. {advice}")


def new_token(account_id: int, member_id: int, **columns) -> tuple[ApiToken, str]:
    """Add a token with a fresh secret (its digest and hint stored, never itself); return it and the secret.

    A second use of a form's ``request_nonce`` raises DuplicateRequest (a unique index decides, so also
    under a race).
    """
    token_secret = secret.generate(current_app.config["TOKEN_PREFIX"])
    token = ApiToken(account_id=account_id, member_id=member_id, digest=token_digest(token_secret),
                     hint=secret.hint(token_secret), **columns)
    db.session.add(token)
    try:
        db.session.flush()
    except IntegrityError as clash:
        db.session.rollback()
        nonce = columns.get("request_nonce")
        if nonce and _nonce_used(member_id, nonce):
            raise DuplicateRequest(ALREADY_GENERATED) from clash
        raise
    return token, token_secret


def _nonce_used(member_id: int, nonce: str) -> bool:
    """Tell whether the member already made a token with this form's nonce."""
    return bool(db.session.scalar(select(exists().where(
        ApiToken.member_id == member_id, ApiToken.request_nonce == nonce))))


def log_in(member: Member, account_public_id: str | None = None,
           ip: str | None = None) -> tuple[ApiToken, str]:
    """Issue an expiring "API login" token, first removing the member's expired ones (each noted on the trail)."""
    membership = find_membership(member, account_public_id)
    # Each login makes a token: without this, expired ones would pile up towards TOKENS_PER_MEMBER.
    purged = db.session.execute(delete(ApiToken).where(
        ApiToken.account_id == membership.account_id, ApiToken.member_id == membership.member_id,
        ApiToken.created_via == "login", ApiToken.expires_at <= utcnow()).returning(*DESCRIBED))
    for token in purged:
        record_deletion(token, None, ip, note="expired, removed at the next API login")
    days = current_app.config["API_LOGIN_TOKEN_DAYS"]
    expires_at = utcnow() + timedelta(days=days)
    if (latest := TokenPolicy.of(membership.account).latest(utcnow())) is not None:
        expires_at = min(expires_at, latest)  # a login chooses no expiry: the account's policy caps it
    token, token_secret = issue_token(membership, via="login", expires_at=expires_at, ip=ip)
    record(membership.account_id, membership.member_id, "api.login", token.public_id, ip,
           detail=describe_token(token))
    return token, token_secret


# What a deleted token's event keeps of it, read by the DELETE that removes it.
DESCRIBED = (ApiToken.public_id, ApiToken.account_id, ApiToken.member_id, ApiToken.name, ApiToken.hint,
             ApiToken.scope, ApiToken.expires_at)


def record_deletion(token, actor_id: int | None, ip: str | None = None, note: str | None = None) -> None:
    """Note in the trail that ``token`` (a row or its DESCRIBED columns) was deleted, saying which it was."""
    record(token.account_id, actor_id, "token.deleted", token.public_id, ip, member_id=token.member_id,
           detail=describe_token(token, note), token=token)


def token_count(membership: Membership) -> int:
    """Return how many tokens the member holds in the account."""
    return db.session.scalar(select(func.count()).select_from(ApiToken).filter_by(
        account_id=membership.account_id, member_id=membership.member_id))


def list_tokens(membership: Membership, *, everyone: bool = False, member_id: int | None = None) -> list[ApiToken]:
    """Return tokens in the account, newest first: the member's own, or, for an owner or admin asking
    for ``everyone``, the whole inventory (optionally one member's)."""
    return list(db.session.scalars(_tokens_query(membership, everyone, member_id)))


@dataclass
class TokenPage:
    """One page of a token list, newest first, and the cursor of the next one (None at the end)."""

    tokens: list[ApiToken]
    next_cursor: str | None


def token_page(membership: Membership, *, member_id: int | None = None, search: str = "",
               before: str | None = None, size: int = TOKEN_PAGE_SIZE) -> TokenPage:
    """Return one page of the tokens the member sees (owners and admins: the account's), newest first.

    ``before`` is the cursor a previous page gave: the page holds the tokens created before its last
    row, so tokens created or deleted meanwhile never show a row twice or skip one, and the index on
    (account, created_at, id) answers any page as fast as the first. ``search`` matches a name, a
    hint (``tok_…abcd`` or ``abcd``) or, for owners and admins, a member's name or email.
    """
    query = _tokens_query(membership, True, member_id).limit(size + 1)
    if before:
        query = query.where(tuple_(ApiToken.created_at, ApiToken.id) < _parse_cursor(before))
    # Only what can be typed: PostgreSQL refuses a NUL byte in a string, for one.
    if search := "".join(c for c in (search or "") if c.isprintable()).strip()[:SEARCH_LENGTH]:
        query = query.where(_search_condition(membership, search))
    tokens = list(db.session.scalars(query))
    more = len(tokens) > size
    tokens = tokens[:size]
    return TokenPage(tokens, _cursor(tokens[-1]) if more else None)


def _tokens_query(membership: Membership, everyone: bool, member_id: int | None):
    """Select the tokens the member sees, newest first (the order of the account's indexes)."""
    query = (select(ApiToken).filter_by(account_id=membership.account_id)
             .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))
    if not (everyone and membership.manages):  # each row's member is the member: no more to load
        return query.filter_by(member_id=membership.member_id)
    # An inventory names each row's member: joined in the same query, never one query per row.
    query = query.options(joinedload(ApiToken.member, innerjoin=True))
    return query if member_id is None else query.filter_by(member_id=member_id)


def _search_condition(membership: Membership, search: str):
    """Match ``search`` in a token's name or hint, and for owners and admins its member's name or email."""
    hint = search
    if HINT_SEPARATOR.search(search):  # "tok_…abcd" or "tok_...abcd", as shown or typed: the end after it
        hint = HINT_SEPARATOR.split(search)[-1]
    conditions = [ApiToken.name.icontains(search, autoescape=True), ApiToken.hint.icontains(hint, autoescape=True)]
    if membership.manages:
        conditions.append(ApiToken.member_id.in_(select(Member.id).where(or_(
            Member.display_name.icontains(search, autoescape=True),
            Member.email.icontains(search, autoescape=True)))))
    return or_(*conditions)


def _cursor(token: ApiToken) -> str:
    """Return where the next page starts: after this token (its creation time in UTC, and its id)."""
    return f"{token.created_at.astimezone(UTC).strftime(CURSOR_TIME)},{token.id}"


def _parse_cursor(value: str) -> tuple[datetime, int]:
    """Read a cursor made by ``_cursor``, or raise InvalidCursor."""
    match = CURSOR_PATTERN.fullmatch(value)
    try:
        moment = datetime.strptime(match.group(1), CURSOR_TIME).replace(tzinfo=UTC)
        row_id = int(match.group(2))
    except (AttributeError, ValueError):
        raise InvalidCursor(BAD_CURSOR) from None
    if not 0 < row_id <= MAX_ROW_ID:
        raise InvalidCursor(BAD_CURSOR)
    return moment, row_id


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
                                 .returning(*DESCRIBED)).first()
    if deleted is not None:
        record_deletion(deleted, membership.member_id, ip)
        return Revoked.DELETED
    seen = [AuditEvent.account_id == membership.account_id, AuditEvent.action.in_(GONE_ACTIONS),
            AuditEvent.subject == token_id]
    if not membership.manages:  # a member hears only of their own tokens
        seen.append(or_(AuditEvent.actor_id == membership.member_id, AuditEvent.member_id == membership.member_id))
    if db.session.scalar(select(exists().where(*seen))):
        return Revoked.ALREADY_GONE
    raise NotFound(NO_SUCH_TOKEN)


# --- the operator's view (the CLI) -----------------------------------------------------------

def account_tokens(account_public_id: str) -> list[ApiToken]:
    """Return all tokens of an account, for the operator."""
    account = find_account(account_public_id)
    return list(db.session.scalars(select(ApiToken).filter_by(account_id=account.id)
                                   .order_by(ApiToken.created_at, ApiToken.id)))


def any_token(token_id: str) -> ApiToken:
    """Return any token by public id, for the operator, or raise NotFound."""
    token = db.session.scalar(select(ApiToken).filter_by(public_id=token_id))
    if token is None:
        raise NotFound("No token has that id.")
    return token


def operator_revoke(token_id: str) -> ApiToken:
    """Delete any token by public id, as the operator; the account's audit trail says so."""
    token = any_token(token_id)
    record_deletion(token, None, note="by the operator")
    db.session.delete(token)
    return token
