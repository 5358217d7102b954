"""Logs: one line per request with who and which token, and never a secret."""

import logging
import socket

import pytest

from tokens import service
from tokens.logs import redact

from .conftest import API, csrf_from, headers_of, login
from .servers import environment, gunicorn


def request_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "tokens.requests"]


def test_one_line_per_request_with_member_and_token(app, client, caplog):
    credentials = login(client)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tokens.requests"):
        response = client.get(f"{API}/tokens/self", headers=headers_of(credentials))
    me = response.json["data"]
    [line] = request_lines(caplog)
    method, path, status, duration, member, token = line.split(" ")
    assert (method, path, status) == ("GET", f"{API}/tokens/self", "200")
    assert duration.endswith("ms") and float(duration[:-2]) >= 0
    assert member == f"member={app.config['SEED']['ada_id']}" and token == f"token={me['token']['id']}"
    assert credentials["X-Auth-Token"] not in line


def test_a_refused_request_is_logged_without_a_caller(app, client, caplog):
    with caplog.at_level(logging.INFO, logger="tokens.requests"):
        client.get(f"{API}/tokens?token=tok_{'A' * 36}", headers={"Authorization": "Bearer nope"})
    [line] = request_lines(caplog)
    assert line.startswith(f"GET {API}/tokens 401 ") and line.endswith("member=- token=-")


def test_the_browser_pages_log_the_member(app, member, caplog):
    with caplog.at_level(logging.INFO, logger="tokens.requests"):
        member.page()
    [line] = request_lines(caplog)
    assert line.startswith("GET /preferences 200 ") and line.endswith(f"member={app.config['SEED']['ada_id']} token=-")


def test_secrets_are_redacted_from_any_message():
    token = "tok_" + "a1B2" * 9
    text = redact(f"saw {token} at /join/abc.def-ghi?x=1 and /reset/xyz; Authorization: Bearer {token} "
                  "password=hunter2hunter2 X-CSRFToken: IjE2.abc cookie=session=eyJ0 sudo_password=sudo2sudo2")
    assert token not in text and "abc.def-ghi" not in text and "xyz" not in text and "sudo2" not in text
    assert "hunter2" not in text and "IjE2" not in text and "eyJ0" not in text
    assert "/join/[link]" in text and "[token]" in text


@pytest.mark.parametrize("text", ["paſſword=hunter2hunter2", "Authorızation: hunter2hunter2",
                                  "PASSWORD=hunter2hunter2", "passwordİ x-auth-token=hunter2hunter2"])
def test_letters_that_match_only_ignoring_case_are_redacted_too(text):
    assert "hunter2" not in redact(text)


def test_lines_without_any_secret_pass_unchanged():
    line = "GET /api/2018-10-01/tokens/self 200 0.4ms member=12 token=AbCdEf012345"
    assert redact(line) is line


def test_the_filter_guards_app_and_server_loggers(app, caplog):
    token = "tok_" + "Z9y8" * 9
    with caplog.at_level(logging.INFO):
        app.logger.warning("leaked %s", token)
        logging.getLogger("werkzeug").info('"GET /join/%s HTTP/1.1" 200', "signed.link-value")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["leaked [token]", '"GET /join/[link] HTTP/1.1" 200']


# A path that would forge a second line (CR LF), write a NUL, break a line in JSON-aware viewers
# (U+2028) and paint the terminal red; and how each of those is written in the log instead.
FORGED = "x%0d%0a2026-01-01 00:00:00,000 INFO tokens.requests: forged%00%e2%80%a8%1b[31m"
ESCAPED = r"x\r\n2026-01-01 00:00:00,000 INFO tokens.requests: forged\x00\u2028\x1b[31m"
# The same in a token id's 12 characters, so that it reaches the view of /tokens/<token_id>.
FORGED_ID = "%0d%0aforged%00%e2%80%a8%1b["
ESCAPED_ID = r"\r\nforged\x00\u2028\x1b["
EMAIL = "ada@example.com\r\n2026-01-01 00:00:00,000 INFO forged\x00\u2028\x1b[31m"


@pytest.mark.parametrize("prefix", [API, ""], ids=["api", "browser"])
def test_a_forged_path_is_one_line_with_its_controls_escaped(client, caplog, prefix):
    with caplog.at_level(logging.INFO, logger="tokens.requests"):
        client.get(f"{prefix}/{FORGED}")
    [line] = request_lines(caplog)
    assert line.isprintable()
    assert line.startswith(f"GET {prefix}/{ESCAPED} 404 ")


