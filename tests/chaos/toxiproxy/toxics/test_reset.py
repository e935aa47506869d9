"""``reset`` (extension): connections reset with a TCP RST while it is present.

First as a stage on its own (no sockets), then on real sockets through our server.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.chaos.toxiproxy.sockets import recv_until_eof, round_trip
from tests.chaos.toxiproxy.toxics.stages import chunk, payloads, run, stage


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


def test_reset_extension_resets_open_connections_then_only_while_present(make_link, conn_to) -> None:
    link = make_link()
    socks = [conn_to(link) for _ in range(3)]
    for sock in socks:
        round_trip(sock)
    name = link.add_toxic("reset", stream="upstream")
    for sock in socks:
        with pytest.raises(ConnectionResetError):
            recv_until_eof(sock)
    with pytest.raises(ConnectionResetError):
        recv_until_eof(conn_to(link))  # a new connection while present is reset too
    link.remove_toxic(name)
    round_trip(conn_to(link))
