"""``pushchat client`` as a person sees it: one prompt, lines above it, one status line during an outage.

The rendering is checked on a model of a terminal (:class:`Screen`, the few controls the
client and readline write), fed either directly by the Console or by the real client on a
pseudo-terminal; the piped behaviour and the commands with OS processes and real servers.
"""

from __future__ import annotations

import os
import re
import subprocess

import grpc

from system.client import Observer
from system.console import PROMPT, Console
from system.presence import PresenceConfig
from tests.system.system_harness import Relay, cluster, wait_until
from tests.system.cli_process import PUSHCHAT, piped_client
from tests.system.terminal import Screen, Tty

class FakeReadline:
    """What readline does on the reader thread, played by the test: draw the prompt, echo keys, accept."""

    def __init__(self, screen: Screen, console: Console) -> None:
        self.screen, self.console = screen, console
        self.buffer, self.point = "", 0

    def line(self) -> tuple[str, int]:
        return self.buffer, self.point

    def prompt(self) -> None:
        self.console.prompt_starting()
        self.screen.write(PROMPT)
        self.console.prompt_drawn()

    def type(self, text: str) -> None:
        self.screen.write(text)
        self.buffer += text
        self.point += len(text)

    def left(self, n: int) -> None:
        """Move the cursor back ``n`` characters, across wrapped rows as readline does."""
        cols, old, new = self.screen.cols, len(PROMPT) + self.point, len(PROMPT) + self.point - n
        up = old // cols - new // cols
        self.screen.write((f"\x1b[{up}A" if up else "") + "\r" + (f"\x1b[{new % cols}C" if new % cols else ""))
        self.point -= n

    def enter(self) -> str:
        line, self.buffer, self.point = self.buffer, "", 0
        self.screen.write("\n")
        self.console.line_entered(line)
        return line


def terminal(cols: int = 80) -> tuple[Screen, Console, FakeReadline, list[float]]:
    screen = Screen(cols)
    now = [100.0]
    console = Console(screen, interactive=True, columns=lambda: cols, clock=lambda: now[0])  # type: ignore[arg-type]
    rl = FakeReadline(screen, console)
    console.editor = rl  # type: ignore[assignment]
    return screen, console, rl, now


def refused() -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(),
                                "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:49000: "
                                "Failed to connect to remote host: Connection refused")


# -- rendering, on a model terminal ----------------------------------------------------------------
def test_a_line_shown_while_the_user_types_goes_above_the_one_prompt_which_keeps_the_text_and_cursor() -> None:
    screen, console, rl, _ = terminal()
    console.show("* connected to 127.0.0.1:49000 as bob")  # before the reader draws its prompt: no prompt
    rl.prompt()
    rl.type("hello wrold")
    rl.left(3)  # the user went back to fix a typo
    console.show("[12:00:01] alice: hi")
    assert screen.rows == ["* connected to 127.0.0.1:49000 as bob", "[12:00:01] alice: hi", "> hello wrold"]
    assert screen.cursor() == (2, len("> hello wr"))  # where readline has its cursor
    rl.left(5)
    console.show("[12:00:02] alice: still there?")
    assert screen.rows[-2:] == ["[12:00:02] alice: still there?", "> hello wrold"]
    assert screen.cursor() == (3, 2 + 3) and screen.text.count(">") == 1


def test_a_long_typed_line_that_wraps_is_redrawn_whole_below_a_new_line() -> None:
    screen, console, rl, _ = terminal(cols=20)
    rl.prompt()
    rl.type("x" * 40)  # '> ' + 40: three rows, the cursor on the third
    console.show("[12:00:01] alice: hi")
    assert screen.rows == ["[12:00:01] alice: hi", "> " + "x" * 18, "x" * 20, "xx"]
    assert screen.cursor() == (3, 2)
    rl.left(30)  # on the first row of the typed text now
    console.show("[12:00:02] alice: yo")
    assert screen.rows == ["[12:00:01] alice: hi", "[12:00:02] alice: yo", "> " + "x" * 18, "x" * 20, "xx"]
    assert screen.cursor() == (2, 12)


