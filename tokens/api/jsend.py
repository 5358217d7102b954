"""JSend, the one shape of every API answer: success, fail (4xx) and error (5xx), errors included."""

from flask import Response, jsonify
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from .. import service
from ..errors import database_down, end_transaction, message_of, with_headers_of
from ..settings import HTTPS_HEADERS

CHALLENGE = 'Bearer realm="api"'

# What OWASP's REST cheat sheet asks of JSON answers: nothing to frame, sniff or keep.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def success(data=None, status=200):
    """Answer with ``data`` as JSend ``success``."""
    return jsonify(status="success", data=data), status


def fail_body(message: str) -> dict:
    """Return JSend's ``fail`` envelope (a client error) saying ``message``."""
    return {"status": "fail", "data": {"message": message}}


def error_body(message: str) -> dict:
    """Return JSend's ``error`` envelope (a server error) saying ``message``."""
    return {"status": "error", "message": message, "data": {"message": message}}


def fail(message: str, status: int):
    """Answer a client error (4xx) as JSend ``fail``."""
    response = jsonify(fail_body(message))
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = CHALLENGE
    return response


def error(message: str, status: int = 500):
    """Answer a server error (5xx) as JSend ``error``."""
    response = jsonify(error_body(message))
    response.status_code = status
    return response


def http_error(problem: HTTPException):
    """Answer any HTTP error (404, 405, 413, 429, 500...) in JSend, keeping its headers."""
    status = problem.code or 500
    if status >= 500:
        end_transaction()
    response = fail(message_of(problem), status) if status < 500 else error(message_of(problem), status)
    return with_headers_of(problem, response)


def refusal(refused: service.ServiceError):
    """Answer a service's refusal with its message and status."""
    return fail(str(refused), refused.status)


def database_unavailable(problem: OperationalError):
    """The database is down or locked past its timeout: a 503 saying so, never a 500 or a false 200."""
    return http_error(database_down(problem))


class APIResponse(Response):
    """Every API answer, with the REST header set from the start (a view or handler may still replace one).

    Added in one pass, the names the answer was made with left alone: a ``setdefault`` per header
    would scan the headers four times and raise and catch a KeyError for each missing one.
    """

    rest_headers = HEADERS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._add_rest_headers()

    @classmethod
    def force_type(cls, response, environ=None):
        """Flask's conversion of another answer (a routing redirect) into this class, which skips ``__init__``."""
        response = super().force_type(response, environ)
        response._add_rest_headers()
        return response

    def _add_rest_headers(self) -> None:
        """Add the REST headers the answer does not have yet, in one pass."""
        given = {name.lower() for name, _ in self.headers}
        self.headers.extend([(name, value) for name, value in self.rest_headers.items() if name.lower() not in given])


class HTTPSResponse(APIResponse):
    """An API answer of a portal served by HTTPS: the REST headers and HSTS."""

    rest_headers = {**HEADERS, **HTTPS_HEADERS}


def register(api):
    """Answer in JSend with the REST headers, errors too (unexpected exceptions, after Flask logs them, as a 500)."""
    # Chosen once, so that an answer without HTTPS pays nothing for it.
    api.response_class = HTTPSResponse if api.config["HTTPS"] else APIResponse
    api.register_error_handler(HTTPException, http_error)
    api.register_error_handler(OperationalError, database_unavailable)
    api.register_error_handler(service.ServiceError, refusal)
