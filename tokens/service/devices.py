"""Browsers a member signed in from (OWASP's device cookies): their failed sign-ins count apart from the account's."""

import secrets
from datetime import timedelta

from . import links
from .errors import InvalidLink
from .names import normalize_email


def device_note(email: str, device: str | None = None) -> str:
    """Return the signed note a browser keeps after signing in as ``email`` (a new device id unless given)."""
    return links.sign("device", [normalize_email(email), device or secrets.token_urlsafe(16)])


def vouched_device(note: str, email: str, max_age: timedelta) -> str | None:
    """Return the device id a note vouches for when it was given for ``email`` and is unexpired, else None."""
    try:
        vouched_email, device = links.read("device", note, max_age)
    except (InvalidLink, ValueError, TypeError):
        return None
    return device if vouched_email == normalize_email(email) else None
