"""``noop``: everything passes.

First as a stage on its own (no sockets), then on real sockets through our server.
"""

from __future__ import annotations

import os

import pytest

from tests.chaos.toxiproxy.sockets import STREAMS, recv_exactly
from tests.chaos.toxiproxy.toxics.stages import chunk, drain, payloads, run, stage


def test_noop_passes_everything_then_closes() -> None:
    async def go():
        t, stub = stage("noop")
        for data in (b"a", b"bc"):
            stub.input.put(chunk(data))
        stub.input.put(None)
        await t.pipe(stub)
        return payloads(await drain(stub)), stub.closed

    assert run(go) == ([b"a", b"bc", None], True)


@pytest.mark.parametrize("stream", STREAMS)
def test_noop_passes_everything(make_link, conn_to, stream: str) -> None:
    link = make_link()
    link.add_toxic("noop", stream=stream)
    sock = conn_to(link)
    payload = os.urandom(200_000)
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
