"""Every toxic on real sockets, on both streams, through our server (client -> proxy -> upstream)."""

from __future__ import annotations

import hashlib
import os
import select
import socket
import threading
import time

import pytest

from toxiproxy_helpers import (Sink, TcpServer, connect, recv_exactly, recv_until_eof, round_trip,
                               wait_for)

STREAMS = ["upstream", "downstream"]


@pytest.fixture
def conn_to(make_link):
    """``conn_to(link)``: a connected client socket, closed after the test."""
    socks: list[socket.socket] = []

    def open_(link) -> socket.socket:
        sock = connect(link.listen)
        socks.append(sock)
        return sock

    yield open_
    for sock in socks:
        sock.close()


def test_no_toxic_is_fast_and_intact(make_link, conn_to) -> None:
    sock = conn_to(make_link())
    assert round_trip(sock) < 0.25
    payload = os.urandom(100_000)
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload


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
    assert round_trip(sock) < 0.25
    start = time.monotonic()
    sock.shutdown(socket.SHUT_WR)  # the upstream hears of it only after the delay
    assert recv_until_eof(sock) == b""
    assert time.monotonic() - start >= 0.28


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


@pytest.mark.parametrize("stream", STREAMS)
def test_reset_peer_gives_econnreset(make_link, conn_to, stream: str) -> None:
    link = make_link()
    link.add_toxic("reset_peer", stream=stream, attributes={"timeout": 50})
    sock = conn_to(link)
    sock.sendall(b"knock")
    with pytest.raises(ConnectionResetError):
        recv_until_eof(sock)


def test_reset_peer_resets_connections_older_than_the_toxic(make_link, conn_to) -> None:
    link = make_link()
    sock = conn_to(link)
    round_trip(sock)
    link.add_toxic("reset_peer", attributes={"timeout": 0})
    sock.sendall(b"knock")
    with pytest.raises(ConnectionResetError):
        recv_until_eof(sock)


class _Sizes:
    """Upstream handler that records the size of every read."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, conn: socket.socket) -> None:
        while chunk := conn.recv(65536):
            self.sizes.append(len(chunk))


def test_slicer_downstream_chunk_sizes(make_link, conn_to) -> None:
    link = make_link()
    link.add_toxic("slicer", attributes={"average_size": 10, "size_variation": 4, "delay": 20_000})
    sock = conn_to(link)
    payload = os.urandom(100)
    sock.sendall(payload)
    sizes, got = [], b""
    while len(got) < len(payload):
        piece = sock.recv(1000)
        sizes.append(len(piece))
        got += piece
    assert got == payload and len(sizes) >= 5 and max(sizes) <= 14


def test_slicer_upstream_chunk_sizes(make_link, conn_to) -> None:
    reads = _Sizes()
    server = TcpServer(reads)
    link = make_link(server.addr)
    link.add_toxic("slicer", stream="upstream", attributes={"average_size": 10, "size_variation": 4,
                                                            "delay": 20_000})
    conn_to(link).sendall(os.urandom(100))
    wait_for(lambda: sum(reads.sizes) == 100, what="all slices")
    assert len(reads.sizes) >= 5 and max(reads.sizes) <= 14
    server.close()


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


@pytest.mark.parametrize("stream", STREAMS)
def test_noop_passes_everything(make_link, conn_to, stream: str) -> None:
    link = make_link()
    link.add_toxic("noop", stream=stream)
    sock = conn_to(link)
    payload = os.urandom(200_000)
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
    assert round_trip(sock) < 0.25
    name = link.add_toxic("latency", attributes={"latency": 300})
    assert round_trip(sock) >= 0.29
    link.update_toxic(name, attributes={"latency": 500})
    assert round_trip(sock) >= 0.49
    link.update_toxic(name, toxicity=0.0)
    assert round_trip(sock) < 0.25
    link.update_toxic(name, toxicity=1.0)
    assert round_trip(sock) >= 0.49
    link.remove_toxic(name)
    assert round_trip(sock) < 0.25


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


def test_what_a_client_says_at_once_reaches_the_upstream_even_with_its_eof(make_link) -> None:
    payload = os.urandom(1000)
    for _ in range(3):
        sink = Sink()
        server = TcpServer(sink)
        with connect(make_link(server.addr).listen) as sock:  # no waiting for the upstream dial
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            assert recv_until_eof(sock) == b""
        wait_for(lambda: len(sink) == len(payload), what="every byte upstream")
        assert bytes(sink.data) == payload
        server.close()


def test_a_dead_upstream_closes_the_accepted_client(make_link, conn_to) -> None:
    gone = socket.create_server(("127.0.0.1", 0))
    addr = f"127.0.0.1:{gone.getsockname()[1]}"
    gone.close()
    sock = conn_to(make_link(addr))
    try:
        assert sock.recv(10) == b""
    except ConnectionResetError:
        pass


def test_disable_enable_and_delete_with_open_connections(make_link, conn_to) -> None:
    link = make_link()
    sock = conn_to(link)
    round_trip(sock)
    link.disable()
    assert recv_until_eof(sock) == b""
    with pytest.raises(ConnectionRefusedError):
        connect(link.listen)
    link.enable()
    again = conn_to(link)
    round_trip(again)
    link.delete()
    assert recv_until_eof(again) == b""
    with pytest.raises(ConnectionRefusedError):
        connect(link.listen)


# -- extensions -------------------------------------------------------------------------------
def _send_until_blocked(sock: socket.socket, limit: int = 256_000_000) -> bytes:
    """Send until the socket stays unwritable for 0.3 s: the sender feels backpressure."""
    sock.setblocking(False)
    sent = bytearray()
    block = os.urandom(65536)
    while len(sent) < limit:
        try:
            n = sock.send(block)
            sent += block[:n]
        except BlockingIOError:
            if not select.select([], [sock], [], 0.3)[1]:
                break
    sock.setblocking(True)
    assert len(sent) < limit, "never felt backpressure"
    return bytes(sent)


@pytest.mark.parametrize("stream", STREAMS)
def test_stall_backpressures_the_sender_and_loses_nothing(make_link, conn_to, stream: str) -> None:
    link = make_link()
    sock = conn_to(link)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    round_trip(sock)
    name = link.add_toxic("stall", stream=stream)
    sent = _send_until_blocked(sock)
    assert select.select([sock], [], [], 0)[0] == []  # nothing came back while stalled
    link.remove_toxic(name)
    assert recv_exactly(sock, len(sent)) == sent
    assert round_trip(sock) < 0.25


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


def test_the_plain_asyncio_loop_works_too(tmp_path, echo_server) -> None:
    """uvloop is used when installed; the standard loop must behave the same."""
    from chaos.links import Links

    with Links.embedded(log_file=tmp_path / "asyncio.log", args=["--loop", "asyncio"]) as links:
        link = links.create("plain", echo_server.addr)
        with connect(link.listen) as sock:
            assert round_trip(sock) < 0.25
            with link.toxic("latency", attributes={"latency": 150}):
                assert round_trip(sock) >= 0.14
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            with link.toxic("stall", stream="upstream"):
                sent = _send_until_blocked(sock)
            assert recv_exactly(sock, len(sent)) == sent
            link.add_toxic("reset_peer")
            sock.sendall(b"knock")
            with pytest.raises(ConnectionResetError):
                recv_until_eof(sock)
