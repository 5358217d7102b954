"""The REST API as its own lean Flask app, mounted under API_PREFIX by ``create_app``.

It has none of the browser's extensions, so none of their per-request work: no session cookie
(it reads none and sets none), no CSRF check, no login manager, no Flask-Limiter hooks. It counts
its budgets (failed authentications, login attempts; in the counts it shares with the pages) and answers
everything in JSend.
"""

import orjson
from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SessionInterface

from .. import database, logs
from ..extensions import db

API_PREFIX = "/api/2018-10-01"


class FastJSON(DefaultJSONProvider):
    """Flask's JSON, written by orjson (several times faster): keys sorted, dates as Flask writes them.

    Reading JSON stays Flask's (json.loads), whose errors the API already explains.
    """

    OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
               | orjson.OPT_PASSTHROUGH_DATACLASS)

    def dumps(self, obj, **kwargs) -> str:
        return orjson.dumps(obj, default=self.default, option=self.OPTIONS).decode()


class NoSessions(SessionInterface):
    """Cookie-blind: every request gets Flask's null session, and no answer sets a cookie."""

    def open_session(self, app, request):
        return None  # Flask then uses its null session

    def save_session(self, app, session, response):
        return None


class API(Flask):
    """A Flask app whose error log names the full path, the API's prefix included (as its request lines do)."""

    # No ping before each pooled connection is used (see extensions.Database): it would cost every request a
    # round trip, and the lookup every authenticated request starts with retries a dropped connection instead.
    pings_pooled_connections = False

    def log_exception(self, exc_info) -> None:
        """Log an unhandled exception with the request's full path."""
        self.logger.error(f"Exception on {request.script_root}{request.path} [{request.method}]", exc_info=exc_info)


def create_api(config, counts) -> Flask:
    """Create the API app on the portal's configuration and budget counts, both shared with the pages (one
    object each: a setting changed later reaches both apps, and failed sign-ins add up across them)."""
    from . import jsend, views

    api = API(__name__, static_folder=None)
    api.config = config
    api.json = FastJSON(api)
    api.session_interface = NoSessions()
    db.init_app(api)  # its own engine and pool (see the README's "In production")
    database.init_app(api)
    api.extensions["budgets"] = counts
    logs.register(api)
    api.register_blueprint(views.bp)
    jsend.register(api)
    return api
