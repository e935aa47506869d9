"""``pushchat demo reconnect|stall``: a narrated story of a client that loses pushes and gets them back.

Each demo starts Toxiproxy (ours, as a subprocess), a node and a gate (OS
processes, every client link behind its own proxy) and two clients, alice
and bob, then tells what happens, with timestamps, and ends with a check:
bob showed every message of the room exactly once, in order (exit 0), or
what went wrong (exit 1). No input is needed; ``--quiet`` prints only the
verdict.

- ``reconnect``: bob's link is reset (RST, and every new connection too, for
  2 s) while alice keeps sending; bob reconnects with backoff, re-joins and
  recovers what he missed (the re-join's reply holds the room's recent
  history; a poll fetches what it does not).
- ``stall``: bob's app stops reading its push stream; the gate's buffer for
  him (10 pushes) overflows and the drops are logged, alice's sends keep
  succeeding; when bob reads again he sees the gap and polls.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from chaos.infra.links import Links
from chaos.topology import Topology, TopologyPlan
from system import log
from system.client import ChatClient, Observer, describe
from system.pb import chat_pb2
from system.wait import wait_until

ROOM = "General"
ERROR_WIDTH = 100  # an error longer than this is cut at a word boundary
Line = tuple[int, str, str]  # (seq, user, text)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("story", choices=["reconnect", "stall"], help="which demo to run")
    parser.add_argument("--quiet", action="store_true", help="print only the final check")
    parser.add_argument("--out", metavar="DIR", help="keep the servers' logs here (default: a new temporary folder)")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix=f"pushchat-demo-{args.story}-"))
    out.mkdir(parents=True, exist_ok=True)
    log.setup("client", path=str(out / "clients.log"))
    story = {"reconnect": reconnect_story, "stall": stall_story}[args.story]
    narrator = Narrator(sys.stdout, args.quiet)
    try:
        problems = asyncio.run(story(narrator, out))
    except Exception as exc:  # noqa: BLE001 - the demo says what broke instead of a traceback
        problems = [f"the demo itself failed: {type(exc).__name__}: {exc}"]
    return narrator.verdict(problems, out)


def check_exactly_once(shown: Sequence[Line], truth: Sequence[Line]) -> list[str]:
    """What is wrong with ``shown`` against the room's ``truth``: lost, duplicated, reordered or invented lines."""
    problems = []
    counts = Counter(shown)
    if missing := [m for m in truth if m not in counts]:
        problems.append(f"never shown: {', '.join(f'#{s} {t!r}' for s, _, t in missing)}")
    if twice := [m for m, n in counts.items() if n > 1]:
        problems.append(f"shown more than once: {', '.join(f'#{s} {t!r}' for s, _, t in twice)}")
    if invented := [m for m in counts if m not in set(truth)]:
        problems.append(f"shown but not in the room: {', '.join(f'#{s} {t!r}' for s, _, t in invented)}")
    order = [s for s, _, _ in shown]
    if order != sorted(order):
        problems.append(f"shown out of order: seqs {order}")
    return problems


@dataclass
class Cause:
    """A line told before everything said while it was going on (its effects), stamped when it began."""

    at: float
    text: str = ""


class Narrator:
    """Timestamped lines on the terminal, relative to the start of the demo, in causal order."""

    def __init__(self, out: TextIO, quiet: bool) -> None:
        self.out = out
        self.quiet = quiet
        self.t0 = time.monotonic()
        self._held: list[tuple[float, str]] | None = None

    def say(self, text: str) -> None:
        line = (time.monotonic() - self.t0, text)
        if self._held is not None:
            self._held.append(line)
        else:
            self._write(*line)

    @contextmanager
    def cause(self) -> Iterator[Cause]:
        """Hold what is said inside until the block ends, then tell the cause's text first.

        alice's send is told once its reply gives the seq, but bob may see the message before
        that reply arrives: his line waits, and alice's is stamped with when she sent it.
        """
        cause, self._held = Cause(time.monotonic() - self.t0), []
        try:
            yield cause
        finally:
            held, self._held = self._held, None
            if cause.text:
                self._write(cause.at, cause.text)
            for at, text in held:
                self._write(at, text)

    def _write(self, at: float, text: str) -> None:
        if not self.quiet:
            self.out.write(f"[+{at:5.2f}s] {text}\n")
            self.out.flush()

    def verdict(self, problems: list[str], out: Path) -> int:
        took = time.monotonic() - self.t0
        if problems:
            self.out.write(f"CHECK FAILED after {took:.1f}s:\n" + "".join(f"  - {p}\n" for p in problems))
        else:
            self.out.write(f"CHECK PASSED in {took:.1f}s: bob saw every message of {ROOM} exactly once, in order\n")
        self.out.write(f"logs: {out}\n")
        self.out.flush()
        return 1 if problems else 0


