"""``stall`` (extension): stop reading while present, without discarding anything.

Chunks queue up in the pipe until its high-water mark, then the proxy stops
reading the source socket, so the sender's kernel and user-space buffers
fill: real TCP backpressure. When the toxic is removed every queued byte
flows on, in order. No attributes.
"""

from __future__ import annotations

import asyncio

from .base import Toxic, register
from .stage import Stub


@register("stall", extension=True)
class Stall(Toxic):
    async def pipe(self, stub: Stub) -> None:
        await asyncio.get_running_loop().create_future()  # until interrupted
