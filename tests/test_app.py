"""Configuration, secrets and the schema: what an operator meets when starting the portal."""

import json
import os
import stat

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from tokens import create_app
from tokens.extensions import db

from .conftest import API, Actions, dispose, engines, headers_of, login, make_app

STRONG = "s" * 40
OTHER = "d" * 40
TOO_WEAK = "is a default or too short (32 characters at least)."


def bare(tmp_path, **config):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/db.sqlite3",
                       **config})


def test_keys_are_generated_once_per_install_and_kept_private(tmp_path, instance):
    first = bare(tmp_path)
    stored = json.loads((instance / "keys.json").read_text())
    assert stored == {"SECRET_KEY": first.config["SECRET_KEY"],
                      "TOKEN_DIGEST_KEY": first.config["TOKEN_DIGEST_KEY"]}
    assert first.config["SECRET_KEY"] != first.config["TOKEN_DIGEST_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 40
    assert stat.S_IMODE(os.stat(instance / "keys.json").st_mode) == 0o600
    again = bare(tmp_path)
    assert again.config["SECRET_KEY"] == first.config["SECRET_KEY"]


@pytest.mark.parametrize("config, problem", [
    ({}, "Production needs FLASK_SECRET_KEY, FLASK_TOKEN_DIGEST_KEY set."),
    ({"SECRET_KEY": STRONG}, "Production needs FLASK_TOKEN_DIGEST_KEY set."),
    ({"SECRET_KEY": "dev", "TOKEN_DIGEST_KEY": OTHER}, f"FLASK_SECRET_KEY {TOO_WEAK}"),
    ({"SECRET_KEY": STRONG, "TOKEN_DIGEST_KEY": "short"}, f"FLASK_TOKEN_DIGEST_KEY {TOO_WEAK}"),
    ({"SECRET_KEY": STRONG, "TOKEN_DIGEST_KEY": STRONG}, "TOKEN_DIGEST_KEY must differ from SECRET_KEY."),
])
def test_production_refuses_default_weak_or_shared_keys(tmp_path, instance, config, problem):
    with pytest.raises(RuntimeError) as refusal:
        bare(tmp_path, PRODUCTION=True, **config)
    assert str(refusal.value) == problem
    assert not (instance / "keys.json").exists()


def test_production_starts_with_strong_distinct_keys(tmp_path, instance):
    app = bare(tmp_path, PRODUCTION=True, SECRET_KEY=STRONG, TOKEN_DIGEST_KEY=OTHER)
    assert app.config["TOKEN_DIGEST_KEY"] == OTHER


def test_environment_variables_configure_the_portal(tmp_path, instance, monkeypatch):
    monkeypatch.setenv("FLASK_TOKEN_PREFIX", "acme")
    monkeypatch.setenv("FLASK_TOKENS_PER_MEMBER", "7")
    monkeypatch.setenv("FLASK_HTTPS", "true")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite3")
    app = create_app()
    assert app.config["TOKEN_PREFIX"] == "acme" and app.config["TOKENS_PER_MEMBER"] == 7
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/env.sqlite3"


@pytest.mark.parametrize("public_url", [
    "tokens.example.com", "ftp://tokens.example.com", "https://", "https://tokens.example.com/portal",
    "https://tokens.example.com?next=/", "https://tokens.example.com#top", "https://admin@tokens.example.com",
    "https://tokens.example.com:99999", "https://tokens example.com", "https://tokens.example.com\n", "https://[::1]",
])
def test_a_malformed_public_url_refuses_to_start_and_says_why(tmp_path, instance, monkeypatch, public_url):
    monkeypatch.setenv("FLASK_PUBLIC_URL", public_url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite3")
    with pytest.raises(RuntimeError) as refusal:
        create_app()
    assert str(refusal.value) == (
        "FLASK_PUBLIC_URL must be the portal's address as its users reach it: http:// or https://, a host name "
        f"and perhaps a port, nothing after it (such as https://tokens.example.com), not {public_url!r}.")


@pytest.mark.parametrize("name", ["SUDO_MODE_MINUTES", "SESSION_IDLE_MINUTES", "SESSION_MAX_HOURS"])
@pytest.mark.parametrize("value", ["2h", "0", "1.5", "-5"])
def test_a_duration_that_is_not_a_whole_number_refuses_to_start(tmp_path, instance, monkeypatch, name, value):
    monkeypatch.setenv(f"FLASK_{name}", value)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite3")
    with pytest.raises(RuntimeError) as refusal:
        create_app()
    assert str(refusal.value).startswith(f"FLASK_{name} must be a whole number of at least 1, not ")


def test_a_duration_in_whole_numbers_is_read_from_the_environment(tmp_path, instance, monkeypatch):
    monkeypatch.setenv("FLASK_SUDO_MODE_MINUTES", "30")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite3")
    assert create_app().config["SUDO_MODE_MINUTES"] == 30


def test_the_public_url_is_kept_as_an_origin_without_the_trailing_slash(tmp_path, instance, monkeypatch):
    monkeypatch.setenv("FLASK_PUBLIC_URL", "HTTPS://Tokens.Example.com:8443/")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite3")
    assert create_app().config["PUBLIC_URL"] == "https://tokens.example.com:8443"


@pytest.mark.parametrize("trusted_hosts", ['["portal.internal", ".corp.example"]', "portal.internal, .Corp.Example,"])
def test_trusted_hosts_are_read_as_a_json_list_or_names_and_commas(tmp_path, instance, monkeypatch, trusted_hosts):
    monkeypatch.setenv("FLASK_PUBLIC_URL", "https://tokens.example.com")
    monkeypatch.setenv("FLASK_TRUSTED_HOSTS", trusted_hosts)
    make_app(tmp_path / "env.sqlite3")  # migrated
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite3")
    client = create_app().test_client()
    for host in ("tokens.example.com", "portal.internal", "ci.corp.example"):
        assert client.get("/setup", base_url=f"http://{host}").status_code == 200, host
    assert client.get("/setup", base_url="http://corp.example.org").status_code == 400


@pytest.mark.parametrize("trusted_hosts", ["https://portal.internal", "portal.internal:8000", '["portal internal"]',
                                           "[1]", "portal.internal/"])
def test_a_malformed_trusted_host_refuses_to_start_and_says_why(tmp_path, instance, monkeypatch, trusted_hosts):
    monkeypatch.setenv("FLASK_TRUSTED_HOSTS", trusted_hosts)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/env.sqlite3")
    with pytest.raises(RuntimeError) as refusal:
        create_app()
    assert str(refusal.value).startswith(
        "FLASK_TRUSTED_HOSTS holds host names, without scheme or port (such as portal.internal, or .example.com "
        "for every host under it), not ")


def test_production_without_a_public_url_starts_with_a_warning(tmp_path, instance, monkeypatch, capsys):
    make_app(tmp_path / "production.sqlite3")  # migrated, as `flask db upgrade` leaves it
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'production.sqlite3'}")
    for name, value in {"PRODUCTION": "true", "SECRET_KEY": STRONG, "TOKEN_DIGEST_KEY": OTHER}.items():
        monkeypatch.setenv(f"FLASK_{name}", value)
    monkeypatch.delenv("FLASK_PUBLIC_URL", raising=False)
    create_app()
    assert ("Warning: FLASK_PUBLIC_URL is not set: invitation links take their address from the request's Host "
            "header, and the pages answer to any host name. Set it to the portal's address, such as "
            "https://tokens.example.com.") in capsys.readouterr().err
    monkeypatch.setenv("FLASK_PUBLIC_URL", "https://tokens.example.com")
    create_app()
    assert "Warning" not in capsys.readouterr().err


def answers_of(app):
    """A page, an error page, a static file, and an API answer and error, as the app sends them."""
    client = app.test_client()
    with client.get("/static/app.css") as static:
        answers = [client.get("/signin"), client.get("/nowhere"), static]
    return answers + [client.get(f"{API}/openapi.json"), client.get(f"{API}/tokens/self")]


def test_https_means_strict_transport_security_on_both_apps(tmp_path):
    # A year, for this host alone: includeSubDomains would bind hosts the portal does not run.
    for response in answers_of(make_app(tmp_path / "https.sqlite3", HTTPS=True)):
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000", response.request.path
    for response in answers_of(make_app(tmp_path / "http.sqlite3")):
        assert "Strict-Transport-Security" not in response.headers, response.request.path


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(tmp_path):
    app = make_app(tmp_path / "wal.sqlite3")
    for each in (app, app.extensions["api"]):  # the pages' engine and the API's
        with each.app_context():
            assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == 10_000


def test_the_operators_engine_options_reach_both_apps_engines(database):
    """The pages' engine adds its ping to the options (extensions.Database) without losing the operator's."""
    app = make_app(database, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 3})
    for engine in engines(app):
        assert engine.pool.size() == 3
    dispose(app)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_sqlite_database_is_refused_with_a_reason(tmp_path, instance, url):
    with pytest.raises(RuntimeError, match="An in-memory SQLite database cannot serve the portal"):
        bare(tmp_path, SQLALCHEMY_DATABASE_URI=url)


