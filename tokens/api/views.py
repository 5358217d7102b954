"""The API's endpoints under /api/2018-10-01/: thin views over the same service as the browser's pages."""

import re
from functools import partial

from flask import Blueprint, after_this_request, g, jsonify, request
from werkzeug.exceptions import ServiceUnavailable, TooManyRequests, UnsupportedMediaType

from .. import forward_auth, service
from ..budgets import ACCOUNT_PAUSED, PAUSED, leak_reports, login_attempts, sign_in_budget
from ..extensions import db
from ..models import ApiToken
from .authentication import authenticate, require_write
from .jsend import fail, success

bp = Blueprint("api", __name__)
# A token's public id in a path: 12 characters, so that tokens/self and tokens/revoke are never taken for one.
TOKEN_ID = "string(length=12)"  # noqa: S105 (a URL converter)
bp.before_request(authenticate)


# --- reading requests, writing answers -------------------------------------------------------

# Fields a JSON body sends as numbers: a form sends them as text, converted when they are whole numbers.
NUMBERS = frozenset({"expires_in_days", "grace_seconds"})
WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


def payload(*fields: str) -> dict:
    """Return the request's fields from a JSON object or a form; refuse other bodies and fields."""
    if not request.content_length and not request.data:
        return {}
    if request.mimetype == "application/json":
        body = json_body()
        if not isinstance(body, dict):
            raise service.InvalidInput("The body must be a JSON object.")
    elif request.mimetype == "application/x-www-form-urlencoded":
        body = {name: int(value) if name in NUMBERS and WHOLE_NUMBER.fullmatch(value) else value
                for name, value in request.form.items()}
    else:
        raise UnsupportedMediaType("Send JSON (application/json) or a form "
                                   "(application/x-www-form-urlencoded).")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise service.InvalidInput(f"Unknown field {unknown[0]!r}; the fields are {', '.join(fields)}.")
    return body


def json_body():
    """Return the request's JSON body, or None when it is not JSON (or nested deeper than the parser goes)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def text_field(body: dict, name: str) -> str:
    """Return a text field of the body ("" when absent); refuse anything but Unicode text."""
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
        "replaced_at": moment(token.replaced_at),
    }


def secret_answer(token_secret, account_public_id, status, **extra):
    """Answer with a new secret: the platform's two headers, never cached."""
    response, status = success({"X-Account-Id": account_public_id, "X-Auth-Token": token_secret,
                                **extra}, status)
    response.headers["Cache-Control"] = "no-store"
    return response, status


# --- endpoints -------------------------------------------------------------------------------

@bp.post("/login")
def login():
    """Exchange a username and password for a new token made "via API login"; attempts are limited."""
    client = request.remote_addr
    after_this_request(partial(login_attempts.tell, client))  # every answer, the 429 included
    if retry_after := login_attempts.retry_after(client):
        raise TooManyRequests(retry_after=retry_after)
    if not login_attempts.can_count():
        raise ServiceUnavailable(PAUSED)
    login_attempts.spend(client)
    body = payload("username", "password", "account")
    username, password = text_field(body, "username"), text_field(body, "password")
    if not username or not password:
        return fail("Send username and password.", 400)
    budget, key = sign_in_budget(username, None)  # a program has no device cookie: the account's budget
    if retry_after := budget.retry_after(key):  # checked before the password: the right one waits too
        raise TooManyRequests(ACCOUNT_PAUSED, retry_after=retry_after)
    member = service.authenticate_member(username, password)
    if member is None:
        budget.spend(key)
        service.record_failed_sign_in(username, client)
        db.session.commit()
        return fail("That username and password do not match an active member.", 401)
    token, token_secret = service.log_in(member, text_field(body, "account") or None, ip=client)
    db.session.commit()
    return secret_answer(token_secret, token.account.public_id, 200)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """Delete the token that makes this request."""
    service.log_out(g.caller, request.remote_addr)
    db.session.commit()
    return success(None)


