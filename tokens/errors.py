"""Errors as the browser should see them: a designed page, or a notice when htmx asked."""

from flask import make_response, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, NotFound

from . import htmx, service
from .extensions import login_manager

# Pages a signed-out visitor may post to; elsewhere a failed CSRF check means the session ended.
OPEN_BLUEPRINTS = {"auth", "setup"}

MESSAGES = {
    400: "The request could not be understood.",
    403: "You are not allowed to do that.",
    404: "There is nothing here.",
    405: "That action is not available here.",
    409: "That was already done.",
    413: "That request is too large.",
    500: "Something went wrong on our side. Nothing was changed; please try again.",
}


def render_error(error: HTTPException):
    """Render ``error`` for its audience; htmx gets a notice and leaves the page as it was."""
    status = error.code or 500
    message = error.description if error.description != type(error).description else (
        MESSAGES.get(status, error.name))
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
    if status == 405 and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response


def register(app):
    """Render every HTTP error, and unexpected exceptions (after Flask logs them) as a 500."""
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(service.NotFound, lambda refusal: render_error(NotFound(str(refusal))))
