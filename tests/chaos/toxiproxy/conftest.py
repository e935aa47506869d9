"""Fixtures: one embedded server per xdist worker (``links``, which the root conftest's ``make_link`` makes its
proxies on, to its ``echo_server``), a private one for server-wide state, and sockets per test."""

from __future__ import annotations

import socket
import uuid
from typing import Callable, Iterator

import pytest

from chaos.infra.links import Link, Links
from tests.chaos.toxiproxy.http_api import Api
from tests.chaos.toxiproxy.sockets import connect


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
