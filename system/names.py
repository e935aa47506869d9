"""User names: the one rule every door applies, and the one form a name is kept in (sans-I/O).

A name is shown to other people, so it must show as what it is, and two names that look alike must
be one name. :func:`canonical_user_name` returns a name's canonical form (NFC: ``"e\\u0301"`` and
``"\\u00e9"`` are one name) or refuses it, saying why: empty or blank, longer than
:data:`MAX_USER_NAME` characters, or holding a character that acts instead of showing (controls,
DEL, bidi controls, zero-width and other format characters, separators: :func:`system.visible.hidden`,
the characters the client would show escaped), a private-use, unassigned or surrogate code point,
a compatibility form (``ａ`` for ``a``, ``𝐚`` for ``a``: NFKC would change it), a space other than
U+0020, a space at either end or two in a row, or a combining mark with nothing to combine with.

Look-alikes across scripts: letters of more than one script are refused unless the mix is one a
writing system uses (Unicode TR39's "highly restrictive" level: Latin with Han and Japanese kana,
with Han and Bopomofo, or with Han and Hangul), so ``pаypal`` with a Cyrillic ``а`` is refused while
``山田たろう`` and ``Ωμέγα`` are kept. A letter's script is read from its Unicode name (the standard
library has no Script property). PyPI's ``confusable-homoglyphs`` (3.3.1) was evaluated and not
taken: its mixed-script test refuses ordinary Japanese (``やまだ太郎``) and Latin with Han, and
it adds no check this one lacks. A name written wholly in another script that looks like a Latin
one (``рау``, all Cyrillic) is not detected: that needs TR39 skeletons compared across every name.
"""

from __future__ import annotations

import unicodedata

from system.visible import hidden, visible

MAX_USER_NAME = 64
#: Bidi controls: embeddings, overrides, isolates and marks (they reorder the text around them).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
#: Characters that take no room: zero-width space, non-joiner, joiner, word joiner, BOM.
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
#: Script mixes a writing system uses (Unicode TR39, "highly restrictive"); any one script alone is fine.
SCRIPT_MIXES = (frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}), frozenset({"LATIN", "HAN", "BOPOMOFO"}),
                frozenset({"LATIN", "HAN", "HANGUL"}))
_HAN_WORDS = frozenset({"CJK", "IDEOGRAPHIC"})


def canonical_user_name(name: str) -> str:
    """``name`` in its canonical form (NFC); ValueError saying what is wrong with it, for a person to read."""
    if not isinstance(name, str):
        raise ValueError(f"a user name is text, not {type(name).__name__}")
    if len(name) > 4 * MAX_USER_NAME:  # no normalising megabytes: NFC shortens a name by 4 times at most here
        raise ValueError(f"user name is {len(name)} characters; the limit is {MAX_USER_NAME}")
    canon = unicodedata.normalize("NFC", name)
    shown = visible(canon[:MAX_USER_NAME])
    if not canon.strip():
        raise ValueError("user name is empty" if not canon else f"user name '{shown}' is only spaces")
    if len(canon) > MAX_USER_NAME:
        raise ValueError(f"user name '{shown}…' is {len(canon)} characters; the limit is {MAX_USER_NAME}")
    for at, ch in enumerate(canon, 1):
        why = _refused(ch)
        if why:
            raise ValueError(f"user name '{shown}': character {at} (U+{ord(ch):04X}) is {why}")
    if canon != canon.strip(" ") or "  " in canon:
        raise ValueError(f"user name '{shown}' starts or ends with a space, or has two in a row")
    if unicodedata.category(canon[0]).startswith("M"):
        raise ValueError(f"user name '{shown}' starts with a combining mark")
    scripts = {s for s in map(script, canon) if s}
    if len(scripts) > 1 and not any(scripts <= mix for mix in SCRIPT_MIXES):
        names = " and ".join(sorted(s.title() for s in scripts))
        raise ValueError(f"user name '{shown}' mixes {names} letters (look-alikes of other names); "
                         "write it in one script")
    return canon


def _refused(ch: str) -> str | None:
    """Why the character ``ch`` may not be in a name; None if it may."""
    category = unicodedata.category(ch)
    if hidden(ch):
        return ("a bidi control" if ch in BIDI_CONTROLS else "a zero-width character" if ch in ZERO_WIDTH
                else "a control character" if category == "Cc" else "a surrogate" if category == "Cs"
                else "a line or paragraph separator" if category in ("Zl", "Zp")
                else "an invisible character")
    if category == "Co":
        return "a private-use character"
    if category == "Cn":
        return f"a code point unassigned in Unicode {unicodedata.unidata_version}"
    if category == "Zs" and ch != " ":
        return "a space other than U+0020"
    plain = unicodedata.normalize("NFKC", ch)
    if plain != ch:
        return f"a compatibility form of {plain!r} (write {plain!r})"
    return None


def script(ch: str) -> str | None:
    """The script of a letter, from its Unicode name (``LATIN``, ``CYRILLIC``, ``HAN``, ``HIRAGANA``, …);
    None for anything else (digits, punctuation, symbols, marks, modifier letters), which any script uses."""
    if unicodedata.category(ch) not in ("Lu", "Ll", "Lt", "Lo"):
        return None
    word = unicodedata.name(ch, "").split(" ", 1)[0]
    return "HAN" if word in _HAN_WORDS else word or None
