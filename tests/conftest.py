"""Fixtures like flaskr's: an app on real SQLite and PostgreSQL, a client, a runner, and action helpers.

Every test that uses the ``app`` fixture runs twice: on a fresh SQLite file and on a fresh
PostgreSQL database (in a throwaway cluster started once for the session).
"""

import json
import re
import shutil
from contextlib import contextmanager
from functools import partial

import freezegun
import pytest
from flask_migrate import upgrade
from jinja2 import BytecodeCache
from sqlalchemy import event, make_url

from tokens import create_app, service
from tokens.extensions import db

from . import postgres as pg
from .openapi_check import CheckingClient

PASSWORD = "correct horse battery staple"

# A test that moves the clock moves it for every thread: psycopg, timing a connection made in the background
# (pg.Copies drops the last test's database meanwhile), would see days pass and give up at once. Its own timing
# keeps the real clock; the portal's times, which the tests move, do not come from psycopg.
freezegun.configure(extend_ignore_list=["psycopg"])


class CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates, shared by every app the session makes: each app has an environment of its
    own, whose compiling of the pages a test shows costs more than the test (0.05 to 0.1 s). All are set up
    alike (tokens.browser), and a template's source is checked against the checksum of what was compiled."""

    def __init__(self):
        self.compiled = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = CompiledTemplates()


def make_app(database, *, migrate=True, **overrides):
    """Create a test app on a database (a SQLite file's path, or a URL), its schema made (or found at their
    head) by the real migrations; ``migrate=False`` for a copy of a session's template, which they made
    (running them again only finds the head, at 0.03 to 0.05 s a test)."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-session-key-0123456789abcdefghij",
        "TOKEN_DIGEST_KEY": "test-digest-key-0123456789abcdefghij",
        "SQLALCHEMY_DATABASE_URI": database if "://" in str(database) else f"sqlite:///{database}",
        # Cheap hashing keeps the suite fast; production uses argon2-cffi's defaults.
        "ARGON2_PARAMETERS": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
        # The suite signs in far more often than a person; tests of the limits turn them on.
        "RATELIMIT_ENABLED": False,
    }
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = CheckingClient
    app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    if migrate:
        with app.app_context():
            upgrade()
    return app


def seed(app):
    """Two accounts: Acme with Ada (owner) and Bob (member), Globex with Eve (owner)."""
    with app.app_context():
        acme = service.create_account("Acme")
        ada = service.add_member(acme, "ada@example.com", "Ada", PASSWORD, "owner")
        service.add_member(acme, "bob@example.com", "Bob", PASSWORD, "member")
        globex = service.create_account("Globex")
        service.add_member(globex, "eve@example.com", "Eve", PASSWORD, "owner")
        db.session.commit()
        return {"acme": acme.public_id, "globex": globex.public_id, "ada_id": ada.member_id}


@pytest.fixture(scope="session")
def postgres():
    """The session's PostgreSQL cluster (the server binaries come with the image or `bin/test`)."""
    with pg.throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory):
    """A SQLite file the real migrations brought to their head, once for the session (each time costs 0.15 s)."""
    path = tmp_path_factory.mktemp("migrated") / "migrated.sqlite3"
    dispose(make_app(path))  # its last connection closed: the file holds everything (no -wal beside it)
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres):
    """A PostgreSQL database the real migrations brought to their head, once: the template of each test's."""
    url = postgres.new_database()
    dispose(make_app(url))  # no connection left: a template must have none while it is copied
    return make_url(url).database


@pytest.fixture(scope="session")
def seeded_sqlite(migrated_sqlite, tmp_path_factory):
    """A copy of the migrated SQLite file with ``seed``'s accounts in it, and what ``seed`` returned: seeding
    once costs what seeding each test's database did (0.05 s and more)."""
    path = tmp_path_factory.mktemp("seeded") / "seeded.sqlite3"
    shutil.copyfile(migrated_sqlite, path)
    app = make_app(path, migrate=False)
    seeded = seed(app)
    dispose(app)
    return path, seeded


@pytest.fixture(scope="session")
def seeded_postgres(postgres, migrated_postgres):
    """As ``seeded_sqlite``: a PostgreSQL template with ``seed``'s accounts in it, and their ids; copies of it
    are made ahead of the tests that take them (see ``pg.Copies``)."""
    url = postgres.new_database(template=migrated_postgres)
    app = make_app(url, migrate=False)
    seeded = seed(app)
    dispose(app)
    with pg.Copies(postgres, make_url(url).database) as copies:
        yield copies, seeded


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request) -> str:
    """The kind of database a test runs on: each test that takes ``app`` (or ``database``) runs on both."""
    return request.param


