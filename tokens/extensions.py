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
from limits import parse as parse_limit
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
    per request, one write per failure. Like the limiter (RATELIMIT_SWALLOW_ERRORS), it lets
    requests through while its storage is unreachable.
    """

    def __init__(self, setting: str, scope: str):
        self.setting, self.scope = setting, scope

    def _limit(self):
        return _parsed_limit(current_app.config[self.setting])

    def retry_after(self) -> int | None:
        """Return in how many seconds the client may try again if its budget is spent, else None."""
        if not current_app.config["RATELIMIT_ENABLED"]:
            return None
        limit, client = self._limit(), get_remote_address()
        try:
            if limiter.limiter.test(limit, self.scope, client):
                return None
            reset_at = limiter.limiter.get_window_stats(limit, self.scope, client).reset_time
        except Exception as error:  # noqa: BLE001 - any storage failure means "not counting"
            current_app.logger.warning("rate limit storage unreachable: %s", type(error).__name__)
            return None
        return max(1, math.ceil(reset_at - time.time()))

    def spend(self) -> None:
        """Count one failure of the client."""
        if current_app.config["RATELIMIT_ENABLED"]:
            try:
                limiter.limiter.hit(self._limit(), self.scope, get_remote_address())
            except Exception as error:  # noqa: BLE001
                current_app.logger.warning("rate limit storage unreachable: %s", type(error).__name__)


@functools.cache
def _parsed_limit(text: str):
    return parse_limit(text)


failed_auth_budget = FailureBudget("FAILED_AUTH_RATE_LIMIT", "api-authentication")
