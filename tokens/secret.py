"""The token format: generate, checksum, parse and digest API tokens.

A token reads ``<prefix>_<30 random base62 characters><6-character base62 CRC32>``, the scheme
GitHub and npm use. The random part carries about 178 bits from ``secrets``; the checksum covers
everything before it, so a mistyped or truncated token is refused without a database query and
secret scanners can recognise a leaked one. Only an HMAC-SHA256 digest of a token is ever stored.
"""

import binascii
import hmac
import re
import secrets
from typing import NamedTuple

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 30
CHECKSUM_LENGTH = 6
PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9]{1,11}")
MAX_TOKEN_LENGTH = 12 + 1 + RANDOM_LENGTH + CHECKSUM_LENGTH
_TOKEN_PATTERN = re.compile(
    rf"([a-z][a-z0-9]{{1,11}})_([0-9A-Za-z]{{{RANDOM_LENGTH}}})([0-9A-Za-z]{{{CHECKSUM_LENGTH}}})"
)


class ParsedToken(NamedTuple):
    prefix: str
    token: str


def base62(number: int, width: int) -> str:
    """Encode a non-negative integer in base62, left-padded with zeros to ``width``."""
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
    return "".join(reversed(digits)).rjust(width, ALPHABET[0])


def checksum(body: str) -> str:
    """Return the 6-character base62 CRC32 of ``body`` (prefix, underscore and random part)."""
    return base62(binascii.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def generate(prefix: str) -> str:
    """Return a new token with ``prefix``: CSPRNG randomness and a trailing checksum."""
    if not PREFIX_PATTERN.fullmatch(prefix):
        raise ValueError("a token prefix is 2 to 12 lowercase letters or digits, starting with a letter")
    body = f"{prefix}_" + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + checksum(body)


def parse(candidate: str) -> ParsedToken | None:
    """Return the parsed token if ``candidate`` is well formed with a valid checksum, else None.

    Pure string work: a token that fails here never reaches the database.
    """
    if not isinstance(candidate, str) or len(candidate) > MAX_TOKEN_LENGTH:
        return None
    match = _TOKEN_PATTERN.fullmatch(candidate)
    if match is None:
        return None
    body = candidate[: -CHECKSUM_LENGTH]
    if not hmac.compare_digest(checksum(body), match.group(3)):
        return None
    return ParsedToken(prefix=match.group(1), token=candidate)


def digest(token: str, key: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``token`` under ``key``: the only form that is stored."""
    return hmac.digest(key, token.encode("ascii"), "sha256").hex()  # OpenSSL's one-shot HMAC: no HMAC object


def hint(token: str) -> str:
    """Return what the list shows of a token: its prefix and last four characters."""
    prefix = token.split("_", 1)[0]
    return f"{prefix}_…{token[-4:]}"
