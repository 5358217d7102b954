"""The REST API under /api/2018-10-01/: the platform's header scheme and JSend answers.

Authentication is ``X-Account-Id`` + ``X-Auth-Token``, or ``Authorization: Bearer <token>``;
never a cookie, a query string or a form field. Every failure to authenticate gets the same 401.
"""

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import ServiceUnavailable, TooManyRequests, UnsupportedMediaType

from . import service
from .auth import SIGN_IN_PAUSED
from .extensions import csrf, db, failed_auth_budget, limiter, sign_in_is_counted, sign_in_limit
from .models import ApiToken

PREFIX = "/api/2018-10-01"
bp = Blueprint("api", __name__, url_prefix=PREFIX)
csrf.exempt(bp)


def spared() -> bool:
    """Tell whether the browser's per-request hooks may skip this request: an API one but login.

    Login keeps Flask-Limiter's (its limit and Retry-After); the rest count their own failures.
    """
    return request.blueprint == "api" and request.endpoint != "api.login"

UNAUTHENTICATED = ("Authentication failed: send the account id and a valid token in the X-Account-Id "
                   "and X-Auth-Token headers, or the token as Authorization: Bearer <token>.")
CHALLENGE = 'Bearer realm="api"'


# --- JSend, the one shape of every answer ---------------------------------------------------

def success(data=None, status=200):
    return jsonify(status="success", data=data), status


def fail(message: str, status: int, **data):
    """Answer a client error (4xx) as JSend ``fail``."""
    response = jsonify(status="fail", data={"message": message, **data})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = CHALLENGE
    return response


def error(message: str, status: int = 500):
    """Answer a server error (5xx) as JSend ``error``."""
    response = jsonify(status="error", message=message, data={"message": message})
    response.status_code = status
    return response


# --- authentication --------------------------------------------------------------------------

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


@bp.before_request
def authenticate():
    """Find the caller of every endpoint but login (and the public description).

    Only failed authentications count against the client, so guessing tokens is slow while real
    clients are not limited: one budget per client for the whole API.
    """
    if request.endpoint in ("api.login", "api.openapi") or request.endpoint is None:
        return None
    if retry_after := failed_auth_budget.retry_after():
        raise TooManyRequests(retry_after=retry_after)
    credentials = presented_credentials()
    caller = credentials and service.authenticate_token(*credentials, ip=request.remote_addr)
    if not caller:
        failed_auth_budget.spend()
        return fail(UNAUTHENTICATED, 401)
    if db.session.registry.has():  # the session was opened only to write "last used" (once a minute)
        db.session.commit()
    g.caller = caller
    return None


def require_write():
    if not g.caller.can_write:
        return fail("This token may only read: its scope is read. Use a read-write token.", 403)
    return None


def payload(*fields: str) -> dict:
    """Return the request's fields from a JSON object or a form; refuse other bodies and fields.

    Form values are text; a form field that the JSON body would send as a number is converted.
    """
    if not request.content_length and not request.data:
        return {}
    if request.mimetype == "application/json":
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # nested deeper than the parser goes
            body = None
        if not isinstance(body, dict):
            raise service.InvalidInput("The body must be a JSON object.")
    elif request.mimetype == "application/x-www-form-urlencoded":
        days = {str(days): days for days in service.EXPIRY_DAYS}
        body = {name: days.get(value, value) if name == "expires_in_days" else value
                for name, value in request.form.items()}
    else:
        raise UnsupportedMediaType("Send JSON (application/json) or a form "
                                   "(application/x-www-form-urlencoded).")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise service.InvalidInput(f"Unknown field {unknown[0]!r}; the fields are {', '.join(fields)}.")
    return body


