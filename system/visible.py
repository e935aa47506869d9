"""Text from elsewhere, made safe to put on a terminal: every character that acts instead of showing
is written as a visible escape (sans-I/O).

A chat line is someone else's words: a newline in it could forge a whole line from another user, an
ESC start a sequence that sets the window title or clears the screen, a bidi control reorder what
follows, a zero-width character make two names look alike. :func:`visible` is the one place the
client turns remote text (user names, messages, room names, the server's error words) into what it
draws; :func:`hidden` says which characters it escapes, and :mod:`system.names` refuses them in names.

Escaped: the C0 and C1 controls and DEL (``\\n``, ``\\x1b``, ``\\x9b``, …; so no escape sequence
survives), the format characters (Unicode category Cf: bidi embeddings, overrides and isolates,
LRM/RLM/ALM, zero-width space/joiners, word joiner, BOM, soft hyphen, tag characters), the line and
paragraph separators U+2028/U+2029, lone surrogates, and the Hangul fillers, which are letters that
draw nothing. A backslash is shown as it is: ``\\n`` typed as two characters stays two characters on
one line, so it cannot forge a line either.
"""

from __future__ import annotations

import functools
import unicodedata

#: Categories of characters that act on the terminal or the text around them instead of showing.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
#: Letters (category Lo) that draw nothing: a name made of them looks blank.
INVISIBLE_LETTERS = frozenset({"\u115f", "\u1160", "\u3164", "\uffa0"})
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def hidden(ch: str) -> bool:
    """True when the one character ``ch`` is not shown as itself by :func:`visible`."""
    return unicodedata.category(ch) in HIDDEN_CATEGORIES or ch in INVISIBLE_LETTERS


def escape(ch: str) -> str:
    """``ch`` as Python would write it in a string literal: ``\\n``, ``\\x1b``, ``\\u202e``, ``\\U000e0041``."""
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str) -> str:
    """``text`` with every :func:`hidden` character escaped: what a terminal may be given of remote text."""
    if text.isprintable() and not any(ch in text for ch in INVISIBLE_LETTERS):  # the common case, in C
        return text
    return "".join(ch if ch.isprintable() and ch not in INVISIBLE_LETTERS else _shown(ch) for ch in text)


@functools.lru_cache(maxsize=1024)
def _shown(ch: str) -> str:
    return escape(ch) if hidden(ch) else ch
