"""``stall`` (extension): nothing read while present, TCP backpressure, nothing lost.

First as a stage on its own (no sockets), then on real sockets through our server.
"""

from __future__ import annotations

import asyncio
import select
import socket

import pytest

from tests.chaos.toxiproxy.sockets import STREAMS, recv_exactly, round_trip, send_until_blocked
from tests.chaos.toxiproxy.toxics.stages import chunk, drain, payloads, run, stage


def test_stall_reads_nothing_and_loses_nothing() -> None:
    async def go():
        t, stub = stage("stall")
        task = asyncio.create_task(t.pipe(stub))
        for data in (b"a", b"b"):
            stub.input.put(chunk(data))
        stub.input.put(None)
        for _ in range(10):
            await asyncio.sleep(0)
        assert len(stub.output) == 0
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        stub.input.move_to(stub.output)
        return payloads(await drain(stub))

    assert run(go) == [b"a", b"b", None]


@pytest.mark.parametrize("stream", STREAMS)
def test_stall_backpressures_the_sender_and_loses_nothing(make_link, conn_to, stream: str) -> None:
    link = make_link()
    sock = conn_to(link)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    round_trip(sock)
    name = link.add_toxic("stall", stream=stream)
    sent = send_until_blocked(sock)
    assert select.select([sock], [], [], 0)[0] == []  # nothing came back while stalled
    link.remove_toxic(name)
    assert recv_exactly(sock, len(sent)) == sent
    round_trip(sock)  # flowing again
