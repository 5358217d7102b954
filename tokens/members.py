"""The Members page: owners and admins see the members, change roles, remove members and invite people."""

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import login_required

from . import htmx, service, settings
from .auth import current_membership, sudo_mode
from .browser import MAX_DATABASE_ID
from .extensions import db
from .forms import InviteForm, PolicyForm

bp = Blueprint("members", __name__, url_prefix="/members")
MEMBERSHIP_ID = f"int(min=1, max={MAX_DATABASE_ID})"


@bp.before_request
@login_required
def require_manager():
    """Every page here is for the account's owners and admins."""
    service.require_manager(current_membership())


def render_page(status=200, *, form=None, policy_form=None, invitation=None, link=None, emailed=None):
    """Render the Members page; with ``link``, a new invitation's link is shown once (``emailed``: and queued
    to be emailed)."""
    membership = current_membership()
    return make_response(render_template(
        "members.html", membership=membership, members=service.list_members(membership),
        invitations=service.pending_invitations(membership), form=form or InviteForm(formdata=None),
        invitation=invitation, link=link, emailed=emailed, **policy_section(membership, policy_form)), status)


def policy_section(membership, form=None) -> dict:
    """Return what the token policy section shows: the policy, its form, and the tokens that outlive it."""
    policy = service.TokenPolicy.of(membership.account)
    if form is None:
        form = PolicyForm(formdata=None, max_days=str(policy.max_days or "none"), must_expire=policy.must_expire)
    return {"policy": policy, "policy_form": form, "beyond": service.tokens_beyond_policy(membership)}


@bp.get("")
def show():
    """Show the account's members, their roles and the pending invitations."""
    return render_page()


@bp.post(f"/<{MEMBERSHIP_ID}:membership_id>/role")
@sudo_mode("change a member's role")
def change_role(membership_id):
    """Give a member another role, or say why not; htmx gets the rows in their new state."""
    actor = current_membership()
    try:
        target = service.change_role(actor, membership_id, request.form.get("role", ""), ip=request.remote_addr)
    except service.ServiceError as refusal:
        return roles_answer(str(refusal), "error", refusal.status)
    db.session.commit()
    if not actor.manages:  # they gave up their own management role: this page is no longer theirs
        flash(f"You are now {actor.role} of {actor.account.name}.", "info")
        if htmx.is_htmx():
            return htmx.client_redirect(make_response("", 200), url_for("preferences.show"))
        return redirect(url_for("preferences.show"))
    return roles_answer(f"{target.member.display_name} is now {target.role}.", "success")


def roles_answer(message: str, kind: str, status: int = 200):
    """Answer a role change with its message, the same with and without JavaScript, and every role as held.

    htmx gets all the rows (a change can lock or free another one: the only owner's, once someone else is
    owner), swapped even for a refusal, so that no select shows a role that was not given. A plain post
    goes back to the page, or, refused, gets it at once with the refusal's status.
    """
    if htmx.is_htmx():
        response = make_response(render_template(
            "partials/member_rows.html", members=service.list_members(current_membership())), status)
        response.headers["HX-Reswap"] = "innerHTML"  # a refusal's rows are meant to be swapped in too
        return htmx.trigger_notice(response, message, kind)
    flash(message, kind)
    return render_page(status) if status >= 400 else redirect(url_for(".show"))


@bp.get(f"/<{MEMBERSHIP_ID}:membership_id>/remove")
def confirm_remove(membership_id):
    """Ask before removing, for browsers without JavaScript (with htmx, a confirm dialog asks)."""
    target = service.find_membership_by_id(current_membership(), membership_id)
    return render_template("confirm_remove.html", m=target, tokens=service.token_count(target))


@bp.delete(f"/<{MEMBERSHIP_ID}:membership_id>")
@bp.post(f"/<{MEMBERSHIP_ID}:membership_id>/remove")
def remove(membership_id):
    """Remove a member from the account, with their tokens in it."""
    target = service.find_membership_by_id(current_membership(), membership_id)
    name = target.member.display_name
    deleted = service.remove_member(current_membership(), membership_id, ip=request.remote_addr)
    db.session.commit()
    message = f"{name} was removed from the account, with {deleted} token{'s' if deleted != 1 else ''}."
    return htmx.row_removed(message, "success", url_for(".show"))


@bp.post("/policy")
@sudo_mode("change the account's token policy")
def set_policy():
    """Set the account's token policy (owners only); htmx gets the section in its new state."""
    membership = current_membership()
    form = PolicyForm()
    if form.validate_on_submit():
        try:
            policy = service.set_policy(membership.account, form.days(), form.must_expire.data, actor=membership,
                                        ip=request.remote_addr)
        except service.InvalidInput as refusal:
            form.max_days.errors.append(str(refusal))
        else:
            db.session.commit()
            message = f"The token policy is saved: {policy.describe()}."
            if not htmx.is_htmx():
                flash(message, "success")
                return redirect(url_for(".show"))
            return htmx.trigger_notice(make_response(render_template(
                "partials/token_policy.html", membership=membership, **policy_section(membership))), message, "success")
    if not htmx.is_htmx():
        return render_page(422, policy_form=form)
    return htmx.retarget(make_response(render_template(
        "partials/token_policy.html", membership=membership, **policy_section(membership, form)), 422), "#token-policy")


@bp.post("/invitations")
@sudo_mode("invite someone to the account")
def invite():
    """Create an invitation link for an email and a role, shown once."""
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invitation, link_token = service.invite(current_membership(), form.email.data, form.role.data,
                                                    ip=request.remote_addr)
        except service.InvalidInput as refusal:
            form.email.errors.append(str(refusal))
        else:
            db.session.commit()
            link = settings.public_url(url_for("auth.join", link_token=link_token))
            # Queued once the invitation is committed: the worker finds it and signs a link of its own.
            emailed = (service.queue_invitation_email(invitation, settings.public_url()) if service.mail_enabled()
                       else None)  # None: the portal sends no email; False: the queue could not take it
            return render_page(201, invitation=invitation, link=link, emailed=emailed)
    return render_page(422, form=form)


@bp.post("/invitations/<public_id>/revoke")
def revoke_invitation(public_id):
    """Withdraw a pending invitation: its link stops working."""
    service.revoke_invitation(current_membership(), public_id, ip=request.remote_addr)
    db.session.commit()
    flash("The invitation was revoked; its link no longer works.", "success")
    return redirect(url_for(".show"))