class BobsScreen(Observer):
    """What bob's client tells him, told on the terminal; ``quiet_displays`` only counts them."""

    def __init__(self, narrator: Narrator, quiet_displays: bool = False) -> None:
        self.narrator = narrator
        self.quiet_displays = quiet_displays
        self.shown: list[Line] = []
        self.sources: Counter[str] = Counter()
        self.recovered: list[int] = []
        self.attempts = 0

    def on_display(self, room: str, message: chat_pb2.ChatMessage, source: str) -> None:
        self.shown.append((message.seq, message.user_name, message.message))
        self.sources[source] += 1
        if not self.quiet_displays:
            self.narrator.say(f"bob sees #{message.seq} {message.user_name}: {message.message}   (by {source})")

    def on_stream_end(self, error: BaseException | None) -> None:
        self.narrator.say(f"bob's push stream broke ({describe(error)})")

    def on_reconnecting(self, attempt: int, error: BaseException | None, wait: float) -> None:
        self.attempts = attempt
        why = textwrap.shorten(describe(error).rpartition("last error: ")[2], ERROR_WIDTH, placeholder=" …")
        self.narrator.say(f"bob: attempt {attempt - 1} failed ({why}); next in {wait:.2f}s")

    def on_reconnected(self, client_id: str, recovered: int) -> None:
        self.recovered.append(recovered)
        self.narrator.say(f"bob reconnected as {client_id}, re-joined {ROOM}, recovered "
                          f"{recovered} message{'' if recovered == 1 else 's'}")

    def on_gap(self, room: str, after_seq: int) -> None:
        self.narrator.say(f"bob's client sees a gap after #{after_seq}: it polls to fill it")

    def on_recovery_incomplete(self, room: str, first_available_seq: int, cursor: int) -> None:
        self.narrator.say(f"bob could not recover #{cursor + 1}-#{first_available_seq - 1}: trimmed from history")


