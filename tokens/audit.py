"""The audit trail page, for the account's owners and admins."""

from flask import Blueprint, render_template, request
from flask_login import login_required

from . import service
from .auth import current_membership
from .labels import AUDIT_ACTIONS

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("")
@login_required
def show():
    """Show one page of the account's audit trail, newest first."""
    trail = service.audit_page(current_membership(), request.args.get("page", 1, type=int))
    return render_template("audit.html", **trail._asdict(), actions=AUDIT_ACTIONS,
                           is_token_event=service.is_token_event)
