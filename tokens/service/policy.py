"""The account's token policy, set by its owners: the longest a token may live, and whether every one must expire.

Every way of making a token (Generate, Rotate, the API, the CLI) asks ``check_policy`` first; tokens
made before a stricter policy are listed for the owners (``tokens_beyond_policy``), never cut silently.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..labels import utc_time
from ..models import Account, ApiToken, Membership, utcnow
from .audit import record
from .errors import Forbidden, InvalidInput

POLICY_DAYS = (7, 30, 90, 365)
ONLY_OWNERS = "Only the account's owners can set its token policy."


class PolicyForbids(InvalidInput):
    """A token the account's policy does not allow (it never expires, or lives too long)."""


@dataclass(frozen=True)
class TokenPolicy:
    """The longest a token may live (None: no limit) and whether it must expire at all."""

    max_days: int | None = None
    must_expire: bool = False

    @classmethod
    def of(cls, account: Account) -> "TokenPolicy":
        return cls(account.token_max_days, bool(account.tokens_must_expire) or account.token_max_days is not None)

    @property
    def free(self) -> bool:
        """Tell whether the policy allows any token (nothing was set)."""
        return not self.must_expire

    def describe(self) -> str:
        """Say the policy as a rule: "every token must expire within 30 days"."""
        if self.max_days is not None:
            return f"every token must expire within {self.max_days} days"
        return "every token must expire" if self.must_expire else "tokens may live as long as their members choose"

    def latest(self, now: datetime) -> datetime | None:
        """Return the latest expiry a token made at ``now`` may have (None: no limit)."""
        return now + timedelta(days=self.max_days) if self.max_days is not None else None

    def allows(self, expires_at: datetime | None, now: datetime) -> bool:
        if expires_at is None:
            return not self.must_expire
        latest = self.latest(now)
        return latest is None or expires_at <= latest

    def refusal(self, now: datetime, replacing: ApiToken | None = None) -> str:
        """Say what the policy asks of a new token (or of the one ``replacing`` a rotated one), naming the policy."""
        if replacing is not None:
            lasts = "never expires" if replacing.expires_at is None else \
                f"lives {_days(replacing.expires_at - replacing.created_at)}"
            return (f"This account's token policy says {self.describe()}, and “{replacing.name}” {lasts}: its "
                    "replacement would break the policy. Generate a token within the policy instead.")
        latest = self.latest(now)
        ask = f"choose an expiry of {self.max_days} days or less (on or before {utc_time(latest)})" if latest \
            else "choose when the token expires"
        return f"This account's token policy says {self.describe()}: {ask}."


def check_policy(account: Account, expires_at: datetime | None, now: datetime | None = None, *,
                 replacing: ApiToken | None = None) -> None:
    """Allow a token of this expiry in the account (made now, or ``replacing`` a rotated token), or raise
    PolicyForbids naming the policy."""
    policy = TokenPolicy.of(account)
    now = now or utcnow()
    if not policy.allows(expires_at, now):
        raise PolicyForbids(policy.refusal(now, replacing))


def _days(lifetime: timedelta) -> str:
    days = lifetime / timedelta(days=1)
    return f"{days:.0f} days" if days >= 1 else "less than a day"


def set_policy(account: Account, max_days: int | None, must_expire: bool, *, actor: Membership | None = None,
               ip: str | None = None) -> TokenPolicy:
    """Set the account's token policy (by one of its owners, or the operator: ``actor`` None); the trail
    says what it became. A longest lifetime implies that tokens must expire."""
    if actor is not None and (actor.account_id != account.id or actor.role != "owner"):
        raise Forbidden(ONLY_OWNERS)
    if max_days is not None and max_days not in POLICY_DAYS:
        raise InvalidInput(f"The longest lifetime is {', '.join(map(str, POLICY_DAYS))} days, or no limit.")
    before = TokenPolicy.of(account)
    account.token_max_days, account.tokens_must_expire = max_days, must_expire or max_days is not None
    after = TokenPolicy.of(account)
    if after != before:
        record(account.id, actor.member_id if actor else None, "account.policy_changed", account.public_id, ip,
               detail=f"now {after.describe()}")
    return after


def tokens_beyond_policy(membership: Membership) -> list[ApiToken]:
    """Return the account's tokens that will outlive what its policy allows a new token, oldest expiry last.

    Tokens made before the policy keep working: the owners see them here and decide.
    """
    policy = TokenPolicy.of(membership.account)
    if policy.free:
        return []
    beyond = ApiToken.expires_at.is_(None)
    if (latest := policy.latest(utcnow())) is not None:
        beyond = or_(beyond, ApiToken.expires_at > latest)
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.account_id == membership.account_id, beyond)
        .options(joinedload(ApiToken.member, innerjoin=True))
        .order_by(ApiToken.created_at, ApiToken.id)))
