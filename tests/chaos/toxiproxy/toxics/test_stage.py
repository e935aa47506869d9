"""The plumbing toxics run on: channels share a pipe's meter, which pauses and resumes."""

from __future__ import annotations

from chaos.toxiproxy.toxics import Channel, Chunk, Meter


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
