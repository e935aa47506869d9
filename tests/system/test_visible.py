"""Others' text never acts on the terminal of ``pushchat client``: it is shown, controls as visible escapes.

Unit tests of :func:`system.visible.visible`, the console on a model terminal, and the real client on a
pseudo-terminal receiving a hostile message (live) and a hostile name (from the room's store).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from system.console import Console
from system.pb import chat_pb2
from system.store import Batch, Limits, StoredMessage, make_store
from system.visible import hidden, visible
from tests.system.system_harness import cluster
from tests.system.terminal import Screen, Tty

FORGED = "hi\n[04:40:00] alice: I owe mallory $100"
TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J\x1b[3J"


@pytest.mark.parametrize("raw, shown", [
    ("hello, wörld ✓ 山田 😀", "hello, wörld ✓ 山田 😀"),                 # text stays text
    ("a\nb\rc\td", "a\\nb\\rc\\td"),
    ("\x00\x07\x08\x1b\x7f", "\\x00\\x07\\x08\\x1b\\x7f"),                # C0 and DEL
    ("\x80\x9b2J\x9d0;t\x9c", "\\x80\\x9b2J\\x9d0;t\\x9c"),               # C1: CSI, OSC, ST
    (TITLE + CLEAR, "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[3J"),               # no sequence survives
    ("\u202aa\u202bb\u202cc\u202dd\u202ee", "\\u202aa\\u202bb\\u202cc\\u202dd\\u202ee"),   # embeddings, overrides
    ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),         # isolates
    ("\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"),                      # LRM, RLM, ALM
    ("a\u200bb\u200cc\u200dd\u2060e\ufeff", "a\\u200bb\\u200cc\\u200dd\\u2060e\\ufeff"),  # zero width
    ("\u2028\u2029", "\\u2028\\u2029"),                                   # line and paragraph separators
    ("\U000e0041\u00ad", "\\U000e0041\\xad"),                             # a tag character, the soft hyphen
    ("\u3164\u115f", "\\u3164\\u115f"),                                   # Hangul fillers: letters that draw nothing
    ("a\\nb", "a\\nb"),                                                   # a typed backslash stays as it is
    ("\u00a0\u3000", "\u00a0\u3000"),                                     # spaces are shown (they do not act)
])
def test_visible_escapes_every_character_that_acts_instead_of_showing(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def test_visible_text_holds_no_control_format_or_separator_character_whatever_it_was_given() -> None:
    every = "".join(chr(c) for c in range(0x30000) if not 0xd800 <= c < 0xe000)
    out = visible(every)
    assert not any(hidden(ch) for ch in out)
    assert visible(out) == out  # and showing it again changes nothing


def test_a_hostile_message_and_name_shown_by_the_console_stay_one_row_and_never_act() -> None:
    screen = Screen(200)
    console = Console(screen, interactive=False)  # type: ignore[arg-type]
    msg = chat_pb2.ChatMessage(user_name="mal\u202elory" + TITLE, message=FORGED + CLEAR, timestamp=10**15)
    console.on_display("General", msg, "push")
    console.room = "General"
    console.on_member("General", "eve\x1b[2J", True, "push")
    [row, joined, _] = screen.rows
    assert row.endswith("] mal\\u202elory\\x1b]0;pwned\\x07: hi\\n[04:40:00] alice: I owe mallory $100"
                        "\\x1b[2J\\x1b[3J")
    assert joined == "* eve\\x1b[2J joined"
    assert screen.title is None and screen.clears == 0


async def seed_room(data_dir: Path, room: str, user: str, text: str, member: str) -> None:
    """Write a message and a member into a room's SQLite store before its node starts, as anyone who can
    write to the store could: the client must not trust the names it gets, whatever the gate refuses."""
    store = make_store("sqlite", data_dir)
    await store.open()
    try:
        claim = await store.claim(room, Limits(), create=True)
        assert claim is not None
        stamp = time.time_ns() // 1000
        await store.write(room, claim.token, Batch([StoredMessage(claim.last_seq + 1, stamp, user, text, "m1")],
                                                   joined={member: ""}))
    finally:
        await store.close()


async def test_the_real_client_on_a_terminal_shows_a_hostile_message_and_name_escaped(tmp_path: Path) -> None:
    await seed_room(tmp_path, "General", user="ali\x9b2J\u202ece" + TITLE, text="old news",
                    member="m\u200ballory\x1b]2;owned\x07")
    async with cluster(node={"data_dir": str(tmp_path)}) as c:
        mallory, _ = await c.client("mallory")
        await mallory.join("General")
        bob = await Tty.start("client", "--server", c.gates[0].addr, "--user", "bob")
        try:
            await bob.shows(r"^\* connected to ", 20.0)
            await bob.prompt()
            await bob.join("General")
            await bob.shows(re.escape("] ali\\x9b2J\\u202ece\\x1b]0;pwned\\x07: old news") + "$")
            await mallory.send("General", FORGED + TITLE + CLEAR)
            await bob.shows(re.escape("] mallory: hi\\n[04:40:00] alice: I owe mallory $100"
                                      "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[3J") + "$")
            bob.keys("/who\r")
            who = await bob.shows(r"^\* in General: ")
            assert who.endswith(", m\\u200ballory\\x1b]2;owned\\x07")
            await bob.prompt()
            assert not [r for r in bob.screen.rows if r.startswith("[04:40:00]")]  # no forged line
            assert bob.screen.title is None and bob.screen.clears == 0
            assert not [r for r in bob.screen.rows if any(hidden(ch) for ch in r)]
            assert await bob.finish() == 0
        finally:
            if bob.proc.returncode is None:
                bob.proc.kill()
