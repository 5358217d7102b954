"""The API token portal: members generate, list and delete the tokens that unlock the REST API."""

import os
import sys

import click
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from . import budgets, database, queue, settings
from .api import API_PREFIX, create_api
from .extensions import csrf, db, limiter, login_manager, mail, migrate


def create_app(test_config=None):
    """Create the portal: the browser app, with the REST API mounted under API_PREFIX as an app of its own.

    The two share one configuration and the domain (``service``); each has its own engine and
    per-request work. ``app.extensions["api"]`` is the API app (for tests and tools).
    """
    app = Flask(__name__, instance_relative_config=True,
                template_folder="../templates", static_folder="../static")
    settings.configure(app, test_config)

    db.init_app(app)
    database.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    budgets.init_app(app)
    queue.init_app(app)
    mail.init_app(app)

    from . import audit, auth, browser, cli, health, logs, members, notices, preferences, setup, webhooks

    logs.register(app)
    for blueprint in (health.bp, audit.bp, auth.bp, members.bp, notices.bp, setup.bp, preferences.bp, webhooks.bp):
        app.register_blueprint(blueprint)
    browser.register(app)
    cli.register(app)

    api = app.extensions["api"] = create_api(app.config, app.extensions["budgets"])
    api.extensions["queue"] = app.extensions["queue"]  # what the API does tells webhooks too
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {API_PREFIX: api})
    if app.config["PROXIES"]:
        # Trust exactly as many proxies as configured, so a client cannot forge its address
        # (rate limits, "last used from") with an X-Forwarded-For of its own.
        proxies = int(app.config["PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    if not app.testing and _is_serving():
        for warning in settings.start_warnings(app.config):
            print(f"\n  Warning: {warning}\n", file=sys.stderr, flush=True)
        setup.announce(app, _served_address())
    return app


def _is_serving() -> bool:
    """Tell a server start (gunicorn, ``flask run``) from other ``flask`` commands."""
    context = click.get_current_context(silent=True)
    return context is None or context.info_name == "run"


def _served_address() -> str | None:
    """The address ``flask run`` serves (its ``--host`` and ``--port``, or FLASK_RUN_HOST and FLASK_RUN_PORT,
    which click reads into the same parameters); None under another server."""
    context = click.get_current_context(silent=True)
    if context is None or context.info_name != "run" or not context.params.get("port"):
        return None
    host = context.params.get("host") or "127.0.0.1"
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)  # noqa: S104
    return f"http://{host}:{context.params['port']}"
