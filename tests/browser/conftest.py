"""A real server and Debian's Chromium, driven by Playwright."""

import itertools
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

from tokens import service
from tokens.extensions import db

from ..conftest import PASSWORD, dispose, make_app
from ..servers import in_thread

CHROMIUM = "/usr/bin/chromium"
INSECURE_HOST = "portal.test"
_member_numbers = itertools.count(1)


def pytest_collection_modifyitems(items):
    for item in items:
        if "/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    return make_app(folder / "portal.sqlite3", QUEUE_URL=f"sqlite:///{folder / 'queue.sqlite3'}")


@contextmanager
def serving(app):
    """Serve ``app`` on a free loopback port; yield its base URL; stop it."""
    with in_thread(make_server("127.0.0.1", 0, app, threaded=True)) as base:
        yield base


@pytest.fixture(scope="session")
def base_url(live_app):
    """Serve the portal for the whole session."""
    with serving(live_app) as base:
        yield base


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A portal nobody has set up yet, for the setup page; yield its base URL."""
    app = make_app(tmp_path_factory.mktemp("fresh") / "fresh.sqlite3")
    with serving(app) as base:
        yield base
    dispose(app)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--disable-quic", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync",
                 # http://portal.test:PORT is the portal on loopback, seen as a non-secure origin.
                 f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "permissions": ["clipboard-read", "clipboard-write"]}


@pytest.fixture
def account(live_app):
    """A fresh account and owner for each test, so tests never see each other's tokens."""
    number = next(_member_numbers)
    with live_app.app_context():
        account = service.create_account(f"Team {number}")
        membership = service.add_member(account, f"owner{number}@example.com", f"Owner {number}",
                                        PASSWORD, "owner")
        db.session.commit()
        return {"id": account.public_id, "email": membership.member.email, "member_id": membership.member_id}


@pytest.fixture
def problems(page):
    """Console errors and CSP violations of the page; a test asserts that none happened."""
    seen = []
    page.on("console", lambda message: seen.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: seen.append(str(error)))
    return seen


def close_dialog(page):
    """Say the secret is stored, then press OK: the dialog and its secret leave the page."""
    page.get_by_label("I have stored the token and the account id somewhere safe").check()
    page.locator("[data-dialog-ok]").click()
    page.locator("dialog").wait_for(state="detached")


def sign_in(page, account):
    page.goto("/signin")
    page.get_by_label("Email").fill(account["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/preferences")
