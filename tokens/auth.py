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
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import TooManyRequests

from . import htmx, service
from .budgets import ACCOUNT_PAUSED, PAUSED, counting, password_reset_requests, sign_in_budget
from .extensions import db, limiter, login_manager
from .forms import ConfirmPasswordForm, ForgotPasswordForm, JoinForm, NewPasswordForm, SignInForm
from .models import Member, Membership
from .service.names import normalize_email

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
    # With the accounts the member works in (every page's header names them): one query, not three.
    member = db.session.get(Member, int(member_id), options=[
        joinedload(Member.memberships).joinedload(Membership.account, innerjoin=True)])
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


class PasswordAttempt:
    """A password typed for an email (at sign-in, on an invitation link, or to confirm it in sudo mode),
    counted against the account's budget of failures, or this browser's when its device cookie vouches for it.

    Made before the password is checked: while attempts cannot be counted, or the budget is spent, it
    refuses (503, 429), the right password too.
    """

    def __init__(self, email: str):
        if not counting(limiter):  # attempts that cannot be counted could be guessed freely
            abort(503, PAUSED)
        self.email, self.device = email, device_of(email)
        self.budget, self.key = sign_in_budget(email, self.device)
        if retry_after := self.budget.retry_after(self.key):
            raise TooManyRequests(ACCOUNT_PAUSED, retry_after=retry_after)

    def succeeded(self, member: Member, response):
        """Note the sign-in, commit, start a fresh session and remember this browser; return ``response``."""
        service.record_sign_in(member, request.remote_addr)
        db.session.commit()
        start_session(member)
        return remember_device(response, member.email, self.device)

    def failed(self) -> None:
        """Count the failure against the budget and note it in the member's accounts (if the email is one)."""
        self.budget.spend(self.key)
        service.record_failed_sign_in(self.email, request.remote_addr)
        db.session.commit()


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


def password_confirmed() -> None:
    """Note that the member just typed their password: sudo mode starts now."""
    session["password_at"] = int(time.time())


def password_is_fresh() -> bool:
    """Tell whether the member typed their password within SUDO_MODE_MINUTES (at sign-in or to confirm)."""
    return time.time() - session.get("password_at", 0) < int(current_app.config["SUDO_MODE_MINUTES"]) * 60


