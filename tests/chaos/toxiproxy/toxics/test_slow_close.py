"""``slow_close``: the end of stream waits ``delay`` ms.

First as a stage on its own (no sockets), then on real sockets through our server.
"""

from __future__ import annotations

import asyncio
import socket
import time

from tests.chaos.toxiproxy.sockets import TcpServer, recv_until_eof, round_trip
from tests.chaos.toxiproxy.toxics.stages import chunk, drain, payloads, run, stage


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


def test_slow_close_downstream(make_link, conn_to) -> None:
    server = TcpServer(lambda conn: conn.sendall(b"bye"))  # greets, then closes
    link = make_link(server.addr)
    link.add_toxic("slow_close", attributes={"delay": 300})
    start = time.monotonic()
    sock = conn_to(link)
    assert recv_until_eof(sock) == b"bye"
    assert time.monotonic() - start >= 0.28
    server.close()


def test_slow_close_upstream(make_link, conn_to) -> None:
    link = make_link()
    link.add_toxic("slow_close", stream="upstream", attributes={"delay": 300})
    sock = conn_to(link)
    round_trip(sock)
    start = time.monotonic()
    sock.shutdown(socket.SHUT_WR)  # the upstream hears of it only after the delay
    assert recv_until_eof(sock) == b""
    assert time.monotonic() - start >= 0.28
