"""The token format: what a leaked, mistyped or truncated token looks like to the portal."""

import math
import re

import pytest

from tokens import secret

TOKEN = secret.generate("tok")


def test_format_is_prefix_random_and_checksum():
    assert re.fullmatch(r"tok_[0-9A-Za-z]{36}", TOKEN)
    assert TOKEN[-6:] == secret.checksum(TOKEN[:-6])
    assert secret.parse(TOKEN) == ("tok", TOKEN)


def test_random_part_carries_at_least_160_bits():
    assert secret.RANDOM_LENGTH * math.log2(len(secret.ALPHABET)) >= 160


def test_every_single_character_change_is_caught():
    for position in range(len(TOKEN)):
        for replacement in secret.ALPHABET + "_":
            if replacement == TOKEN[position]:
                continue
            changed = TOKEN[:position] + replacement + TOKEN[position + 1:]
            assert secret.parse(changed) is None, changed


def test_every_truncation_and_extension_is_refused():
    for length in range(len(TOKEN)):
        assert secret.parse(TOKEN[:length]) is None
    for extra in ("a", "0", " ", "\n", TOKEN):
        assert secret.parse(TOKEN + extra) is None
        assert secret.parse(extra + TOKEN) is None


@pytest.mark.parametrize("candidate", [
    "", " ", "tok_", "Bearer " + TOKEN, TOKEN.upper(), TOKEN.replace("_", "-"),
    TOKEN[:10] + "\u0430" + TOKEN[11:],  # Cyrillic a, a homoglyph of a Latin one
    TOKEN[:10] + "\x00" + TOKEN[11:], TOKEN[:10] + "😀" + TOKEN[11:],
    TOKEN[:10] + "٣" + TOKEN[11:],  # an Arabic-Indic digit, which str.isdigit() accepts
    "x" * 100_000, None, 42,
])
def test_malformed_candidates_are_refused(candidate):
    assert secret.parse(candidate) is None


def test_the_checksum_covers_the_prefix():
    assert secret.parse("tak" + TOKEN[3:]) is None


def test_tokens_are_unique():
    assert len({secret.generate("tok") for _ in range(20_000)}) == 20_000


@pytest.mark.parametrize("prefix", ["", "t", "Tok", "to_k", "tok-", "1tok", "toooooooooooooolong"])
def test_bad_prefixes_are_refused(prefix):
    with pytest.raises(ValueError):
        secret.generate(prefix)


def test_digest_depends_on_the_key_and_hides_the_token():
    one, other = secret.digest(TOKEN, b"key one"), secret.digest(TOKEN, b"key two")
    assert one != other
    assert re.fullmatch(r"[0-9a-f]{64}", one)
    assert TOKEN[4:] not in one
    assert secret.digest(TOKEN, b"key one") == one


def test_hint_shows_prefix_and_last_four_only():
    assert secret.hint(TOKEN) == f"tok_…{TOKEN[-4:]}"