def text_field(body: dict, name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or not _encodable(value):
        raise service.InvalidInput(f"{name} must be a string (of Unicode text).")
    return value


def _encodable(value: str) -> bool:
    """Tell text from JSON's lone surrogates ("\\ud800"), which no database or hash accepts."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def token_json(token: ApiToken | service.Caller) -> dict:
    """Describe a token (or the caller's own): its metadata, never its secret."""
    def moment(value):
        return value.isoformat().replace("+00:00", "Z") if value else None
    return {
        "id": token.public_id, "name": token.name, "hint": token.hint, "scope": token.scope,
        "member": token.member_email,
        "created_via": token.created_via, "created_at": moment(token.created_at),
        "expires_at": moment(token.expires_at), "expired": token.is_expired,
        "last_used_at": moment(token.last_used_at), "last_used_ip": token.last_used_ip,
    }


def secret_answer(token_secret, account_public_id, status, **extra):
    """Answer with a new secret: the platform's two headers, never cached."""
    response, status = success({"X-Account-Id": account_public_id, "X-Auth-Token": token_secret,
                                **extra}, status)
    response.headers["Cache-Control"] = "no-store"
    return response, status


# --- endpoints -------------------------------------------------------------------------------

@bp.post("/login")
@limiter.limit(sign_in_limit)
def login():
    if not sign_in_is_counted():
        raise ServiceUnavailable(SIGN_IN_PAUSED)
    body = payload("username", "password", "account")
    username, password = text_field(body, "username"), text_field(body, "password")
    if not username or not password:
        return fail("Send username and password.", 400)
    member = service.authenticate_member(username, password)
    if member is None:
        service.record_failed_sign_in(username, request.remote_addr)
        db.session.commit()
        return fail("That username and password do not match an active member.", 401)
    token, token_secret = service.log_in(member, text_field(body, "account") or None, ip=request.remote_addr)
    db.session.commit()
    return secret_answer(token_secret, token.account.public_id, 200)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    service.revoke_token(service.membership_of(g.caller), g.caller.public_id, ip=request.remote_addr)
    service.record(g.caller.account_id, g.caller.member_id, "api.logout", g.caller.public_id,
                   request.remote_addr)
    db.session.commit()
    return success(None)


@bp.get("/tokens/self")
def token_self():
    caller = g.caller  # the authenticating query read everything this answer tells
    return success({
        "account": {"id": caller.account_public_id, "name": caller.account_name},
        "member": {"email": caller.member_email, "name": caller.member_name, "role": caller.role},
        "token": token_json(caller),
    })


@bp.get("/tokens")
def list_tokens():
    membership = service.membership_of(g.caller)
    return success([token_json(t) for t in service.list_tokens(membership, everyone=True)])


@bp.post("/tokens")
def create_token():
    if refusal := require_write():
        return refusal
    body = payload("name", "scope", "expires_in_days")
    days = body.get("expires_in_days")
    if days is not None and (isinstance(days, bool) or days not in service.EXPIRY_DAYS):
        raise service.InvalidInput("expires_in_days must be one of 7, 30 or 90 (or left out: never).")
    token, token_secret = service.issue_token(
        service.membership_of(g.caller), text_field(body, "name"), via="api",
        scope=text_field(body, "scope") or "read-write", expires_at=service.expiry(days),
        ip=request.remote_addr)
    db.session.commit()
    return secret_answer(token_secret, g.caller.account_public_id, 201, token=token_json(token))


@bp.delete("/tokens/<token_id>")
def delete_token(token_id):
    if refusal := require_write():
        return refusal
    outcome = service.revoke_token(service.membership_of(g.caller), token_id, ip=request.remote_addr)
    if outcome is not service.Revoked.DELETED:
        raise service.NotFound(service.NO_SUCH_TOKEN)
    db.session.commit()
    return success({"id": token_id})


@bp.get("/openapi.json")
def openapi():
    from .openapi import document
    return jsonify(document())


def answers_in_jsend() -> bool:
    """Tell whether the request is the API's: its errors, 404 and 405 included, are JSend."""
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")
