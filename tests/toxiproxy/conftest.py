"""Fixtures: one embedded server and one echo upstream per xdist worker, proxies per test."""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Callable, Iterator

import pytest
import requests

from chaos.links import Link, Links
from toxiproxy_helpers import TcpServer, echo


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


class Api:
    """Raw HTTP against a server: no client library in between."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def __call__(self, method: str, path: str, body: object = None, raw: bytes | None = None,
                 headers: dict | None = None) -> requests.Response:
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        return self.session.request(method, self.url + path, data=data, headers=headers, timeout=5)

    def raw(self, method: str, path: str) -> tuple[int, http.client.HTTPMessage, bytes]:
        """Status, headers and body, the request line sent as given (requests resolves ``..`` itself)."""
        conn = http.client.HTTPConnection(self.url.removeprefix("http://"), timeout=5)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()


@pytest.fixture
def api(links: Links) -> Api:
    return Api(links.url)


@pytest.fixture
def fresh_api(fresh_links: Links) -> Api:
    return Api(fresh_links.url)


@pytest.fixture
def name() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"
