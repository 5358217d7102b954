"""The OpenAPI 3.1 description of the REST API, served at /api/2018-10-01/openapi.json.

A test holds it to the app's routes and every JSON answer of the suite to its schemas.
"""

from ..forward_auth import HEADERS, IDENTITY
from ..models import ORIGINS, ROLES, SCOPES
from ..service import EXPIRY_DAYS, MAX_GRACE, MAX_REPORTED, NAME_MAX, NAME_RULE
from . import API_PREFIX

ID = {"type": "string", "pattern": "^[0-9A-Za-z]{12}$"}
TIME = {"type": ["string", "null"], "format": "date-time"}


def envelope(data: dict) -> dict:
    return {"type": "object", "required": ["status", "data"], "additionalProperties": False,
            "properties": {"status": {"const": "success"}, "data": data}}


def answer(description: str, schema: dict | str, **headers) -> dict:
    if isinstance(schema, str):
        schema = {"$ref": f"#/components/schemas/{schema}"}
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = {name: {"schema": {"type": "string"}, "required": True, "description": text}
                               for name, text in headers.items()}
    return response


def refusals(*statuses: int) -> dict:
    return {str(status): {"$ref": f"#/components/responses/{status}"} for status in statuses}


def body(schema: str, required: bool = True) -> dict:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"required": required, "content": {"application/json": {"schema": ref},
                                              "application/x-www-form-urlencoded": {"schema": ref}}}


TOKEN = {"type": "string", "pattern": "^[a-z][a-z0-9]{1,11}_[0-9A-Za-z]{36}$"}
SECRET = envelope({"type": "object", "required": ["X-Account-Id", "X-Auth-Token"],
                   "properties": {"X-Account-Id": {"type": "string"}, "X-Auth-Token": TOKEN,
                                  "token": {"$ref": "#/components/schemas/Token"}}})
ROTATED = envelope({"type": "object", "required": ["X-Account-Id", "X-Auth-Token", "token", "replaced"],
                    "properties": {"X-Account-Id": {"type": "string"}, "X-Auth-Token": TOKEN,
                                   "token": {"$ref": "#/components/schemas/Token"},
                                   "replaced": {"oneOf": [{"$ref": "#/components/schemas/Token"}, {"type": "null"}],
                                                "description": "The old token while its grace runs; null when "
                                                               "it stopped at once (no grace)."}}})
AUTHENTICATED = (401, 429, 500, 503)
ROTATE_REFUSALS = refusals(401, 403, 404, 409, 413, 415, 422, 429, 500, 503)


def rotation(operation_id: str, summary: str, **extra) -> dict:
    return {"post": {"operationId": operation_id, "summary": summary, **extra,
                     "requestBody": body("Rotate", required=False),
                     "responses": {"201": answer("The new token; its secret is shown only here.", ROTATED),
                                   **ROTATE_REFUSALS}}}


