"""``limit_data``: passes ``bytes`` bytes per connection and direction, then closes.

The count is per pipe (connection and direction) and survives updates of the toxic, as in the real server.
"""

from __future__ import annotations

from .base import Toxic, register
from .stage import Chunk, Stub


class _Sent:
    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


@register("limit_data")
class LimitData(Toxic):
    bytes: int = 0

    def new_state(self) -> _Sent:
        return _Sent()

    async def pipe(self, stub: Stub) -> None:
        sent: _Sent = stub.state
        async for chunk in stub.chunks():
            remaining = max(self.bytes - sent.n, 0)
            if remaining < len(chunk.data):
                chunk = Chunk(chunk.data[:remaining], chunk.ts)
            if chunk.data:
                stub.send(chunk)
                sent.n += len(chunk.data)
            if self.bytes - sent.n <= 0:
                stub.close()
                return
