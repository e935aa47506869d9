"""Conformance through the PyPI client ``toxiproxy-python``, used as-is against our server."""

from __future__ import annotations

from typing import Iterator

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from chaos.infra.links import Links
from tests.chaos.toxiproxy.sockets import connect, round_trip


@pytest.fixture
def client(fresh_links: Links) -> Iterator[Toxiproxy]:
    saved = APIConsumer.host, APIConsumer.port
    server = Toxiproxy()
    server.update_api_consumer(fresh_links.host, fresh_links.port)
    yield server
    APIConsumer.host, APIConsumer.port = saved


def test_server_calls(client: Toxiproxy) -> None:
    assert client.running() is True
    assert client.version() == b'{"version": "2.12.0"}\n'
    assert client.proxies() == {}
    assert client.reset() is True


def test_proxy_lifecycle(client: Toxiproxy, echo_server) -> None:
    proxy = client.create(upstream=echo_server.addr, name="echo")
    assert proxy.listen.startswith("127.0.0.1:") and not proxy.listen.endswith(":0")
    assert proxy.enabled is True and proxy.upstream == echo_server.addr
    assert set(client.proxies()) == {"echo"}
    assert client.get_proxy("echo").listen == proxy.listen
    assert client.get_proxy("nope") is None
    with pytest.raises(ProxyExists):
        client.create(upstream=echo_server.addr, name="echo")
    with connect(proxy.listen) as sock:
        round_trip(sock)
        with proxy.down():
            assert sock.recv(10) == b""
            with pytest.raises(ConnectionRefusedError):
                connect(proxy.listen)
    with connect(proxy.listen) as sock:
        round_trip(sock)
    assert client.destroy(proxy) is True
    with pytest.raises(NotFound):
        proxy.destroy()
    assert client.proxies() == {}


def test_toxics(client: Toxiproxy, echo_server) -> None:
    proxy = client.create(upstream=echo_server.addr, name="echo")
    proxy.add_toxic(type="latency", attributes={"latency": 150})
    proxy.add_toxic(type="bandwidth", stream="upstream", name="slow", toxicity=0.5, attributes={"rate": 1000})
    toxics = proxy.toxics()
    assert list(toxics) == ["slow", "latency_downstream"]
    lag = proxy.get_toxic("latency_downstream")
    assert (lag.type, lag.stream, lag.toxicity, lag.attributes) == ("latency", "downstream", 1, {"latency": 150,
                                                                                                   "jitter": 0})
    assert proxy.get_toxic("nope") is None
    with pytest.raises(ProxyExists):
        proxy.add_toxic(type="latency")  # 409 from the server
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")
    assert proxy.destroy_toxic("slow") is True
    with pytest.raises(NotFound):
        proxy.destroy_toxic("slow")
    with connect(proxy.listen) as sock:
        assert round_trip(sock) >= 0.14
    client.reset()
    assert proxy.toxics() == {}


def test_populate_and_destroy_all(client: Toxiproxy, echo_server) -> None:
    created = client.populate([{"name": "a", "upstream": echo_server.addr, "listen": "127.0.0.1:0"},
                               {"name": "b", "upstream": echo_server.addr, "listen": "127.0.0.1:0"}])
    assert sorted(p.name for p in created) == ["a", "b"]
    assert set(client.proxies()) == {"a", "b"}
    client.destroy_all()
    assert client.proxies() == {}


def test_the_client_turns_a_500_into_keyerror(client: Toxiproxy, echo_server) -> None:
    """The flaw chaos.infra.links exists to hide: the server's 500 body has no 'name'."""
    first = client.create(upstream=echo_server.addr, name="first")
    with pytest.raises(KeyError):
        client.create(upstream=echo_server.addr, name="second", listen=first.listen)
