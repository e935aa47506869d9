"""A user name is refused when it could hide, act or pass for another, and is kept in one form (NFC)."""

from __future__ import annotations

import pytest

from system import auth
from system.names import MAX_USER_NAME, canonical_user_name
from system.visible import visible

KEPT = ["alice", "bob smith", "user1", "O'Brien", "Jürgen", "Ωμέγα", "Дмитрий", "김민준", "山田たろう", "やまだ太郎",
        "李 Lee", "bob❤️", "😀", "a" * MAX_USER_NAME]


@pytest.mark.parametrize("name", KEPT)
def test_ordinary_names_of_any_writing_system_are_kept_as_they_are(name: str) -> None:
    assert canonical_user_name(name) == name
    assert visible(name) == name  # and a kept name is shown as itself


@pytest.mark.parametrize("raw, canonical", [
    ("e\u0301", "\u00e9"),                          # e + combining acute: é
    ("Jo\u0308rgen", "Jörgen"),
    ("\u1100\u1161", "\uac00"),                      # Hangul jamo: one syllable
    ("\u212b", "\u00c5"),                            # ANGSTROM SIGN: Å
])
def test_a_name_is_kept_in_its_nfc_form_so_two_spellings_of_it_are_one_name(raw: str, canonical: str) -> None:
    assert canonical_user_name(raw) == canonical
    assert canonical_user_name(canonical) == canonical


REFUSED = {
    "empty": ("", "is empty"),
    "only spaces": ("   ", "only spaces"),
    "too long": ("a" * (MAX_USER_NAME + 1), f"{MAX_USER_NAME + 1} characters; the limit is {MAX_USER_NAME}"),
    "megabytes": ("a" * 8 * 2**20, f"the limit is {MAX_USER_NAME}"),
    "NUL": ("a\x00b", "U+0000) is a control character"),
    "newline": ("alice\n[04:40:00] bob", "U+000A) is a control character"),
    "ESC": ("a\x1b]0;t\x07", "U+001B) is a control character"),
    "DEL": ("a\x7f", "U+007F) is a control character"),
    "C1 CSI": ("a\x9b2J", "U+009B) is a control character"),
    "C1 NEL": ("a\x85b", "U+0085) is a control character"),
    "RLO": ("\u202eecila", "U+202E) is a bidi control"),
    "LRI": ("a\u2066b", "U+2066) is a bidi control"),
    "RLM": ("a\u200f", "U+200F) is a bidi control"),
    "ALM": ("a\u061c", "U+061C) is a bidi control"),
    "zero-width space": ("ali\u200bce", "U+200B) is a zero-width character"),
    "zero-width joiner": ("ali\u200dce", "U+200D) is a zero-width character"),
    "word joiner": ("ali\u2060ce", "U+2060) is a zero-width character"),
    "BOM": ("\ufeffalice", "U+FEFF) is a zero-width character"),
    "soft hyphen (Cf)": ("ali\u00adce", "U+00AD) is an invisible character"),
    "tag character (Cf)": ("alice\U000e0041", "U+E0041) is an invisible character"),
    "Hangul filler": ("\u3164", "U+3164) is an invisible character"),
    "line separator": ("a\u2028b", "U+2028) is a line or paragraph separator"),
    "private use": ("a\ue000", "U+E000) is a private-use character"),
    "unassigned": ("a\u0378", "U+0378) is a code point unassigned"),
    "surrogate": ("a\ud800", "U+D800) is a surrogate"),
    "no-break space": ("a\u00a0b", "U+00A0) is a space other than U+0020"),
    "fullwidth": ("ａｌｉｃｅ", "is a compatibility form of 'a'"),
    "mathematical bold": ("\U0001d41alice", "is a compatibility form of 'a'"),
    "leading space": (" alice", "starts or ends with a space"),
    "trailing space": ("alice ", "starts or ends with a space"),
    "two spaces": ("alice  b", "two in a row"),
    "lone combining mark": ("\u0301a", "starts with a combining mark"),
    "Cyrillic a in Latin": ("\u0430lice", "mixes Cyrillic and Latin letters"),
    "Greek omicron in Latin": ("b\u03bfb", "mixes Greek and Latin letters"),
    "Cyrillic and Latin words": ("Pavel Павел", "mixes Cyrillic and Latin letters"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_name_that_could_hide_act_or_pass_for_another_is_refused_saying_why(case: str) -> None:
    name, why = REFUSED[case]
    with pytest.raises(ValueError) as err:
        canonical_user_name(name)
    message = str(err.value)
    assert why in message
    assert len(message) < 200 and visible(message) == message  # short, and safe to print


def test_a_non_string_is_refused() -> None:
    with pytest.raises(ValueError, match="is text"):
        canonical_user_name(b"alice")  # type: ignore[arg-type]


def test_tokens_carry_the_canonical_name_and_are_never_made_for_a_refused_one() -> None:
    secret = auth.new_secret().encode()
    assert auth.verify(secret, auth.issue(secret, "e\u0301mile", 60)).user == "\u00e9mile"
    for name in ("a\u202eb", "\u0430lice", "a" * 65, "x\x9b"):
        with pytest.raises(ValueError):
            auth.issue(secret, name, 60)


def test_a_token_naming_a_refused_user_is_rejected() -> None:
    import jwt
    secret = auth.new_secret().encode()
    forged = jwt.encode({"iss": auth.ISSUER, "sub": "ali\u200bce", "exp": 2**40}, secret, algorithm=auth.ALGORITHM)
    with pytest.raises(auth.TokenRejected, match="zero-width"):
        auth.verify(secret, forged)


async def test_the_cli_client_refuses_a_bad_user_name_itself_saying_why_and_printing_it_escaped() -> None:
    from tests.system.cli_process import run
    refused = await run("client", "--server", "127.0.0.1:1", "--user", "mal\u202elory\x1b[2J")
    assert refused.code == 64
    [line] = refused.stderr
    assert line == "pushchat client: --user: user name 'mal\\u202elory\\x1b[2J': character 4 (U+202E) is a bidi control"