def test_an_outage_is_one_status_line_rewritten_in_place_and_a_final_line_once_it_is_back() -> None:
    screen, console, rl, now = terminal()
    console.show("* joined General (no new messages)")
    rl.prompt()
    rl.type("hel")
    console.on_stream_end(refused())
    assert screen.rows == ["* joined General (no new messages)", "* connection lost (connection refused); reconnecting…",
                           "> hel"]
    for attempt in range(2, 42):  # about 50 s of retrying with the 2 s cap
        now[0] += 1.25
        console.on_reconnecting(attempt, refused(), 1.6)
    assert screen.rows == ["* joined General (no new messages)",
                           "* reconnecting: attempt 41 in 1.6s (connection refused; down 50s)", "> hel"]
    assert screen.cursor() == (2, 5)
    console.show("[12:00:01] alice: hi")  # anything else goes above the status line
    assert screen.rows[1:] == ["[12:00:01] alice: hi", "* reconnecting: attempt 41 in 1.6s (connection refused; down 50s)",
                               "> hel"]
    now[0] += 1.0
    console.on_reconnected("gate/2", 2)
    assert screen.rows == ["* joined General (no new messages)", "[12:00:01] alice: hi",
                           "* reconnected after 51s (41 attempts); recovered 2 messages", "> hel"]


def test_a_line_entered_during_an_outage_goes_above_the_status_line() -> None:
    screen, console, rl, _ = terminal()
    rl.prompt()
    console.on_stream_end(refused())
    console.on_reconnecting(2, refused(), 0.2)
    rl.type("are you there?")
    assert rl.enter() == "are you there?"
    rl.prompt()
    assert screen.rows == ["> are you there?", "* reconnecting: attempt 2 in 0.2s (connection refused; down 0.0s)", ">"]
    console.on_reconnecting(3, refused(), 0.4)
    assert screen.rows == ["> are you there?", "* reconnecting: attempt 3 in 0.4s (connection refused; down 0.0s)", ">"]
    rl.type("y" * 100)  # wraps: two rows
    rl.enter()
    rl.prompt()
    assert screen.rows == ["> are you there?", "> " + "y" * 78, "y" * 22,
                           "* reconnecting: attempt 3 in 0.4s (connection refused; down 0.0s)", ">"]
    assert screen.text.count("reconnecting") == 1


def test_a_status_wider_than_the_terminal_is_cut_to_one_row() -> None:
    screen, console, rl, _ = terminal(cols=30)
    rl.prompt()
    console.on_stream_end(refused())
    console.on_reconnecting(2, refused(), 0.2)
    console.on_reconnecting(3, refused(), 0.4)
    assert screen.rows == ["* reconnecting: attempt 3 in…", ">"]


def test_the_terminal_model_reads_a_control_sequence_split_between_two_reads_as_a_pty_may_deliver_it() -> None:
    """readline writes ^U's erase byte by byte ('\\b' x3, ESC, '[', 'K'); a read may end after any of them."""
    whole, split = Screen(), Screen()
    for screen, chunks in ((whole, [b"> hel\x08\x08\x08\x1b[K"]), (split, [b"> hel\x08\x08\x08\x1b", b"[", b"K"])):
        for chunk in chunks:
            screen.feed_bytes(chunk)
    assert whole.rows == split.rows == [">"] and whole.cursor() == split.cursor() == (0, 2)
    split.feed_bytes(b"\x1b]0;title")  # an unfinished title (OSC) swallows nothing that follows its end
    split.feed_bytes(b"\x07ok")
    assert split.rows == ["> ok"]