@bp.get("/tokens/self")
def token_self():
    """Describe the calling token, its account and its member."""
    caller = g.caller  # the authenticating query read everything this answer tells
    return success({
        "account": {"id": caller.account_public_id, "name": caller.account_name},
        "member": {"email": caller.member_email, "name": caller.member_name, "role": caller.role},
        "token": token_json(caller),
    })


@bp.get("/tokens")
def list_tokens():
    """List the member's tokens in the account, newest first (owners and admins: all of them), metadata only."""
    membership = service.membership_of(g.caller)
    return success([token_json(t) for t in service.list_tokens(membership, everyone=True)])


@bp.post("/tokens")
def create_token():
    """Create a token (needs read-write); its secret is in this answer only."""
    if refusal := require_write():
        return refusal
    body = payload("name", "scope", "expires_in_days")
    days = body.get("expires_in_days")
    if days is not None and (isinstance(days, bool) or days not in service.EXPIRY_DAYS):
        raise service.InvalidInput("expires_in_days must be one of 7, 30 or 90 (or left out: never).")
    token, token_secret = service.issue_token(
        service.membership_of(g.caller), text_field(body, "name"), via="api",
        scope=text_field(body, "scope") or "read-write", expires_at=service.expiry(days),
        ip=request.remote_addr, made_by=g.caller.digest)
    db.session.commit()
    return secret_answer(token_secret, g.caller.account_public_id, 201, token=token_json(token))


@bp.delete(f"/tokens/<{TOKEN_ID}:token_id>")
def delete_token(token_id):
    """Delete one of the member's tokens, or any in the account for owners and admins (needs read-write)."""
    if refusal := require_write():
        return refusal
    outcome = service.revoke_token(service.membership_of(g.caller), token_id, ip=request.remote_addr)
    if outcome is not service.Revoked.DELETED:
        raise service.NotFound(service.NO_SUCH_TOKEN)
    db.session.commit()
    return success({"id": token_id})


@bp.post(f"/tokens/<{TOKEN_ID}:token_id>/rotate")
def rotate_token(token_id):
    """Replace a token the caller may manage with a new one (needs read-write); the old one works for the grace."""
    if refusal := require_write():
        return refusal
    body = payload("grace_seconds")
    rotation = service.rotate_token(service.membership_of(g.caller), token_id,
                                    service.clean_grace(body.get("grace_seconds", 0)), via="api",
                                    ip=request.remote_addr, made_by=g.caller.digest)
    db.session.commit()
    return secret_answer(rotation.secret, g.caller.account_public_id, 201, token=token_json(rotation.token),
                         replaced=token_json(rotation.replaced) if rotation.replaced else None)


@bp.post("/tokens/self/rotate")
def rotate_self():
    """Replace the calling token with a new one (needs read-write): a program rotating its own secret."""
    return rotate_token(g.caller.public_id)


@bp.post("/tokens/revoke")
def report_leaked():
    """Delete the tokens whose values are sent (no authentication: holding a token proves it is out).

    Always 202 with how many values were received, never how many matched. Reports count against a
    budget per client.
    """
    client = request.remote_addr
    leak_reports.admit(client)
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Send the token values as a JSON list (application/json).")
    received = service.revoke_leaked(service.clean_reported(json_body()), ip=client)
    db.session.commit()
    return success({"received": received}, 202)


@bp.route("/verify", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def verify():
    """Answer a reverse proxy's forward-auth question: the caller's identity in headers, or why not.

    Any method, no body read. The method that counts is the most demanding of the request's own and
    the one the proxy forwards (nginx's subrequest is always a GET): a read-only token may not write.
    """
    if forward_auth.writes(request.environ) and (refusal := require_write()):
        return refusal
    who = forward_auth.identity(g.caller)
    response, status = success(who)
    response.headers.extend(forward_auth.identity_headers(who))
    return response, status


@bp.get("/openapi.json")
def openapi():
    """Describe the API (OpenAPI 3.1)."""
    from .openapi import document
    return jsonify(document())