@pytest.fixture
def database(kind, request, tmp_path):
    """A fresh database of each kind, at the migrations' head: a copy of the session's migrated SQLite file, or
    a database in the session's cluster made from the migrated template (dropped after)."""
    if kind == "sqlite":
        path = tmp_path / "portal.sqlite3"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        yield path
    else:
        with request.getfixturevalue("postgres").database(template=request.getfixturevalue("migrated_postgres")) as url:
            yield url


@pytest.fixture
def seeded(kind, request, tmp_path):
    """As ``database``, with ``seed``'s accounts already in it: yield the database and what ``seed`` returned."""
    if kind == "sqlite":
        template, seeded = request.getfixturevalue("seeded_sqlite")
        path = tmp_path / "portal.sqlite3"
        shutil.copyfile(template, path)
        yield path, seeded
    else:
        copies, seeded = request.getfixturevalue("seeded_postgres")
        with copies.database() as url:
            yield url, seeded


def engines(app) -> list:
    """The engines of the portal's two apps (the pages and the API), each with its own pool."""
    engines = []
    for each in (app, app.extensions["api"]):
        with each.app_context():
            engines.append(db.engine)
    return engines


def dispose(app) -> None:
    """Give both apps' connections back, so that the cluster's connection limit is never reached."""
    for engine in engines(app):
        engine.dispose()


def app_on(seeded, **overrides):
    """An app on a test's seeded database (``seeded``, the fixture's value), with what ``seed`` returned as its
    SEED setting; ``overrides`` are settings."""
    database, app_seed = seeded
    app = make_app(database, migrate=False, **overrides)
    app.config["SEED"] = app_seed
    return app


@pytest.fixture
def app(seeded):
    app = app_on(seeded)
    yield app
    dispose(app)


PUBLIC_URL = "https://tokens.example.com"


@pytest.fixture
def published(seeded):
    """As ``app``, with FLASK_PUBLIC_URL set (given with a trailing slash, as an operator may write it) and an
    internal name in FLASK_TRUSTED_HOSTS."""
    app = app_on(seeded, PUBLIC_URL=f"{PUBLIC_URL}/", TRUSTED_HOSTS=["portal.internal"])
    yield app
    dispose(app)


def client_at(app, origin: str):
    """A test client whose every request goes to ``origin`` (``http://host``): its Host header, its cookies."""
    client = app.test_client()
    client.open = partial(client.open, base_url=origin)
    return client


# Transaction control and the drivers' housekeeping, not queries of the portal's.
NOT_QUERIES = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA|DEALLOCATE|DISCARD)\b", re.IGNORECASE)


@pytest.fixture
def statements(app, request):
    """Record the queries the database itself receives inside ``with statements() as seen:``.

    Seen by the database (SQLite's trace callback, PostgreSQL's statement log), so queries sent past
    SQLAlchemy's engine events count too; transaction control (BEGIN, COMMIT...) is left out.
    """
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        return partial(_sqlite_statements, app)
    return partial(_postgres_statements, request.getfixturevalue("postgres"), url.database)


@contextmanager
def _sqlite_statements(app):
    seen = []

    def trace(dbapi_connection, _record):
        dbapi_connection.set_trace_callback(seen.append)
    for engine in engines(app):
        engine.dispose()  # every connection from now on is a new one, traced from its start
        event.listen(engine, "connect", trace)
    try:
        yield seen
    finally:
        for engine in engines(app):
            event.remove(engine, "connect", trace)
            engine.dispose()
        seen[:] = [statement for statement in seen if not NOT_QUERIES.match(statement)]


@contextmanager
def _postgres_statements(cluster, database):
    seen = []
    since = cluster.log.stat().st_size
    yield seen
    seen[:] = [statement for statement in cluster.statements_logged(database, since)
               if not NOT_QUERIES.match(statement)]


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """Point Flask's instance folder (generated keys, default database) at a temporary one."""
    folder = tmp_path / "instance"
    monkeypatch.setattr("flask.Flask.auto_find_instance_path", lambda self: str(folder))
    return folder


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


