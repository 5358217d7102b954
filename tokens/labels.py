"""What the portal calls things, in one place: forms, pages, error answers and app.js read these."""

from datetime import UTC, datetime


def utc_time(moment: datetime) -> str:
    """Write a time as every page, audit detail and command shows it: UTC, to the minute (``2026-11-30 14:05 UTC``).

    ``moment`` is timezone-aware, as the portal's times all are.
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


ROLE_LABELS = {"owner": "Owner", "admin": "Admin", "member": "Member"}
SCOPE_LABELS = {"read-write": "Read and write", "read": "Read only"}
ORIGIN_LABELS = {"web": "made on the web", "login": "made by API login", "api": "made with the API",
                 "cli": "made with the CLI"}
# The formats the once-only dialog offers for both values at once ("Copy as: curl command", the snippet
# then labelled "Both (curl command)").
SNIPPET_FORMATS = {"headers": "request headers", "env": ".env lines", "curl": "curl command"}

AUDIT_ACTIONS = {
    "token.created": "created a token", "token.deleted": "deleted a token", "token.rotated": "rotated a token",
    "token.leaked": "reported a leaked token", "account.policy_changed": "changed the token policy",
    "api.login": "logged in to the API", "api.logout": "logged out of the API",
    "member.signed_in": "signed in", "member.sign_in_failed": "failed to sign in",
    "member.invited": "invited", "member.invitation_revoked": "revoked the invitation of",
    "member.joined": "joined", "member.removed": "removed", "member.role_changed": "changed the role of",
    "member.password_changed": "changed their password", "member.password_reset": "reset their password",
    "member.password_reset_requested": "was emailed a password reset link",
    "member.deactivated": "was deactivated", "member.activated": "was reactivated",
    "account.created": "created the account", "member.added": "added",
    "webhook.created": "added a webhook", "webhook.deleted": "deleted a webhook",
    "webhook.enabled": "turned on a webhook", "webhook.disabled": "turned off a webhook",
    "webhook.changed": "changed a webhook", "webhook.secret_rolled": "made a new signing secret for a webhook",
    "webhook.old_secrets_stopped": "stopped the old signing secrets of a webhook",
}

# What an error answer says when nothing more precise was said (pages, htmx notices, JSend).
STATUS_MESSAGES = {
    400: "The request could not be understood.",
    403: "You are not allowed to do that.",
    404: "There is nothing here.",
    405: "That action is not available here.",
    409: "That was already done.",
    413: "That request is too large.",
    415: "That kind of content is not accepted here.",
    429: "Too many requests. Wait a little, then try again.",
    500: "Something went wrong on our side. Nothing was changed; please try again.",
    503: "The portal cannot answer right now. Nothing was changed; please try again in a moment.",
}

# What app.js says when an htmx request fails with an answer that is not the portal's own notice
# (a proxy's error page, a session that ended), or gets no answer at all.
BROWSER_FAILURES = {
    "401": "Your session has ended. Reload the page to sign in again.",
    "403": STATUS_MESSAGES[403],
    "404": "That is no longer here. Reload the page to see it as it is now.",
    "429": STATUS_MESSAGES[429],
    "502": "The portal cannot answer right now. Please try again in a moment.",
    "503": "The portal cannot answer right now. Please try again in a moment.",
    "504": "The portal took too long to answer. Reload the page to see what was done.",
    "other": "Something went wrong (error {status}). Please try again.",
    "unreachable": "The portal could not be reached. Check your connection, then reload the page to see what was done.",
}
