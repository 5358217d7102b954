"""The token format: what a leaked, mistyped or truncated token looks like to the portal."""

import math
import re
import subprocess
from pathlib import Path

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


README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def readme_scanner() -> dict:
    """Run the README's scanner code (its Python block that defines is_portal_token) and return what it defines."""
    [code] = [block for block in re.findall(r"```python\n(.*?)```", README, re.DOTALL)
              if "def is_portal_token" in block]
    scope = {}
    exec(code, scope)  # noqa: S102 - the project's own README, to hold it true
    return scope


def test_the_readmes_regular_expression_and_checksum_recognise_the_portals_tokens():
    scanner = readme_scanner()
    tokens = [secret.generate(prefix) for prefix in ("tok", "acme2", "ab", "abcdefghijkl") for _ in range(50)]
    assert all(scanner["is_portal_token"](token) for token in tokens)
    mistyped = tokens[2][:-1] + ("x" if tokens[2][-1] != "x" else "y")
    text = f"log: X-Auth-Token: {tokens[0]}, url?t={tokens[1]} and {mistyped}, {tokens[3][1:]}"
    assert scanner["tokens_in"](text) == tokens[:2]
    # One changed character anywhere fails the checksum, as the portal's own parser says.
    changed = [token[:i] + ("0" if token[i] != "0" else "1") + token[i + 1:]
               for token in tokens[:20] for i in range(token.index("_") + 1, len(token))]
    assert not any(scanner["is_portal_token"](token) for token in changed)
    assert not any(secret.parse(token) for token in changed)


def test_the_readmes_pre_commit_hook_refuses_a_staged_token(tmp_path):
    [hook] = re.findall(r"`(git diff --cached .*?)`\.\n", README)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "settings.env").write_text("API_URL=https://tokens.example.com\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    clean = subprocess.run(["bash", "-c", hook], cwd=tmp_path, capture_output=True, text=True)
    (tmp_path / "settings.env").write_text(f"API_TOKEN={secret.generate('tok')}\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    staged = subprocess.run(["bash", "-c", hook], cwd=tmp_path, capture_output=True, text=True)
    assert (clean.returncode, staged.returncode) == (0, 1)
    assert staged.stdout == "A portal token is staged.\n"
