"""Errors for each audience: JSend for the API, a designed page, or a notice when htmx asked."""

from flask import current_app, g, make_response, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import (
    BadRequest,
    Conflict,
    Forbidden,
    HTTPException,
    NotFound,
    ServiceUnavailable,
    UnprocessableEntity,
)

from . import api, htmx, service
from .extensions import db, login_manager

# Pages a signed-out visitor may post to; elsewhere a failed CSRF check means the session ended.
OPEN_BLUEPRINTS = {"auth", "setup"}

class LinkRefused(BadRequest):
    name = "This link cannot be used"


# A service's refusal not handled by its route, as the HTTP error it amounts to.
REFUSALS = {
    service.NotFound: NotFound,
    service.InvalidInput: UnprocessableEntity,
    service.TokenLimitReached: Conflict,
    service.Forbidden: Forbidden,
    service.InvalidLink: LinkRefused,
}

MESSAGES = {
    400: "The request could not be understood.",
    403: "You are not allowed to do that.",
    404: "There is nothing here.",
    405: "That action is not available here.",
    409: "That was already done.",
    413: "That request is too large.",
    415: "That kind of content is not accepted here.",
    429: "Too many requests. Wait a little, then try again.",
    500: "Something went wrong on our side. Nothing was changed; please try again.",
    503: "The portal cannot answer right now. Nothing was changed; please try again in a moment.",
}


def render_error(error: HTTPException):
    """Render ``error`` for its audience; htmx gets a notice and leaves the page as it was."""
    status = error.code or 500
    if status >= 500:
        try:
            db.session.rollback()  # the failed transaction must not break the error page too
        except OperationalError:
            db.session.close()
    message = error.description if error.description != type(error).description else (
        MESSAGES.get(status, error.name))
    if isinstance(error, RateLimitExceeded):  # its description is the limit itself ("3 per 1 minute")
        message = MESSAGES[429]
    if api.answers_in_jsend():
        response = api.fail(message, status) if status < 500 else api.error(message, status)
        return _with_headers_of(error, response)
    if (isinstance(error, CSRFError) and not current_user.is_authenticated
            and request.blueprint not in OPEN_BLUEPRINTS):
        # The session is gone (expired, tampered, cookies cleared): that is a sign-in matter.
        return login_manager.unauthorized()
    if isinstance(error, CSRFError):
        message = "This page had expired, so nothing was changed. Reload the page and try again."
    if htmx.is_htmx():
        response = htmx.notice(message, "error", status)
    else:
        response = make_response(render_template(
            "error.html", status=status, title=error.name, message=message), status)
    return _with_headers_of(error, response)


def _with_headers_of(error: HTTPException, response):
    """Keep what the error says in headers (Allow, Retry-After...), in a stable order."""
    for name, value in error.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    if getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response


def database_unavailable(error):
    """The database is down or locked past its timeout: a 503 saying so, never a 500 or a false 200."""
    current_app.logger.warning("database unavailable: %s", type(error.orig or error).__name__)
    # The page explaining it must not ask the database who is signed in: render it as for a visitor.
    g._login_user = login_manager.anonymous_user()
    return render_error(ServiceUnavailable(
        "The database is not answering right now, so nothing was changed. Please try again in a moment."))


def register(app):
    """Render every HTTP error, and unexpected exceptions (after Flask logs them) as a 500."""
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(OperationalError, database_unavailable)
    for refusal, answer in REFUSALS.items():
        app.register_error_handler(refusal, lambda r, answer=answer: render_error(answer(str(r))))
