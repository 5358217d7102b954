"""What every browser response shares: security headers, template helpers, the home page."""

from datetime import datetime

import orjson
from flask import redirect, url_for
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user

from . import api, service

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "font-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
])

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


# What OWASP's REST cheat sheet asks of JSON answers: nothing to frame, sniff or keep.
API_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def security_headers(response):
    """Set the security headers on every response, and Vary where htmx gets other content."""
    from_the_api = api.answers_in_jsend()
    for name, value in (API_HEADERS if from_the_api else SECURITY_HEADERS).items():
        response.headers.setdefault(name, value)
    if not from_the_api and response.mimetype == "text/html":
        response.vary.add("HX-Request")
    return response


class FastJSON(DefaultJSONProvider):
    """Flask's JSON, written by orjson (several times faster): keys sorted, dates as Flask writes them.

    Reading JSON stays Flask's (json.loads), whose errors the API already explains.
    """

    OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
               | orjson.OPT_PASSTHROUGH_DATACLASS)

    def dumps(self, obj, **kwargs) -> str:
        return orjson.dumps(obj, default=self.default, option=self.OPTIONS).decode()


class Sessions(SecureCookieSessionInterface):
    """The browser's signed-cookie sessions; the API is cookie-blind, so its requests open none."""

    def open_session(self, app, request):
        if api.answers_in_jsend():
            return None  # Flask's null session: readable, empty, never saved
        return super().open_session(app, request)


MAX_DATABASE_ID = 2**63 - 1  # the largest integer the databases' id columns hold


def database_id(value: str) -> int:
    """Read an id from a query string: a positive integer the database can hold, else ValueError."""
    number = int(value)
    if not 0 < number <= MAX_DATABASE_ID:
        raise ValueError(value)
    return number


def utc_time(moment: datetime) -> str:
    """Format an aware time as UTC, to the minute: ``2026-11-30 14:05 UTC``."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def home():
    """Send visitors where they can start: setup, sign-in or their preferences."""
    if service.setup_is_open():
        return redirect(url_for("setup.first_run"))
    if not current_user.is_authenticated:
        return redirect(url_for("auth.sign_in"))
    return redirect(url_for("preferences.show"))


def register(app):
    # Block tags leave no blank lines behind: fragments stay small (Generate's answer under 4 KB).
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    app.session_interface = Sessions()
    app.json = FastJSON(app)
    app.after_request(security_headers)
    app.add_template_filter(utc_time)
    app.jinja_env.globals["ORIGIN_LABELS"] = {"web": "made on the web", "api": "made by API login",
                                              "cli": "made with the CLI"}
    app.add_url_rule("/", "home", home)