CSRF_PATTERN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_PATTERN.search(html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


class Actions:
    """What a member does in the browser, in a few words per test."""

    def __init__(self, client):
        self.client = client
        self.csrf = None

    def sign_in(self, email="ada@example.com", password=PASSWORD):
        page = self.client.get("/signin")
        response = self.client.post("/signin", data={
            "email": email, "password": password, "csrf_token": csrf_from(page.text)})
        if response.status_code == 302:
            self.csrf = csrf_from(self.client.get("/preferences").text)
        return response

    def page(self):
        return self.client.get("/preferences")

    def nonce(self):
        return re.search(r'id="nonce" name="nonce" type="hidden" value="([^"]+)"', self.page().text).group(1)

    def generate(self, name="", *, htmx=True, nonce=None, csrf=True, **fields):
        data = {"name": name, "nonce": nonce or self.nonce(), **fields}
        headers = {"HX-Request": "true"} if htmx else {}
        if csrf and htmx:
            headers["X-CSRFToken"] = self.csrf
        elif csrf:
            data["csrf_token"] = self.csrf
        return self.client.post("/preferences/tokens", data=data, headers=headers)

    def delete(self, token_id, *, htmx=True, csrf=True):
        if htmx:
            headers = {"HX-Request": "true"}
            if csrf:
                headers["X-CSRFToken"] = self.csrf
            return self.client.delete(f"/preferences/tokens/{token_id}", headers=headers)
        data = {"csrf_token": self.csrf} if csrf else {}
        return self.client.post(f"/preferences/tokens/{token_id}/delete", data=data)


@pytest.fixture
def member(client):
    """Ada, signed in."""
    actions = Actions(client)
    assert actions.sign_in().status_code == 302
    return actions


SECRET_IN_LOG = re.compile(r"\b[a-z][a-z0-9]{1,11}_[0-9A-Za-z]{36}\b|/(?:join|reset)/(?!\[link\])[^\s\"']+")


@pytest.fixture(autouse=True)
def no_secret_in_any_log_line(caplog):
    """Every log line of every test is searched: no token, no signed link, no password, ever."""
    yield
    for record in [record for phase in ("setup", "call", "teardown") for record in caplog.get_records(phase)]:
        text = record.getMessage() + (record.exc_text or "")
        assert not SECRET_IN_LOG.search(text) and PASSWORD not in text, f"a secret in the log: {text[:300]}"


# Characters a name may not hold that an older list let through, a few per Unicode category,
# each placed inside a name (at either end, spaces among them would just be trimmed).
HIDDEN = {
    "line separator (Zl)": "\u2028", "paragraph separator (Zp)": "\u2029",
    "no-break space (Zs)": "\xa0", "ogham space (Zs)": "\u1680", "en quad (Zs)": "\u2000",
    "narrow no-break space (Zs)": "\u202f", "ideographic space (Zs)": "\u3000",
    "tag letter A (Cf)": "\U000e0041", "cancel tag (Cf)": "\U000e007f", "musical begin beam (Cf)": "\U0001d173",
    "Arabic number sign (Cf)": "\u0600", "Egyptian hieroglyph joiner (Cf)": "\U00013430",
    "supplementary private use A (Co)": "\U000f0000", "supplementary private use B (Co)": "\U00100000",
    "unassigned (Cn)": "\u0378", "noncharacter (Cn)": "\ufffe", "unassigned astral (Cn)": "\U000e0080",
    "Hangul filler (Lo)": "\u3164", "Hangul choseong filler (Lo)": "\u115f",
    "Hangul jungseong filler (Lo)": "\u1160", "halfwidth Hangul filler (Lo)": "\uffa0",
}
# The zero-width joiner is kept between emoji only.
STRAY_JOINERS = {"lone joiner": "\u200d", "leading joiner": "\u200d👩", "trailing joiner": "👩\u200d",
                 "joiner between letters": "a\u200db", "joiner before a space": "👩\u200d 💻",
                 "joiner between joiners": "👩\u200d\u200d💻"}
HIDDEN_NAMES = {**{what: f"ab{character}cd" for what, character in HIDDEN.items()}, **STRAY_JOINERS}

API = "/api/2018-10-01"


def login(client, username="ada@example.com", password=PASSWORD, **extra):
    """Sign in through the API; return the two headers' values it answers (``X-Account-Id``, ``X-Auth-Token``)."""
    response = client.post(f"{API}/login", json={"username": username, "password": password, **extra})
    assert response.status_code == 200, response.json
    return response.json["data"]


def headers_of(credentials):
    """The headers that authenticate an API request with ``credentials`` from ``login``."""
    return {"X-Account-Id": credentials["X-Account-Id"], "X-Auth-Token": credentials["X-Auth-Token"]}


def triggered_notice(response) -> str:
    """Return the message an empty htmx answer has the page show (its HX-Trigger event)."""
    assert response.data == b"", "the answer swaps its target for nothing"
    return json.loads(response.headers["HX-Trigger"])["portal:notice"]["message"]


def flip(token, position=-8):
    """The token with one character changed (never to itself), so its checksum no longer matches."""
    characters = list(token)
    characters[position] = "A" if characters[position] != "A" else "B"
    return "".join(characters)
