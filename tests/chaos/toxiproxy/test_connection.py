"""One proxied connection: what a client says before the upstream is dialled, a dead upstream."""

from __future__ import annotations

import os
import socket

from tests.chaos.toxiproxy.sockets import Sink, TcpServer, connect, recv_until_eof, wait_for


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
