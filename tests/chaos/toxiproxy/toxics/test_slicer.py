"""``slicer``: chunks cut into pieces of about ``average_size`` bytes.

First as a stage on its own (no sockets), then on real sockets through our server.
"""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from tests.chaos.toxiproxy.sockets import TcpServer, wait_for
from tests.chaos.toxiproxy.toxics.stages import chunk, run, stage, toxic


@pytest.mark.parametrize("average, variation, size", [(10, 5, 1000), (1, 0, 50), (0, 0, 7), (2, 10, 13),
                                                      (100, 10, 50)])
def test_slicer_offsets_cover_the_chunk_in_bounded_pieces(average: int, variation: int, size: int) -> None:
    t = toxic("slicer", average_size=average, size_variation=variation)
    cuts = t.offsets(0, size)
    pieces = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts), 2)]
    assert pieces[0][0] == 0 and pieces[-1][1] == size
    assert all(a < b for a, b in pieces) and all(pieces[i][1] == pieces[i + 1][0] for i in range(len(pieces) - 1))
    assert all(b - a <= max(average, 1) + variation for a, b in pieces)


def test_slicer_sends_slices_and_an_interrupt_sends_the_rest_whole() -> None:
    async def go():
        t, stub = stage("slicer", average_size=10, size_variation=0, delay=1_000_000)
        task = asyncio.create_task(t.pipe(stub))
        stub.input.put(chunk(bytes(range(40))))
        first = await stub.output.get()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        rest = stub.output.get_nowait()
        return first.data, rest.data

    first, rest = run(go)
    assert len(first) == 10 and first + rest == bytes(range(40))


class _Sizes:
    """Upstream handler that records the size of every read."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, conn: socket.socket) -> None:
        while chunk := conn.recv(65536):
            self.sizes.append(len(chunk))


def test_slicer_downstream_chunk_sizes(make_link, conn_to) -> None:
    link = make_link()
    link.add_toxic("slicer", attributes={"average_size": 10, "size_variation": 4, "delay": 20_000})
    sock = conn_to(link)
    payload = os.urandom(100)
    sock.sendall(payload)
    sizes, got = [], b""
    while len(got) < len(payload):
        piece = sock.recv(1000)
        sizes.append(len(piece))
        got += piece
    assert got == payload and len(sizes) >= 5 and max(sizes) <= 14


def test_slicer_upstream_chunk_sizes(make_link, conn_to) -> None:
    reads = _Sizes()
    server = TcpServer(reads)
    link = make_link(server.addr)
    link.add_toxic("slicer", stream="upstream", attributes={"average_size": 10, "size_variation": 4,
                                                            "delay": 20_000})
    conn_to(link).sendall(os.urandom(100))
    wait_for(lambda: sum(reads.sizes) == 100, what="all slices")
    assert len(reads.sizes) >= 5 and max(reads.sizes) <= 14
    server.close()
