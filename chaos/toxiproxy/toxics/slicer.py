"""``slicer``: splits chunks into pieces of about ``average_size`` ± ``size_variation`` bytes,
waiting ``delay`` microseconds after each piece.

Pieces are never larger than ``average_size + size_variation``. Unlike the
real server, a zero ``size_variation`` or ``average_size`` does not crash.
"""

from __future__ import annotations

import asyncio
import random

from .base import Toxic, register
from .stage import Chunk, Stub


@register("slicer")
class Slicer(Toxic):
    average_size: int = 0
    size_variation: int = 0
    delay: int = 0

    def offsets(self, start: int, end: int) -> list[int]:
        """Cut points ``[a0, b0, a1, b1, ...]`` splitting ``[start, end)`` into pieces."""
        average = max(self.average_size, 1)
        variation = max(self.size_variation, 0)
        if (end - start) - average <= variation:
            return [start, end]
        mid = start + (end - start) // 2
        if variation > 0:
            mid += random.randrange(2 * variation) - variation
        mid = min(max(mid, start + 1), end - 1)
        return self.offsets(start, mid) + self.offsets(mid, end)

    async def pipe(self, stub: Stub) -> None:
        async for chunk in stub.chunks():
            data, ts = chunk.data, chunk.ts
            cuts = self.offsets(0, len(data))
            sent = 0
            try:
                for i in range(1, len(cuts), 2):
                    stub.send(Chunk(data[cuts[i - 1]:cuts[i]], ts))
                    sent = cuts[i]
                    if self.delay > 0:
                        await asyncio.sleep(self.delay / 1e6)
            finally:
                if sent < len(data):
                    stub.send(Chunk(data[sent:], ts))
