"""What every browser page shares: security headers, template helpers and labels, error pages, the home page."""

import re
from datetime import datetime
from functools import partial

from flask import abort, g, make_response, redirect, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup, escape
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import BadRequest, HTTPException, default_exceptions
from werkzeug.sansio.utils import host_is_trusted

from . import health, htmx, labels, service, settings
from .api import API_PREFIX
from .errors import database_down, end_transaction, message_of, with_headers_of
from .extensions import login_manager

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


def security_headers(response, headers=SECURITY_HEADERS):
    """Set the security headers on every page, Vary where htmx gets other content, no-store on a member's."""
    for name, value in headers.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html":
        response.vary.add("HX-Request")
    if "_login_user" in g:
        # The answer asked who is signed in (Flask-Login keeps who it found in g; signing in and out set
        # it too), so it may be someone's: no cache, history or back/forward cache may keep it, or Back
        # after signing out shows it again. Static files never ask, and keep their caching. The public
        # forms ask too (sign-in sends a member on); a stored copy of them would hold a stale CSRF token.
        # Not session.accessed: Flask marks it on every look, and Flask-Login looks on every request.
        response.headers["Cache-Control"] = "no-store"
    return response


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Where the portal's own requests come from: its pages (same-origin), or a person's own doing (none: typed,
# bookmarked). Not same-site: SameSite=Lax cookies ride along on requests from the domain's other hosts,
# so this check is what stops one of those, if taken over, from acting for a member.
OWN_FETCH_SITES = frozenset({"same-origin", "none"})
ANOTHER_SITE = ("This request came from another site, so nothing was changed. "
                "Open the portal yourself and try again there.")


def refuse_other_sites():
    """Refuse a change another site asks for: Sec-Fetch-Site says where it comes from, else Origin.

    A second wall behind the CSRF token and SameSite cookies. A request with neither header (an
    old browser, curl) is left to the CSRF check alone.
    """
    if request.method not in UNSAFE_METHODS:
        return
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        if site in OWN_FETCH_SITES:
            return
    else:
        origin = request.headers.get("Origin")
        # The origin as the browser sees it: ProxyFix has already put the proxy's scheme and host in.
        if origin is None or origin.lower() == request.host_url.rstrip("/").lower():
            return
    abort(403, ANOTHER_SITE)


class UnknownHost(BadRequest):
    name = "Unknown host name"


OTHER_HOST = "This portal does not answer to that host name. Open it at the address you were given for it."


def refuse_other_hosts(hosts):
    """Answer only to the portal's own host names (PUBLIC_URL's and TRUSTED_HOSTS'), whatever the Host says.

    A check of the browser app, run right after ``refuse_other_sites`` and before the CSRF check, the rate
    limits and any view: whatever a page does with the request's host (the Origin check compares with it) it
    does with one of the portal's own names. Not Flask's TRUSTED_HOSTS, which would check in the API app too
    (it shares this configuration): the API must answer any Host, since forward auth is asked by the
    protected service's name (X-Forwarded-Host) or by the portal's internal address. Not a Request class
    either: this way the refusal is a designed page, and the load balancer's health probe, which names the
    instance by its address, is simply let through. Behind FLASK_PROXIES, ProxyFix has already put the
    forwarded host in: the name the browser asked for, the one to check. werkzeug's matching ignores the port
    and takes ``.example.com`` for every host under it.
    """
    if request.blueprint == health.bp.name:
        return
    # request.host keeps the case a client sent; names are matched lowercase, as DNS compares them.
    if not host_is_trusted(request.host.lower(), hosts):
        raise UnknownHost(OTHER_HOST)


MAX_DATABASE_ID = 2**63 - 1  # the largest integer the databases' id columns hold


def database_id(value: str) -> int:
    """Read an id from a query string: a positive integer the database can hold, else ValueError."""
    number = int(value)
    if not 0 < number <= MAX_DATABASE_ID:
        raise ValueError(value)
    return number


# A token's hint as the lists show it (prefix, an ellipsis, the last four characters).
HINT = re.compile(r"\b([a-z0-9]{1,12}_…[0-9A-Za-z]{4})\b")


def with_hints(text: str) -> Markup:
    """Escape ``text`` and set each token hint in it as code, kept on one line (a line may break after "…")."""
    pieces = HINT.split(text)  # the hints at the odd places
    return Markup("").join(Markup("<code>{}</code>").format(piece) if place % 2 else piece
                           for place, piece in enumerate(pieces))


def url_breaks(url: str) -> Markup:
    """A URL, escaped, that may break after each slash on a narrow screen (rather than inside a word)."""
    return Markup("/<wbr>").join(escape(part) for part in url.split("/"))


def time_tag(moment: datetime) -> Markup:
    """Show a time as the pages do: UTC text in a ``<time>`` element, which app.js turns to the reader's zone."""
    return Markup('<time datetime="%s">%s</time>') % (moment.isoformat(), labels.utc_time(moment))


def url_for_each(endpoint: str, key: str, **values):
    """Return a function giving ``endpoint``'s address for any ``key``: one ``url_for`` for a list's many rows.

    The values given to the function go into the address as they are: ids made of URL-safe characters.
    """
    before, after = url_for(endpoint, **values, **{key: "\0"}).split("%00")
    return lambda value: f"{before}{value}{after}"


def home():
    """Send visitors where they can start: setup, sign-in or their preferences."""
    if service.setup_is_open():
        return redirect(url_for("setup.first_run"))
    if not current_user.is_authenticated:
        return redirect(url_for("auth.sign_in"))
    return redirect(url_for("preferences.show"))


# Pages a signed-out visitor may post to; elsewhere a failed CSRF check means the session ended.
OPEN_BLUEPRINTS = {"auth", "setup"}
EXPIRED_PAGE = "This page had expired, so nothing was changed. Reload the page and try again."


class LinkRefused(BadRequest):
    name = "This link cannot be used"


def render_error(error: HTTPException):
    """Render ``error`` as a designed page; htmx gets a notice and leaves the page as it was."""
    status = error.code or 500
    if status >= 500:
        end_transaction()  # the failed transaction must not break the error page too
    message = labels.STATUS_MESSAGES[429] if isinstance(error, RateLimitExceeded) else message_of(error)
    if isinstance(error, CSRFError):
        if not current_user.is_authenticated and request.blueprint not in OPEN_BLUEPRINTS:
            # The session is gone (expired, tampered, cookies cleared): that is a sign-in matter.
            return login_manager.unauthorized()
        message = EXPIRED_PAGE
    if htmx.is_htmx():
        response = htmx.notice(message, "error", status)
    else:
        response = make_response(render_template(
            "error.html", status=status, title=error.name, message=message), status)
    return with_headers_of(error, response)


def refusal(refused: service.ServiceError):
    """Answer a service's refusal not handled by its route as the HTTP error it amounts to."""
    answer = LinkRefused if isinstance(refused, service.InvalidLink) else default_exceptions[refused.status]
    return render_error(answer(str(refused)))


def database_unavailable(error: OperationalError):
    """The database is down or locked past its timeout: a 503 saying so, never a 500 or a false 200."""
    answer = database_down(error)
    # The page explaining it must not ask the database who is signed in: render it as for a visitor.
    g._login_user = login_manager.anonymous_user()
    return render_error(answer)


def register(app):
    """Give every page its headers, filters, labels and error pages; serve the home page."""
    # Block tags leave no blank lines behind: fragments stay small (Generate's answer under 4 KB).
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    # HTTPS is decided at start, as the cookies' Secure flag is.
    headers = {**SECURITY_HEADERS, **settings.HTTPS_HEADERS} if app.config["HTTPS"] else SECURITY_HEADERS
    app.after_request(partial(security_headers, headers=headers))
    # First of all: a request from another site is refused before the CSRF check reads the session.
    checks = app.before_request_funcs.setdefault(None, [])
    checks.insert(0, refuse_other_sites)
    if app.config["PAGE_HOSTS"]:  # decided at start; unset, a development install answers to any name
        checks.insert(1, partial(refuse_other_hosts, app.config["PAGE_HOSTS"]))
    app.add_template_filter(labels.utc_time)
    app.add_template_filter(with_hints)
    app.add_template_filter(time_tag)
    app.add_template_filter(url_breaks)
    app.add_template_global(url_for_each)
    app.jinja_env.globals.update(
        is_htmx=htmx.is_htmx, API_PREFIX=API_PREFIX, ROLE_LABELS=labels.ROLE_LABELS, SCOPE_LABELS=labels.SCOPE_LABELS,
        ORIGIN_LABELS=labels.ORIGIN_LABELS, SNIPPET_FORMATS=labels.SNIPPET_FORMATS,
        BROWSER_FAILURES=labels.BROWSER_FAILURES)
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(OperationalError, database_unavailable)
    app.register_error_handler(service.ServiceError, refusal)
    app.add_url_rule("/", "home", home)
