"""``reset_peer``: a TCP RST after the first chunk and ``timeout`` ms.

First as a stage on its own (no sockets), then on real sockets through our server.
"""

from __future__ import annotations

import time

import pytest

from tests.chaos.toxiproxy.sockets import STREAMS, recv_until_eof, round_trip
from tests.chaos.toxiproxy.toxics.stages import chunk, drain, payloads, run, stage


def test_reset_peer_drops_the_first_chunk_and_resets() -> None:
    async def go():
        t, stub = stage("reset_peer", timeout=50)
        start = time.monotonic()
        stub.input.put(chunk(b"first"))
        await t.pipe(stub)
        return payloads(await drain(stub)), stub.reset, time.monotonic() - start

    items, reset, elapsed = run(go)
    assert items == [None] and reset and elapsed >= 0.045


@pytest.mark.parametrize("stream", STREAMS)
def test_reset_peer_gives_econnreset(make_link, conn_to, stream: str) -> None:
    link = make_link()
    link.add_toxic("reset_peer", stream=stream, attributes={"timeout": 50})
    sock = conn_to(link)
    sock.sendall(b"knock")
    with pytest.raises(ConnectionResetError):
        recv_until_eof(sock)


def test_reset_peer_resets_connections_older_than_the_toxic(make_link, conn_to) -> None:
    link = make_link()
    sock = conn_to(link)
    round_trip(sock)
    link.add_toxic("reset_peer", attributes={"timeout": 0})
    sock.sendall(b"knock")
    with pytest.raises(ConnectionResetError):
        recv_until_eof(sock)
