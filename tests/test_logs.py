"""Logs: one line per request with who and which token, and never a secret."""

import logging

import pytest

from tokens.logs import redact

from .conftest import API, headers_of, login


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
                  "password=hunter2hunter2 X-CSRFToken: IjE2.abc cookie=session=eyJ0")
    assert token not in text and "abc.def-ghi" not in text and "xyz" not in text
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
