"""``bandwidth``: paces data at ``rate`` KB/s (1 KB = 1000 bytes); ``rate <= 0`` is unlimited.

As in the real server, a chunk larger than 100 ms worth of data is sent in
100 ms slices, and timer overshoot is credited to the next sleep.
"""

from __future__ import annotations

import asyncio
import time

from .base import Toxic, register
from .stage import Chunk, Stub


@register("bandwidth")
class Bandwidth(Toxic):
    rate: int = 0

    async def pipe(self, stub: Stub) -> None:
        debt = 0.0  # seconds of sending we owe the rate
        async for chunk in stub.chunks():
            rate = self.rate
            if rate <= 0:
                debt = 0.0
                stub.send(chunk)
                continue
            data, ts = chunk.data, chunk.ts
            debt += len(data) / (rate * 1000.0)
            step = rate * 100  # bytes per 100 ms
            try:
                while len(data) > step:
                    await asyncio.sleep(0.1)
                    stub.send(Chunk(data[:step], ts))
                    data = data[step:]
                    debt -= 0.1
                start = time.monotonic()
                if debt > 0:
                    await asyncio.sleep(debt)
                debt -= time.monotonic() - start
            finally:
                if data:
                    stub.send(Chunk(data, ts))
