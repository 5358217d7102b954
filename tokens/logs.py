"""Logging: one line per request, and a filter that keeps secrets out of every line."""

import logging
import re
import time

from flask import g, request

from .secret import MAX_TOKEN_LENGTH

REQUESTS = logging.getLogger("tokens.requests")

# What must never reach a log line, and what stands in its place.
SECRET_WORDS = ("authorization", "x-auth-token", "cookie", "x-csrftoken", "csrf_token", "password")
SECRETS = [
    (re.compile(r"\b[a-z][a-z0-9]{1,11}_[0-9A-Za-z]{36}\b"), "[token]"),
    (re.compile(r"(/(?:join|reset)/)[^\s\"'?]+"), r"\1[link]"),
    (re.compile(rf"(?i)\b({'|'.join(SECRET_WORDS)})(\W{{1,3}})[^\s,;&\"']+"), r"\1\2[redacted]"),
]
# What every secret above contains: a line holding none of these (most lines) needs no other regular expression.
CLUES = ("_", "/join/", "/reset/", *SECRET_WORDS)
_ANY_CLUE = re.compile("|".join(map(re.escape, CLUES)))


def redact(text: str) -> str:
    """Return ``text`` with every token, signed link and credential replaced by a placeholder."""
    # Outside ASCII, ignoring case matches letters that lower() does not give (ſ for s, ı for i): scan then.
    lowered = text.lower()
    if text.isascii() and not _ANY_CLUE.search(lowered):
        return text
    for pattern, replacement in SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrite a record's message (and exception text) with every secret replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def start_timer():
    """Note when the request started, for its line's duration."""
    g.request_started = time.perf_counter()


def log_request(response):
    """One line per request: method, full path (the API's prefix included), status, duration, member, token."""
    state = g._get_current_object()
    started = state.pop("request_started", None)
    duration = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    caller = state.get("caller")
    user = state.get("_login_user")  # only if this request already loaded it: logging asks no database
    member = caller.member_id if caller else getattr(user, "id", None)
    if REQUESTS.isEnabledFor(logging.INFO):
        current = request._get_current_object()  # once, not a proxy lookup per attribute
        path = (current.script_root + current.path)[:MAX_TOKEN_LENGTH * 4]
        # Made by hand rather than by info(): where this line is logged from says nothing, and
        # finding it would walk the stack on every request.
        REQUESTS.handle(REQUESTS.makeRecord(
            REQUESTS.name, logging.INFO, __file__, 0, "%s %s %s %.1fms member=%s token=%s",
            (current.method, path, response.status_code, duration, member or "-",
             caller.public_id if caller else "-"), None))
    return response


def register(app):
    """Log requests at INFO to stderr (unless the host configured logging), all through the filter."""
    for logger in (app.logger, REQUESTS, *map(logging.getLogger, ("werkzeug", "gunicorn.error", "gunicorn.access"))):
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
    if not REQUESTS.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        REQUESTS.addHandler(handler)
        REQUESTS.propagate = False  # or Flask's handler on the app's logger writes every line again
    REQUESTS.setLevel(logging.INFO)
    app.before_request(start_timer)
    app.after_request(log_request)
