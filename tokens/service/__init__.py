"""What the portal does, one module per concern; call sites read ``service.issue_token(...)``.

Functions here take plain arguments, never read the request, and leave committing to the caller,
so the browser pages, the API and the CLI share them.
"""

from .accounts import (
    add_member,
    authenticate_member,
    check_setup_code,
    create_account,
    default_membership,
    find_account,
    find_member,
    first_run_setup,
    member_by_email,
    member_exists,
    membership_in,
    record_failed_sign_in,
    record_sign_in,
    setup_code,
    setup_is_open,
)
from .api_tokens import (
    EXPIRY_DAYS,
    NO_SUCH_TOKEN,
    TOKEN_PAGE_SIZE,
    Revoked,
    TokenPage,
    account_tokens,
    check_expiry,
    clean_token_name,
    expiry,
    find_token,
    issue_token,
    list_tokens,
    log_in,
    operator_revoke,
    revoke_token,
    token_count,
    token_digest,
    token_page,
)
from .audit import AUDIT_PAGE_SIZE, audit_page, describe_token, is_token_event, record
from .callers import Caller, authenticate_token, log_out, membership_of
from .devices import device_note, vouched_device
from .errors import (
    DuplicateRequest,
    Forbidden,
    InvalidCursor,
    InvalidInput,
    InvalidLink,
    NotFound,
    ServiceError,
    TokenLimitReached,
    WrongPassword,
)
from .events import EVENTS as WEBHOOK_EVENTS
from .expiry_warnings import send_expiry_warnings
from .invitations import (
    Joined,
    accept_invitation,
    invite,
    join_with_password,
    pending_invitations,
    read_invitation,
    revoke_invitation,
)
from .leaks import MAX_REPORTED, clean_reported, revoke_leaked, values_in
from .mail import (
    email_invitation,
    email_password_reset,
    mail_enabled,
    queue_expiry_warning,
    queue_invitation_email,
    queue_password_reset,
    send_email,
)
from .members import (
    account_members,
    change_role,
    find_membership_by_id,
    list_members,
    remove_member,
    set_active,
    set_role,
)
from .names import EMAIL_MAX, NAME_MAX, NAME_RULE, clean_email, clean_text
from .notices import dismiss_notice, notices_for
from .passwords import (
    PASSWORD_MAX,
    change_password,
    clean_password,
    end_sessions,
    read_reset_link,
    reset_link,
    reset_password,
)
from .policy import POLICY_DAYS, PolicyForbids, TokenPolicy, check_policy, set_policy, tokens_beyond_policy
from .roles import require_manager
from .rotation import (
    GRACE_CHOICES,
    MAX_GRACE,
    AlreadyReplaced,
    Rotation,
    clean_grace,
    grace_choices,
    rotatable_members,
    rotate_token,
)
from .webhooks import (
    TEST_EVENT,
    SecretChanged,
    WebhookLimitReached,
    account_webhooks,
    change_webhook,
    clean_webhook_events,
    create_webhook,
    delete_webhook,
    delivery_log,
    find_webhook,
    roll_secret,
    secret_version,
    send_test,
    set_enabled,
    stop_old_secrets,
    waiting,
)

__all__ = [
    "TEST_EVENT", "WEBHOOK_EVENTS", "SecretChanged", "WebhookLimitReached", "account_webhooks", "change_webhook",
    "clean_webhook_events", "create_webhook", "delete_webhook", "delivery_log", "find_webhook", "roll_secret",
    "secret_version", "send_test", "set_enabled", "stop_old_secrets", "waiting",
    "email_invitation", "email_password_reset", "mail_enabled", "queue_expiry_warning", "queue_invitation_email",
    "queue_password_reset", "send_email",
    "GRACE_CHOICES", "MAX_GRACE", "MAX_REPORTED", "POLICY_DAYS", "AlreadyReplaced", "PolicyForbids", "Rotation",
    "TokenPolicy", "check_policy", "clean_grace", "clean_reported", "dismiss_notice", "grace_choices", "notices_for",
    "revoke_leaked", "rotatable_members", "rotate_token", "send_expiry_warnings", "set_policy", "tokens_beyond_policy",
    "values_in",
    "AUDIT_PAGE_SIZE", "EMAIL_MAX", "EXPIRY_DAYS", "NAME_MAX", "NAME_RULE", "NO_SUCH_TOKEN", "PASSWORD_MAX",
    "TOKEN_PAGE_SIZE", "Caller", "DuplicateRequest", "Forbidden", "InvalidCursor", "InvalidInput", "InvalidLink",
    "Joined", "NotFound", "Revoked", "ServiceError", "TokenLimitReached", "TokenPage", "WrongPassword",
    "accept_invitation", "account_members", "account_tokens", "add_member", "audit_page", "authenticate_member",
    "authenticate_token", "change_password", "change_role", "check_expiry", "check_setup_code", "clean_password",
    "clean_email", "clean_text", "clean_token_name", "create_account", "default_membership", "describe_token",
    "device_note", "end_sessions", "expiry",
    "find_account", "find_member", "find_membership_by_id", "find_token", "first_run_setup",
    "invite", "is_token_event", "issue_token", "join_with_password", "list_members", "list_tokens", "log_in",
    "log_out", "member_by_email", "member_exists", "membership_in", "membership_of", "operator_revoke",
    "pending_invitations", "read_invitation",
    "read_reset_link", "record", "record_failed_sign_in", "record_sign_in", "remove_member", "require_manager",
    "reset_link", "reset_password", "revoke_invitation", "revoke_token", "set_active", "set_role", "setup_code",
    "setup_is_open", "token_count", "token_digest", "token_page", "vouched_device",
]