class Stage:
    """Toxiproxy, one node, one gate, alice and bob: started, and always stopped."""

    def __init__(self, narrator: Narrator, out: Path, bob_screen: BobsScreen, **bob_options: object) -> None:
        self.narrator = narrator
        self.out = out
        self.bob_screen = bob_screen
        self.bob_options = bob_options
        self.links: Links | None = None
        self.topo: Topology | None = None
        self.clients: list[ChatClient] = []

    async def __aenter__(self) -> "Stage":
        say = self.narrator.say
        say("starting Toxiproxy, a node and a gate (OS processes); alice and bob each get a proxied link")
        self.out.mkdir(parents=True, exist_ok=True)
        self.links = await asyncio.to_thread(Links.embedded, self.out / "toxiproxy.log")
        self.topo = await Topology(TopologyPlan(clients={"alice": 0, "bob": 0}), self.out, self.links).start()
        say(f"node {self.topo.nodes[0].addr}, gate {self.topo.gates[0].addr}; "
            f"alice via {self.topo.client_addr('alice')}, bob via {self.topo.client_addr('bob')}")
        self.alice = ChatClient(self.topo.client_addr("alice"), "alice")
        self.bob = ChatClient(self.topo.client_addr("bob"), "bob", observers=[self.bob_screen], **self.bob_options)
        self.clients = [self.alice, self.bob]
        for client in self.clients:
            await client.connect()
            await client.join(ROOM)
            say(f"{client.user} connected (client id {client.client_id}) and joined {ROOM}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)
        if self.topo is not None:
            await self.topo.close()
        if self.links is not None:
            await asyncio.to_thread(self.links.close)

    async def send(self, text: str) -> None:
        with self.narrator.cause() as sent:
            result = await self.alice.send(ROOM, text)
            sent.text = f"alice sends {text!r}: stored as #{result.seq}"

    async def wait_for_bob(self, count: int, timeout: float) -> None:
        """Until bob showed ``count`` lines, or ``timeout``: the check then says what is missing."""
        await wait_until(lambda: len(self.bob_screen.shown) >= count, timeout, interval=0.02, fail=False)

    async def check(self) -> list[str]:
        """Compare what bob showed with everything the room holds, read by a fresh poll-only client."""
        truth_seen = BobsScreen(self.narrator, quiet_displays=True)
        auditor = ChatClient(self.topo.client_addr("alice"), "auditor", observers=[truth_seen])  # type: ignore[union-attr]
        try:
            await auditor.poll(ROOM)
        finally:
            await auditor.close()
        truth = [m for m in truth_seen.shown if m[1] != "bob"]
        self.narrator.say(f"the room holds {len(truth)} messages; bob showed {len(self.bob_screen.shown)} "
                          f"({', '.join(f'{n} by {s}' for s, n in sorted(self.bob_screen.sources.items()))})")
        return check_exactly_once(self.bob_screen.shown, truth)


async def reconnect_story(narrator: Narrator, out: Path) -> list[str]:
    screen = BobsScreen(narrator)
    async with Stage(narrator, out, screen, backoff_min=0.1, backoff_max=1.0) as stage:
        say, link = narrator.say, stage.topo.client_link("bob")  # type: ignore[union-attr]
        for text in ("hi bob", "how are you?", "lunch at noon?"):
            await stage.send(text)
        await stage.wait_for_bob(3, 5.0)

        kind = "reset" if await asyncio.to_thread(lambda: link.links.supports_extensions) else "reset_peer"
        say(f"FAULT: bob's link is reset ({kind} toxic): his connection gets a TCP RST, "
            "and so does every new one for the next 2 s")
        began = time.monotonic()
        stream = "downstream" if kind == "reset" else "upstream"
        await asyncio.to_thread(link.add_toxic, kind, stream, {"timeout": 0}, "rst")
        for text in ("bob?", "are you there?", "the meeting moved to 3pm", "room 42", "bring the slides"):
            await stage.send(text)
            await asyncio.sleep(0.25)  # alice types at a human pace while bob is away
        await asyncio.sleep(max(0.0, 2.0 - (time.monotonic() - began)))
        await asyncio.to_thread(link.remove_toxic, "rst")
        say("HEAL: bob's link works again")
        await stage.wait_for_bob(8, 15.0)
        for text in ("welcome back", "see you at 3"):
            await stage.send(text)
        await stage.wait_for_bob(10, 5.0)
        problems = await stage.check()
        if not screen.recovered:
            problems.append("bob never reported a reconnection")
        return problems


def bobs_drops(gate_log: Path, client_id: str) -> list[dict[str, object]]:
    return [e for e in log.read(str(gate_log)) if e.get("event") == "push_dropped" and e.get("client_id") == client_id]


async def stall_story(narrator: Narrator, out: Path) -> list[str]:
    screen = BobsScreen(narrator, quiet_displays=True)
    # A small push-stream window, so bob's stall fills the gate's buffer after a few messages, not megabytes.
    async with Stage(narrator, out, screen, push_window=1024) as stage:
        say, bob = narrator.say, stage.bob
        gate_log = stage.topo.log_files()["gate0"]  # type: ignore[union-attr]
        for text in ("hi bob", "how are you?"):
            await stage.send(text)
        await stage.wait_for_bob(2, 5.0)
        say(f"bob sees {len(screen.shown)} messages by push so far")

        say("FAULT: bob's app stalls: it stops reading its push stream (his connection stays up)")
        bob.stop_reading()
        sent, drops = 0, []
        while len(drops) < 5 and sent < 500:
            await stage.alice.send(ROOM, f"update {sent + 1}")  # raises if a send fails
            sent += 1
            drops = bobs_drops(gate_log, bob.client_id)
        say(f"alice sent {sent} more messages; every send was acknowledged")
        reasons = Counter(e.get("reason") for e in drops)
        say(f"the gate's log shows {len(drops)} dropped pushes for bob so far: "
            + ", ".join(f"{n} x {r}" for r, n in reasons.items()))
        say("waiting 2.5 s, long enough for keepalive to tear down a link that does not answer pings")
        await asyncio.sleep(2.5)
        say(f"bob's link is {'still up' if bob.connected else 'DOWN'} ({bob.reconnects} reconnections): "
            "his transport answers pings while his app is stalled")

        say("HEAL: bob's app reads again; what the gate had queued for him arrives first")
        bob.resume_reading()
        await stage.wait_for_bob(2 + sent - len(drops), 10.0)
        await stage.send("are you back?")  # the next push shows bob the gap the drops left
        await stage.wait_for_bob(3 + sent, 15.0)
        say(f"bob now shows {len(screen.shown)} messages: {screen.sources['push']} by push, "
            f"{screen.sources['poll']} recovered by polling")
        drops = bobs_drops(gate_log, bob.client_id)
        say(f"the gate logged {len(drops)} dropped pushes for bob in all "
            f"({', '.join(sorted({e['reason'] for e in drops}))})")
        problems = await stage.check()
        if not drops:
            problems.append("the gate dropped nothing: the stall did not overflow its buffer")
        if bob.reconnects:
            problems.append(f"bob reconnected {bob.reconnects} {'time' if bob.reconnects == 1 else 'times'}: "
                            "a stalled reader should keep its link")
        if not screen.sources["poll"]:
            problems.append("nothing was recovered by polling")
        return problems
