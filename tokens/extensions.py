"""The extension objects, created unbound and bound to the app in ``create_app``."""

import functools
import math
import time

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from limits import parse_many
from sqlalchemy import MetaData, TypeDecorator

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


db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate(render_as_batch=True, compare_type=True, render_item=render_type)
login_manager = LoginManager()
csrf = CSRFProtect()
# Per client address; in-memory by default, any storage URL (e.g. redis://) through RATELIMIT_STORAGE_URI.
limiter = Limiter(key_func=get_remote_address)


def sign_in_limit() -> str:
    return current_app.config["SIGN_IN_RATE_LIMIT"]


def sign_in_is_counted() -> bool:
    """Tell whether the rate limiter can count sign-in attempts right now.

    When its storage (Redis) is unreachable, limits are skipped rather than failing every request
    (RATELIMIT_SWALLOW_ERRORS): the API keeps working, since 178-bit tokens cannot be guessed anyway.
    Sign-in, where passwords can be, asks here first and is refused until counting works again.
    """
    if not current_app.config["RATELIMIT_ENABLED"]:
        return True
    try:
        return bool(limiter.storage.check())
    except Exception:  # noqa: BLE001 - any storage failure means "not counting"
        return False


class FailureBudget:
    """A per-client budget of failures, counted in the limiter's storage: only failures spend it.

    Lighter than a Flask-Limiter decorator on a path every API request takes: one storage read
    per request, one write per failure. The setting may hold several limits ("30 per minute;
    200 per hour"); like the limiter, storage errors let requests through when
    RATELIMIT_SWALLOW_ERRORS is on (the default), and raise otherwise.
    """

    def __init__(self, setting: str, scope: str):
        self.setting, self.scope = setting, scope

    def _limits(self):
        return _parsed_limits(current_app.config[self.setting])

    def _identifiers(self) -> tuple[str, ...]:
        return current_app.config.get("RATELIMIT_KEY_PREFIX", ""), self.scope, get_remote_address()

    def retry_after(self) -> int | None:
        """Return in how many seconds the client may try again if its budget is spent, else None."""
        if not current_app.config["RATELIMIT_ENABLED"]:
            return None
        identifiers = self._identifiers()
        try:
            spent = [limit for limit in self._limits() if not limiter.limiter.test(limit, *identifiers)]
            if not spent:
                return None
            reset_at = max(limiter.limiter.get_window_stats(limit, *identifiers).reset_time for limit in spent)
        except Exception as error:
            _storage_failed(error)
            return None
        return max(1, math.ceil(reset_at - time.time()))

    def spend(self) -> None:
        """Count one failure of the client."""
        if current_app.config["RATELIMIT_ENABLED"]:
            identifiers = self._identifiers()
            try:
                for limit in self._limits():
                    limiter.limiter.hit(limit, *identifiers)
            except Exception as error:
                _storage_failed(error)


def _storage_failed(error: Exception) -> None:
    """Let the request through with a warning, or raise, as RATELIMIT_SWALLOW_ERRORS says."""
    if not current_app.config["RATELIMIT_SWALLOW_ERRORS"]:
        raise error
    current_app.logger.warning("rate limit storage unreachable: %s", type(error).__name__)


@functools.cache
def _parsed_limits(text: str) -> tuple:
    return tuple(parse_many(text))


failed_auth_budget = FailureBudget("FAILED_AUTH_RATE_LIMIT", "api-authentication")
