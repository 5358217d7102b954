"""Per-client budgets of the API, counted in the rate-limit storage (memory, or Redis for several instances).

Lighter than a limiter's decorator on a path every request takes: one storage read per request,
one write per event that counts. A setting may hold several limits ("30 per minute;300 per day").
Like Flask-Limiter (the browser's), storage errors let requests through when
RATELIMIT_SWALLOW_ERRORS is on (the default) and raise otherwise; sign-in asks ``can_count`` first
and refuses itself while attempts cannot be counted.
"""

import functools
import math
import time

from flask import current_app
from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from .service.names import normalize_email

PAUSED = "Sign-in is paused for a moment: attempts cannot be counted right now. Please try again shortly."


class Budget:
    """A budget per key (a client address, an account, a device): ``retry_after`` says whether it is spent,
    ``spend`` counts one event."""

    def __init__(self, setting: str, scope: str):
        self.setting, self.scope = setting, scope

    def retry_after(self, client: str | None) -> int | None:
        """Return in how many seconds the client may try again if its budget is spent, else None."""
        app = current_app._get_current_object()  # once: every API request asks, and each proxy lookup costs
        config = app.config
        if not config["RATELIMIT_ENABLED"]:
            return None
        limiter, identifiers = app.extensions["budgets"], self._identifiers(config, client)
        try:
            spent = [limit for limit in self._limits(config) if not limiter.test(limit, *identifiers)]
            if not spent:
                return None
            reset_at = max(limiter.get_window_stats(limit, *identifiers).reset_time for limit in spent)
        except Exception as error:  # noqa: BLE001 - any storage failure, handled as configured
            _storage_failed(error)
            return None
        return max(1, math.ceil(reset_at - time.time()))

    def spend(self, client: str | None) -> None:
        """Count one event of the client against every limit of the setting."""
        config = current_app.config
        if config["RATELIMIT_ENABLED"]:
            limiter, identifiers = _limiter(), self._identifiers(config, client)
            try:
                for limit in self._limits(config):
                    limiter.hit(limit, *identifiers)
            except Exception as error:  # noqa: BLE001 - any storage failure, handled as configured
                _storage_failed(error)

    def admit(self, client: str | None, refusal: str | None = None) -> None:
        """Count one event of the client, or raise TooManyRequests (saying ``refusal``) when its budget is spent."""
        if retry_after := self.retry_after(client):
            raise TooManyRequests(refusal, retry_after=retry_after)
        self.spend(client)

    def tell(self, client: str | None, response):
        """Tell the client where it stands, as Flask-Limiter's headers do: the limit nearest to being spent
        (X-RateLimit-Limit, -Remaining, -Reset) and when it renews (Retry-After); with RATELIMIT_HEADERS_ENABLED."""
        config = current_app.config
        if not (config["RATELIMIT_ENABLED"] and config["RATELIMIT_HEADERS_ENABLED"]):
            return response
        limiter, identifiers = _limiter(), self._identifiers(config, client)
        try:
            stats = [(limit, limiter.get_window_stats(limit, *identifiers)) for limit in self._limits(config)]
        except Exception as error:  # noqa: BLE001 - any storage failure, handled as configured
            _storage_failed(error)
            return response
        limit, (reset_time, remaining) = min(stats, key=lambda stat: stat[1].remaining)
        reset_at = int(reset_time + 1)
        response.headers.update({"X-RateLimit-Limit": str(limit.amount), "X-RateLimit-Remaining": str(remaining),
                                 "X-RateLimit-Reset": str(reset_at), "Retry-After": str(int(reset_at - time.time()))})
        return response

    @staticmethod
    def can_count() -> bool:
        """Tell whether events can be counted right now (the storage answers)."""
        return counting(_limiter())

    def _limits(self, config) -> tuple:
        return _parsed(config[self.setting])

    def _identifiers(self, config, client: str | None) -> tuple:
        return config.get("RATELIMIT_KEY_PREFIX", ""), self.scope, client


def counting(limiter) -> bool:
    """Tell whether a limiter (the budgets', or Flask-Limiter's) can count right now (always, when limits are off)."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        return True
    try:
        return bool(limiter.storage.check())
    except Exception:  # noqa: BLE001 - any storage failure means "not counting"
        return False


def init_app(app) -> None:
    """Give the app its budgets' storage, from RATELIMIT_STORAGE_URI (and RATELIMIT_STORAGE_OPTIONS)."""
    storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"],
                                  **app.config.get("RATELIMIT_STORAGE_OPTIONS", {}))
    app.extensions["budgets"] = FixedWindowRateLimiter(storage)


def _limiter() -> FixedWindowRateLimiter:
    return current_app.extensions["budgets"]


def _storage_failed(error: Exception) -> None:
    """Let the request through with a warning, or raise, as RATELIMIT_SWALLOW_ERRORS says."""
    if not current_app.config["RATELIMIT_SWALLOW_ERRORS"]:
        raise error
    current_app.logger.warning("rate limit storage unreachable: %s", type(error).__name__)


@functools.cache
def _parsed(text: str) -> tuple:
    return tuple(parse_many(text))


failed_authentications = Budget("FAILED_AUTH_RATE_LIMIT", "api-authentication")
login_attempts = Budget("SIGN_IN_RATE_LIMIT", "api-login")
leak_reports = Budget("LEAK_REPORT_RATE_LIMIT", "api-leak-reports")
# "Forgot your password?" per email address, known here or not alike (so the limit tells nothing about it).
password_reset_requests = Budget("PASSWORD_RESET_EMAIL_RATE_LIMIT", "password-reset-email")
# Failed sign-ins, web and API together: per account (its email, known or not: no oracle), or per device.
account_failures = Budget("ACCOUNT_SIGN_IN_RATE_LIMIT", "sign-in-account")
device_failures = Budget("DEVICE_SIGN_IN_RATE_LIMIT", "sign-in-device")
ACCOUNT_PAUSED = ("Too many failed sign-ins for this account. Try again later, or from a browser that has "
                  "signed in to it before.")


def sign_in_budget(email: str, device: str | None) -> tuple[Budget, str]:
    """Return the budget a sign-in attempt counts against, and its key: the device's, when a device cookie
    vouches for it, else the account's."""
    # No address is longer than 254 characters: a longer "username" (the API reads up to 64 KB) would
    # otherwise be stored whole as a key, once per guess.
    return (device_failures, device) if device else (account_failures, normalize_email(email)[:254])