def test_an_exception_line_escapes_the_path_and_keeps_the_traceback_readable(app, client, caplog, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    def fail(membership, token_id, **kwargs):
        raise ValueError(f"no such token: {token_id}")
    monkeypatch.setattr(service, "revoke_token", fail)
    credentials = login(client)
    with caplog.at_level(logging.INFO):
        response = client.delete(f"{API}/tokens/{FORGED_ID}", headers=headers_of(credentials))
    assert response.status_code == 500
    [record] = [r for r in caplog.records if r.exc_info]
    assert record.getMessage() == f"Exception on {API}/tokens/{ESCAPED_ID} [DELETE]"
    lines = record.exc_text.split("\n")
    assert lines[0] == "Traceback (most recent call last):" and len(lines) > 3
    assert lines[-1] == f"ValueError: no such token: {ESCAPED_ID}"
    assert all(line.isprintable() for line in lines)


@pytest.mark.parametrize("path", ["/signin", f"{API}/login"], ids=["browser", "api"])
def test_a_sign_in_with_a_forged_email_logs_one_line_without_it(client, caplog, path):
    page = client.get("/signin")
    fields = {"email": EMAIL, "username": EMAIL, "password": "wrong password", "csrf_token": csrf_from(page.text)}
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = client.post(path, **({"json": fields} if path.startswith(API) else {"data": fields}))
    assert response.status_code in (401, 422)
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"POST {path} {response.status_code} ") and line.isprintable()


def test_every_logger_escapes_its_message_and_arguments(app, caplog):
    with caplog.at_level(logging.INFO):
        app.logger.warning("failed sign-in for %s", EMAIL)
        app.extensions["api"].logger.warning(f"refused {EMAIL}")
        logging.getLogger("gunicorn.access").info('"%(r)s" %(s)s', {"r": "GET /\x1b[2J\x1b[H HTTP/1.1", "s": 404})
        logging.getLogger("gunicorn.error").info("bad header: %r%s", "x", "\x85\u202ehidden")
    escaped_email = r"ada@example.com\r\n2026-01-01 00:00:00,000 INFO forged\x00\u2028\x1b[31m"
    assert [r.getMessage() for r in caplog.records] == [
        f"failed sign-in for {escaped_email}", f"refused {escaped_email}",
        r'"GET /\x1b[2J\x1b[H HTTP/1.1" 404', r"bad header: 'x'\x85\u202ehidden"]


def test_secrets_are_replaced_before_the_escaping_could_hide_them(app, caplog):
    token = "tok_" + "Q7w8" * 9
    with caplog.at_level(logging.INFO):
        app.logger.warning("%s", f"\U000e0041{token}")
        try:
            raise ValueError(f"\U000e0041{token}\n")
        except ValueError:
            app.logger.exception("failed")
    assert caplog.records[0].getMessage() == r"\U000e0041[token]"
    assert caplog.records[1].exc_text.endswith(r"ValueError: \U000e0041[token]\n")


def test_printable_text_of_any_script_is_left_alone(app, caplog):
    text = "Zoë 東京 مرحبا 👩🏽 \\n stays a backslash and an n"
    with caplog.at_level(logging.INFO):
        app.logger.warning("%s", text)
        app.logger.warning("%s", "👩\u200d💻")
    # The zero-width joiner is a format character: escaped like any other, even inside an emoji.
    assert [r.getMessage() for r in caplog.records] == [text, "👩\\u200d💻"]


def test_the_development_server_keeps_its_own_colours_and_banner(app, caplog):
    # werkzeug escapes the request's controls itself (\\x1b below), then colours the line.
    request_line = "\x1b[33mGET /x\\x1b HTTP/1.1\x1b[0m"
    banner = "\x1b[1m\x1b[31mWARNING: development\x1b[0m\n * Running on "
    with caplog.at_level(logging.INFO):
        logging.getLogger("werkzeug").info('"%s" %s %s', request_line, "404", "-")
        logging.getLogger("werkzeug").info(banner + "x\u2028")
    assert [r.getMessage() for r in caplog.records] == [f'"{request_line}" 404 -', banner + "x\\u2028"]


def test_under_gunicorn_a_raw_forged_request_writes_one_line(tmp_path):
    # No migrations needed: an unknown API path asks no database.
    with gunicorn(environment(f"sqlite:///{tmp_path / 'portal.sqlite3'}"), tmp_path, workers=1) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            connection.sendall(f"GET {API}/{FORGED.replace(' ', '%20')} HTTP/1.1\r\nHost: portal\r\n"
                               "Connection: close\r\n\r\n".encode())
            answer = connection.recv(100)
    assert answer.startswith(b"HTTP/1.1 404 ")
    [log] = tmp_path.glob("gunicorn-*.log")
    [line] = [line for line in log.read_text().splitlines() if API in line or "forged" in line]
    assert f" INFO tokens.requests: GET {API}/{ESCAPED} 404 " in line


def test_the_development_servers_request_lines_give_way_to_the_portals_own(app, client, caplog):
    with caplog.at_level(logging.INFO):
        client.get("/healthz")
        server = logging.getLogger("werkzeug")
        server.info('127.0.0.1 - - [02/Dec/2026 13:00:00] "%s" %s %s', "GET /healthz HTTP/1.1", "200", "-")
        server.info(" * Running on http://127.0.0.1:5001")
        server.error('127.0.0.1 - - [02/Dec/2026 13:00:00] code 400, message Bad request syntax')
    lines = [(r.name, r.getMessage()) for r in caplog.records]
    assert [name for name, message in lines if "/healthz" in message] == ["tokens.requests"]
    assert ("werkzeug", " * Running on http://127.0.0.1:5001") in lines
    assert any(name == "werkzeug" and "Bad request syntax" in message for name, message in lines)
