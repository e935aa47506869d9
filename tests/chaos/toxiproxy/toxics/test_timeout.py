"""``timeout``: data swallowed, the connection closed after ``timeout`` ms (never if 0).

First as a stage on its own (no sockets), then on real sockets through our server.
"""

from __future__ import annotations

import asyncio
import select
import time

import pytest

from tests.chaos.toxiproxy.sockets import STREAMS, recv_until_eof, round_trip
from tests.chaos.toxiproxy.toxics.stages import chunk, drain, payloads, run, stage


def test_timeout_swallows_then_closes() -> None:
    async def go():
        t, stub = stage("timeout", timeout=100)
        start = time.monotonic()
        stub.input.put(chunk(b"gone"))
        await t.pipe(stub)
        return payloads(await drain(stub)), time.monotonic() - start

    items, elapsed = run(go)
    assert items == [None] and 0.095 <= elapsed < 0.6


def test_timeout_zero_holds_until_cleanup_closes() -> None:
    async def go():
        t, stub = stage("timeout", timeout=0)
        task = asyncio.create_task(t.pipe(stub))
        stub.input.put(chunk(b"gone"))
        while len(stub.input):
            await asyncio.sleep(0)
        assert not task.done() and len(stub.output) == 0
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        t.cleanup(stub)
        return payloads(await drain(stub))

    assert run(go) == [None]


@pytest.mark.parametrize("stream", STREAMS)
def test_timeout_swallows_data_then_closes(make_link, conn_to, stream: str) -> None:
    link = make_link()
    link.add_toxic("timeout", stream=stream, attributes={"timeout": 300})
    start = time.monotonic()
    sock = conn_to(link)
    sock.sendall(b"hello?")
    assert recv_until_eof(sock) == b""
    assert time.monotonic() - start >= 0.28


def test_timeout_zero_holds_and_removing_it_closes(make_link, conn_to) -> None:
    link = make_link()
    sock = conn_to(link)
    round_trip(sock)
    link.add_toxic("timeout", attributes={"timeout": 0})
    sock.sendall(b"lost")
    assert select.select([sock], [], [], 0.3)[0] == []  # nothing comes back
    link.remove_toxic("timeout_downstream")
    assert recv_until_eof(sock) == b""
