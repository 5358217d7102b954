"""The audit trail page, for the account's owners and admins."""

from flask import Blueprint, render_template, request
from flask_login import login_required

from . import service
from .auth import current_membership

bp = Blueprint("audit", __name__, url_prefix="/audit")

ACTIONS = {
    "token.created": "created a token", "token.deleted": "deleted a token",
    "api.login": "logged in to the API", "api.logout": "logged out of the API",
    "member.signed_in": "signed in", "member.sign_in_failed": "failed to sign in",
    "member.invited": "invited", "member.invitation_revoked": "revoked the invitation of",
    "member.joined": "joined", "member.removed": "removed", "member.role_changed": "changed the role of",
    "member.password_changed": "changed their password", "member.password_reset": "reset their password",
    "member.deactivated": "was deactivated", "member.activated": "was reactivated",
}


@bp.get("")
@login_required
def show():
    events, page, more = service.audit_page(current_membership(), request.args.get("page", 1, type=int))
    return render_template("audit.html", events=events, page=page, more=more, actions=ACTIONS)
