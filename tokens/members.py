"""The Members page: owners and admins see the members, change roles, remove members and invite people."""

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import login_required

from . import htmx, service
from .auth import current_membership
from .extensions import db
from .forms import InviteForm

bp = Blueprint("members", __name__, url_prefix="/members")


@bp.before_request
@login_required
def require_manager():
    """Every page here is for the account's owners and admins."""
    service.require_manager(current_membership())


def render_page(status=200, *, form=None, invitation=None, link=None):
    membership = current_membership()
    response = make_response(render_template(
        "members.html", membership=membership, members=service.list_members(membership),
        invitations=service.pending_invitations(membership), form=form or InviteForm(formdata=None),
        invitation=invitation, link=link), status)
    if link:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("")
def show():
    return render_page()


@bp.post("/<int:membership_id>/role")
def change_role(membership_id):
    actor = current_membership()
    target = service.change_role(actor, membership_id, request.form.get("role", ""), ip=request.remote_addr)
    db.session.commit()
    message = f"{target.member.display_name} is now {target.role}."
    if htmx.is_htmx():
        tokens = dict((m.id, n) for m, n in service.list_members(actor))[target.id]
        response = make_response(render_template("partials/member_row.html", m=target, tokens=tokens,
                                                 membership=actor))
        return response
    flash(message, "success")
    return redirect(url_for(".show"))


@bp.get("/<int:membership_id>/remove")
def confirm_remove(membership_id):
    """Ask before removing, for browsers without JavaScript (with htmx, a confirm dialog asks)."""
    target = service.find_membership_by_id(current_membership(), membership_id)
    tokens = dict((m.id, n) for m, n in service.list_members(current_membership()))[target.id]
    return render_template("confirm_remove.html", m=target, tokens=tokens)


@bp.delete("/<int:membership_id>")
@bp.post("/<int:membership_id>/remove")
def remove(membership_id):
    target = service.find_membership_by_id(current_membership(), membership_id)
    name = target.member.display_name
    deleted = service.remove_member(current_membership(), membership_id, ip=request.remote_addr)
    db.session.commit()
    message = f"{name} was removed from the account, with {deleted} token{'s' if deleted != 1 else ''}."
    if htmx.is_htmx():
        return htmx.notice(message, "success", leave_target=False)
    flash(message, "success")
    return redirect(url_for(".show"))


@bp.post("/invitations")
def invite():
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invitation, link_token = service.invite(current_membership(), form.email.data, form.role.data,
                                                    ip=request.remote_addr)
        except service.InvalidInput as refusal:
            form.email.errors.append(str(refusal))
        else:
            db.session.commit()
            link = url_for("auth.join", link_token=link_token, _external=True)
            return render_page(201, invitation=invitation, link=link)
    return render_page(422, form=form)


@bp.post("/invitations/<public_id>/revoke")
def revoke_invitation(public_id):
    service.revoke_invitation(current_membership(), public_id, ip=request.remote_addr)
    db.session.commit()
    flash("The invitation was revoked; its link no longer works.", "success")
    return redirect(url_for(".show"))
