"""Account Preferences: the API tokens section, where members generate, list and delete tokens.

Each action answers htmx with fragments and a plain form post with the whole page, both rendered
from the same partials.
"""

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user

from . import htmx, service
from .auth import PasswordAttempt, current_membership, password_confirmed, sudo_mode
from .browser import database_id
from .budgets import leak_reports
from .extensions import db
from .forms import ChangePasswordForm, GenerateTokenForm, GraceForm, LeakReportForm

bp = Blueprint("preferences", __name__, url_prefix="/preferences")


@bp.before_request
@login_required
def require_sign_in():
    """Every page here belongs to a signed-in member."""


def render_page(status=200, *, form=None, password_form=None, leak_form=None, created=None, secret=None):
    """Render Account Preferences; with ``secret``, the once-only dialog is open in it.

    Owners and admins see the account's whole inventory, optionally one member's (``?member=``).
    """
    membership = current_membership()
    return make_response(render_template(
        "preferences.html", membership=membership, **token_listing(membership),
        members=service.account_members(membership) if membership.manages else [],
        form=form or generate_form(membership, formdata=None),
        password_form=password_form or ChangePasswordForm(formdata=None),
        leak_form=leak_form or LeakReportForm(formdata=None), created=created, secret=secret), status)


def generate_form(membership, **kwargs) -> GenerateTokenForm:
    """Return the Generate form as the account's token policy shapes it (its hint, its default expiry)."""
    return GenerateTokenForm(policy=service.TokenPolicy.of(membership.account), **kwargs)


def token_listing(membership) -> dict:
    """Return one page of the token list the query string asks for (``?member=``, ``?q=``, ``?before=``)."""
    shown = request.args.get("member", type=database_id)
    search = request.args.get("q", "").strip()
    before = request.args.get("before") or None
    page = service.token_page(membership, member_id=shown, search=search, before=before)
    # Whose rows offer Rotate: an inventory's members below the viewer's role (and the viewer); a member's own, all.
    rotatable = service.rotatable_members(membership) if membership.manages else None
    return {"inventory": membership.manages, "shown": shown, "search": search, "before": before, "page": page,
            "rotatable": rotatable}


@bp.get("")
def show():
    """Show Account Preferences; htmx gets the list alone (a search) or the next rows (Show more)."""
    if not htmx.is_htmx():
        return render_page()
    listing = token_listing(current_membership())
    return render_template("partials/token_page.html" if listing["before"] else "partials/token_list.html", **listing)


@bp.post("/tokens")
@sudo_mode("generate an API token")
def generate_token():
    """Generate a token: htmx gets the once-only dialog and the new row, a plain post the page."""
    membership = current_membership()
    form = generate_form(membership)
    if form.validate_on_submit():
        try:
            token, token_secret = service.issue_token(
                membership, form.name.data, via="web", scope=form.scope.data, expires_at=form.expires_at(),
                nonce=form.nonce.data, ip=request.remote_addr)
        except service.DuplicateRequest as refusal:
            if not htmx.is_htmx():
                abort(409, str(refusal))
            # Perhaps the first answer was lost: a fresh form lets the next click work.
            return htmx.notice(str(refusal), "info", 409, form=generate_form(membership, formdata=None))
        except service.PolicyForbids as refusal:
            (form.expires_on if form.expires.data == "date" else form.expires).errors.append(str(refusal))
        except service.TokenLimitReached as refusal:
            form.form_errors.append(str(refusal))
        else:
            db.session.commit()
            if not htmx.is_htmx():
                return render_page(201, created=token, secret=token_secret)
            return make_response(render_template(
                "partials/token_created.html", token=token, secret=token_secret, inventory=membership.manages,
                account=membership.account, form=generate_form(membership, formdata=None)), 201)
    if not htmx.is_htmx():
        return render_page(422, form=form)
    return htmx.retarget(make_response(
        render_template("partials/generate_form.html", form=form), 422), "#generate-form")


@bp.get("/tokens/<token_id>/rotate")
def confirm_rotate(token_id):
    """Ask how long the old token keeps working: a page without JavaScript, a modal dialog with htmx."""
    return render_rotate(service.find_token(current_membership(), token_id), GraceForm(formdata=None))


# What a rotation may be refused for, said in its form; a token not found is a 404 like any other.
ROTATE_REFUSALS = (service.AlreadyReplaced, service.Forbidden, service.InvalidInput, service.TokenLimitReached)


