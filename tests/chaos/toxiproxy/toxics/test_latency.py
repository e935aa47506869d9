"""``latency``: each chunk leaves ``latency`` ± ``jitter`` ms after it arrived.

First as a stage on its own (no sockets), then on real sockets through our server.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from chaos.toxiproxy.toxics import Chunk
from tests.chaos.toxiproxy.sockets import STREAMS, round_trip
from tests.chaos.toxiproxy.toxics.stages import chunk, drain, payloads, run, stage, toxic


def test_latency_counts_from_arrival_so_delays_do_not_pile_up() -> None:
    async def go():
        t, stub = stage("latency", latency=200)
        task = asyncio.create_task(t.pipe(stub))
        start = time.monotonic()
        for i in range(3):
            stub.input.put(Chunk(bytes([i]), start))
        stub.input.put(None)
        items = await drain(stub)
        await task
        return items, time.monotonic() - start

    items, elapsed = run(go)
    assert payloads(items) == [b"\x00", b"\x01", b"\x02", None]
    assert 0.195 <= elapsed < 0.5  # three chunks, one delay (piled up: 0.6)


def test_latency_jitter_stays_in_bounds() -> None:
    t = toxic("latency", latency=100, jitter=20)
    delays = {t.delay() for _ in range(500)}
    assert min(delays) >= 0.080 and max(delays) < 0.120 and len(delays) > 10


def test_an_interrupted_latency_passes_its_held_chunk_on() -> None:
    async def go():
        t, stub = stage("latency", latency=10_000)
        task = asyncio.create_task(t.pipe(stub))
        stub.input.put(chunk(b"held"))
        stub.input.put(chunk(b"queued"))
        while len(stub.input) != 1:
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return stub.output.get_nowait().data, len(stub.input)

    assert run(go) == (b"held", 1)


@pytest.mark.parametrize("stream", STREAMS)
def test_latency(make_link, conn_to, stream: str) -> None:
    link = make_link()
    link.add_toxic("latency", stream=stream, attributes={"latency": 200})
    sock = conn_to(link)
    for _ in range(2):
        assert 0.19 <= round_trip(sock) < 0.6


def test_latency_jitter(make_link, conn_to) -> None:
    link = make_link()
    link.add_toxic("latency", attributes={"latency": 100, "jitter": 50})
    sock = conn_to(link)
    times = [round_trip(sock) for _ in range(4)]
    assert all(0.045 <= t < 0.5 for t in times), times
