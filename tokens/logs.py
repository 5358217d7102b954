"""Logging: one line per request, and a filter that keeps secrets and forged lines out of every line."""

import logging
import re
import time

from flask import g, request

from .secret import MAX_TOKEN_LENGTH

REQUESTS = logging.getLogger("tokens.requests")

# What must never reach a log line, and what stands in its place.
SECRET_WORDS = ("authorization", "x-auth-token", "cookie", "x-csrftoken", "csrf_token", "sudo_password", "password")
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


# Outside printable ASCII a character is kept if str.isprintable() says so (letters of any script,
# emoji), else written as a Python string literal writes it (\r, \x00, \u2028, \U000e0041): a
# request can then neither start a line of its own, nor hide or repaint text on a terminal.
_UNSAFE = re.compile(r"[^ -~]")
# werkzeug's development server writes its banner on several lines and colours its request lines
# itself, having escaped the request's own control characters first: its newlines and colours stay.
_UNSAFE_BUT_LAYOUT = re.compile(r"\x1b\[[0-9;]*m|[^ -~\n]")


def _escaped(match: re.Match) -> str:
    """Return a matched character escaped unless printable (a colour code matched whole is kept)."""
    text = match.group()
    return text if len(text) > 1 or text.isprintable() else repr(text)[1:-1]


def escape(text: str, keep_layout: bool = False) -> str:
    """Return ``text`` with every non-printable character backslash-escaped, so that it stays one line."""
    return (_UNSAFE_BUT_LAYOUT if keep_layout else _UNSAFE).sub(_escaped, text)


def _messages(error: BaseException) -> list[str]:
    """Return the messages and notes of an exception and of every exception it chains to."""
    messages, pending, seen = [], [error], set()
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        pending += (error.__cause__, error.__context__)
        try:
            messages.append(str(error))
        except Exception:  # noqa: S112 - the traceback shows "<exception str() failed>" in its place
            continue
        messages += (note for note in getattr(error, "__notes__", ()) if isinstance(note, str))
    return messages


def clean_traceback(text: str, error: BaseException | None) -> str:
    """Return a traceback redacted and escaped, still one frame a line, its messages escaped newlines too.

    A message may quote the request (a path, a value the database refused): escaped whole, it cannot
    start a line. A message shown other than as str() gives it (in an exception group) keeps its
    newlines, each indented under the group. Secrets are replaced before escaping, whose backslashed
    letters and digits could otherwise join a token and hide it from the patterns.
    """
    for message in _messages(error) if error is not None else ():
        if not message.isprintable():
            text = text.replace(message, escape(redact(message)))
    text = redact(text)
    return "\n".join(line if line.isprintable() else escape(line) for line in text.split("\n"))


class RedactSecrets(logging.Filter):
    """Rewrite a record's message (and exception text) with every secret replaced and every control escaped."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())  # before escaping, for the reason clean_traceback gives
        if not message.isprintable():  # false for almost no line: one fast scan for the rest
            message = escape(message, keep_layout=record.name == "werkzeug")
        record.msg, record.args = message, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = clean_traceback(record.exc_text, record.exc_info[1] if record.exc_info else None)
        return True


# werkzeug's development server logs each request as "address - - [date] "GET / HTTP/1.1" 200 -" at INFO.
_SERVER_REQUEST_LINE = re.compile(r'\S+ - - \[[^\]]*\] "')


class DropServerRequestLines(logging.Filter):
    """Drop the development server's own line for each request: the portal logs every request already.

    Its start lines ("Running on ...") and its warnings and errors stay.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno != logging.INFO or not _SERVER_REQUEST_LINE.match(record.getMessage())


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
    server = logging.getLogger("werkzeug")
    if not any(isinstance(f, DropServerRequestLines) for f in server.filters):
        server.addFilter(DropServerRequestLines())
    app.before_request(start_timer)
    app.after_request(log_request)
