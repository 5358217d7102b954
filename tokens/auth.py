"""Signing in and out of the browser pages."""

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from . import htmx, service
from .extensions import db, login_manager
from .forms import SignInForm
from .models import Member, Membership

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_member(member_id: str) -> Member | None:
    """Return the signed-in member named by the session, or None when gone or deactivated."""
    if not member_id.isdigit():
        return None
    member = db.session.get(Member, int(member_id))
    return member if member is not None and member.active else None


@login_manager.unauthorized_handler
def unauthorized():
    """Send a signed-out visitor to sign in; an htmx request navigates the page, never swaps."""
    target = url_for("auth.sign_in", next=_own_path(request.full_path if request.method == "GET"
                                                    else request.headers.get("HX-Current-URL")))
    if htmx.is_htmx():
        return htmx.client_redirect(("", 401), target)
    flash("Please sign in to see that page.", "info")
    return redirect(target)


def _own_path(url: str | None) -> str | None:
    """Keep only a local path of ``url``, so ``next`` cannot send anyone to another site."""
    if not url:
        return None
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    return path


def current_membership() -> Membership:
    """Return the membership the signed-in member works in, or answer 403 when there is none."""
    membership = service.default_membership(current_user)
    if membership is None:
        abort(403, "You are not a member of any account. Ask an account owner to invite you.")
    return membership


@bp.route("/signin", methods=["GET", "POST"])
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
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.sign_in"))