def sudo_mode(doing: str, back: str | None = None):
    """Guard a view that makes credentials or grants power: it runs only if the password is fresh.

    Otherwise the answer asks for the password (a page, or with htmx a dialog), in a form that posts the
    request's own fields back to the same address with the password: typed right, the action goes on in
    that same request, so the member lands where the action leads; Cancel goes to the page of the endpoint
    ``back`` (with the view's arguments), else to the blueprint's ``show`` page. ``doing`` completes "You are
    about to ...".
    """
    def guard(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if password_is_fresh():
                return view(*args, **kwargs)
            form = ConfirmPasswordForm()
            if "sudo_password" in request.form and form.validate():  # the confirmation came along
                attempt = PasswordAttempt(current_user.email)
                if service.authenticate_member(current_user.email, form.sudo_password.data) is not None:
                    password_confirmed()
                    return view(*args, **kwargs)
                attempt.failed()
                form.sudo_password.errors.append("That is not your password.")
            return confirm_password(form, doing, back)
        return guarded
    return guard


def confirm_password(form: ConfirmPasswordForm, doing: str, back: str | None = None):
    """Ask for the password before the action this request asked for: 403 until it is given."""
    carried = [(name, value) for name, value in request.form.items(multi=True)
               if name not in ("csrf_token", "sudo_password", "username")]
    minutes = int(current_app.config["SUDO_MODE_MINUTES"])
    fresh_for = (f"{minutes // 60} hour{'s' if minutes != 60 else ''}" if minutes % 60 == 0
                 else f"{minutes} minute{'s' if minutes != 1 else ''}")
    context = {"form": form, "doing": doing, "carried": carried, "action": request.script_root + request.path,
               "fresh_for": fresh_for,
               "back": url_for(back, **request.view_args) if back else url_for(f"{request.blueprint}.show")}
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
    target = url_for("auth.sign_in", next=own_path(here))
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


def own_path(url: str | None) -> str | None:
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
        attempt = PasswordAttempt(form.email.data)
        member = service.authenticate_member(form.email.data, form.password.data)
        if member is not None:
            return attempt.succeeded(member, redirect(own_path(request.args.get("next"))
                                                      or url_for("preferences.show")))
        attempt.failed()
        form.password.errors.append("That email and password do not match an active member.")
    return render_template("sign_in.html", form=form, can_email=service.mail_enabled()), 200 if not form.errors else 422


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


def password_reset_limit() -> str:
    """Reset links a client address may ask for (the PASSWORD_RESET_RATE_LIMIT setting)."""
    return current_app.config["PASSWORD_RESET_RATE_LIMIT"]


RESETS_SPENT = ("Too many reset links were asked for this email address. Look for the last one in its mailbox "
                "(and its spam folder), or ask again later.")


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(password_reset_limit, methods=["POST"])
def forgot_password():
    """Email a one-time reset link to an address (with email set up): the answer is the same whether or not
    the address signs in here; asking is limited per client address and per email address."""
    if not service.mail_enabled():
        abort(404)
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        # Counted for every address alike, known or not, so the limit tells nothing either.
        password_reset_requests.admit(normalize_email(form.email.data)[:254], RESETS_SPENT)
        service.queue_password_reset(form.email.data, request.remote_addr)
        return render_template("forgot_password.html", form=None, email=form.email.data)
    return render_template("forgot_password.html", form=form), 422 if form.errors else 200


@bp.route("/reset/<link_token>", methods=["GET", "POST"])
def reset_password(link_token):
    """Set a new password through a one-time link: an operator's (`flask reset-password`) or an emailed one."""
    member = service.read_reset_link(link_token)
    form = NewPasswordForm()
    if form.validate_on_submit():
        service.reset_password(member, form.password.data, request.remote_addr)
        db.session.commit()
        session.clear()  # whoever was signed in on this browser, the next sign-in starts afresh
        flash("Your password is set. Sign in with it.", "success")
        return redirect(url_for("auth.sign_in"))
    return render_template("reset_password.html", form=form, member=member), 422 if form.errors else 200


# Said only once a password is tried: whoever holds the link could learn as much from a failed try anyway.
SIGN_IN_REFUSED = ("This email already has a sign-in here, and that is not its password. Enter its password, "
                   "or sign in first.")


@bp.route("/join/<link_token>", methods=["GET", "POST"])
@limiter.limit(sign_in_limit, methods=["POST"])
def join(link_token):
    """Accept an invitation: signed in, with that sign-in; signed out, with one form for every email, whose
    password is a new member's or, for an email that signs in here already, its own (a sign-in attempt)."""
    invitation = service.read_invitation(link_token)
    if current_user.is_authenticated:
        if request.method != "POST":
            return render_template("join.html", invitation=invitation, form=None)
        membership = service.accept_invitation(invitation, member=current_user, ip=request.remote_addr)
        db.session.commit()
        return _joined(membership, redirect(url_for("preferences.show")), f"Welcome to {membership.account.name}.")
    form = JoinForm()
    if form.validate_on_submit():
        attempt = PasswordAttempt(invitation.email)  # counted alike whether or not the email signs in here
        try:
            joined = service.join_with_password(invitation, form.display_name.data, form.password.data,
                                                request.remote_addr)
        except service.InvalidInput as refusal:  # the password breaks the rules (for any email alike)
            form.password.errors.append(str(refusal))
        else:
            if joined is not None:
                return _signed_in_as_joined(joined, attempt)
            attempt.failed()
            form.password.errors.append(SIGN_IN_REFUSED)
    return render_template("join.html", invitation=invitation, form=form), 422 if form.errors else 200


def _signed_in_as_joined(joined: service.Joined, attempt: PasswordAttempt):
    """Start the session of whoever just joined from a link, and send them to Preferences."""
    membership, to_preferences = joined.membership, redirect(url_for("preferences.show"))
    if joined.new_member:
        db.session.commit()
        start_session(membership.member)
        return _joined(membership, remember_device(to_preferences, membership.member.email, None),
                       f"Welcome to {membership.account.name}.")
    return _joined(membership, attempt.succeeded(membership.member, to_preferences),
                   f"You already had a sign-in here, so {membership.account.name} was added to it. "
                   "Your name and password are unchanged.")


def _joined(membership: Membership, response, message: str):
    """Work in the account just joined, and say so on the page ``response`` leads to."""
    session["account"] = membership.account.public_id
    flash(message, "success")
    return response


@bp.app_context_processor
def navigation():
    """What the header shows a signed-in member: where they work, and where else they could."""
    if not current_user.is_authenticated:
        return {}
    working_in = (service.membership_in(current_user, session.get("account"))
                  or service.default_membership(current_user))
    return {"working_in": working_in}
