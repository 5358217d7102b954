"""The Webhooks page: owners and admins name URLs that hear of the account's events; on each one's page they see
its delivery log, change its URL or events, give it a new signing secret, send it a test event, turn it off or
on, and delete it."""

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import login_required

from . import htmx, service
from .auth import current_membership, sudo_mode
from .extensions import db
from .forms import RollSecretForm, WebhookForm

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
WEBHOOK_ID = "string(length=12)"


@bp.before_request
@login_required
def require_manager():
    """Every page here is for the account's owners and admins."""
    service.require_manager(current_membership())


def render_page(status=200, *, form=None, created=None, secret=None):
    """Render the list and the form; with ``secret``, a new webhook's signing secret is shown once."""
    membership = current_membership()
    return make_response(render_template(
        "webhooks.html", membership=membership, hooks=service.account_webhooks(membership),
        form=form or WebhookForm(formdata=None), created=created, secret=secret), status)


@bp.get("")
def show():
    """Show the account's webhooks and the form to add one."""
    return render_page()


@bp.post("")
@sudo_mode("send the account's events to a new address")
def create():
    """Add a webhook; its signing secret is shown once."""
    form = WebhookForm()
    if form.validate_on_submit():
        try:
            hook, secret = service.create_webhook(current_membership(), form.url.data, form.events.data,
                                                  ip=request.remote_addr)
        except service.InvalidInput as refusal:
            form.url.errors.append(str(refusal))
        except service.WebhookLimitReached as refusal:
            form.form_errors.append(str(refusal))
        else:
            db.session.commit()
            return render_page(201, created=hook, secret=secret)
    return render_page(422, form=form)


def render_log(public_id, status=200, *, form=None, roll_form=None, secret=None):
    """Render one webhook's page; with ``secret``, its new signing secret is shown once."""
    membership = current_membership()
    hook, attempts = service.delivery_log(membership, public_id)
    form = form or WebhookForm(formdata=None, data={"url": hook.url, "events": hook.event_list})
    roll_form = roll_form or RollSecretForm(formdata=None)
    roll_form.seen.data = service.secret_version(hook)  # what a second click of the page shown would name
    return make_response(render_template(
        "webhook_log.html", hook=hook, attempts=attempts, waiting=service.waiting(membership, public_id),
        form=form, roll_form=roll_form, secret=secret), status)


@bp.get(f"/<{WEBHOOK_ID}:public_id>")
def log(public_id):
    """Show one webhook: its settings, what waits to be delivered, and the latest attempts."""
    return render_log(public_id)


@bp.post(f"/<{WEBHOOK_ID}:public_id>")
@sudo_mode("send the account's events to another address, or other events", back="webhooks.log")
def change(public_id):
    """Change where a webhook's events go, or which events."""
    form = WebhookForm()
    if form.validate_on_submit():
        try:
            hook = service.change_webhook(current_membership(), public_id, form.url.data, form.events.data,
                                          ip=request.remote_addr)
        except service.InvalidInput as refusal:
            form.url.errors.append(str(refusal))
        else:
            db.session.commit()
            flash(changed_message(hook) if hook else "Nothing was changed: the URL and the events are as they were.",
                  "success")
            return redirect(url_for(".log", public_id=public_id))
    return render_log(public_id, 422, form=form)


def changed_message(hook) -> str:
    if hook.enabled:
        return "The webhook is changed: the next events go as it says now."
    return "The webhook is changed. It is off: turn it on to send it events again."


@bp.post(f"/<{WEBHOOK_ID}:public_id>/secret")
@sudo_mode("make a new signing secret for a webhook", back="webhooks.log")
def roll(public_id):
    """Give a webhook a new signing secret, shown once; the old one signs too for the grace chosen."""
    form, status = RollSecretForm(), 422
    if form.validate_on_submit():
        try:
            _, secret = service.roll_secret(current_membership(), public_id, form.grace_period(),
                                            seen=form.seen.data, ip=request.remote_addr)
        except service.SecretChanged as refusal:
            form.form_errors.append(str(refusal))
            status = refusal.status
        else:
            db.session.commit()
            return render_log(public_id, 201, secret=secret)
    return render_log(public_id, status, roll_form=form)


@bp.post(f"/<{WEBHOOK_ID}:public_id>/secret/stop")
def stop_old_secrets(public_id):
    """End the graces of a webhook's old secrets (one may have leaked): only the current one signs."""
    service.stop_old_secrets(current_membership(), public_id, ip=request.remote_addr)
    db.session.commit()
    flash("The old secrets stopped: only the current one signs the webhook's events.", "success")
    return redirect(url_for(".log", public_id=public_id))


@bp.post(f"/<{WEBHOOK_ID}:public_id>/test")
def send_test(public_id):
    """Queue a test event; its delivery shows in the log."""
    try:
        service.send_test(current_membership(), public_id)
    except service.InvalidInput as refusal:
        flash(str(refusal), "error")
    else:
        db.session.commit()
        flash("A test event is queued: its delivery shows below in a moment (reload the page).", "success")
    return redirect(url_for(".log", public_id=public_id))


@bp.post(f"/<{WEBHOOK_ID}:public_id>/switch")
def switch(public_id):
    """Turn a webhook on (its failures counted from zero again) or off (what waits for it is dropped)."""
    enabled = request.form.get("to") == "on"
    service.set_enabled(current_membership(), public_id, enabled, ip=request.remote_addr)
    db.session.commit()
    flash("The webhook is on: new events are sent to it." if enabled
          else "The webhook is off: what waited for it was dropped, and no events are sent to it until it is turned "
          "on.", "success")
    return redirect(url_for(".log", public_id=public_id))


@bp.get(f"/<{WEBHOOK_ID}:public_id>/delete")
def confirm_delete(public_id):
    """Ask before deleting, for browsers without JavaScript (with htmx, a confirm dialog asks)."""
    return render_template("confirm_webhook_delete.html",
                           hook=service.find_webhook(current_membership(), public_id))


@bp.delete(f"/<{WEBHOOK_ID}:public_id>")
@bp.post(f"/<{WEBHOOK_ID}:public_id>/delete")
def delete(public_id):
    """Delete a webhook with its log; nothing more is sent to it."""
    hook = service.delete_webhook(current_membership(), public_id, ip=request.remote_addr)
    db.session.commit()
    return htmx.row_removed(f"The webhook to {hook.url} was deleted; nothing more is sent to it.", "success",
                            url_for(".show"))
