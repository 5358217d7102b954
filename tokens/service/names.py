"""Names people give things (accounts, members, tokens): trimmed, bounded, and free of invisible characters."""

import re

from .errors import InvalidInput

NAME_MAX = 100
# Characters a name may not hold, as the body of a regular-expression class that Python and the
# OpenAPI document (ECMA-262) read alike: controls, invisible format characters (zero-width,
# bidirectional overrides) and private use. Invisible in a list, they would let two names look
# alike. Emoji sequences keep their zero-width joiner (U+200D).
INVISIBLE_CHARACTERS = (r"\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b\u200c\u200e\u200f\u202a-\u202e"
                        r"\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ue000-\uf8ff")
_INVISIBLE = re.compile(f"[{INVISIBLE_CHARACTERS}\\ud800-\\udfff]")  # and lone surrogates


def clean_text(value: str, what: str, max_length: int = NAME_MAX) -> str:
    """Return ``value`` stripped, refusing control characters and overlong text."""
    value = (value or "").strip()
    if len(value) > max_length:
        raise InvalidInput(f"{what} is too long: {max_length} characters at most.")
    if _INVISIBLE.search(value):
        raise InvalidInput(f"{what} contains invisible control characters; remove them.")
    return value


def normalize_email(email: str) -> str:
    """Return an email as it is stored and compared: trimmed, lower case."""
    return email.strip().lower()
