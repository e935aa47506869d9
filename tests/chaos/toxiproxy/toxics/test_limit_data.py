"""``limit_data``: ``bytes`` bytes per connection and direction, then the end.

First as a stage on its own (no sockets), then on real sockets through our server.
"""

from __future__ import annotations

import asyncio
import os

from tests.chaos.toxiproxy.sockets import Sink, TcpServer, recv_until_eof, wait_for
from tests.chaos.toxiproxy.toxics.stages import chunk, drain, payloads, run, stage


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


def test_limit_data_downstream_truncates(make_link, conn_to) -> None:
    link = make_link()
    link.add_toxic("limit_data", attributes={"bytes": 10})
    sock = conn_to(link)
    payload = os.urandom(50)
    sock.sendall(payload)
    assert recv_until_eof(sock) == payload[:10]


def test_limit_data_upstream_truncates(make_link, conn_to) -> None:
    sink = Sink()
    server = TcpServer(sink)
    link = make_link(server.addr)
    link.add_toxic("limit_data", stream="upstream", attributes={"bytes": 10})
    sock = conn_to(link)
    payload = os.urandom(50)
    sock.sendall(payload)
    assert recv_until_eof(sock) == b""
    wait_for(lambda: len(sink) == 10, what="10 bytes upstream")
    assert bytes(sink.data) == payload[:10]
    server.close()
