"""``timeout``: swallows all data and closes after ``timeout`` ms (never if 0).

The sender feels no backpressure: bytes are read and dropped. Removing the
toxic closes the connections it held, as in the real server.
"""

from __future__ import annotations

import asyncio

from .base import Toxic, register
from .stage import Stub


async def swallow(stub: Stub) -> None:
    """Drop everything until end of stream, then close."""
    async for _ in stub.chunks():
        pass


@register("timeout")
class Timeout(Toxic):
    timeout: int = 0

    async def pipe(self, stub: Stub) -> None:
        if self.timeout <= 0:
            await swallow(stub)
            return
        try:
            async with asyncio.timeout(self.timeout / 1000.0):
                await swallow(stub)
        except TimeoutError:
            stub.close()

    def cleanup(self, stub: Stub) -> None:
        stub.close()
