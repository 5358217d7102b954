"""Email, optional (MAIL_SERVER set): invitation links, "Forgot your password?" links and expiry warnings.

A web request only queues a message (``tokens.queue``); the worker writes it and sends it over SMTP
(Flask-Mailman), and tries again when sending fails, so a slow SMTP server never holds a page. The queue
carries ids and addresses, never a link: the worker signs a link as it writes the email, so no secret waits
in the queue's storage. With MAIL_SERVER unset nothing is queued and every function here says so.
"""

from urllib.parse import urlsplit

from flask import current_app
from flask_mailman import EmailMessage
from sqlalchemy import select

from .. import settings
from ..extensions import db, mail
from ..labels import utc_time
from ..models import Invitation, Member
from . import links
from .accounts import member_by_email
from .audit import record_in_every_account
from .jobs import after_commit
from .passwords import EMAILED_RESET_LINK_LIFE, reset_link


def mail_enabled() -> bool:
    """Tell whether the portal sends email (MAIL_SERVER is set)."""
    return bool(current_app.config["MAIL_SERVER"])


def _queue(task: str, *args) -> bool:
    """Queue the email task ``task`` for the worker now; return whether it was (email is configured, and the
    queue took it)."""
    return mail_enabled() and current_app.extensions["queue"].enqueue_safely(task, *args)


def queue_invitation_email(invitation: Invitation, address: str) -> bool:
    """Queue the invitation's link to its email, on the portal at ``address`` (as the page shows the link);
    return whether it was queued."""
    return _queue("email_invitation", invitation.public_id, address)


def queue_password_reset(email: str, ip: str | None = None) -> bool:
    """Queue a reset link for ``email``, whoever it is, and return whether it was queued.

    The worker looks the address up, so that the request takes the same steps (and time) whether or not it
    signs in here; an address that does not gets no email.
    """
    return _queue("email_password_reset", email, ip)


def queue_expiry_warning(member_id: int, account_name: str, token, days: int) -> bool:
    """Queue an expiry warning for a token (its public id, name, hint, expiry) to its member's email."""
    if not mail_enabled():
        return False
    email = db.session.scalar(select(Member.email).where(Member.id == member_id, Member.active))
    if email is None:
        return False
    rotate = f"{_portal()}/preferences/tokens/{token.public_id}/rotate"
    body = _render("expiry_warning.txt", name=token.name, hint=token.hint, account=account_name,
                   expires=utc_time(token.expires_at), within=_within(days), rotate=rotate)
    # Once the warning's claim commits: a round that fails sends nothing, and the next one sends it once.
    after_commit("send_email", email, f'Your API token "{token.name}" expires {_within(days)}', body)
    return True


def _within(days: int) -> str:
    return "within a day" if days == 1 else f"within {days} days"


# --- in the worker ------------------------------------------------------------------------------------------

def send_email(to: str, subject: str, body: str) -> None:
    """Send a plain-text email over SMTP (raises when the server refuses or cannot be reached)."""
    # A connection of its own, closed whatever happens (Flask-Mailman's send leaves it open when refused).
    with mail.get_connection() as connection:
        EmailMessage(subject, body, _sender(), [to], connection=connection).send()


def email_invitation(public_id: str, address: str) -> bool:
    """Email a pending invitation its link; return whether it was sent (not when used or revoked since)."""
    invitation = db.session.scalar(select(Invitation).filter_by(public_id=public_id))
    if invitation is None or not invitation.is_pending:
        return False
    link = f"{address}/join/{links.sign('invitation', invitation.public_id)}"
    body = _render("invitation.txt", account=invitation.account.name, role=invitation.role, link=link,
                   inviter=invitation.invited_by.display_name if invitation.invited_by else None,
                   expires=utc_time(invitation.expires_at))
    send_email(invitation.email, f"You are invited to {invitation.account.name}", body)
    return True


def email_password_reset(email: str, ip: str | None = None) -> bool:
    """Email a one-time reset link, valid an hour, to the active member with this email; return whether one
    was sent (an address that signs in nowhere here gets nothing).

    The link starts with PUBLIC_URL (``_portal``), never with an address a request named: whoever asks for a
    reset is not signed in, and a forged Host header would otherwise send the member's link to another site.
    """
    member = member_by_email(email)
    if member is None or not member.active:
        return False
    link = f"{_portal()}/reset/{reset_link(member, EMAILED_RESET_LINK_LIFE)}"
    send_email(member.email, "Choose a new password", _render(
        "password_reset.txt", name=member.display_name, link=link,
        minutes=int(EMAILED_RESET_LINK_LIFE.total_seconds() // 60)))
    record_in_every_account(member, "member.password_reset_requested", None, ip)
    return True


def _portal() -> str:
    """The portal's address in the links of emails no owner asked for: PUBLIC_URL, else the local one (never a
    request's, whose Host header a stranger may have written)."""
    return current_app.config["PUBLIC_URL"] or settings.LOCAL_URL


def _sender() -> str:
    """The From address: MAIL_DEFAULT_SENDER, else noreply@ the host name of PUBLIC_URL (or localhost)."""
    public = current_app.config["PUBLIC_URL"]
    host = urlsplit(public).hostname if public else "localhost"
    return current_app.config["MAIL_DEFAULT_SENDER"] or f"noreply@{host}"


def _render(template: str, **context) -> str:
    """Write an email's text from ``templates/email/``: plain text, no page's context (no request here)."""
    return current_app.jinja_env.get_template(f"email/{template}").render(**context)
