"""Operator commands, run as ``flask <command>``."""

import click

from . import service
from .extensions import db
from .models import ROLES


def register(app):
    @app.cli.command("create-account")
    @click.argument("name")
    def create_account(name):
        """Create an account and print its public id."""
        try:
            account = service.create_account(name)
        except service.ServiceError as refusal:
            raise click.ClickException(str(refusal)) from None
        db.session.commit()
        click.echo(f"Created account {account.name!r} with id {account.public_id}")

    @app.cli.command("add-member")
    @click.argument("account_id")
    @click.argument("email")
    @click.option("--role", type=click.Choice(ROLES), default="member", show_default=True)
    @click.option("--name", "display_name", default="", help="Display name (a new member only).")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
                  prompt_required=False, help="Needed for a new member; prompted when omitted.")
    def add_member(account_id, email, role, display_name, password):
        """Add a member (new or existing) with a role to the account ACCOUNT_ID."""
        try:
            account = service.find_account(account_id)
            if password is None and not service.member_exists(email):
                password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
            membership = service.add_member(account, email, display_name, password, role)
        except service.ServiceError as refusal:
            raise click.ClickException(str(refusal)) from None
        db.session.commit()
        click.echo(f"Added {membership.member.email} to {account.name!r} as {role}")
