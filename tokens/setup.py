"""First run: while no member exists, a setup form creates the first account and its owner.

So that a freshly deployed public instance cannot be claimed by a stranger, the form asks for a
setup code that only the server's console shows.
"""

import sys

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from . import service, settings
from .auth import remember_device, start_session
from .extensions import db
from .forms import SetupForm

bp = Blueprint("setup", __name__)


@bp.route("/setup", methods=["GET", "POST"])
def first_run():
    """Create the first account and its owner, with the setup code the console printed."""
    if not service.setup_is_open():
        abort(404, "This portal is already set up. Sign in, or ask an owner for an invitation.")
    form = SetupForm(code=request.args.get("code", ""))
    if form.validate_on_submit():
        membership = service.first_run_setup(
            form.account_name.data, form.email.data, form.display_name.data, form.password.data,
            request.remote_addr)
        db.session.commit()
        start_session(membership.member)
        flash(welcome(membership), "success")
        # This browser is the owner's own: guesses at the email from elsewhere cannot lock it out.
        return remember_device(redirect(url_for("preferences.show")), membership.member.email, None)
    return render_template("setup.html", form=form), 422 if form.errors else 200


def welcome(membership) -> Markup:
    """Greet the new owner with the next steps, linked: a token for their programs, then their team."""
    return Markup(
        'Welcome, {name}: the portal is set up, and you own the account {account}. Next, '
        '<a href="{token}">generate an API token</a> for your programs, and invite your team on the '
        '<a href="{members}">Members</a> page.').format(
        name=membership.member.display_name, account=membership.account.name,
        token=url_for("preferences.show", _anchor="generate-form"), members=url_for("members.show"))


def announce(app, served: str | None = None):
    """Print the first-run link on the console, where only the operator sees it.

    The link starts with FLASK_PUBLIC_URL when set, else with ``served``, the address the server listens on.
    """
    with app.app_context():
        try:
            if not service.setup_is_open():
                return
            link = settings.public_url(f"/setup?code={service.setup_code()}", local=served)
        except SQLAlchemyError:
            print("The database has no tables yet: run `flask db upgrade` first.", file=sys.stderr)
            return
    print(f"\n  First run: open {link}\n  to create the first account and its owner.\n",
          file=sys.stderr, flush=True)
