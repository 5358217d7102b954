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
    events, page, more = service.audit_page(current_membership(), request.args.get("page", 1, type=int))
    return render_template("audit.html", events=events, page=page, more=more, actions=AUDIT_ACTIONS)
