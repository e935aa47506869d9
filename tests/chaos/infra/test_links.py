"""chaos.infra.links: the harness's adapter fixes toxiproxy-python's flaws in one place.

``chaos_links`` is the plugin's fixture: the one Toxiproxy server per
worker that the harness's tests share; ``make_link`` and ``echo_server``
(tests/conftest.py) make proxies on it to an echo server.
"""

from __future__ import annotations

import http.server
import json
import select
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from toxiproxy import Proxy

from chaos.infra.links import Link, Links, ToxiproxyError
from tests.chaos.toxiproxy.sockets import Sink, TcpServer, connect, round_trip


def test_each_instance_talks_to_its_own_server_even_from_threads(chaos_links: Links, echo_server,
                                                                   tmp_path: Path) -> None:
    links = chaos_links
    errors: list[BaseException] = []

    def work(target: Links, tag: str) -> None:
        try:
            for i in range(15):
                target.create(f"{tag}-{i}", echo_server.addr)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with Links.embedded(log_file=tmp_path / "private.log") as fresh_links:  # a server no other test uses
        threads = [threading.Thread(target=work, args=(fresh_links, "fresh")),
                   threading.Thread(target=work, args=(links, "shared"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert set(fresh_links.proxies()) == {f"fresh-{i}" for i in range(15)}
    shared = set(links.proxies())
    assert {f"shared-{i}" for i in range(15)} <= shared and not any(n.startswith("fresh") for n in shared)
    for i in range(15):
        links.delete(f"shared-{i}")


def test_a_500_becomes_a_clear_error_naming_the_proxy(make_link, chaos_links: Links, echo_server) -> None:
    taken = make_link().listen
    with pytest.raises(ToxiproxyError) as info:
        chaos_links.create("clash", echo_server.addr, listen=taken)
    assert info.value.status == 500
    assert str(info.value) == f"create proxy 'clash': listen tcp {taken}: bind: address already in use"
    with pytest.raises(ToxiproxyError, match="proxy 'nope': proxy not found"):
        chaos_links.get("nope")
    with pytest.raises(ToxiproxyError, match=r"add toxic 'x' \(bogus\): invalid toxic type"):
        make_link().add_toxic("bogus", name="x")


def test_requests_time_out() -> None:
    silent = TcpServer(lambda conn: conn.recv(65536) and time.sleep(5))
    started = time.monotonic()
    with pytest.raises(ToxiproxyError, match="version"):
        Links.external(f"http://{silent.addr}", timeout=0.3).version()
    assert time.monotonic() - started < 3
    silent.close()


def test_add_update_remove_toxic(make_link) -> None:
    link = make_link()
    sock = connect(link.listen)
    round_trip(sock)
    name = link.add_toxic("latency", attributes={"latency": 1000})
    assert name == "latency_downstream"
    assert round_trip(sock) >= 0.99
    updated = link.update_toxic(name, attributes={"latency": 0}, toxicity=1.0)
    assert updated["attributes"] == {"latency": 0, "jitter": 0}
    assert round_trip(sock) < 0.99  # the second is gone (a bound a loaded machine cannot reach by itself)
    assert link.toxics()[name]["type"] == "latency"
    link.remove_toxic(name)
    assert link.toxics() == {}
    with pytest.raises(ToxiproxyError, match=f"update toxic '{name}': toxic not found"):
        link.update_toxic(name, attributes={})
    with link.toxic("latency", stream="upstream", attributes={"latency": 150}) as toxic:
        assert toxic == "latency_upstream"
        assert round_trip(sock) >= 0.14
    assert link.toxics() == {}
    sock.close()


def test_disable_enable_delete(make_link, chaos_links: Links) -> None:
    link = make_link()
    port = link.port
    link.disable()
    assert chaos_links.get(link.name).enabled is False
    with pytest.raises(ConnectionRefusedError):
        connect(link.listen)
    link.enable()
    assert link.port == port
    with connect(link.listen) as sock:
        round_trip(sock)
    link.delete()
    assert link.name not in chaos_links.proxies()


def test_many_proxies_are_made_in_one_call_each_bound_and_working(chaos_links: Links, echo_server) -> None:
    names = [f"t-{uuid.uuid4().hex[:10]}" for _ in range(3)]
    made = chaos_links.create_many([(name, echo_server.addr, "127.0.0.1:0") for name in names])
    try:
        assert [link.name for link in made] == names
        assert len({link.port for link in made}) == 3 and all(link.port for link in made)
        for link in made:
            with connect(link.listen) as sock:
                round_trip(sock)
        assert set(names) <= set(chaos_links.proxies())
    finally:
        for link in made:
            link.delete()


class _FakeRealServer(http.server.BaseHTTPRequestHandler):
    """Answers /version like the real server: no extensions header."""

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        body = b'{"version": "2.12.0"}\n'
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_extensions_are_offered_only_by_our_server(chaos_links: Links, make_link) -> None:
    assert chaos_links.supports_extensions is True
    fake = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeRealServer)
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    try:
        real = Links.external(f"http://127.0.0.1:{fake.server_address[1]}")
        assert real.version() == "2.12.0"
        assert real.supports_extensions is False
        link = Link(real, Proxy(name="p", upstream="x:1", enabled=True, listen="127.0.0.1:1"))
        with pytest.raises(ToxiproxyError, match="'reset' is an extension"):
            link.add_toxic("reset")
    finally:
        fake.shutdown()
        fake.server_close()


def test_external_needs_a_url_and_from_env_uses_it(monkeypatch, chaos_links: Links) -> None:
    monkeypatch.delenv("TOXIPROXY_URL", raising=False)
    with pytest.raises(ToxiproxyError, match="TOXIPROXY_URL"):
        Links.external()
    monkeypatch.setenv("TOXIPROXY_URL", chaos_links.url)
    external = Links.from_env()
    assert external.process is None and external.url == chaos_links.url and external.version() == "2.12.0"


def test_embedded_server_stops_on_close(tmp_path) -> None:
    with Links.embedded(log_file=tmp_path / "s.log") as links:
        proc = links.process
        assert proc is not None and proc.poll() is None
    assert proc.poll() is not None
    lines = [json.loads(line) for line in (tmp_path / "s.log").read_text().splitlines()]
    assert all(line["component"] == "toxiproxy" for line in lines)
    assert [line["event"] for line in lines][-1] == "shutting_down"


@pytest.fixture(scope="module")
def standard_links(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Links]:
    """Our server offering the standard API only, as a real Toxiproxy does."""
    with Links.embedded(log_file=tmp_path_factory.mktemp("standard") / "server.log", args=["--standard"]) as links:
        yield links


def _fill(addr: str, seconds: float) -> tuple[int, int]:
    """Write into ``addr`` as fast as the socket takes it for ``seconds``: the bytes the sender got rid of,
    in all and in the last half second (0 there: the sender is blocked, its buffers full)."""
    host, port = addr.rsplit(":", 1)
    sent, at_half = 0, 0
    with socket.create_connection((host, int(port))) as sock:
        sock.setblocking(False)
        deadline = time.monotonic() + seconds
        while (now := time.monotonic()) < deadline:
            if now < deadline - 0.5:
                at_half = sent
            if select.select([], [sock], [], 0.05)[1]:
                try:
                    sent += sock.send(b"x" * 65536)
                except BlockingIOError:
                    pass
    return sent, sent - at_half


def test_a_stall_on_a_standard_server_is_a_1kbps_trickle_with_the_same_backpressure(chaos_links: Links,
                                                                                       standard_links: Links) -> None:
    """What a sender feels: with ``stall`` (ours) and its stand-in (``bandwidth`` at 1 KB/s) alike, the proxy
    stops reading, so the sender's buffers fill and it is blocked; only a trickle passes the stand-in."""
    measured = {}
    for label, links, toxic in (("free", standard_links, None), ("stall", chaos_links, "stall"),
                                ("stand-in", standard_links, "stall")):
        sink = Sink()
        server = TcpServer(sink)
        link = links.create(f"t-{uuid.uuid4().hex[:10]}", server.addr)
        try:
            if toxic:
                assert link.add_toxic(toxic, stream="upstream", name="full-buffers") == "full-buffers"
            sent, lately = _fill(link.listen, 3.0)
            measured[label] = (sent, lately, len(sink), link.toxics())
        finally:
            link.delete()
            server.close()
    assert measured["stand-in"][3] == {"full-buffers": {"name": "full-buffers", "type": "bandwidth",
                                                        "stream": "upstream", "toxicity": 1, "attributes": {"rate": 1}}}
    assert measured["stall"][3]["full-buffers"]["type"] == "stall"
    assert measured["free"][1] > 10 * 65536, measured   # unimpeded, the sender never stops
    for label in ("stall", "stand-in"):                  # held back, it is blocked: its buffers are full
        assert measured[label][1] <= 65536, (label, measured)
    assert measured["stall"][2] == 0, "stall passes nothing"
    assert 0 < measured["stand-in"][2] <= 30_000, measured  # about 1 KB/s for 3 s, nothing like the free flow
