"""``latency``: each chunk leaves ``latency`` ± ``jitter`` ms after it arrived.

Delays are counted from the chunk's arrival stamp, so chunks queued behind a
delayed one are not delayed again (delays do not pile up).
"""

from __future__ import annotations

import asyncio
import random
import time

from .base import Toxic, register
from .stage import Stub


@register("latency")
class Latency(Toxic):
    latency: int = 0
    jitter: int = 0

    def delay(self) -> float:
        """One delay in seconds: latency plus a uniform draw in [-jitter, jitter)."""
        ms = self.latency
        if self.jitter > 0:
            ms += random.randrange(2 * self.jitter) - self.jitter
        return ms / 1000.0

    async def pipe(self, stub: Stub) -> None:
        async for chunk in stub.chunks():
            try:
                wait = chunk.ts + self.delay() - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            finally:
                stub.send(chunk)  # an interrupt passes the held chunk on, never drops it
