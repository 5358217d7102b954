"""The portal's data: accounts, their members, the members' API tokens and the audit trail."""

import secrets
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask_login import UserMixin
from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, TypeDecorator, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .secret import ALPHABET

ROLES = ("owner", "admin", "member")
SCOPES = ("read", "read-write")
# Where a token was made: the web page, the API's login, the API's POST tokens, the operator's CLI.
ORIGINS = ("web", "login", "api", "cli")


def utcnow() -> datetime:
    return datetime.now(UTC)


def expired(expires_at: datetime | None) -> bool:
    """Tell whether a token with this expiry time is expired now."""
    return expires_at is not None and expires_at <= utcnow()


def public_id(length: int) -> str:
    """Return a random URL-safe identifier for use in URLs and API answers."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


class UTCDateTime(TypeDecorator):
    """Store times as naive UTC (alike on SQLite and PostgreSQL), hand them back timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetimes are ambiguous; pass an aware one")
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=UTC) if value is not None else None


class Account(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(17), unique=True, default=lambda: public_id(17))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The token policy its owners set: the longest a token may live (days), and whether all must expire.
    token_max_days: Mapped[int | None] = mapped_column()
    tokens_must_expire: Mapped[bool] = mapped_column(default=False, server_default=false())

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="account", cascade="all, delete-orphan", passive_deletes=True
    )


class Member(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    # Part of every session cookie; raising it ends all of the member's sessions at once.
    session_version: Mapped[int] = mapped_column(default=1)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="member", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Membership.id",
    )

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"


class Membership(db.Model):
    __table_args__ = (UniqueConstraint("account_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(10), default="member")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship(back_populates="memberships")
    member: Mapped[Member] = relationship(back_populates="memberships")

    @property
    def manages(self) -> bool:
        """Owners and admins see and manage the account's members and all its tokens."""
        return self.role in ("owner", "admin")


class ApiToken(db.Model):
    """One API token of one member in one account. The secret itself is never stored."""

    __table_args__ = (
        # The lists, newest first, page by (created_at, id) in an account, or in one member's tokens there.
        Index("ix_api_token_account_created", "account_id", "created_at", "id"),
        Index("ix_api_token_account_member_created", "account_id", "member_id", "created_at", "id"),
        # The server-side guard against a double submit of one Generate form.
        UniqueConstraint("member_id", "request_nonce"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(12), unique=True, default=lambda: public_id(12))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(10), default="read-write")
    created_via: Mapped[str] = mapped_column(String(8), default="web")
    request_nonce: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_ip: Mapped[str | None] = mapped_column(String(45))
    # Set when the token was rotated: it keeps working until ``expires_at`` (the grace chosen), then stops.
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The digest of the token that made this one through the API (POST tokens, a rotation): when that one is
    # reported leaked, whoever held it may have made this one, and it goes too.
    made_by_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    # The nearest expiry warning sent (7 or 1 days before), so that each is sent once.
    expiry_warned_days: Mapped[int | None] = mapped_column()

    account: Mapped[Account] = relationship()
    member: Mapped[Member] = relationship()

    @property
    def is_expired(self) -> bool:
        return expired(self.expires_at)

    @property
    def member_email(self) -> str:
        return self.member.email


class AuditEvent(db.Model):
    """Something that happened in an account: who did it, to what, from where, when."""

    __table_args__ = (
        Index("ix_audit_event_account_created", "account_id", "created_at"),
        Index("ix_audit_event_account_subject", "account_id", "subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    # The member the event is for (a token's owner, a member whose role changed...).
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    # What the event is about, e.g. a token's public id or an email; never a secret.
    subject: Mapped[str | None] = mapped_column(String(254))
    # Said with the event when it happens (a token's name and hint, a role...), so it reads right later.
    detail: Mapped[str | None] = mapped_column(String(400))
    ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[Member | None] = relationship(foreign_keys=[actor_id])
    member: Mapped[Member | None] = relationship(foreign_keys=[member_id])


class Invitation(db.Model):
    """An invitation to join an account with a role; the link carries its signed public id."""

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(16), unique=True, default=lambda: public_id(16))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(10))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship()
    invited_by: Mapped[Member | None] = relationship()

    @property
    def is_pending(self) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > utcnow()


class Notice(db.Model):
    """Something a member must hear of on their next page (a token reported leaked), until they dismiss it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    # Written when it happens, in the words the banner shows; names a token by name and hint, never its secret.
    text: Mapped[str] = mapped_column(String(600))
    # The token a Rotate button beside the notice acts on (an expiry warning's), by public id.
    token_id: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Webhook(db.Model):
    """An endpoint of an account's: the events it wants are POSTed to its URL, signed (Standard Webhooks)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(12), unique=True, default=lambda: public_id(12))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[str] = mapped_column(String(400))  # the event types wanted, separated by spaces
    # The signing secret is derived from this and TOKEN_DIGEST_KEY when signing: the database holds no secret.
    secret_salt: Mapped[str] = mapped_column(String(32))
    # The secrets it had before, signing beside its own until their graces end (the receiver moves without a
    # gap): [{"salt": ..., "until": ISO time}], newest first.
    old_salts: Mapped[list] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    # Deliveries that failed every attempt, in a row; at WEBHOOK_DISABLE_AFTER the endpoint is turned off.
    failed_in_row: Mapped[int] = mapped_column(default=0)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def event_list(self) -> list[str]:
        return self.events.split()

    @property
    def host(self) -> str:
        """The URL's host, to name the webhook by (its path may hold a chat server's secret)."""
        return urlsplit(self.url).hostname or ""

    def old_secrets(self, now: datetime | None = None) -> list[tuple[str, datetime]]:
        """The salts of the secrets it had before that still sign, newest first, each with the end of its grace."""
        now = now or utcnow()
        return [(old["salt"], until) for old in self.old_salts or ()
                if (until := datetime.fromisoformat(old["until"])) > now]


class WebhookMessage(db.Model):
    """One event for one endpoint, kept until it is delivered or given up on (the queue only wakes it)."""

    __table_args__ = (
        Index("ix_webhook_message_state_due", "state", "due_at"),
        Index("ix_webhook_message_webhook", "webhook_id", "id"),
        Index("ix_webhook_message_created", "created_at"),  # the sweep forgets settled ones by age
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The webhook-id header: the same on every attempt, so that a receiver can drop a repeat.
    public_id: Mapped[str] = mapped_column(String(30), unique=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(db.Text)  # the JSON body, never a token or a secret
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending, delivered, failed, dropped
    attempts: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # when the next attempt may start
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    attempt_log: Mapped[list["WebhookAttempt"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="WebhookAttempt.id")


class WebhookAttempt(db.Model):
    """One try at delivering a message: when, which try, and what came of it (the delivery log)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("webhook_message.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column()
    ok: Mapped[bool] = mapped_column()
    status_code: Mapped[int | None] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(200))  # "200 OK", "timed out after 10 s", "refused: ..."
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
