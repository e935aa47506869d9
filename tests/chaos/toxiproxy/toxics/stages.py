"""Running one toxic's stage by hand: a stub between two channels, no sockets."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

from chaos.toxiproxy.toxics import REGISTRY, Channel, Chunk, Stub


def run(fn: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(fn(), 10))


def toxic(type_: str, **attributes: int):
    return REGISTRY[type_](**attributes)


def stage(type_: str, state: Any = None, **attributes: int) -> tuple[Any, Stub]:
    t = toxic(type_, **attributes)
    return t, Stub(Channel(), Channel(), t.new_state() if state is None else state)


def chunk(data: bytes) -> Chunk:
    return Chunk(data, time.monotonic())


async def drain(stub: Stub) -> list:
    """Everything on the output up to and including the end of stream."""
    out = []
    while True:
        item = await stub.output.get()
        out.append(item)
        if item is None:
            return out


def payloads(items: list) -> list:
    return [None if item is None else item.data for item in items]