def test_piped_an_outage_prints_a_few_lines_at_attempts_2_4_8_and_a_final_one() -> None:
    screen = Screen()
    now = [0.0]
    console = Console(screen, interactive=False, clock=lambda: now[0])  # type: ignore[arg-type]
    console.on_stream_end(None)
    for attempt in range(2, 42):
        now[0] += 1.25
        console.on_reconnecting(attempt, refused(), 1.0)
    console.on_reconnected("gate/2", 1)
    assert screen.rows == ["* connection lost (closed by the server); reconnecting…",
                           "* reconnecting: attempt 2 in 1.0s (connection refused; down 1.2s)",
                           "* reconnecting: attempt 4 in 1.0s (connection refused; down 3.8s)",
                           "* reconnecting: attempt 8 in 1.0s (connection refused; down 8.8s)",
                           "* reconnecting: attempt 16 in 1.0s (connection refused; down 19s)",
                           "* reconnecting: attempt 32 in 1.0s (connection refused; down 39s)",
                           "* reconnected after 50s (41 attempts); recovered 1 message", ""]


def test_an_expired_token_is_said_once_with_what_to_do_and_no_reconnecting_line() -> None:
    screen = Screen(200)
    console = Console(screen, interactive=False, clock=lambda: 0.0)  # type: ignore[arg-type]
    expired = grpc.aio.AioRpcError(grpc.StatusCode.UNAUTHENTICATED, grpc.aio.Metadata(), grpc.aio.Metadata(),
                                   "token expired; the stream is closed")
    console.on_stream_end(expired)
    console.on_refused(expired)
    assert screen.rows == ["* the server refused you: token expired; the stream is closed; not reconnecting "
                           "(get a new one: pushchat token --user NAME --secret-file F)", ""]


# -- commands, piped, with real servers ---------------------------------------------------------------
async def test_join_of_a_room_that_does_not_exist_keeps_you_in_your_room() -> None:
    async with cluster() as c:
        alice, alice_seen = await c.client("alice")
        await alice.join("General")
        async with piped_client(c.gates[0].addr, "bob") as bob:
            bob.type("/join NoSuchRoom")
            await bob.expect(r"^error: no chat room 'NoSuchRoom'")
            bob.type("/join general")  # room names are exact; the server names the one meant
            await bob.expect(r"^error: no chat room 'general': rooms are .*; did you mean 'General'\?$")
            bob.type("still here?")
            await wait_until(lambda: alice_seen.texts() == ["still here?"], 10.0, "bob's message in General")
            bob.type("/quit")
            assert await bob.finish(sig=None) == 1  # piped, as a script: a command failed
        assert not any("join a room first" in line or "left General" in line for line in bob.lines)


async def test_a_piped_client_exits_0_when_every_command_did_what_it_was_asked() -> None:
    async with cluster() as c:
        async with piped_client(c.gates[0].addr, "bob") as bob:
            bob.type("hello")
            bob.type("/quit")
            assert await bob.finish(sig=None) == 0


async def test_join_says_how_many_messages_it_showed_and_a_switch_leaves_the_old_room_after() -> None:
    async with cluster() as c:
        alice, _ = await c.client("alice")
        await alice.join("General")
        await alice.join("Sports")
        await alice.send("General", "one")
        await alice.send("Sports", "goal")
        async with piped_client(c.gates[0].addr, "bob") as bob:
            await bob.expect(r"^\* joined General \(1 new message\)$")
            bob.type("/join General")  # all of it was shown already
            await bob.expect(r"^\* joined General \(no new messages\)$")
            await alice.send("General", "two")
            await alice.send("General", "three")
            await bob.expect(r"alice: three$")
            bob.type("/join Sports")
            await bob.expect(r"^\* left General$")
            bob.type("/quit")
            assert await bob.finish(sig=None) == 0
        told = [line for line in bob.lines if line.startswith("*") or "alice:" in line][1:]
        assert [re.sub(r"^\[\d\d:\d\d:\d\d\] ", "", line) for line in told] == [
            "alice: one", "* joined General (1 new message)", "* joined General (no new messages)",
            "alice: two", "alice: three", "alice: goal", "* joined Sports (1 new message)", "* left General"]


