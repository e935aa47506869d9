"""``packet_loss``: drops whole chunks, ``loss_rate`` of them, in bursts when ``correlation`` > 0.

As Toxiproxy upstream's toxic (merged after 2.12.0, PR 739): two float
attributes, both 0 by default (no loss), each clamped to [0, 1]; a chunk
is dropped with probability ``loss_rate``, or ``loss_rate + correlation``
(at most 1) right after a dropped one (a simplified Gilbert-Elliott burst
model); every connection and direction rolls its own random numbers.

A chunk is whatever one read of the source socket returned, not an IP
packet: TCP below the proxy never sees the loss, so nothing is resent, and
a byte stream comes out with holes. A framed protocol such as gRPC (HTTP/2)
then reads garbage where a frame header should be and ends the connection
with a protocol error; the loss shows as connection drops, not as slowness.
"""

from __future__ import annotations

import random

from .base import Toxic, register
from .stage import Stub


class _Losing:
    """Per pipe: its own random numbers, and whether the last chunk was dropped."""

    __slots__ = ("rng", "dropped")

    def __init__(self) -> None:
        self.rng = random.Random()
        self.dropped = False


@register("packet_loss")
class PacketLoss(Toxic):
    loss_rate: float = 0.0
    correlation: float = 0.0

    def new_state(self) -> _Losing:
        return _Losing()

    def drops(self, state: _Losing) -> bool:
        """This chunk's fate (and it is remembered for the next one's)."""
        loss = min(max(self.loss_rate, 0.0), 1.0)
        chance = min(1.0, loss + min(max(self.correlation, 0.0), 1.0)) if state.dropped else loss
        state.dropped = state.rng.random() < chance
        return state.dropped

    async def pipe(self, stub: Stub) -> None:
        state: _Losing = stub.state
        async for chunk in stub.chunks():
            if not self.drops(state):
                stub.send(chunk)
