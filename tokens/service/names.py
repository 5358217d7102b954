"""Names people give things (accounts, members, tokens): composed, trimmed, bounded, and free of hidden characters."""

import unicodedata

from email_validator import EmailNotValidError, validate_email

from .errors import InvalidInput

NAME_MAX = 100
# What a name may not hold, by Unicode category (as this Python's Unicode database has them):
# controls (Cc), format characters such as zero-width and bidirectional ones or tags (Cf), private
# use (Co), unassigned code points (Cn), surrogates (Cs), line and paragraph separators (Zl, Zp),
# and spaces other than the plain one (Zs). Invisible, or drawn differently by each font and
# terminal, they would let two names in a list look alike. A list of code points always had holes.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp", "Zs"})
# Letters (Lo) that fonts draw as blank: the Hangul fillers, a common way to make an "empty" name.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
ZERO_WIDTH_JOINER = "\u200d"
# What may come between an emoji and the joiner: the emoji presentation selector and skin tones.
EMOJI_MODIFIERS = "\ufe0f" + "".join(map(chr, range(0x1F3FB, 0x1F400)))
NAME_RULE = ("No control, format (zero-width, bidirectional, tag), private-use, unassigned or surrogate "
             "characters, no line or paragraph separators, no spaces other than U+0020, no Hangul fillers; "
             "the zero-width joiner only between two emoji (symbols, category So), as in 👩‍💻. "
             "Names are stored NFC-normalised, and measured so.")


def _joins_emoji(value: str, index: int) -> bool:
    """Tell whether the zero-width joiner at ``index`` sits between two emoji, as in 👩‍💻 or 🏳️‍🌈.

    Python's Unicode database has no emoji property; an emoji is a symbol (So), which the joiner
    between letters ("a‍b", drawn as "ab") is not.
    """
    before, after = value[:index].rstrip(EMOJI_MODIFIERS), value[index + 1:index + 2]
    return bool(before and after) and unicodedata.category(before[-1]) == unicodedata.category(after) == "So"


def _hides_something(value: str) -> bool:
    """Tell whether a name holds a character that is invisible, blank, or drawn unlike itself."""
    for index, character in enumerate(value):
        if character in BLANK_LETTERS:
            return True
        if (unicodedata.category(character) in HIDDEN_CATEGORIES and character != " "
                and not (character == ZERO_WIDTH_JOINER and _joins_emoji(value, index))):
            return True
    return False


def clean_text(value: str, what: str, max_length: int = NAME_MAX) -> str:
    """Return ``value`` composed (NFC) and stripped, refusing hidden characters and overlong text."""
    value = unicodedata.normalize("NFC", value or "").strip()
    if len(value) > max_length:
        raise InvalidInput(f"{what} is too long: {max_length} characters at most.")
    if _hides_something(value):
        raise InvalidInput(f"{what} contains invisible control characters; remove them.")
    return value


EMAIL_MAX = 254
# The email rule, the same for every way in (setup, invitations, sign-in, joining, the CLI): the syntax of an
# address, with no look-up of its domain and no refusal of special-use names (.local, .internal, .test,
# .localhost): a team's addresses may live on a private domain the portal cannot, and need not, reach.
# email_validator refuses special-use names whatever its options; under this neutral parent none is one.
_NEUTRAL_PARENT = ".example.com"


def normalize_email(email: str) -> str:
    """Return an email as it is stored and compared: trimmed, lower case."""
    return email.strip().lower()


def clean_email(value: str) -> str:
    """Return ``value`` normalised (trimmed, lower case) if it has an email address's syntax, else refuse it.

    Deliverability is not checked (no DNS), and private or special-use domains are accepted.
    """
    email = normalize_email(value or "")
    if not email:
        raise InvalidInput("Enter an email address.")
    if len(email) > EMAIL_MAX:
        raise InvalidInput(f"This email address is too long: {EMAIL_MAX} characters at most.")
    local, at, domain = email.rpartition("@")
    if not at or not local:
        raise InvalidInput("This is not an email address: it needs a name, an @ and a domain, as in name@example.com.")
    try:
        validate_email(f"{local}@{domain}{_NEUTRAL_PARENT}", check_deliverability=False)
    except EmailNotValidError as refusal:
        raise InvalidInput(f"This is not a valid email address. {refusal}") from None
    return email
