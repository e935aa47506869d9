"""One direction of a connection: the fast path, toxics coming and going on open connections, toxicity."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from tests.chaos.toxiproxy.sockets import STREAMS, recv_exactly, round_trip


def test_no_toxic_is_fast_and_intact(make_link, conn_to) -> None:
    sock = conn_to(make_link())
    round_trip(sock)
    payload = os.urandom(100_000)
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload


def _affected(link, conn_to, n: int) -> int:
    """How many of ``n`` new connections a ``limit_data`` of 1 byte cut short."""
    socks = [conn_to(link) for _ in range(n)]
    for sock in socks:
        sock.sendall(b"hello")
    cut = 0
    for sock in socks:
        got = b""
        while len(got) < 5 and (piece := sock.recv(5 - len(got))):
            got += piece
        assert got in (b"h", b"hello")
        cut += got == b"h"
    return cut


@pytest.mark.parametrize("toxicity, n, low, high", [(0.0, 10, 0, 0), (1.0, 10, 10, 10), (0.5, 40, 8, 32)])
def test_toxicity_is_a_per_connection_chance(make_link, conn_to, toxicity, n, low, high) -> None:
    link = make_link()
    link.add_toxic("limit_data", attributes={"bytes": 1}, toxicity=toxicity)
    assert low <= _affected(link, conn_to, n) <= high


def test_toxics_apply_to_open_connections_when_added_updated_removed(make_link, conn_to) -> None:
    link = make_link()
    sock = conn_to(link)
    round_trip(sock)
    name = link.add_toxic("latency", attributes={"latency": 300})
    assert round_trip(sock) >= 0.29
    link.update_toxic(name, attributes={"latency": 500})
    assert round_trip(sock) >= 0.49
    link.update_toxic(name, toxicity=0.0)
    assert round_trip(sock) < 0.45  # not the toxic's 0.5 s
    link.update_toxic(name, toxicity=1.0)
    assert round_trip(sock) >= 0.49
    link.remove_toxic(name)
    assert round_trip(sock) < 0.45


def test_bulk_stays_intact_while_toxics_come_and_go(make_link, conn_to) -> None:
    link = make_link()
    sock = conn_to(link)
    payload = os.urandom(8_000_000)
    digest = hashlib.sha256()

    def read() -> None:
        left = len(payload)
        while left:
            piece = sock.recv(min(left, 1 << 20))
            assert piece
            digest.update(piece)
            left -= len(piece)

    reader = threading.Thread(target=read)
    reader.start()
    view = memoryview(payload)
    for i, offset in enumerate(range(0, len(payload), 500_000)):
        sock.sendall(view[offset:offset + 500_000])
        if i % 4 == 0:
            link.add_toxic("noop", stream=STREAMS[i % 8 // 4], name=f"n{i}")
        elif i % 4 == 2:
            link.remove_toxic(f"n{i - 2}")
    reader.join(timeout=20)
    assert not reader.is_alive()
    assert digest.digest() == hashlib.sha256(payload).digest()
