"""Hold every JSON answer of the API, in every test, to the OpenAPI document.

The check sits in the test client, after the app has answered, so that it sees every answer as
sent (error pages and 500s included, rate-limit headers too) and its failure fails the test.
"""

import re

import jsonschema_rs
from flask.testing import FlaskClient
from werkzeug.exceptions import HTTPException

from tokens.api import API_PREFIX
from tokens.api.openapi import document

DOCUMENT = document()


def resolve(node, root=DOCUMENT):
    """Inline the document's local $refs, so that a plain JSON Schema validator can read a schema."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = root
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(target, root)
        return {key: resolve(value, root) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, root) for item in node]
    return node


def documented_path(rule: str) -> str:
    """Write a route of the API app (``/tokens/<string(length=12):token_id>``) as the document does
    (``/tokens/{token_id}``)."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def check_response(app, method: str, path: str, response) -> None:
    """The status is documented for the operation and the body fits its schema."""
    if not path.startswith(API_PREFIX + "/") or method in ("OPTIONS", "HEAD"):
        return
    try:
        rule, _ = app.extensions["api"].url_map.bind("localhost").match(
            path.removeprefix(API_PREFIX), method=method, return_rule=True)
    except HTTPException as unmatched:  # 404 and 405 outside any documented operation
        assert response.status_code == unmatched.code and response.json["status"] == "fail"
        return
    if rule.rule.endswith("/openapi.json") and response.status_code == 200:
        return
    operation = DOCUMENT["paths"][documented_path(rule.rule)][method.lower()]
    documented = resolve(operation["responses"]).get(str(response.status_code))
    assert documented, f"{method} {path} answered {response.status_code}, which is not documented"
    schema = documented["content"]["application/json"]["schema"]
    errors = [error.message for error in jsonschema_rs.validator_for(schema).iter_errors(response.get_json())]
    assert not errors, f"{method} {path} {response.status_code}: {errors}"
    for header, spec in documented.get("headers", {}).items():
        assert not spec.get("required") or header in response.headers, f"{header} missing"


class CheckingClient(FlaskClient):
    """Flask's test client, checking each API answer against the document."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        check_response(self.application, response.request.method, response.request.path, response)
        return response