async def test_a_message_typed_during_an_outage_says_it_was_not_sent_because_the_link_was_down() -> None:
    async with cluster() as c:
        relay = await Relay(c.gates[0].addr).start()
        async with piped_client(relay.addr, "bob", "--outage-wait", "1") as bob:
            await relay.stop()  # connections are refused from now on
            await bob.expect(r"^\* connection lost")
            bob.type("anyone?")
            line = await bob.expect(r"^error: ")
            waited = re.fullmatch(r"error: message to General not sent: no connection to the server for ([\d.]+)s", line)
            assert waited and float(waited.group(1)) >= 1.0, line  # --outage-wait 1, or a little more on a busy machine


async def test_a_message_typed_during_an_outage_is_confirmed_once_it_went_and_one_sent_while_up_is_not() -> None:
    async with cluster() as c:
        relay = await Relay(c.gates[0].addr).start()
        async with piped_client(relay.addr, "bob", "--outage-wait", "60") as bob:
            bob.type("hello")
            bob.type("/read")  # commands run in turn: once this answers, hello was acknowledged
            await bob.expect(r"^\* marked General read")
            await relay.stop()  # connections are refused from now on
            await bob.expect(r"^\* connection lost")
            bob.type("anyone there? the link is down, this waits for it")
            await relay.start()  # the link is back on the same port
            line = await bob.expect(r"^\* sent ", 30.0)
            assert re.fullmatch(r"\* sent to General after the outage: 'anyone there\? the link is down, this…' "
                                r"is #2 \(waited [\d.]+s\)", line), line
            assert [x for x in bob.lines if x.startswith("* sent")] == [line]  # hello, sent while up, was not
            bob.type("/quit")
            assert await bob.finish(sig=None) == 0  # every command did what it was asked


