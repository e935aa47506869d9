"""Goverse's own Python tests and stress clients, unchanged, against ``pushchat up``.

They use default grpc channels: every client of the process shares one TCP connection to the gate,
so the gate must tell clients apart by their registered client ids, not by their connection.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.interop import goverse_python
from tests.system.cli_process import Running, running

SOURCE = goverse_python.archive()
pytestmark = pytest.mark.skipif(SOURCE is None, reason=f"no Goverse source archive at "
                                f"{goverse_python.DEFAULT_ARCHIVE} (or ${goverse_python.ARCHIVE_ENV})")


@pytest.fixture(scope="module")
def goverse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert SOURCE is not None
    return goverse_python.unpack(SOURCE, tmp_path_factory.mktemp("goverse"))


@contextmanager
def up(*flags: str) -> Iterator[Running]:
    with running("up", "--node-listen", "127.0.0.1:0", "--gate-listen", "127.0.0.1:0", *flags) as server:
        yield server


async def gate_port(server: Running) -> str:
    return re.search(r"gate \S+:(\d+) ", await server.line("^pushchat is up")).group(1)  # type: ignore[union-attr]


def goverse_test(name: str) -> str:
    """A child's code: one of ``test_chat.py``'s tests, pass or fail as its own exit code."""
    return f"import sys, test_chat; sys.exit(0 if test_chat.{name}(gateway_port=int(sys.argv[1])) else 1)"


async def test_goverse_push_messaging_test_passes_unchanged(goverse: Path) -> None:
    """Two ChatClients, user1 and user2, in one process: user2 gets user1's messages by push."""
    with up() as server:
        result = goverse_python.run_python(goverse, goverse_test("run_push_messaging_test"), await gate_port(server))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "✅ Client2 received second push message" in result.stdout
        assert server.stop() == 0


async def test_goverse_chat_test_passes_with_push_to_sender_and_only_then(goverse: Path) -> None:
    """``run_chat_test`` expects its own messages pushed back, as Goverse's ChatRoom does ("including sender");
    the design document says "except the sender", which stays the default."""
    with up("--push-to-sender") as server:
        result = goverse_python.run_python(goverse, goverse_test("run_chat_test"), await gate_port(server))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "✅ Message 'Final test message' sent and received" in result.stdout
    with up() as server:
        result = goverse_python.run_python(goverse, goverse_test("run_chat_test"), await gate_port(server))
        assert result.returncode == 1, result.stdout + result.stderr
        assert "❌ Message 'Hello from test!' sent and received - not found" in result.stdout
        assert "✅ Joined chatroom 'General'" in result.stdout


STRESS = textwrap.dedent("""
    import sys, threading, time
    import stress_test
    port, count = int(sys.argv[1]), int(sys.argv[2])
    rooms = ["General", "Technology", "Crypto", "Sports", "Movies"]
    clients = [stress_test.StressTestClient(i + 1, port, rooms) for i in range(count)]
    assert all(client.start() for client in clients)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(c.message_count >= 1 for c in clients):
        time.sleep(0.1)
    stopping = [threading.Thread(target=client.stop) for client in clients]  # each waits up to 4 s for its threads
    for thread in stopping:
        thread.start()
    for thread in stopping:
        thread.join()
    print("SENT", " ".join(f"{c.username}={c.message_count}" for c in clients))
""")


async def test_goverse_stress_clients_share_one_connection_and_all_get_through(goverse: Path) -> None:
    """A short run of Goverse's stress_test.py clients (its StressTestClient, unchanged), pointed at our gate:
    every client registers, joins and sends, and the gate refuses none of them."""
    with up() as server:
        result = goverse_python.run_python(goverse, STRESS, await gate_port(server), "20", folder="stress")
        assert result.returncode == 0, result.stdout + result.stderr
        sent = dict(item.split("=") for item in result.stdout.split("SENT ", 1)[1].split())
        assert len(sent) == 20 and all(int(n) >= 1 for n in sent.values()), sent
        problems = [line for line in result.stdout.splitlines() if "⚠️" in line or "❌" in line]
        assert problems == []
        assert server.stop() == 0
