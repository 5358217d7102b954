"""Leak reports: whoever holds a token that got out (a paste, a log, a repository) can have it deleted
by its value, without signing in: holding it proves it is out. Its member and the account's owners are
told on their next page (a notice, until dismissed), and the trail keeps who reported it, from where.

The answer never says whether a value matched, so reports are no oracle for guessing tokens.
"""

from sqlalchemy import delete, select

from .. import secret
from ..extensions import db
from ..labels import utc_time
from ..models import Account, ApiToken, Member, Membership, Notice, utcnow
from .api_tokens import DESCRIBED, token_digest
from .audit import describe_token, record
from .errors import InvalidInput, NotFound

MAX_REPORTED = 100
REPORT_RULE = f"Send a list of 1 to {MAX_REPORTED} token values (strings)."


def clean_reported(values) -> list[str]:
    """Return the reported values, or raise InvalidInput: a list of 1 to 100 strings."""
    if not isinstance(values, list) or not 1 <= len(values) <= MAX_REPORTED \
            or not all(isinstance(value, str) for value in values):
        raise InvalidInput(REPORT_RULE)
    return values


def revoke_leaked(values: list[str], ip: str | None = None, reporter: Member | None = None) -> int:
    """Delete every token among ``values`` (all at once); return how many values were received.

    Values that are not tokens, or no longer exist, are passed over silently: the count received is
    all a reporter learns. Each deleted token is audited ("reported leaked", with the reporter's
    address; a signed-in reporter is named in their own accounts) and its member and the account's
    owners get a notice.
    """
    values = clean_reported(values)
    digests = {token_digest(value.strip()) for value in values if secret.parse(value.strip())}
    if digests:
        deleted = db.session.execute(delete(ApiToken).where(ApiToken.digest.in_(digests))
                                     .returning(*DESCRIBED)).all()
        accounts = {membership.account_id for membership in reporter.memberships} if reporter else set()
        for token in deleted:
            # A reporter is named only to their own account: another's trail gets the address alone.
            actor_id = reporter.id if token.account_id in accounts else None
            record(token.account_id, actor_id, "token.leaked", token.public_id, ip,
                   member_id=token.member_id, detail=describe_token(token, f"reported leaked from {ip or 'the CLI'}"))
            _tell(token, ip)
    return len(values)


def _tell(token, ip: str | None) -> None:
    """Leave a notice for the token's member and the account's active owners."""
    account = db.session.get(Account, token.account_id)
    member = db.session.get(Member, token.member_id)
    owners = set(db.session.scalars(select(Membership.member_id).join(Membership.member).where(
        Membership.account_id == token.account_id, Membership.role == "owner", Member.active.is_(True))))
    source = f" from {ip}" if ip else ""
    when = utc_time(utcnow())
    for recipient in owners | {token.member_id}:
        whose = "Your token" if recipient == token.member_id else f"The token of {member.display_name}"
        db.session.add(Notice(account_id=token.account_id, member_id=recipient, kind="token.leaked", text=(
            f"{whose} “{token.name}” ({token.hint}) in {account.name} was reported leaked{source} at {when} "
            "and deleted: programs using it can no longer call the API. Generate a new one for them, and find "
            "where the old one got out.")))


def notices_for(member: Member) -> list[Notice]:
    """Return the member's notices, oldest first."""
    return list(db.session.scalars(select(Notice).filter_by(member_id=member.id).order_by(Notice.id)))


def dismiss_notice(member: Member, notice_id: int) -> None:
    """Remove one of the member's notices (another's, or one gone, is NotFound)."""
    if db.session.execute(delete(Notice).filter_by(id=notice_id, member_id=member.id)).rowcount != 1:
        raise NotFound("That notice is no longer there.")
