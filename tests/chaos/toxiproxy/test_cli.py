"""``pushchat toxiproxy``: the real server's flags, ``--loop``, ``--standard``, a taken API port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from chaos.infra.links import Links, ToxiproxyError
from tests.chaos.toxiproxy.sockets import connect, recv_exactly, recv_until_eof, round_trip, send_until_blocked


def test_pushchat_toxiproxy_takes_the_real_servers_flags_and_announces_its_port() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "chaos.cli", "toxiproxy", "-host", "127.0.0.1", "-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = json.loads(proc.stdout.readline())
        assert line["event"] == "listening" and line["service"] == "toxiproxy" and line["pid"] == proc.pid
        assert Links.external(line["addr"]).version() == "2.12.0"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_the_plain_asyncio_loop_works_too(tmp_path, echo_server) -> None:
    """uvloop is used when installed; the standard loop must behave the same."""
    with Links.embedded(log_file=tmp_path / "asyncio.log", args=["--loop", "asyncio"]) as links:
        link = links.create("plain", echo_server.addr)
        with connect(link.listen) as sock:
            round_trip(sock)  # the proxy relays (no timing bound: a loaded machine sets that)
            with link.toxic("latency", attributes={"latency": 150}):
                assert round_trip(sock) >= 0.14
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            with link.toxic("stall", stream="upstream"):
                sent = send_until_blocked(sock)
            assert recv_exactly(sock, len(sent)) == sent
            link.add_toxic("reset_peer")
            sock.sendall(b"knock")
            with pytest.raises(ConnectionResetError):
                recv_until_eof(sock)


# -- --standard: our server offers no extension, exactly like the real Toxiproxy. The chaos
# harness must then use only the standard API; these tests pin what "standard" means.
@pytest.fixture(scope="module")
def standard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Links]:
    log_file = tmp_path_factory.mktemp("toxiproxy-standard") / "server.log"
    with Links.embedded(log_file=log_file, args=["--standard"]) as links:
        yield links


def test_standard_server_is_not_taken_for_ours(standard: Links) -> None:
    assert standard.supports_extensions is False
    response = requests.get(standard.url + "/version", timeout=5)
    assert "X-Toxiproxy-Extensions" not in response.headers
    assert response.json() == {"version": "2.12.0"}


@pytest.mark.parametrize("extension", ["stall", "reset"])
def test_extension_toxics_are_unknown_types(standard: Links, extension: str) -> None:
    name = f"std-{uuid.uuid4().hex[:8]}"
    standard.create(name, "127.0.0.1:9")
    try:
        response = requests.post(f"{standard.url}/proxies/{name}/toxics",
                                 json={"type": extension, "attributes": {}}, timeout=5)
        assert response.status_code == 400
        assert response.json() == {"error": "invalid toxic type", "status": 400}
        if extension == "stall":  # the harness's links put standard toxics in its place (chaos.faults.kinds.STAND_INS)
            link = standard.get(name)
            assert link.add_toxic(extension) == "stall_downstream"
            assert link.toxics()["stall_downstream"]["type"] == "bandwidth"
        else:
            with pytest.raises(ToxiproxyError):
                standard.get(name).add_toxic(extension)
    finally:
        standard.delete(name)


def test_standard_toxics_still_work(standard: Links) -> None:
    name = f"std-{uuid.uuid4().hex[:8]}"
    link = standard.create(name, "127.0.0.1:9")
    try:
        assert link.add_toxic("latency", attributes={"latency": 5}) == "latency_downstream"
        assert list(link.toxics()) == ["latency_downstream"]
    finally:
        link.delete()


# -- a taken API port: one line on the terminal, the event in the log, exit 1.
@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port held the way a running gRPC server holds it (SO_REUSEPORT, listening)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def toxiproxy(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GRPC_VERBOSITY", "GRPC_TRACE")}
    return subprocess.run([sys.executable, "-m", "chaos.cli", "toxiproxy", *args], capture_output=True, text=True,
                          timeout=30, env=env, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("log_file", [False, True])
def test_a_taken_api_port_is_refused_in_one_line(taken_port: int, log_file: bool, tmp_path: Path) -> None:
    path = tmp_path / "toxiproxy.log"
    result = toxiproxy("--port", str(taken_port), *(["--log-file", str(path)] if log_file else []))
    assert result.returncode == 1 and result.stdout == ""
    error = f"listen tcp 127.0.0.1:{taken_port}: bind: address already in use"  # the real server's wording
    assert result.stderr.splitlines() == [f"pushchat toxiproxy: cannot start the API: {error}"]
    if log_file:
        [event] = [json.loads(line) for line in path.read_text().splitlines()]
        assert event["event"] == "api_failed_to_start" and event["level"] == "ERROR" and event["error"] == error


def _other_local_address() -> str | None:
    """An address of this machine that is not loopback (None when it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, the kernel only picks a route
        except OSError:
            return None
        addr = probe.getsockname()[0]
    return None if addr.startswith("127.") else addr


def test_the_api_listens_on_loopback_only_unless_told_otherwise() -> None:
    """As the real server does: the API changes every proxy, so no one else may reach it by default."""
    proc = subprocess.Popen([sys.executable, "-m", "chaos.cli", "toxiproxy", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = json.loads(proc.stdout.readline())
        host, port = line["addr"].rsplit(":", 1)
        assert host == "127.0.0.1"
        other = _other_local_address()
        if other is not None:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((other, int(port)), timeout=2).close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert "warning" not in proc.stderr.read()


def test_an_api_on_every_interface_is_asked_for_and_warned_about() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "chaos.cli", "toxiproxy", "--host", "0.0.0.0", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = json.loads(proc.stdout.readline())
        assert line["addr"].startswith("0.0.0.0:")
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert "pushchat toxiproxy: warning: the API listens on 0.0.0.0" in proc.stderr.read()


def test_a_request_aiohttp_cannot_parse_is_a_400_and_one_warning_line(tmp_path: Path) -> None:
    """Garbage on the API port is the caller's mistake: answered 400, logged as one line, no traceback."""
    log_file = tmp_path / "server.log"
    with Links.embedded(log_file=log_file) as links:
        host, port = links.url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            # after a good request on the same connection (aiohttp is quiet about a first garbage line)
            sock.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(1)
            length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")).split(b":")[1])
            assert head.startswith(b"HTTP/1.1 200") and recv_exactly(sock, length)
            sock.sendall(b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert recv_until_eof(sock).split(b"\r\n")[0].endswith(b" 400 Bad Request")
        assert links.version()  # still serving
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    bad = [line for line in lines if line["event"] == "bad_http_request"]
    assert len(bad) == 1 and bad[0]["level"] == "WARNING" and bad[0]["status"] == 400
    assert "BREW" in bad[0]["error"] or "method" in bad[0]["error"].lower()
    assert not [line for line in lines if line["level"] == "ERROR"]
