"""The extension objects, created unbound and bound to the app in ``create_app``."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mailman import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, TypeDecorator, make_url

# Named constraints, so that migrations can alter them on every database (SQLite included).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def render_type(type_, obj, autogen_context):
    """Write the app's column types as the plain types they store: migrations import no app code."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{type(obj.impl_instance).__name__}()"
    return False


class Database(SQLAlchemy):
    """Flask-SQLAlchemy whose engines test a pooled connection before lending it (``pool_pre_ping``).

    When PostgreSQL restarts, every connection in a pool dies with it; without the ping, each one would give
    its next request a 503. The ping costs a round trip per checkout: an app whose class says
    ``pings_pooled_connections = False`` goes without (the API, whose one hot-path lookup retries a dropped
    connection itself). SQLite's connections are files, which no server drops: no ping there. The operator's
    ``SQLALCHEMY_ENGINE_OPTIONS`` apply to every engine on top of this, ``pool_pre_ping`` included.
    """

    def _make_engine(self, bind_key, options, app):
        # Flask-SQLAlchemy's one place where an engine is created knowing its app (marked internal: the
        # version is pinned, and tests/test_faults.py checks that each app's engine pings as it should).
        if getattr(app, "pings_pooled_connections", True) and make_url(options["url"]).get_backend_name() != "sqlite":
            options = {"pool_pre_ping": True, **options}
        return super()._make_engine(bind_key, options, app)


db = Database(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate(render_as_batch=True, compare_type=True, render_item=render_type)
# The browser's extensions; the API app has none of them.
login_manager = LoginManager()
csrf = CSRFProtect()
# Per client address; in-memory by default, any storage URL (e.g. redis://) through RATELIMIT_STORAGE_URI.
limiter = Limiter(key_func=get_remote_address)
# Email over SMTP (Flask-Mailman), sent by the worker only; off while MAIL_SERVER is unset.
mail = Mail()