def test_migrations_go_down_to_nothing_and_up_again(app):
    with app.app_context():
        tables = {"account", "member", "membership", "api_token", "audit_event"}
        assert tables <= set(inspect(db.engine).get_table_names())
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert tables <= set(inspect(db.engine).get_table_names())


def test_the_origins_migration_tells_api_login_tokens_from_post_tokens(app, client):
    credentials = login(client)
    assert client.post(f"{API}/tokens", json={"name": "by POST"}, headers=headers_of(credentials)).status_code == 201
    with app.app_context():
        downgrade(revision="0003")  # as before: both stored as "api"
        assert set(db.session.execute(text("SELECT created_via FROM api_token")).scalars()) == {"api"}
        db.session.remove()
        upgrade()
    listed = client.get(f"{API}/tokens", headers=headers_of(credentials)).json["data"]
    assert sorted((t["name"], t["created_via"]) for t in listed) == [("API login token", "login"), ("by POST", "api")]


def test_the_models_and_the_migrations_agree(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_unknown_pages_and_methods_get_designed_answers(client):
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "There is nothing here." in missing.text
    assert "<html" in missing.text
    signed_in = Actions(client)
    signed_in.sign_in()
    wrong = client.put("/preferences", headers={"X-CSRFToken": signed_in.csrf})
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert "That action is not available here." in wrong.text
