"""Hold every JSON answer of the API, in every test, to the OpenAPI document."""

import jsonschema_rs
from flask import request

from tokens.api import PREFIX, answers_in_jsend
from tokens.openapi import document

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
    return rule.removeprefix(PREFIX).replace("<", "{").replace(">", "}")


def check_response(response):
    """After each API request in the tests: the status is documented and the body fits its schema."""
    if not answers_in_jsend() or request.url_rule is None or request.method in ("OPTIONS", "HEAD") or (
            response.status_code == 200 and request.url_rule.rule.endswith("/openapi.json")):
        return response
    operation = DOCUMENT["paths"][documented_path(request.url_rule.rule)].get(request.method.lower())
    if operation is None:  # a 405: the method is not the path's, so the path's document does not say
        assert response.status_code == 405
        return response
    documented = resolve(operation["responses"]).get(str(response.status_code))
    assert documented, f"{request.method} {request.path} answered {response.status_code}, which is not documented"
    schema = documented["content"]["application/json"]["schema"]
    errors = [error.message for error in jsonschema_rs.validator_for(schema).iter_errors(response.get_json())]
    assert not errors, f"{request.method} {request.path} {response.status_code}: {errors}"
    for header, spec in documented.get("headers", {}).items():
        assert not spec.get("required") or header in response.headers, f"{header} missing"
    return response
