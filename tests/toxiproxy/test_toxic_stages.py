"""Toxics as pipe stages over timestamped chunks, without sockets."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

import pytest

from chaos.toxiproxy.decode import ApiError, decode_fields, parse_body
from chaos.toxiproxy.toxics import REGISTRY, Channel, Chunk, Meter, Stub
from chaos.toxiproxy.toxicset import ToxicSpec, parse_toxic, parse_toxic_update


def run(fn: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(fn(), 10))


def toxic(type_: str, **attributes: int):
    return REGISTRY[type_](**attributes)


def stage(type_: str, state: Any = None, **attributes: int) -> tuple[Any, Stub]:
    t = toxic(type_, **attributes)
    return t, Stub(Channel(), Channel(), t.new_state() if state is None else state)


def chunk(data: bytes) -> Chunk:
    return Chunk(data, time.monotonic())


async def drain(stub: Stub) -> list:
    """Everything on the output up to and including the end of stream."""
    out = []
    while True:
        item = await stub.output.get()
        out.append(item)
        if item is None:
            return out


def payloads(items: list) -> list:
    return [None if item is None else item.data for item in items]


def test_noop_passes_everything_then_closes() -> None:
    async def go():
        t, stub = stage("noop")
        for data in (b"a", b"bc"):
            stub.input.put(chunk(data))
        stub.input.put(None)
        await t.pipe(stub)
        return payloads(await drain(stub)), stub.closed

    assert run(go) == ([b"a", b"bc", None], True)


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


def test_limit_data_truncates_and_its_count_survives_a_restart() -> None:
    async def go():
        t, stub = stage("limit_data", bytes=10)
        task = asyncio.create_task(t.pipe(stub))
        stub.input.put(chunk(b"1234"))
        assert (await stub.output.get()).data == b"1234"
        task.cancel()  # an update interrupts and restarts the stage with the same state
        await asyncio.gather(task, return_exceptions=True)
        for data in (b"5678", b"9abc", b"def"):
            stub.input.put(chunk(data))
        await t.pipe(stub)
        return payloads(await drain(stub)), len(stub.input)

    assert run(go) == ([b"5678", b"9a", None], 1)


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


def test_reset_peer_drops_the_first_chunk_and_resets() -> None:
    async def go():
        t, stub = stage("reset_peer", timeout=50)
        start = time.monotonic()
        stub.input.put(chunk(b"first"))
        await t.pipe(stub)
        return payloads(await drain(stub)), stub.reset, time.monotonic() - start

    items, reset, elapsed = run(go)
    assert items == [None] and reset and elapsed >= 0.045


def test_slow_close_delays_the_end_and_an_interrupt_keeps_it() -> None:
    async def go():
        t, stub = stage("slow_close", delay=100)
        start = time.monotonic()
        stub.input.put(chunk(b"data"))
        stub.input.put(None)
        await t.pipe(stub)
        items, elapsed = payloads(await drain(stub)), time.monotonic() - start
        t2, stub2 = stage("slow_close", delay=10_000)
        task = asyncio.create_task(t2.pipe(stub2))
        stub2.input.put(None)
        while len(stub2.input):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return items, elapsed, stub2.input.get_nowait(), stub2.closed

    items, elapsed, requeued, closed = run(go)
    assert items == [b"data", None] and elapsed >= 0.095
    assert requeued is None and not closed


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


def test_reset_extension_passes_data_then_resets() -> None:
    async def go():
        t, stub = stage("reset", timeout=100)
        task = asyncio.create_task(t.pipe(stub))
        stub.input.put(chunk(b"before"))
        items = [await stub.output.get()]
        await task
        items.append(stub.output.get_nowait())
        return payloads(items), stub.reset

    assert run(go) == ([b"before", None], True)


def test_meter_pauses_above_high_and_resumes_at_low() -> None:
    events = []
    meter = Meter(100, 20, lambda: events.append("high"), lambda: events.append("low"))
    channel = Channel(meter)
    for _ in range(10):
        channel.put(Chunk(b"x" * 10, 0))
    assert events == ["high"] and meter.queued == 100
    for _ in range(7):
        channel.get_nowait()
    assert events == ["high"]
    channel.get_nowait()
    assert events == ["high", "low"] and meter.queued == 20


# -- request bodies -------------------------------------------------------------------------------
def test_parse_body_takes_the_first_value_like_go() -> None:
    assert parse_body(b' {"a": 1} trailing') == {"a": 1}
    for raw, message in [(b"", "bad request body: EOF"), (b"  ", "bad request body: EOF"),
                         (b'{"a": ', "bad request body: unexpected EOF"),
                         (b"x", "bad request body: invalid character 'x' looking for beginning of value")]:
        with pytest.raises(ApiError) as info:
            parse_body(raw)
        assert (info.value.message, info.value.status) == (message, 400)


def test_decode_fields_matches_keys_case_insensitively_and_skips_null() -> None:
    fields = {"name": "string", "enabled": "bool"}
    assert decode_fields({"NAME": "a", "enabled": None, "other": 1}, "Proxy", fields) == {"name": "a"}
    assert decode_fields(None, "Proxy", fields) == {}


def test_toxic_parsing_order_and_update_merge() -> None:
    with pytest.raises(ApiError, match="stream was invalid"):
        parse_toxic({"type": "nope", "stream": "x"}, lambda n: False)
    with pytest.raises(ApiError, match="invalid toxic type"):
        parse_toxic({"type": "nope"}, lambda n: True)
    with pytest.raises(ApiError, match="toxic already exists"):
        parse_toxic({"type": "latency", "attributes": {"latency": "x"}}, lambda n: True)
    spec = parse_toxic({"type": "latency", "stream": "Upstream", "attributes": {"latency": 5}}, lambda n: False)
    assert isinstance(spec, ToxicSpec) and (spec.name, spec.direction) == ("latency_Upstream", 0)
    toxic_, toxicity = parse_toxic_update(spec, {"attributes": {"jitter": 2}})
    assert toxic_.attributes() == {"latency": 5, "jitter": 2} and toxicity == 1.0
