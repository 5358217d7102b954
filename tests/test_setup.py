"""First run: the setup form, guarded by the code only the server's console shows."""

import html
import re

import pytest
from sqlalchemy import select

from tokens import create_app, service
from tokens.extensions import db
from tokens.models import Membership

from .conftest import PASSWORD, csrf_from, dispose, make_app


@pytest.fixture
def fresh(tmp_path):
    """A portal with an empty database, as after the first `flask db upgrade`."""
    return make_app(tmp_path / "fresh.sqlite3")


def setup_code(app):
    with app.app_context():
        return service.setup_code()


def submit(client, valid_code, **overrides):
    page = client.get(f"/setup?code={valid_code}")
    data = {"code": valid_code, "account_name": "Acme", "display_name": "Ada", "email": "ada@example.com",
            "password": PASSWORD, "confirm": PASSWORD, "csrf_token": csrf_from(page.text)}
    data.update(overrides)
    return client.post("/setup", data=data)


WHERE_THE_CODE_IS = ("You need the setup code. The portal printed it when it started, in a link (First run: open "
                     "…/setup?code=…), on the console where it runs: the terminal of bin/run or flask run, or the "
                     "server's log. Ask whoever started it, or open that link.")


def text_of(page: str) -> str:
    """The page's words as a reader sees them: no tags, one space between words, none before punctuation."""
    words = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    return html.unescape(re.sub(r"\( ", "(", re.sub(r" ([,.):])", r"\1", words)))


def test_an_empty_portal_sends_everyone_to_setup(fresh):
    client = fresh.test_client()
    assert client.get("/").headers["Location"] == "/setup"
    assert client.get("/signin").headers["Location"] == "/setup"
    # Without the link, the page says where it is; with it, the code is filled in and nothing needs saying.
    assert WHERE_THE_CODE_IS in text_of(client.get("/setup").text)
    assert "You need the setup code" not in client.get(f"/setup?code={setup_code(fresh)}").text


def test_the_link_fills_in_the_code_and_setup_signs_the_owner_in(fresh):
    client = fresh.test_client()
    code = setup_code(fresh)
    assert f'value="{code}"' in client.get(f"/setup?code={code}").text
    response = submit(client, code)
    assert response.status_code == 302 and response.headers["Location"] == "/preferences"
    assert client.get_cookie("portal-device") is not None  # the owner's browser is known from now on
    page = client.get("/preferences").text
    assert "Acme" in page and ">API tokens</h2>" in page
    assert ('<p class="message success">Welcome, Ada: the portal is set up, and you own the account Acme. Next, '
            '<a href="/preferences#generate-form">generate an API token</a> for your programs, and invite your team '
            'on the <a href="/members">Members</a> page.') in page
    with fresh.app_context():
        membership = db.session.scalar(select(Membership))
        assert membership.role == "owner" and membership.member.email == "ada@example.com"
        assert len(membership.account.public_id) == 17


def test_the_welcome_says_the_names_as_text(fresh):
    client = fresh.test_client()
    submit(client, setup_code(fresh), account_name="<b>Acme</b> & Co", display_name="Ada <i>")
    assert "Welcome, Ada &lt;i&gt;: the portal is set up, and you own the account &lt;b&gt;Acme&lt;/b&gt; &amp; Co." \
        in client.get("/preferences").text


def test_the_first_run_setup_is_on_the_audit_trail_and_counts_as_a_sign_in(fresh):
    client = fresh.test_client()
    submit(client, setup_code(fresh))
    trail = " ".join(re.sub(r"<[^>]+>", " ", client.get("/audit").text).split())
    assert "Ada created the account Acme" in trail
    assert "Ada added Ada ada@example.com owner" in trail and "Ada signed in Ada ada@example.com" in trail
    members = " ".join(re.sub(r"<[^>]+>", " ", client.get("/members").text).split())
    assert "Never" not in members and " UTC " in members


@pytest.mark.parametrize("overrides, message", [
    ({"code": "not-the-code"}, "not the one the server printed"),
    ({"code": ""}, "Enter the setup code."),
    ({"password": "short", "confirm": "short"}, "at least 12 characters"),
    ({"confirm": "something else entirely"}, "The two passwords differ."),
    ({"email": "not an email"}, "not an email address"),
    ({"account_name": "x" * 101}, "too long"),
    ({"display_name": "Ada\x1b[31m"}, "control characters"),
])
def test_bad_setup_input_is_explained_and_creates_nothing(fresh, overrides, message):
    client = fresh.test_client()
    response = submit(client, setup_code(fresh), **overrides)
    assert response.status_code == 422
    assert message in response.text
    with fresh.app_context():
        assert service.setup_is_open()


def test_setup_closes_for_good_once_someone_exists(fresh):
    code = setup_code(fresh)
    submit(fresh.test_client(), code)
    stranger = fresh.test_client()
    assert stranger.get(f"/setup?code={code}").status_code == 404
    csrf = csrf_from(stranger.get("/signin").text)
    response = stranger.post("/setup", data={
        "code": code, "account_name": "Mine now", "display_name": "Mallory", "email": "m@example.com",
        "password": PASSWORD, "confirm": PASSWORD, "csrf_token": csrf})
    assert response.status_code == 404
    with fresh.app_context():
        assert [m.member.email for m in db.session.scalars(select(Membership))] == ["ada@example.com"]
    assert stranger.get("/").headers["Location"] == "/signin"


def test_every_worker_agrees_on_the_code_and_it_depends_on_the_secret_key(fresh, tmp_path):
    other_worker = make_app(tmp_path / "fresh.sqlite3")
    assert setup_code(fresh) == setup_code(other_worker)
    other_install = make_app(tmp_path / "other.sqlite3", SECRET_KEY="another-install-secret-key-0123456789")
    assert setup_code(fresh) != setup_code(other_install)


@pytest.mark.parametrize("public_url, printed_address", [
    (None, "http://127.0.0.1:5000"),  # where `bin/run` serves
    ("https://tokens.example.com/", "https://tokens.example.com"),
])
def test_the_server_prints_the_setup_link_at_start(tmp_path, instance, monkeypatch, capsys, public_url,
                                                    printed_address):
    make_app(tmp_path / "start.sqlite3")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'start.sqlite3'}")
    if public_url:
        monkeypatch.setenv("FLASK_PUBLIC_URL", public_url)
    else:
        monkeypatch.delenv("FLASK_PUBLIC_URL", raising=False)
    app = create_app()
    printed = capsys.readouterr().err
    assert f"open {printed_address}/setup?code={setup_code(app)}\n" in printed


def test_nothing_is_printed_once_set_up(app, instance, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", app.config["SQLALCHEMY_DATABASE_URI"])
    started = create_app()
    assert "setup?code=" not in capsys.readouterr().err
    dispose(started)
