"""Signing in and out of the browser pages."""

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from . import htmx, service
from .extensions import db, limiter, login_manager, sign_in_limit
from .forms import SignInForm
from .models import Member, Membership

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_member(session_id: str) -> Member | None:
    """Return the member a session names, or None when gone, deactivated or signed out since."""
    member_id, _, version = session_id.partition(":")
    if not (member_id.isdigit() and version.isdigit()):
        return None
    member = db.session.get(Member, int(member_id))
    if member is None or not member.active or member.session_version != int(version):
        return None
    return member


@login_manager.unauthorized_handler
def unauthorized():
    """Send a signed-out visitor to sign in; an htmx request navigates the page, never swaps."""
    if request.method == "GET":
        here = request.full_path.rstrip("?")
    else:  # after sign-in, come back to the page the request came from
        here = _path_of(request.headers.get("HX-Current-URL") or request.referrer or "")
    target = url_for("auth.sign_in", next=_own_path(here))
    if htmx.is_htmx():
        return htmx.client_redirect(make_response("", 401), target)
    flash("Please sign in to continue.", "info")
    return redirect(target)


def _path_of(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed header, e.g. "http://["
        return ""
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _own_path(url: str | None) -> str | None:
    """Return ``url`` if it is a path of this site, so ``next`` cannot lead to another site."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return None
    parts = urlsplit(url)
    return None if parts.scheme or parts.netloc else url


def current_membership() -> Membership:
    """Return the membership the signed-in member works in, or answer 403 when there is none."""
    membership = service.default_membership(current_user)
    if membership is None:
        abort(403, "You are not a member of any account. Ask an account owner to invite you.")
    return membership


@bp.route("/signin", methods=["GET", "POST"])
@limiter.limit(sign_in_limit, methods=["POST"])
def sign_in():
    if service.setup_is_open():
        return redirect(url_for("setup.first_run"))
    if current_user.is_authenticated:
        return redirect(url_for("preferences.show"))
    form = SignInForm()
    if form.validate_on_submit():
        member = service.authenticate_member(form.email.data, form.password.data)
        if member is not None:
            db.session.commit()
            login_user(member)
            return redirect(_own_path(request.args.get("next")) or url_for("preferences.show"))
        form.password.errors.append("That email and password do not match an active member.")
    return render_template("sign_in.html", form=form), 200 if not form.errors else 422


@bp.post("/signout")
@login_required
def sign_out():
    service.end_sessions(current_user)
    db.session.commit()
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.sign_in"))
