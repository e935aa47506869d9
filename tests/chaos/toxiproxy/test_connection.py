"""One proxied connection: what a client says before the upstream is dialled, a dead upstream, a client that
gives up before the upstream answers."""

from __future__ import annotations

import os
import socket

from chaos.infra.links import Links
from tests.chaos.toxiproxy.sockets import (DeafServer, Sink, TcpServer, connect, held_sockets, recv_until_eof, reset,
                                           wait_for)


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


def test_clients_that_give_up_before_the_upstream_answers_are_closed_at_once(fresh_links) -> None:
    """A busy upstream (its accept queue full) leaves each dial hanging for minutes of SYN retries: a client that
    closes or resets meanwhile must not be held in CLOSE-WAIT, nor its dial kept, until then (a reconnect storm
    through a starved proxy piled up 7,396 such sockets: docs/benchmarks.md, "Soak: an hour under chaos")."""
    pid = fresh_links.process.pid
    upstream = DeafServer()
    try:
        link = fresh_links.create("deaf", upstream.addr)
        before, _ = held_sockets(pid)
        clients = [connect(link.listen) for _ in range(20)]
        wait_for(lambda: held_sockets(pid)[0] >= before + 20, what="the proxy to accept every client")
        for i, sock in enumerate(clients):
            if i % 2:  # said something, then gave up with a reset
                sock.sendall(b"PRI * HTTP/2.0")
                reset(sock)
            else:  # said nothing, then closed
                sock.close()
        wait_for(lambda: held_sockets(pid) == (before, 0), timeout=5.0,
                 what=f"the proxy to let go of every abandoned client and dial (held, in CLOSE-WAIT: "
                      f"{held_sockets(pid)}; {before} sockets before)")
    finally:
        upstream.close()


def test_a_dial_that_gets_no_answer_gives_up_after_the_dial_timeout(tmp_path) -> None:
    """A client that said something and then closed keeps its dial (what it said is owed to the upstream), but no
    longer than ``--dial-timeout``: then it is closed, and the log says why."""
    log = tmp_path / "server.log"
    upstream = DeafServer()
    with Links.embedded(log_file=log, args=["--dial-timeout", "0.5"]) as links:
        pid = links.process.pid
        link = links.create("deaf", upstream.addr)
        before, _ = held_sockets(pid)
        sock = connect(link.listen)
        sock.sendall(b"hello")
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_eof(sock) == b""  # closed by the proxy once its dial gave up
        sock.close()
        wait_for(lambda: held_sockets(pid) == (before, 0), what="the proxy to hold no socket of that connection")
        assert "no answer within 0.5 s (the dial timeout)" in log.read_text()
    upstream.close()
