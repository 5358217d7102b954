"""HTTP errors, told the same way to both audiences: the message, the headers kept, the transaction ended."""

from flask import current_app
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from .extensions import db
from .labels import STATUS_MESSAGES


def message_of(error: HTTPException) -> str:
    """Return what an error says: its own description if it was given one, else the status's message."""
    if error.description != type(error).description:
        return error.description
    return STATUS_MESSAGES.get(error.code or 500, error.name)


def with_headers_of(error: HTTPException, response):
    """Keep what the error says in headers (Allow, Retry-After...), in a stable order."""
    for name, value in error.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    if getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response


def database_down(error: OperationalError) -> ServiceUnavailable:
    """Note that the database is down or locked past its timeout; return the 503 that says so."""
    current_app.logger.warning("database unavailable: %s", type(error.orig or error).__name__)
    return ServiceUnavailable(
        "The database is not answering right now, so nothing was changed. Please try again in a moment.")


def end_transaction() -> None:
    """Roll back what a failed request did, so that nothing half-done is kept and the pool stays usable."""
    try:
        db.session.rollback()
    except OperationalError:
        db.session.close()
