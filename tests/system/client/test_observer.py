"""The observer hooks: defined once in code, described alike in the docs, optional, and never fatal."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Callable

from system.client import HOOKS, Observer
from system.pb import chat_pb2
from tests.system.system_harness import FAST, Relay, capture_logs, cluster, wait_until

ARCHITECTURE = Path(__file__).resolve().parents[3] / "docs" / "architecture.md"


def documented_hooks() -> dict[str, list[str]]:
    """Each ``on_x(a, b)`` the client contract in docs/architecture.md describes, with its arguments."""
    contract = ARCHITECTURE.read_text(encoding="utf-8").split("## Client contract")[1].split("\n## ")[0]
    return {name: [a.strip() for a in args.split(",") if a.strip()]
            for name, args in re.findall(r"`(on_\w+)\(([^)]*)\)`", contract)}


def test_the_docs_describe_exactly_the_hooks_the_code_defines_with_their_arguments() -> None:
    defined = {hook: list(inspect.signature(getattr(Observer, hook)).parameters)[1:] for hook in HOOKS}
    assert documented_hooks() == defined


class Asked:
    """An observer that is no Observer: it records every hook the client looks for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        if not name.startswith("on_"):
            raise AttributeError(name)
        self.asked.append(name)
        return lambda *args: None


class Broken(Observer):
    def on_display(self, room: str, message: chat_pb2.ChatMessage, source: str) -> None:
        raise RuntimeError("a bug in the user's code")


class OnlyDisplay:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def on_display(self, room: str, message: chat_pb2.ChatMessage, source: str) -> None:
        self.texts.append(message.message)


async def test_observers_get_the_hooks_they_have_and_one_that_raises_stops_nothing() -> None:
    async with cluster() as c:
        relay = await Relay(c.gates[0].addr).start()
        try:
            alice, _ = await c.client("alice")
            asked, only = Asked(), OnlyDisplay()
            bob, _ = await c.client("bob", server=relay.addr, observers=(Broken(), only, asked), **FAST)
            await bob.join("General")
            with capture_logs() as logs:
                await alice.send("General", "one")
                await wait_until(lambda: only.texts == ["one"], 5.0, "the push, past the broken observer")
                relay.cut()  # the stream ends; bob reconnects and recovers by himself
                await wait_until(lambda: bob.reconnects == 1, 10.0, "bob to reconnect")
                await alice.send("General", "two")
                await wait_until(lambda: only.texts == ["one", "two"], 5.0, "the push after the reconnection")
                await bob.poll("General")  # the poll hooks (a recovery whose re-join showed all it missed polls not)
            assert {e["event"] for e in logs.records if e["level"] == "ERROR"} == {"observer on_display failed"}
        finally:
            await relay.stop()
    assert set(asked.asked) <= set(HOOKS)
    assert {"on_display", "on_push", "on_stream_end", "on_reconnected", "on_poll", "on_polled"} <= set(asked.asked)
