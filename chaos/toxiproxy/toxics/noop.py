"""``noop``: passes everything. Also what a stage runs when its toxicity roll misses."""

from __future__ import annotations

from .base import Toxic, register
from .stage import Stub


async def passthrough(stub: Stub) -> None:
    """Forward chunks unchanged until end of stream, then close."""
    async for chunk in stub.chunks():
        stub.send(chunk)


@register("noop")
class Noop(Toxic):
    async def pipe(self, stub: Stub) -> None:
        await passthrough(stub)
