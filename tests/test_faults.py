"""When the database fails: a designed 503 for each audience, never a 500 or a false 200, and recovery."""

import re
import sqlite3
from functools import partial

import pytest
from flask_migrate import downgrade
from sqlalchemy import make_url

from tokens.extensions import db

from . import postgres as pg
from .conftest import API, Actions, dispose, engines, headers_of, login, make_app, seed

TOKEN = re.compile(r"tok_[0-9A-Za-z]{36}")


def test_healthz_says_ok_on_a_current_schema(app, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "migrations": "current"}


def test_healthz_says_503_when_migrations_are_behind(app, client):
    with app.app_context():
        downgrade(revision="0001")
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json["migrations"] == "at 0001, expected 0008"


@pytest.fixture
def locked_sqlite(tmp_path):
    """A SQLite portal with a short busy timeout, and a way to hold its write lock from outside."""
    path = tmp_path / "locked.sqlite3"
    app = make_app(path, SQLITE_BUSY_TIMEOUT=0.5)
    seed(app)
    locker = sqlite3.connect(path, isolation_level=None)
    yield app, locker
    locker.close()


def test_sqlite_locked_by_another_connection_gives_503s_then_recovers(locked_sqlite):
    app, locker = locked_sqlite
    client = app.test_client()
    credentials = headers_of(login(client))
    member = Actions(app.test_client())
    member.sign_in()
    locker.execute("BEGIN EXCLUSIVE")
    api = client.get(f"{API}/tokens/self", headers=credentials)
    assert api.status_code == 503 and api.json["status"] == "error"
    generate = member.generate("while locked")
    assert generate.status_code == 503 and "The database is not answering" in generate.text
    assert not TOKEN.search(generate.text)  # no secret whose row was not committed
    plain = member.generate("while locked", htmx=False)
    assert plain.status_code == 503 and not TOKEN.search(plain.text) and "<html" in plain.text
    assert client.get("/healthz").status_code == 200  # in WAL mode, reads still answer under a writer's lock
    with app.app_context():
        from tokens.models import ApiToken
        kept = db.session.query(ApiToken.public_id).filter(ApiToken.created_via == "login").scalar()
    delete = member.delete(kept)
    assert delete.status_code == 503 and delete.headers["HX-Reswap"] == "none"  # the row stays on the page
    locker.execute("ROLLBACK")
    assert client.get(f"{API}/tokens/self", headers=credentials).status_code == 200
    assert member.generate("after the lock").status_code == 201
    with app.app_context():
        from tokens.models import ApiToken
        assert [t.name for t in db.session.query(ApiToken).filter(ApiToken.created_via == "web")] == ["after the lock"]


@pytest.fixture
def own_cluster():
    """A PostgreSQL cluster of this test's own, to stop and start."""
    with pg.throwaway_cluster("portal-postgres-fault-") as cluster:
        yield cluster


def test_postgresql_stopped_gives_503s_and_the_portal_recovers_without_restart(own_cluster):
    app = make_app(own_cluster.new_database())
    seed(app)
    client = app.test_client()
    credentials = headers_of(login(client))
    member = Actions(app.test_client())
    member.sign_in()
    own_cluster.stop()
    for _ in range(3):  # the pooled connection fails first, then every new connection
        api = client.get(f"{API}/tokens/self", headers=credentials)
        assert api.status_code == 503 and api.json["status"] == "error"
        assert api.json["message"].startswith("The database is not answering right now")
    page = member.page()
    assert page.status_code == 503 and "The database is not answering" in page.text
    generate = member.generate("while down", nonce="a-nonce-of-the-form-1")
    assert generate.status_code == 503 and not TOKEN.search(generate.text)
    assert client.get("/healthz").json == {"status": "unavailable", "database": "unreachable"}
    own_cluster.resume()
    assert client.get(f"{API}/tokens/self", headers=credentials).status_code == 200
    assert member.generate("after the restart").status_code == 201
    assert client.get("/healthz").status_code == 200
    dispose(app)


def test_the_api_rides_over_a_postgresql_restart_without_a_503(own_cluster):
    """The pooled connection died with the old server: the lookup tries once more, on a new connection."""
    app = make_app(own_cluster.new_database())
    seed(app)
    client = app.test_client()
    credentials = headers_of(login(client))
    assert client.get(f"{API}/tokens/self", headers=credentials).status_code == 200  # a connection in the pool
    own_cluster.stop()
    own_cluster.resume()  # no request in between: the pool still holds the dead connection
    for path in ("/tokens/self", "/verify"):
        assert client.get(API + path, headers=credentials).status_code == 200
    dispose(app)


def test_the_pages_ride_over_a_postgresql_restart_without_a_503(own_cluster):
    """The pages' pool tests a connection before lending it: the dead one is replaced before the page uses it."""
    app = make_app(own_cluster.new_database())
    seed(app)
    member = Actions(app.test_client())
    member.sign_in()
    assert member.page().status_code == 200  # a connection in the pool
    own_cluster.stop()
    own_cluster.resume()  # no request in between: the pool still holds the dead connection
    assert member.page().status_code == 200
    assert member.generate("after the restart").status_code == 201
    dispose(app)


def _counted(pings, name, ping, dbapi_connection):
    pings.append(name)
    return ping(dbapi_connection)


def test_the_pages_ping_a_pooled_connection_first_and_the_api_does_not(app, client, member, monkeypatch):
    """The ping (a round trip) is what lets the pages ride over a restart; the API's lookup retries instead, and
    its requests pay no ping. A SQLite file is no server that could drop a connection: no ping there."""
    credentials = headers_of(login(client))
    assert client.get(f"{API}/tokens/self", headers=credentials).status_code == 200  # both pools hold a connection
    pings = []
    for name, engine in zip(("pages", "api"), engines(app), strict=True):
        monkeypatch.setattr(engine.dialect, "do_ping", partial(_counted, pings, name, engine.dialect.do_ping))
    for path in ("/tokens/self", "/verify"):
        assert client.get(API + path, headers=credentials).status_code == 200
    assert pings == []
    assert member.page().status_code == 200
    on_a_server = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() != "sqlite"
    assert pings and set(pings) == {"pages"} if on_a_server else pings == []


@pytest.mark.parametrize("proxies, seen", [(0, "127.0.0.1"), (1, "203.0.113.7")])
def test_forwarded_addresses_are_believed_only_from_configured_proxies(tmp_path, proxies, seen):
    app = make_app(tmp_path / "proxy.sqlite3", PROXIES=proxies)
    seed(app)
    client = app.test_client()
    credentials = headers_of(login(client))
    me = client.get(f"{API}/tokens/self", headers={**credentials, "X-Forwarded-For": "198.51.100.1, 203.0.113.7"})
    assert me.json["data"]["token"]["last_used_ip"] == seen
