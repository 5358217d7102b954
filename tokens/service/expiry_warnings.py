"""Expiry warnings: a token's member hears 7 days and 1 day before it expires, once each.

One conditional UPDATE claims each warning (a token's ``expiry_warned_days``), so with several workers, or
a worker started again, each warning is sent once.
"""

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from ..extensions import db
from ..labels import utc_time
from ..models import Account, ApiToken, utcnow
from .events import emit
from .mail import queue_expiry_warning
from .notices import notify

WARN_DAYS = (1, 7)  # the nearest first: a token made to live less than a day hears only that it ends within one


def send_expiry_warnings(now: datetime | None = None) -> int:
    """Warn the members of tokens that reach 7 days, or 1 day, before they expire; return how many were warned."""
    now = now or utcnow()
    sent = 0
    for days in WARN_DAYS:
        claimed = db.session.execute(
            update(ApiToken).where(
                ApiToken.expires_at > now, ApiToken.expires_at <= now + timedelta(days=days),
                ApiToken.replaced_at.is_(None),  # a replaced token ends by design: its replacement is the one to keep
                or_(ApiToken.expiry_warned_days.is_(None), ApiToken.expiry_warned_days > days))
            .values(expiry_warned_days=days)
            .returning(ApiToken.public_id, ApiToken.account_id, ApiToken.member_id, ApiToken.name, ApiToken.hint,
                       ApiToken.scope, ApiToken.expires_at)).all()
        accounts = {token.account_id for token in claimed}
        names = {account_id: name for account_id, name in db.session.execute(
            select(Account.id, Account.name).where(Account.id.in_(accounts)))} if accounts else {}
        for token in claimed:
            when = "within a day" if days == 1 else "within 7 days"
            notify(token.account_id, [token.member_id], "token.expiring", (
                f"Your token “{token.name}” ({token.hint}) in {names[token.account_id]} expires {when}, at "
                f"{utc_time(token.expires_at)}. Rotate it to give the programs using it a new one in time."),
                token=token.public_id)
            emit(token.account_id, "token.expiring", token=token, detail=f"expires {when}")
            queue_expiry_warning(token.member_id, names[token.account_id], token, days)  # by email too, if set up
        sent += len(claimed)
    return sent
