"""``bandwidth``: data paced at ``rate`` KB/s.

First as a stage on its own (no sockets), then on real sockets through our server.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from tests.chaos.toxiproxy.sockets import STREAMS, recv_exactly
from tests.chaos.toxiproxy.toxics.stages import chunk, drain, payloads, run, stage


def test_bandwidth_paces_and_splits_large_chunks() -> None:
    async def go():
        t, stub = stage("bandwidth", rate=100)  # 100 KB/s: 10 000 bytes per 100 ms
        task = asyncio.create_task(t.pipe(stub))
        start = time.monotonic()
        stub.input.put(chunk(b"x" * 25_000))
        stub.input.put(None)
        items = await drain(stub)
        await task
        return [len(c.data) for c in items[:-1]], time.monotonic() - start

    sizes, elapsed = run(go)
    assert sizes == [10_000, 10_000, 5_000]
    assert 0.22 <= elapsed < 1.0


def test_bandwidth_zero_is_unlimited() -> None:
    async def go():
        t, stub = stage("bandwidth", rate=0)
        stub.input.put(chunk(b"y" * 1_000_000))
        stub.input.put(None)
        await t.pipe(stub)
        return payloads(await drain(stub))

    assert run(go) == [b"y" * 1_000_000, None]


@pytest.mark.parametrize("stream", STREAMS)
def test_bandwidth_rate(make_link, conn_to, stream: str) -> None:
    link = make_link()
    link.add_toxic("bandwidth", stream=stream, attributes={"rate": 200})  # 200 KB/s
    sock = conn_to(link)
    payload = os.urandom(60_000)
    start = time.monotonic()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    assert 0.25 <= time.monotonic() - start < 2.0  # 60 KB at 200 KB/s = 0.3 s