def test_the_help_says_what_no_reconnect_does_in_a_users_words() -> None:
    done = subprocess.run([*PUSHCHAT, "client", "--help"], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0
    [flag] = [line for line in done.stdout.splitlines() if line.strip().startswith("--no-reconnect")]
    assert "seed" not in done.stdout
    assert "do not reconnect" in flag and "new messages stop appearing" in flag and "/messages" in flag


async def test_on_a_terminal_there_is_one_prompt_and_a_push_while_typing_keeps_the_typed_text() -> None:
    async with cluster() as c:
        alice, alice_seen = await c.client("alice")
        await alice.join("General")
        bob = await Tty.start("client", "--server", c.gates[0].addr, "--user", "bob")
        try:
            await bob.shows(r"^\* connected to ", 20.0)
            await bob.prompt()
            assert [r for r in bob.screen.rows if r.startswith(">")] == [">"]  # one prompt, not '> >'
            await bob.join("General", r" \(no new messages\)$")
            bob.keys("hel")
            await bob.prompt("hel")
            await alice.send("General", "hi bob")
            await bob.shows(r"alice: hi bob$")
            await bob.prompt("hel")
            bob.keys("lo\r")
            await wait_until(lambda: alice_seen.texts() == ["hello"], 10.0, "bob's message to reach alice")
            await bob.prompt()
            rows = bob.screen.rows
            assert [r for r in rows if r.startswith(">")] == ["> /join General", "> hello", ">"]
            assert re.fullmatch(r"\[\d\d:\d\d:\d\d\] alice: hi bob", rows[-3])
            assert await bob.finish() == 0
            assert not bob.screen.rows[-1]  # the last prompt is erased on exit
        finally:
            if bob.proc.returncode is None:
                bob.proc.kill()


# -- presence: joins and leaves, typing, read markers -----------------------------------------------
def test_someone_typing_takes_the_row_above_the_prompt_and_clears_itself_keeping_the_typed_text() -> None:
    screen, console, rl, _ = terminal()
    console.room = "General"
    console.show("* joined General (no new messages)")
    rl.prompt()
    rl.type("hel")
    console.on_typing("General", "alice", True)
    console.on_typing("Sports", "carol", True)  # not the room the user is in
    assert screen.rows == ["* joined General (no new messages)", "alice is typing…", "> hel"]
    console.on_typing("General", "bob", True)
    console.show("[12:00:01] dave: hi")
    assert screen.rows == ["* joined General (no new messages)", "[12:00:01] dave: hi", "alice, bob are typing…",
                           "> hel"]
    console.on_stream_end(refused())  # an outage says more than typing: it takes the row
    assert screen.rows[-2:] == ["* connection lost (connection refused); reconnecting…", "> hel"]
    console.on_reconnected("gate/2", 0)
    console.on_typing("General", "alice", False)  # expired
    console.on_typing("General", "bob", False)
    assert screen.rows[-2:] == ["* reconnected after 0.0s; no messages missed", "> hel"]
    assert screen.cursor() == (len(screen.rows) - 1, 5) and screen.text.count(">") == 1


def test_piped_joins_and_leaves_of_the_current_room_are_lines_and_typing_is_not_shown() -> None:
    from tests.system.terminal import Screen
    out = Screen(80)
    console = Console(out, interactive=False)  # type: ignore[arg-type]
    console.room = "General"
    console.on_member("General", "bob", True, "push")
    console.on_member("General", "carol", True, "join")  # already there when we joined: no news
    console.on_member("Sports", "dave", True, "push")
    console.on_typing("General", "bob", True)
    console.on_member("General", "bob", False, "poll")
    assert [row for row in out.rows if row] == ["* bob joined", "* bob left"]


async def test_the_cli_shows_joins_and_leaves_and_who_has_read_what() -> None:
    async with cluster(gates=2) as c:
        async with piped_client(c.gates[1].addr, "bob") as bob:
            alice, _ = await c.client("alice")  # on the other gate
            await alice.join("General")
            await bob.expect(r"^\* alice joined$")
            await alice.send("General", "one")
            await bob.expect(r"alice: one$")
            bob.type("/read")
            await bob.expect(r"^\* marked General read up to #1$")
            await alice.mark_read("General", 1)
            bob.type("/who")
            await bob.expect(r"^\* in General: alice \(read #1 ✓✓\), bob \(you, read #1 ✓✓\)$")
            await alice.leave("General")
            await bob.expect(r"^\* alice left$")
            bob.type("/quit")
            assert await bob.finish(sig=None) == 0


async def test_on_a_terminal_typing_shows_above_the_prompt_clears_itself_and_the_users_own_typing_is_told() -> None:
    class Typists(Observer):
        def __init__(self) -> None:
            self.seen: list[tuple[str, bool]] = []

        def on_typing(self, room: str, user: str, typing: bool) -> None:
            self.seen.append((user, typing))

    async with cluster(gates=2, node={"presence": PresenceConfig(typing_expiry=1.0, typing_interval=0.2)}) as c:
        typists = Typists()
        alice, _ = await c.client("alice", observers=(typists,))
        await alice.join("General")
        bob = await Tty.start("client", "--server", c.gates[1].addr, "--user", "bob")
        try:
            await bob.shows(r"^\* connected to ", 20.0)
            await bob.prompt()
            await bob.join("General")
            bob.keys("hel")
            await bob.prompt("hel")
            await wait_until(lambda: ("bob", True) in typists.seen, 10.0, "alice to see bob typing")
            await alice.typing("General")
            await wait_until(lambda: bob.screen.rows[-2:] == ["alice is typing…", "> hel"], 10.0,
                             "the typing row above bob's prompt")
            await wait_until(lambda: "alice is typing…" not in bob.screen.rows, 10.0, "the row to clear itself")
            await bob.prompt("hel")
            assert bob.screen.text.count(">") == 2  # '> /join General' and the one prompt
            bob.keys("\x15")  # ^U: an empty line, so that finish()'s ^D ends the client
            await bob.prompt()
            assert await bob.finish() == 0
        finally:
            if bob.proc.returncode is None:
                bob.proc.kill()
