"""``reset_peer``: after the first chunk (or end of stream), waits ``timeout`` ms, then resets.

The connection is closed with a TCP RST (SO_LINGER 0) on both sides. Unlike
the real server, this holds for connections opened before the toxic was
added too (the real one closes those with a FIN).
"""

from __future__ import annotations

import asyncio

from .base import Toxic, register
from .stage import Stub


@register("reset_peer", go_name="ResetToxic")
class ResetPeer(Toxic):
    timeout: int = 0

    async def pipe(self, stub: Stub) -> None:
        await stub.recv()  # the first chunk is dropped, as in the real server
        if self.timeout > 0:
            await asyncio.sleep(self.timeout / 1000.0)
        stub.close(reset=True)
