"""Signed links (invitations, password resets): itsdangerous, salted per purpose, expiring."""

from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .errors import InvalidLink


def _signer(purpose: str) -> URLSafeTimedSerializer:
    """A serializer salted per purpose: a link signed for one purpose is worthless for another."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"portal {purpose}")


def sign(purpose: str, value) -> str:
    """Return the link token carrying ``value`` for ``purpose``."""
    return _signer(purpose).dumps(value)


def read(purpose: str, link_token: str, max_age: timedelta):
    """Return the value a link token carries, or raise InvalidLink saying why it cannot be used."""
    try:
        return _signer(purpose).loads(link_token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        raise InvalidLink("This link has expired. Ask for a new one.") from None
    except BadSignature:
        raise InvalidLink("This link is not valid: it may have been mistyped or cut short.") from None
