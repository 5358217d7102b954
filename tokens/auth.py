"""Signing in and out of the browser pages."""

import time
from datetime import timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user
from werkzeug.exceptions import TooManyRequests

from . import htmx, service
from .budgets import ACCOUNT_PAUSED, PAUSED, counting, sign_in_budget
from .extensions import db, limiter, login_manager
from .forms import ConfirmPasswordForm, JoinForm, NewPasswordForm, SignInForm
from .models import Member, Membership

bp = Blueprint("auth", __name__)


def sign_in_limit() -> str:
    """Sign-in attempts a client address may make (the SIGN_IN_RATE_LIMIT setting)."""
    return current_app.config["SIGN_IN_RATE_LIMIT"]


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


def device_cookie() -> str:
    """Name the cookie by which a browser that signed in before is known (host-only with HTTPS)."""
    return "__Host-portal-device" if current_app.config["HTTPS"] else "portal-device"


def device_of(email: str) -> str | None:
    """Return this browser's device id if it signed in as ``email`` before (a signed cookie), else None."""
    return service.vouched_device(request.cookies.get(device_cookie(), ""), email,
                                  timedelta(days=current_app.config["DEVICE_COOKIE_DAYS"]))


def remember_device(response, email: str, device: str | None):
    """Mark this browser (keeping its ``device`` id, if known) as one that signed in as ``email``."""
    response.set_cookie(device_cookie(), service.device_note(email, device),
                        max_age=timedelta(days=current_app.config["DEVICE_COOKIE_DAYS"]), path="/",
                        secure=bool(current_app.config["HTTPS"]), httponly=True, samesite="Lax")
    return response


def start_session(member: Member) -> None:
    """Sign the member in on a fresh session: nothing from before (its CSRF secret included) survives."""
    session.clear()
    login_user(member)
    session["started"] = session["seen"] = int(time.time())
    password_confirmed()


@bp.before_app_request
def end_stale_session():
    """End a signed-in session idle or old past its limits (SESSION_IDLE_MINUTES, SESSION_MAX_HOURS)."""
    if "_user_id" not in session:
        return
    config, now = current_app.config, int(time.time())
    seen = session.get("seen", 0)  # a session from before these limits has neither: it ends
    if (now - seen > int(config["SESSION_IDLE_MINUTES"]) * 60
            or now - session.get("started", 0) > int(config["SESSION_MAX_HOURS"]) * 3600):
        session.clear()  # signed out; a page that needs sign-in sends the member there
    elif now - seen >= 60:  # a new cookie at most once a minute, not with every answer
        session["seen"] = now


def password_attempt(email: str, password: str) -> tuple[Member | None, str | None]:
    """Check a typed password within the sign-in budgets: return the active member it opens (or None, the
    failure spent and recorded) and this browser's device id. 503 when attempts cannot be counted, 429
    when the budget is spent (checked before the password: the right one waits too)."""
    if not counting(limiter):  # attempts that cannot be counted could be guessed freely
        abort(503, PAUSED)
    device = device_of(email)
    budget, key = sign_in_budget(email, device)
    if retry_after := budget.retry_after(key):
        raise TooManyRequests(ACCOUNT_PAUSED, retry_after=retry_after)
    member = service.authenticate_member(email, password)
    if member is None:
        budget.spend(key)
        service.record_failed_sign_in(email, request.remote_addr)
        db.session.commit()
    return member, device


def password_confirmed() -> None:
    """Note that the member just typed their password: sudo mode starts now."""
    session["password_at"] = int(time.time())


def password_is_fresh() -> bool:
    """Tell whether the member typed their password within SUDO_MODE_MINUTES (at sign-in or to confirm)."""
    return time.time() - session.get("password_at", 0) < int(current_app.config["SUDO_MODE_MINUTES"]) * 60


