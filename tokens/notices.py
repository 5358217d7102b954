"""Notices: what a member must hear of on their next page (a token of theirs reported leaked), until dismissed."""

import re

from flask import Blueprint, make_response, redirect, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from . import htmx, service
from .auth import own_path
from .browser import MAX_DATABASE_ID, with_hints
from .extensions import db

bp = Blueprint("notices", __name__, url_prefix="/notices")
UTC_TIME = re.compile(r"\b(\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC)\b")  # as labels.utc_time writes one


@bp.app_template_filter()
def notice_text(text: str) -> Markup:
    """Escape a notice's text, set its token hints as code and keep its times whole on one line."""
    pieces = UTC_TIME.split(text)  # the times at the odd places
    return Markup("").join(Markup('<span class="time">{}</span>').format(piece) if place % 2 else with_hints(piece)
                           for place, piece in enumerate(pieces))


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
