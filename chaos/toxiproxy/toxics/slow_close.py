"""``slow_close``: passes data; at end of stream waits ``delay`` ms before closing."""

from __future__ import annotations

import asyncio

from .base import Toxic, register
from .stage import Stub


@register("slow_close")
class SlowClose(Toxic):
    delay: int = 0

    async def pipe(self, stub: Stub) -> None:
        while True:
            chunk = await stub.recv()
            if chunk is not None:
                stub.send(chunk)
                continue
            try:
                await asyncio.sleep(max(self.delay, 0) / 1000.0)
            except asyncio.CancelledError:
                stub.unrecv(None)  # interrupted: the end of stream is still to be handled
                raise
            stub.close()
            return
