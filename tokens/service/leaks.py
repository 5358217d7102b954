"""Leak reports: whoever holds a token that got out (a paste, a log, a repository) can have it deleted
by its value, without signing in: holding it proves it is out. The tokens it made through the API (with
POST tokens, or by rotating itself) go with it, since whoever held it may have made them. Their members
and the account's owners are told on their next page (a notice, until dismissed), and the trail keeps who
reported it, from where.

The answer never says whether a value matched, so reports are no oracle for guessing tokens.
"""

from sqlalchemy import delete, or_

from .. import secret
from ..extensions import db
from ..labels import utc_time
from ..models import Account, ApiToken, Member, utcnow
from .api_tokens import DESCRIBED, token_digest
from .audit import describe_token, record
from .errors import InvalidInput
from .notices import active_owners_of, notify

MAX_REPORTED = 100
REPORT_RULE = f"Send a list of 1 to {MAX_REPORTED} token values (strings)."


def values_in(text: str) -> list[str]:
    """Return the values of a paste or a file: one per line, blank lines left out."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def clean_reported(values) -> list[str]:
    """Return the reported values, trimmed, or raise InvalidInput: a list of 1 to 100 strings."""
    if not isinstance(values, list) or not 1 <= len(values) <= MAX_REPORTED \
            or not all(isinstance(value, str) for value in values):
        raise InvalidInput(REPORT_RULE)
    return [value.strip() for value in values]


def revoke_leaked(values: list[str], ip: str | None = None, reporter: Member | None = None) -> int:
    """Delete every token among ``values``, and those they made, at once; return how many values were received.

    Values that are not tokens, or no longer exist, are passed over silently: the count received is
    all a reporter learns. Each deleted token is audited ("reported leaked", with the reporter's
    address; a signed-in reporter is named in their own accounts) and its member and the account's
    owners get a notice.
    """
    values = clean_reported(values)
    reported = {token_digest(value) for value in values if secret.parse(value)}
    accounts = {membership.account_id for membership in reporter.memberships} if reporter else set()
    source = f" from {ip}" if ip else ""
    matches, makers = ApiToken.digest.in_(reported), reported  # a reported token, or one it made
    while makers:
        deleted = db.session.execute(delete(ApiToken).where(or_(matches, ApiToken.made_by_digest.in_(makers)))
                                     .returning(*DESCRIBED, ApiToken.digest)).all()
        for token in deleted:
            made = token.digest not in reported
            # A reporter is named only to their own account: another's trail gets the address alone.
            record(token.account_id, reporter.id if token.account_id in accounts else None, "token.leaked",
                   token.public_id, ip, member_id=token.member_id, detail=describe_token(
                       token, f"{'made by a token ' if made else ''}reported leaked{source or ' with the CLI'}"),
                   token=token)
            _tell(token, source, made)
        matches, makers = ApiToken.digest.in_(()), {token.digest for token in deleted}
    return len(values)


def _tell(token, source: str, made: bool) -> None:
    """Leave a notice for the token's member and the account's active owners."""
    account = db.session.get(Account, token.account_id)
    member = db.session.get(Member, token.member_id)
    what = ("was made with a token reported leaked, and deleted with it" if made
            else f"was reported leaked{source} at {utc_time(utcnow())} and deleted")
    for recipient in active_owners_of(token.account_id) | {token.member_id}:
        whose = "Your token" if recipient == token.member_id else f"The token of {member.display_name}"
        notify(token.account_id, [recipient], "token.leaked", (
            f"{whose} “{token.name}” ({token.hint}) in {account.name} {what}: programs using it can no longer "
            "call the API. Generate a new one for them, and find where the old one got out."))
