"""``reset`` (extension): reset connections with a TCP RST, existing ones included.

While present, every connection is reset ``timeout`` ms after the toxic's
stage starts on it: for connections already open that is when the toxic is
added (or updated), for later ones when they are accepted. Both sockets of
the connection get an RST (SO_LINGER 0). Data passes until then. Toxicity is
rolled per connection, so ``toxicity: 0.5`` resets about half of them. To
reset only what is open now, add the toxic and remove it again.
"""

from __future__ import annotations

import asyncio

from .base import Toxic, register
from .noop import passthrough
from .stage import Stub


@register("reset", extension=True)
class Reset(Toxic):
    timeout: int = 0

    async def pipe(self, stub: Stub) -> None:
        if self.timeout > 0:
            try:
                async with asyncio.timeout(self.timeout / 1000.0):
                    await passthrough(stub)
                    return
            except TimeoutError:
                pass
        stub.close(reset=True)
