"""``noop``: passes everything. Also what a stage runs when its toxicity roll misses."""

from __future__ import annotations

from .base import Toxic, register
from .stage import Stub


async def passthrough(stub: Stub) -> None:
    """Forward chunks unchanged until end of stream, then close."""
    while True:
        chunk = await stub.recv()
        if chunk is None:
            stub.close()
            return
        stub.send(chunk)


@register("noop")
class Noop(Toxic):
    async def pipe(self, stub: Stub) -> None:
        await passthrough(stub)