def document() -> dict:
    """Return the API's description."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "API token portal", "version": "2018-10-01",
                 "description": "Manage API tokens. Send X-Account-Id and X-Auth-Token, or "
                                "Authorization: Bearer <token>. Every answer is a JSend envelope."},
        "servers": [{"url": API_PREFIX}],
        "security": [{"accountId": [], "authToken": []}, {"bearer": []}],
        "paths": {
            "/login": {"post": {
                "operationId": "login", "security": [],
                "summary": "Exchange a username and password for a new token (made via API login).",
                "requestBody": body("Login"),
                "responses": {"200": answer("The account id and the new token, shown only here.", SECRET),
                              **refusals(400, 401, 404, 409, 413, 415, 422, 429, 500, 503)}}},
            "/logout": {method: {
                "operationId": f"logout_{method}", "summary": "Delete the token that makes this request.",
                "responses": {"200": answer("The token is deleted.", envelope({"type": "null"})),
                              **refusals(*AUTHENTICATED)}} for method in ("get", "post")},
            "/tokens/self": {"get": {
                "operationId": "token_self", "summary": "Describe the calling token, its account and member.",
                "responses": {"200": answer("The caller.", envelope({"$ref": "#/components/schemas/Self"})),
                              **refusals(*AUTHENTICATED)}}},
            "/tokens": {
                "get": {"operationId": "list_tokens",
                        "summary": "List the member's tokens in the account, newest first "
                                   "(owners and admins: all of them).",
                        "responses": {"200": answer("Metadata only, never a secret.", envelope(
                            {"type": "array", "items": {"$ref": "#/components/schemas/Token"}})),
                            **refusals(*AUTHENTICATED)}},
                "post": {"operationId": "create_token", "summary": "Create a token (needs read-write).",
                         "requestBody": body("NewToken", required=False),
                         "responses": {
                             "201": answer("The new token; its secret is shown only here.", SECRET),
                             **refusals(401, 403, 409, 413, 415, 422, 429, 500, 503)}}},
            "/tokens/{token_id}": {"delete": {
                "operationId": "delete_token",
                "summary": "Delete one of the member's tokens, or any in the account for owners and admins "
                           "(needs read-write).",
                "parameters": [{"name": "token_id", "in": "path", "required": True, "schema": ID}],
                "responses": {"200": answer("The token is deleted.", envelope(
                    {"type": "object", "required": ["id"], "properties": {"id": ID}})),
                    **refusals(401, 403, 404, 429, 500, 503)}}},
            "/tokens/{token_id}/rotate": rotation(
                "rotate_token", "Replace a token the member may manage with a new one of the same name, scope "
                "and lifetime; the old one keeps working for the grace asked (needs read-write).",
                parameters=[{"name": "token_id", "in": "path", "required": True, "schema": ID}],
                description="Refused (409) for a token already replaced, and (422) when the account's token "
                            "policy forbids the new token's lifetime. Another member's token may be rotated only by a "
                            "manager of a higher role (an owner: an admin's or a member's; an admin: a member's), "
                            "since the new secret acts as that member (403 otherwise); the member is told."),
            "/tokens/self/rotate": rotation(
                "rotate_self", "Replace the calling token with a new one: a program rotating its own secret "
                "(needs read-write)."),
            "/tokens/revoke": {"post": {
                "operationId": "report_leaked", "security": [],
                "summary": "Report leaked tokens by their values: those of this portal are deleted at once.",
                "description": "No authentication: holding a token proves it is out. The answer is always 202 "
                               "with how many values were received, never how many matched. The tokens' members "
                               "and their accounts' owners are told; reports count against a budget per client.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "array", "minItems": 1, "maxItems": MAX_REPORTED, "items": {"type": "string"}}}}},
                "responses": {"202": answer("The values were received.", envelope(
                    {"type": "object", "required": ["received"], "additionalProperties": False,
                     "properties": {"received": {"type": "integer", "minimum": 1, "maximum": MAX_REPORTED}}})),
                    **refusals(413, 415, 422, 429, 500, 503)}}},
            "/verify": {method: {
                "operationId": f"verify_{method}",
                "summary": "Forward auth: may this request pass? For nginx auth_request, Caddy forward_auth, "
                           "Traefik forwardAuth.",
                "description": "Any method; no body is read. The method that counts is the most demanding of "
                               "the request's own, X-Original-Method and X-Forwarded-Method: GET, HEAD and "
                               "OPTIONS read, anything else writes (and needs read-write). The identity "
                               "headers are for the proxy to copy to the protected service; the email is "
                               "percent-encoded UTF-8 (plain addresses read as they are).",
                "parameters": [{"name": name, "in": "header", "required": False, "schema": {"type": "string"},
                                "description": "The client's method, as the proxy forwards it."}
                               for name in ("X-Original-Method", "X-Forwarded-Method")],
                "responses": {"200": answer("The caller may pass; who it is, for the service.",
                                            envelope({"$ref": "#/components/schemas/Identity"}),
                                            **{name: "For the proxy to copy to the service." for name in IDENTITY}),
                              **refusals(*AUTHENTICATED, 403)}}
                for method in ("get", "head", "post", "put", "patch", "delete", "options")},
            "/openapi.json": {"get": {
                "operationId": "openapi", "security": [], "summary": "This description.",
                "responses": {"200": {"description": "OpenAPI 3.1",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        },
        "components": {
            "securitySchemes": {
                "accountId": {"type": "apiKey", "in": "header", "name": "X-Account-Id"},
                "authToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {
                "Token": {"type": "object", "additionalProperties": False, "required": [
                    "id", "name", "hint", "scope", "member", "created_via", "created_at", "expires_at", "expired",
                    "last_used_at", "last_used_ip", "replaced_at"], "properties": {
                    "id": ID, "name": {"type": "string", "maxLength": NAME_MAX},
                    "hint": {"type": "string"}, "scope": {"enum": list(SCOPES)},
                    "member": {"type": "string", "description": "The email of the member the token belongs to."},
                    "created_via": {"enum": list(ORIGINS), "description": (
                        "Where the token was made: web (Account Preferences), login (POST login), "
                        "api (POST tokens), cli (the operator's commands).")},
                    "created_at": {"type": "string", "format": "date-time"},
                    "expires_at": TIME, "expired": {"type": "boolean"}, "last_used_at": TIME,
                    "last_used_ip": {"type": ["string", "null"]},
                    "replaced_at": {**TIME, "description": "When the token was rotated: it works until expires_at "
                                                           "(its grace), then stops. Null: not replaced."}}},
                "Self": {"type": "object", "required": ["account", "member", "token"], "properties": {
                    "account": {"type": "object", "required": ["id", "name"], "properties": {
                        "id": {"type": "string"}, "name": {"type": "string"}}},
                    "member": {"type": "object", "required": ["email", "name", "role"], "properties": {
                        "email": {"type": "string"}, "name": {"type": "string"},
                        "role": {"enum": ["owner", "admin", "member"]}}},
                    "token": {"$ref": "#/components/schemas/Token"}}},
                "Identity": {"type": "object", "additionalProperties": False, "required": list(HEADERS),
                             "properties": {
                                 "account": {"type": "string"}, "member": {"type": "integer"},
                                 "email": {"type": "string"}, "role": {"enum": list(ROLES)}, "token": ID,
                                 "scope": {"enum": list(SCOPES)}},
                             "description": "Each field is also in its header: " + ", ".join(
                                 f"{field}: {header}" for field, header in HEADERS.items()) + "."},
                "Login": {"type": "object", "additionalProperties": False, "required": ["username", "password"],
                          "properties": {"username": {"type": "string", "minLength": 1, "maxLength": 254},
                                         "password": {"type": "string", "minLength": 1, "maxLength": 1024},
                                         "account": {"type": "string", "maxLength": 17}}},
                "NewToken": {"type": "object", "additionalProperties": False, "properties": {
                    "name": {"type": "string", "maxLength": NAME_MAX, "description": f"Optional. {NAME_RULE}"},
                    "scope": {"enum": list(SCOPES)},
                    "expires_in_days": {"enum": list(EXPIRY_DAYS)}}},
                "Rotate": {"type": "object", "additionalProperties": False, "properties": {
                    "grace_seconds": {"type": "integer", "minimum": 0, "maximum": MAX_GRACE, "default": 0,
                                      "description": "How long the old token keeps working (never past its own "
                                                     "expiry); 0: it stops at once."}}},
                "Fail": {"type": "object", "required": ["status", "data"], "additionalProperties": False,
                         "properties": {"status": {"const": "fail"}, "data": {
                             "type": "object", "required": ["message"],
                             "properties": {"message": {"type": "string"}}}}},
                "Error": {"type": "object", "required": ["status", "message", "data"], "additionalProperties": False,
                          "properties": {"status": {"const": "error"}, "message": {"type": "string"},
                                         "data": {"type": "object", "required": ["message"],
                                                  "properties": {"message": {"type": "string"}}}}},
            },
            "responses": {
                "400": answer("The request misses a required field.", "Fail"),
                "401": {**answer("Not authenticated: one answer for every reason.", "Fail"),
                        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}}},
                "403": answer("The token's scope does not allow this.", "Fail"),
                "404": answer("No such thing for this member.", "Fail"),
                "409": answer("The member holds as many tokens as allowed, or the token was already replaced.", "Fail"),
                "413": answer("The body is too large.", "Fail"),
                "415": answer("The body is neither JSON nor a form.", "Fail"),
                "422": answer("A field is invalid, or the account's token policy forbids it; the message says which.",
                              "Fail"),
                "429": {**answer("Too many requests; try again after Retry-After seconds.", "Fail"),
                        "headers": {"Retry-After": {"schema": {"type": "string"}, "required": True}}},
                "500": answer("The server failed; nothing was changed.", "Error"),
                "503": answer("The database is not answering; nothing was changed. Try again.", "Error"),
            },
        },
    }
