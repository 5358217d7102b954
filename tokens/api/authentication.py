"""Who calls the API: the platform's header scheme, one uniform 401, a failure budget per client.

Authentication is ``X-Account-Id`` + ``X-Auth-Token``, or ``Authorization: Bearer <token>``;
never a cookie, a query string or a form field. Every failure to authenticate gets the same 401.
"""

from flask import g, request
from werkzeug.exceptions import TooManyRequests

from .. import service
from ..budgets import failed_authentications
from ..extensions import db
from .jsend import fail

UNAUTHENTICATED = ("Authentication failed: send the account id and a valid token in the X-Account-Id "
                   "and X-Auth-Token headers, or the token as Authorization: Bearer <token>.")
READ_ONLY = "This token may only read: its scope is read. Use a read-write token."
# Endpoints anyone may call: they find out who calls them themselves, or need not know.
PUBLIC = {"api.login", "api.openapi", "api.report_leaked", None}  # None: no endpoint matched (a 404 or 405 follows)


def presented_credentials() -> tuple[str, str | None] | None:
    """Return (token, account id or None) from exactly one scheme of headers, else None.

    Read from the WSGI environ, where a header sent twice arrives joined by a comma (and then
    fails the token's format).
    """
    environ = request.environ
    authorization = environ.get("HTTP_AUTHORIZATION")
    token = environ.get("HTTP_X_AUTH_TOKEN")
    account = environ.get("HTTP_X_ACCOUNT_ID")
    if authorization is not None and token is None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        return token, account
    if token is not None and account is not None and authorization is None:
        return token, account
    return None


def authenticate():
    """Find the caller of every endpoint but the public ones, or answer the uniform 401.

    Only failed authentications count against the client, so guessing tokens is slow while real
    clients are not limited: one budget per client for the whole API.
    """
    if request.endpoint in PUBLIC:
        return None
    client = request.remote_addr
    if retry_after := failed_authentications.retry_after(client):
        raise TooManyRequests(retry_after=retry_after)
    credentials = presented_credentials()
    caller = credentials and service.authenticate_token(*credentials, ip=client)
    if not caller:
        failed_authentications.spend(client)
        return fail(UNAUTHENTICATED, 401)
    if db.session.registry.has():  # the session was opened only to write "last used" (once a minute)
        db.session.commit()
    g.caller = caller
    return None


def require_write():
    """Refuse a read-only token (403); None lets a read-write one through."""
    if not g.caller.can_write:
        return fail(READ_ONLY, 403)
    return None
