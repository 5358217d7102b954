"""Notices: what a member must hear of on their next page (a token of theirs reported leaked), until dismissed."""

from flask import Blueprint, make_response, redirect, request, url_for
from flask_login import current_user, login_required

from . import htmx, service
from .auth import own_path
from .browser import MAX_DATABASE_ID
from .extensions import db

bp = Blueprint("notices", __name__, url_prefix="/notices")


@bp.app_template_global()
def notices_shown() -> list:
    """Return the signed-in member's notices for the page's banner (one query; none for a visitor)."""
    return service.notices_for(current_user) if current_user.is_authenticated else []


@bp.post(f"/<int(min=1, max={MAX_DATABASE_ID}):notice_id>/dismiss")
@login_required
def dismiss(notice_id):
    """Dismiss one of the member's notices: htmx removes it in place, a plain post goes back to the page."""
    service.dismiss_notice(current_user, notice_id)
    db.session.commit()
    if htmx.is_htmx():
        return make_response("", 200)
    return redirect(own_path(request.form.get("next")) or url_for("home"))
