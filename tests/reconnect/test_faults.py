"""Real processes and proxies: bob's client rides through each fault on its own, and shows the room once, in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncContextManager

import pytest

from chaos.infra.links import Links
from tests.reconnect.reconnect_harness import Chat, chat, in_thread
from tests.system.system_harness import wait_until


@asynccontextmanager
async def held_for(seconds: float, apply: Callable[[], object], heal: Callable[[], object]) -> AsyncIterator[None]:
    """Apply a fault, run the body, keep the fault for ``seconds`` in all, then heal it."""
    await in_thread(apply)
    began = time.monotonic()
    try:
        yield
    finally:
        await asyncio.sleep(max(0.0, seconds - (time.monotonic() - began)))  # the fault's length is the point
        await in_thread(heal)


@asynccontextmanager
async def reset_peer(c: Chat) -> AsyncIterator[None]:
    """Connections through bob's link are reset with an RST on their next bytes, new ones too, until he notices."""
    link = c.link("bob")
    async with held_for(0.5, lambda: link.add_toxic("reset_peer", "upstream", {"timeout": 0}, name="rst"),
                        lambda: link.remove_toxic("rst")):
        yield
        await wait_until(lambda: c.seen["bob"].ended, 10.0, "bob's next bytes (a keepalive ping) to be reset")


def disabled_3s(c: Chat) -> AsyncContextManager[None]:
    link = c.link("bob")
    return held_for(3.0, link.disable, link.enable)


def blackhole_2s(c: Chat) -> AsyncContextManager[None]:
    """Bytes both ways are swallowed without a close: only keepalive can tell."""
    link = c.link("bob")

    def apply() -> None:
        for stream in ("upstream", "downstream"):
            link.add_toxic("timeout", stream, {"timeout": 0}, name=f"hole_{stream}")

    def heal() -> None:
        for stream in ("upstream", "downstream"):
            link.remove_toxic(f"hole_{stream}")

    return held_for(2.0, apply, heal)


@asynccontextmanager
async def gate_restart(c: Chat) -> AsyncIterator[None]:
    """The gate is killed and started again on its port: every client loses its stream, alice too."""
    await c.topo.restart("gate0")
    yield


FAULTS = {"reset_peer": reset_peer, "disabled_3s": disabled_3s, "blackhole_2s": blackhole_2s,
          "gate_restart": gate_restart}
POLLED = {"disabled_3s", "blackhole_2s"}  # bob surely has no stream while alice sends: recovery shows them


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_bob_reconnects_by_himself_and_shows_the_history_once_in_order(fault: str, chaos_links: Links,
                                                                              tmp_path: Path) -> None:
    async with chat(chaos_links, tmp_path) as c:
        await c.client("alice")
        bob = await c.client("bob")
        first_id = bob.client_id
        await c.send_all("alice", ["one", "two", "three"])
        await c.wait_shown("bob", 3)
        during = [f"during {i}" for i in range(4)]
        async with FAULTS[fault](c):
            await c.send_all("alice", during)  # alice's sends wait out her own outage, if she has one
        await wait_until(lambda: bob.reconnects >= 1, 15.0, "bob to reconnect")
        await c.wait_shown("bob", 7)
        await c.send_all("alice", ["after one", "after two"])
        await c.wait_shown("bob", 9)
        await c.assert_exactly_once_in_order("bob")
        seen = c.seen["bob"]
        assert seen.ended and seen.reconnected and bob.client_id != first_id
        assert seen.sources(["after one", "after two"]) == {"push"}  # re-joined with the new client id
        if fault in POLLED:
            assert sum(n for _, n in seen.reconnected) == len(during)
            assert seen.sources(during) == {"join"}  # the re-join's reply reached back to bob's cursor: no poll