@bp.post("/tokens/<token_id>/rotate")
@sudo_mode("rotate an API token")
def rotate_token(token_id):
    """Rotate a token: the once-only dialog with the new secret, the new row on top, the old row as replaced."""
    membership = current_membership()
    form, status = GraceForm(), 422
    if form.validate_on_submit():
        try:
            rotation = service.rotate_token(membership, token_id, form.grace_period(), via="web",
                                            ip=request.remote_addr)
        except ROTATE_REFUSALS as refusal:
            db.session.rollback()  # the token is read again below as it now is (perhaps rotated elsewhere)
            form.form_errors.append(str(refusal))
            status = refusal.status
        else:
            db.session.commit()
            if not htmx.is_htmx():
                return render_page(201, created=rotation.token, secret=rotation.secret)
            return make_response(render_template(
                "partials/token_created.html", token=rotation.token, secret=rotation.secret,
                inventory=membership.manages, account=membership.account, rotated=token_id,
                replaced=rotation.replaced), 201)
    return render_rotate(service.find_token(membership, token_id), form, status)


def render_rotate(token, form: GraceForm, status=200):
    """Render the rotate form (with its refusal, if any): htmx gets it as a dialog, a plain request a page."""
    if not htmx.is_htmx():
        return make_response(render_template("rotate_token.html", token=token, form=form), status)
    response = make_response(render_template("partials/rotate_form.html", token=token, form=form, dialog=True,
                                             inventory=current_membership().manages), status)
    # A refusal replaces the dialog that asked; htmx swaps a failing answer only where it is told to.
    return htmx.retarget(response, "#rotate-dialog") if status >= 400 else response


LEAKS_PAUSED = "Too many leak reports from your address. Wait a little, then try again."
LEAKS_RECEIVED = ("Received {count} value{s}. Any that were tokens of this portal no longer work; "
                  "their members and the account's owners are told.")


@bp.post("/leaked")
def report_leaked():
    """Delete the tokens whose values a member found; the answer is the same whether any matched or not.

    The values are never shown back, put in an address or logged: the form comes back empty.
    """
    client = request.remote_addr
    leak_reports.admit(client, LEAKS_PAUSED)  # the API's budget: one per client, wherever it reports
    form = LeakReportForm()
    if form.validate_on_submit():
        received = service.revoke_leaked(form.reported(), ip=client, reporter=current_user)
        db.session.commit()
        message = LEAKS_RECEIVED.format(count=received, s="s" if received != 1 else "")
        if not htmx.is_htmx():
            flash(message, "success")
            return redirect(url_for(".show"))
        return htmx.trigger_notice(make_response(
            render_template("partials/leak_form.html", leak_form=LeakReportForm(formdata=None))), message, "success")
    form.values.data = ""  # what was pasted never comes back in the page
    if not htmx.is_htmx():
        # The card is far down the page (always on a phone): the message region at the top says it too.
        flash(" ".join(["Nothing was revoked.", *form.values.errors]), "error")
        return render_page(422, leak_form=form)
    return htmx.retarget(make_response(
        render_template("partials/leak_form.html", leak_form=form), 422), "#leak-form")


@bp.get("/tokens/<token_id>/delete")
def confirm_delete(token_id):
    """Ask before deleting, for browsers without JavaScript (with htmx, a confirm dialog asks)."""
    token = service.find_token(current_membership(), token_id)
    return render_template("confirm_delete.html", token=token)


@bp.delete("/tokens/<token_id>")
@bp.post("/tokens/<token_id>/delete")
def delete_token(token_id):
    """Delete a token the member may manage, removing its row in place."""
    outcome = service.revoke_token(current_membership(), token_id, ip=request.remote_addr)
    db.session.commit()
    if outcome is service.Revoked.DELETED:
        message, kind = "The token was deleted. Programs using it can no longer call the API.", "success"
    else:
        message, kind = "That token had already been deleted, perhaps in another tab.", "info"
    return htmx.row_removed(message, kind, url_for(".show"))


@bp.post("/password")
def change_password():
    """Change the password (the current one is asked); every other session of the member ends."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        attempt = PasswordAttempt(current_user.email)  # a session taken over cannot guess the password freely
        try:
            service.change_password(current_user, form.current.data, form.password.data)
        except service.WrongPassword as refusal:
            attempt.failed()
            form.current.errors.append(str(refusal))
        except service.InvalidInput as refusal:
            form.password.errors.append(str(refusal))
        else:
            db.session.commit()
            login_user(current_user._get_current_object())  # a new session version for this session; others end
            password_confirmed()
            flash("Your password is changed. Your other sessions are signed out.", "success")
            if htmx.is_htmx():
                return htmx.client_redirect(make_response("", 200), url_for(".show"))
            return redirect(url_for(".show"))
    if htmx.is_htmx():
        return htmx.retarget(make_response(
            render_template("partials/password_form.html", password_form=form), 422), "#password-form")
    # The card is far down the page (always on a phone): the message region at the top says it too.
    flash(" ".join(["Your password was not changed.", *password_errors(form)]), "error")
    return render_page(422, password_form=form)


def password_errors(form: ChangePasswordForm) -> list[str]:
    """Return the form's errors in the order its fields show."""
    return [error for field in (form.current, form.password, form.confirm) for error in field.errors]