def sudo_mode(doing: str):
    """Guard a view that makes credentials or grants power: it runs only if the password is fresh.

    Otherwise the answer asks for the password (a page, or with htmx a dialog), in a form that posts the
    request's own fields back to the same address with the password: typed right, the action goes on in
    that same request, so the member lands where the action leads. ``doing`` completes "You are about to ...".
    """
    def guard(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if password_is_fresh():
                return view(*args, **kwargs)
            form = ConfirmPasswordForm()
            if "sudo_password" in request.form and form.validate():  # the confirmation came along
                member, _ = password_attempt(current_user.email, form.sudo_password.data)
                if member is not None and member.id == current_user.id:
                    password_confirmed()
                    return view(*args, **kwargs)
                form.sudo_password.errors.append("That is not your password.")
            return confirm_password(form, doing)
        return guarded
    return guard


def confirm_password(form: ConfirmPasswordForm, doing: str):
    """Ask for the password before the action this request asked for: 403 until it is given."""
    carried = [(name, value) for name, value in request.form.items(multi=True)
               if name not in ("csrf_token", "sudo_password", "username")]
    minutes = int(current_app.config["SUDO_MODE_MINUTES"])
    fresh_for = (f"{minutes // 60} hour{'s' if minutes != 60 else ''}" if minutes % 60 == 0
                 else f"{minutes} minute{'s' if minutes != 1 else ''}")
    back = _own_path(_path_of(request.referrer or "")) or url_for("preferences.show")
    context = {"form": form, "doing": doing, "carried": carried, "action": request.path, "fresh_for": fresh_for,
               "back": back}
    if htmx.is_htmx():  # a modal dialog over the page; the answer to its form is a whole page
        return htmx.retarget(make_response(render_template("partials/confirm_password.html", dialog=True, **context),
                                           403), "body", "beforeend")
    return make_response(render_template("confirm_password.html", **context), 403)


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
    """Return the membership the signed-in member works in (the account chosen in the switcher,
    else their first), or answer 403 when there is none."""
    membership = navigation().get("working_in")
    if membership is None:
        abort(403, "You are not a member of any account. Ask an account owner to invite you.")
    return membership


@bp.route("/signin", methods=["GET", "POST"])
@limiter.limit(sign_in_limit, methods=["POST"])
def sign_in():
    """Sign in with email and password; attempts are limited per client address."""
    if service.setup_is_open():
        return redirect(url_for("setup.first_run"))
    if current_user.is_authenticated:
        return redirect(url_for("preferences.show"))
    form = SignInForm()
    if form.validate_on_submit():
        member, device = password_attempt(form.email.data, form.password.data)
        if member is not None:
            service.record_sign_in(member, request.remote_addr)
            db.session.commit()
            start_session(member)
            return remember_device(redirect(_own_path(request.args.get("next")) or url_for("preferences.show")),
                                   member.email, device)
        form.password.errors.append("That email and password do not match an active member.")
    return render_template("sign_in.html", form=form), 200 if not form.errors else 422


@bp.post("/signout")
@login_required
def sign_out():
    """Sign out of every session of the member (copies of the cookie included)."""
    service.end_sessions(current_user)
    db.session.commit()
    session.clear()
    flash("You are signed out.", "info")
    response = redirect(url_for("auth.sign_in"))
    # The browser drops what it kept of the member's pages. Not "cookies": the session is already
    # ended here (its version moved on, copies included), and browsers would clear every cookie
    # of the registrable domain, the other sites' under it too.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@bp.post("/accounts/switch")
@login_required
def switch_account():
    """Work in another of the member's accounts: the token list, the dialog and new tokens follow."""
    membership = service.membership_in(current_user, request.form.get("account", ""))
    if membership is None:
        abort(404, "You are not a member of that account.")
    session["account"] = membership.account.public_id
    flash(f"You are now working in {membership.account.name}.", "info")
    return redirect(url_for("preferences.show"))


@bp.route("/reset/<link_token>", methods=["GET", "POST"])
def reset_password(link_token):
    """Set a new password through a one-time link from an operator (`flask reset-password`)."""
    member = service.read_reset_link(link_token)
    form = NewPasswordForm()
    if form.validate_on_submit():
        service.reset_password(member, form.password.data, request.remote_addr)
        db.session.commit()
        session.clear()  # whoever was signed in on this browser, the next sign-in starts afresh
        flash("Your password is set. Sign in with it.", "success")
        return redirect(url_for("auth.sign_in"))
    return render_template("reset_password.html", form=form, member=member), 422 if form.errors else 200


@bp.route("/join/<link_token>", methods=["GET", "POST"])
def join(link_token):
    """Accept an invitation: as a new member choosing a name and password, or with an existing sign-in."""
    invitation = service.read_invitation(link_token)
    existing = current_user if current_user.is_authenticated else None
    if existing is None and service.member_exists(invitation.email):
        return render_template("join.html", invitation=invitation, sign_in_first=True)
    form = None if existing else JoinForm()
    if request.method == "POST" and (existing or form.validate_on_submit()):
        membership = service.accept_invitation(
            invitation, member=existing, display_name=form.display_name.data if form else "",
            password=form.password.data if form else None, ip=request.remote_addr)
        db.session.commit()
        if existing is None:
            start_session(membership.member)
        session["account"] = membership.account.public_id
        flash(f"Welcome to {membership.account.name}.", "success")
        return redirect(url_for("preferences.show"))
    return render_template("join.html", invitation=invitation, form=form), 422 if form and form.errors else 200


@bp.app_context_processor
def navigation():
    """What the header shows a signed-in member: where they work, and where else they could."""
    if not current_user.is_authenticated:
        return {}
    working_in = (service.membership_in(current_user, session.get("account"))
                  or service.default_membership(current_user))
    return {"working_in": working_in}
