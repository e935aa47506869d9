"""Fixtures: one embedded server and one echo upstream per xdist worker, proxies per test."""

from __future__ import annotations

import socket
import uuid
from typing import Callable, Iterator

import pytest

from chaos.infra.links import Link, Links
from tests.chaos.toxiproxy.http_api import Api
from tests.chaos.toxiproxy.sockets import TcpServer, connect, echo


@pytest.fixture(scope="session")
def links(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Links]:
    log_file = tmp_path_factory.mktemp("toxiproxy") / "server.log"
    with Links.embedded(log_file=log_file) as links:
        yield links


@pytest.fixture(scope="module")
def private_links(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Links]:
    log_file = tmp_path_factory.mktemp("toxiproxy-private") / "server.log"
    with Links.embedded(log_file=log_file) as links:
        yield links


@pytest.fixture
def fresh_links(private_links: Links) -> Links:
    """A server no other test uses at the same time, emptied: for server-wide state (index, reset)."""
    private_links.delete_all()
    return private_links


@pytest.fixture(scope="session")
def echo_server() -> Iterator[TcpServer]:
    server = TcpServer(echo)
    yield server
    server.close()


@pytest.fixture
def make_link(links: Links, echo_server: TcpServer) -> Iterator[Callable[..., Link]]:
    """``make_link(upstream=echo)``: a uniquely named proxy, deleted after the test."""
    made: list[Link] = []

    def make(upstream: str | None = None, **kwargs) -> Link:
        link = links.create(f"t-{uuid.uuid4().hex[:10]}", upstream or echo_server.addr, **kwargs)
        made.append(link)
        return link

    yield make
    for link in made:
        try:
            link.delete()
        except Exception:
            pass


@pytest.fixture
def api(links: Links) -> Api:
    return Api(links.url)


@pytest.fixture
def fresh_api(fresh_links: Links) -> Api:
    return Api(fresh_links.url)


@pytest.fixture
def name() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def conn_to(make_link) -> Iterator[Callable[[Link], socket.socket]]:
    """``conn_to(link)``: a connected client socket, closed after the test."""
    socks: list[socket.socket] = []

    def open_(link: Link) -> socket.socket:
        sock = connect(link.listen)
        socks.append(sock)
        return sock

    yield open_
    for sock in socks:
        sock.close()
