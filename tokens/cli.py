"""Operator commands, run as ``flask <command>``."""

import logging
import sys
from contextlib import contextmanager
from datetime import timedelta

import click
from flask import current_app

from . import forward_auth, service, settings
from .extensions import db
from .labels import utc_time
from .models import ROLES

GRACES = {"none": 0, "1h": 3600, "24h": 86400, "7d": 7 * 86400}


def register(app):
    @app.cli.command("create-account")
    @click.argument("name")
    def create_account(name):
        """Create an account and print its public id."""
        with refusals_as_errors():
            account = service.create_account(name)
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
        with refusals_as_errors():
            account = service.find_account(account_id)
            if password is None and not service.member_exists(email):
                password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
            membership = service.add_member(account, email, display_name, password, role)
        db.session.commit()
        click.echo(f"Added {membership.member.email} to {account.name!r} as {role}")

    @app.cli.command("set-role")
    @click.argument("account_id")
    @click.argument("email")
    @click.argument("role", type=click.Choice(ROLES))
    def set_role(account_id, email, role):
        """Give the member EMAIL the role ROLE in the account ACCOUNT_ID."""
        with refusals_as_errors():
            membership = service.set_role(account_id, email, role)
        db.session.commit()
        click.echo(f"{membership.member.email} is now {role} in {membership.account.name!r}")

    @app.cli.command("reset-password")
    @click.argument("email")
    def reset_password(email):
        """Print a one-time link (valid for a day) with which the member EMAIL sets a new password."""
        with refusals_as_errors():
            member = service.find_member(email)
        link = settings.public_url(f"/reset/{service.reset_link(member)}")
        click.echo(f"Send this one-time link to {member.email} yourself (it works once, for a day):\n{link}")

    @app.cli.command("list-tokens")
    @click.argument("account_id")
    def list_tokens(account_id):
        """List the tokens of the account ACCOUNT_ID (metadata only; secrets are never stored)."""
        with refusals_as_errors():
            tokens = service.account_tokens(account_id)
        if not tokens:
            click.echo("The account has no tokens.")
        for token in tokens:
            expires = utc_time(token.expires_at) if token.expires_at else "never"
            if token.replaced_at:
                expires = f"{expires} (replaced: its grace ends then)"
            used = utc_time(token.last_used_at) if token.last_used_at else "never"
            click.echo(f"{token.public_id}  {token.hint}  {token.member.email}  {token.scope}  "
                       f"created {utc_time(token.created_at)}  expires {expires}  used {used}  {token.name}")

    @app.cli.command("revoke-token")
    @click.argument("token_id", required=False)
    @click.option("--value", metavar="-", help="Read token values, one per line, from standard input (write `-`) "
                  "and delete those that are tokens of this portal, as a leak report does.")
    def revoke_token(token_id, value):
        """Delete the token TOKEN_ID (as `list-tokens` shows it): it stops working at once.

        With `--value -`, delete tokens by their values instead, read from standard input (never from the
        command line, where shell history would keep them): `flask revoke-token --value - < leaked.txt`.
        """
        if value is not None:
            if value != "-" or token_id:
                raise click.UsageError("Token values are read from standard input only: `--value -`, no TOKEN_ID.")
            values = service.values_in(sys.stdin.read())
            with refusals_as_errors():
                for start in range(0, len(values), service.MAX_REPORTED):
                    service.revoke_leaked(values[start:start + service.MAX_REPORTED])
            db.session.commit()
            click.echo(f"Read {len(values)} value{'s' if len(values) != 1 else ''}; any that were tokens of this "
                       "portal are deleted, and their members and owners are told.")
            return
        if not token_id:
            raise click.UsageError("Name the token: TOKEN_ID, or `--value -` to read values from standard input.")
        with refusals_as_errors():
            token = service.operator_revoke(token_id)
        said = f"Deleted the token {token.hint} of {token.member.email}"
        db.session.commit()
        click.echo(said)

    @app.cli.command("rotate-token")
    @click.argument("token_id")
    @click.option("--grace", type=click.Choice(list(GRACES)), default="none", show_default=True,
                  help="How long the old token keeps working.")
    def rotate_token(token_id, grace):
        """Replace the token TOKEN_ID with a new one (same name, scope and lifetime); print its secret once."""
        with refusals_as_errors():
            rotation = service.rotate_token(None, token_id, timedelta(seconds=GRACES[grace]), via="cli")
            account = rotation.token.account.public_id
        db.session.commit()
        old = (f"the old one works until {utc_time(rotation.replaced.expires_at)}" if rotation.replaced
               else "the old one stopped working")
        click.echo(f"Rotated {rotation.token.hint} of {rotation.token.member.email}; {old}. Store the new token now, "
                   f"it is not shown again:\nX-Account-Id: {account}\nX-Auth-Token: {rotation.secret}")

    @app.cli.command("set-policy")
    @click.argument("account_id")
    @click.option("--max-days", type=click.Choice(["none", *map(str, service.POLICY_DAYS)]),
                  help="The longest a new token may live (none: no limit).")
    @click.option("--must-expire/--may-never-expire", default=None,
                  help="Whether every new token must expire (implied by --max-days).")
    def set_policy(account_id, max_days, must_expire):
        """Set the token policy of the account ACCOUNT_ID, as its owners do on the Members page; with no option,
        print it. An option left out keeps its setting."""
        with refusals_as_errors():
            account = service.find_account(account_id)
            policy = service.TokenPolicy.of(account)
            if max_days is not None or must_expire is not None:
                days = policy.max_days if max_days is None else None if max_days == "none" else int(max_days)
                policy = service.set_policy(account, days, policy.must_expire if must_expire is None else must_expire)
        db.session.commit()
        click.echo(f"The token policy of {account.name!r}: {policy.describe()}")

    @app.cli.command("worker")
    @click.option("--workers", type=click.IntRange(1, 32), default=2, show_default=True,
                  help="How many tasks it runs at once (threads).")
    @click.option("--max-delay", type=click.FloatRange(0.1, 60), default=10.0, show_default=True,
                  help="The longest it waits between looks at an empty queue (SQLite; Redis is told at once).")
    @click.option("--periodic/--no-periodic", default=True, show_default=True,
                  help="Also run the periodic rounds (the expiry warnings every ten minutes).")
    def worker(workers, max_delay, periodic):
        """Run the background worker: the queued work and the periodic rounds (expiry warnings). Ctrl+C stops it."""
        queue = current_app.extensions["queue"]
        # Each task's start and end, one line each (huey names tasks and ids, never their data).
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
        click.echo(f"Worker on {queue.url.split('@')[-1]}: {workers} at once; Ctrl+C stops it.")
        consumer = queue.huey.create_consumer(workers=workers, worker_type="thread", periodic=periodic,
                                              max_delay=max_delay)
        try:
            consumer.run()
        except KeyboardInterrupt:  # Ctrl+C while huey was starting, before it took the signal over
            consumer.stop(graceful=True)
            click.echo("Worker stopped.")

    @app.cli.command("deactivate")
    @click.argument("email")
    def deactivate(email):
        """Deactivate the member EMAIL: their sessions end and their tokens are deleted."""
        with refusals_as_errors():
            member = service.find_member(email)
            deleted = service.set_active(member, False)
        db.session.commit()
        click.echo(f"Deactivated {member.email}; {deleted} token{'s' if deleted != 1 else ''} deleted")

    @app.cli.command("forward-auth")
    @click.argument("proxy", type=click.Choice(list(forward_auth.PROXIES)))
    @click.option("--upstream", required=True, metavar="URL",
                  help="The service to protect, as the proxy reaches it: an origin such as http://127.0.0.1:9000.")
    @click.option("--portal", required=True, metavar="URL",
                  help="The portal as the proxy reaches it directly, not through another proxy: the address its "
                       "server binds, such as http://127.0.0.1:8000 (failures are counted per client only then).")
    @click.option("--listen", default="8080", show_default=True, metavar="[ADDRESS:]PORT",
                  help="Where the proxy serves the protected service (Traefik: its entry point's address, "
                       "which its static configuration sets).")
    def forward_auth_configuration(proxy, upstream, portal, listen):
        """Print the PROXY configuration (nginx, caddy, traefik) that lets only the portal's tokens reach a service."""
        try:
            click.echo(forward_auth.configuration(proxy, upstream, portal, listen), nl=False)
        except ValueError as problem:
            raise click.UsageError(str(problem)) from None


@contextmanager
def refusals_as_errors():
    """Turn a service's refusal into a clear error message and exit status 1."""
    try:
        yield
    except service.ServiceError as refusal:
        raise click.ClickException(str(refusal)) from None
