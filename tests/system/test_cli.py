"""The seed's manual test with OS processes: ``pushchat node``, ``pushchat gate``, two piped clients."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

from chaos.infra.postgres_server import free_port
from system import datadir, log
from system.client import ChatClient
from system.metrics import parse
from tests.system.cli_process import Proc, run
from tests.system.system_harness import Relay, wait_until






async def test_node_gate_and_two_interactive_clients(tmp_path: Path) -> None:
    node = await Proc.start("node", "--listen", "127.0.0.1:0", "--log-file", str(tmp_path / "node.log"))
    node_addr = (await node.announce())["addr"]
    gate = await Proc.start("gate", "--listen", "127.0.0.1:0", "--nodes", node_addr, "--metrics-port", "0",
                            "--log-file", str(tmp_path / "gate.log"))
    ann = await gate.announce()
    assert ann["service"] == "gate" and ann["metrics_port"] > 0
    gate_log = tmp_path / "gate.log"
    await wait_until(lambda: any(e.get("event") == "node_stream_up" for e in log.read(str(gate_log))), 20.0,
                     "the gate's node stream")
    relay = await Relay(ann["addr"]).start()  # bob's link, to cut it later
    try:
        bob = await Proc.start("client", "--server", relay.addr, "--user", "bob", "--no-reconnect", stdin=True)
        alice = await Proc.start("client", "--server", ann["addr"], "--user", "alice", stdin=True)
        for client in (bob, alice):
            await client.expect(r"^\* connected to .* as ", 20.0)
            client.type("/join General")
            await client.expect(r"^\* joined General")
        alice.type("/list")
        await alice.expect(r"^rooms: General, Technology, Crypto, Sports, Movies$")
        alice.type("hello bob")
        await bob.expect(r"^\[\d\d:\d\d:\d\d\] alice: hello bob$", 5.0)  # pushed, not polled

        relay.cut()  # bob's push stream dies; his process keeps running
        await bob.expect(r"^\* connection lost \(.*\); new messages will not appear")
        alice.type("did you miss this?")
        await wait_until(lambda: any(e.get("event") == "push_dropped" for e in log.read(str(gate_log))), 10.0,
                         "the push to bob's dead stream to be dropped")
        bob.type("/messages")
        await bob.expect(r"alice: did you miss this\?$")
        bob.type("/messages")
        await wait_until(lambda: bob.lines.count("* no new messages") == 1, 10.0, "an empty second poll")
        alice.type("/messages")
        await alice.expect(r"^\* no new messages$")
        for client in (alice, bob):
            client.type("/quit")
            assert await client.finish(sig=None) == 0
        assert bob.chat() == [("alice", "hello bob"), ("alice", "did you miss this?")]
        assert alice.chat() == []  # her own messages were never pushed back to her
        metrics = f"http://127.0.0.1:{ann['metrics_port']}/metrics"
        # dropped for bob's dead stream: "did you miss this?", and "alice left" (her /quit leaves the room)
        await wait_until(lambda: parse(_get(metrics))["pushchat_push_dropped_total"]["client_not_found"] >= 2,
                         10.0, "alice's leave to be dropped for bob's dead stream too", interval=0.1)
        scraped = parse(await asyncio.to_thread(_get, metrics))
        assert scraped["pushchat_push_dropped_total"]["client_not_found"] == 2
        assert scraped["pushchat_push_delivered_total"] == 2  # "hello bob", and "alice joined" before it
        assert "* alice joined" in bob.lines
    finally:
        await relay.stop()
        codes = [await gate.finish(), await node.finish()]
    assert codes == [0, 0]  # clean exit on SIGTERM
    assert any(e.get("event") == "stopping" for e in log.read(str(tmp_path / "node.log")))


async def test_pushchat_up_starts_a_node_and_a_gate_and_says_how_to_connect() -> None:
    up = await Proc.start("up", "--node-listen", "127.0.0.1:0", "--gate-listen", "127.0.0.1:0")
    first = await up.expect(r"^pushchat is up", 20.0)
    gate_addr = re.search(r"gate (\S+) ", first).group(1)  # type: ignore[union-attr]
    await up.expect(rf"pushchat client --server {re.escape(gate_addr)} --user alice")
    from system.client import ChatClient
    client = ChatClient(gate_addr, "alice")
    await client.connect()
    assert "General" in await client.list_rooms()
    await client.close()
    assert await up.finish(signal.SIGINT) == 0


async def test_pushchat_up_then_pushchat_node_on_the_same_address_keep_the_same_rooms(tmp_path: Path,
                                                                                    monkeypatch) -> None:
    """The README's first look (``up``), then its separate processes on the same port: one folder, one history."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    node_addr = f"127.0.0.1:{free_port()}"
    up = await Proc.start("up", "--node-listen", node_addr, "--gate-listen", "127.0.0.1:0")
    gate_addr = re.search(r"gate (\S+) ", await up.expect(r"^pushchat is up", 20.0)).group(1)  # type: ignore[union-attr]
    first = ChatClient(gate_addr, "alice")
    await first.connect()
    await first.join("General")
    await first.send("General", "said during the first look")
    await first.close()
    assert await up.finish(signal.SIGINT) == 0

    node = await Proc.start("node", "--listen", node_addr)
    announced = await node.announce()
    gate = await Proc.start("gate", "--listen", "127.0.0.1:0", "--nodes", node_addr)
    try:
        assert announced["data_dir"] == str(tmp_path / "data" / "pushchat" / f"node-{node_addr.replace(':', '-')}")
        second = ChatClient((await gate.announce())["addr"], "bob")
        await second.connect()
        joined = await second.join("General")
        await second.close()
        assert [m.message for m in joined.recent] == ["said during the first look"]
    finally:
        assert [await gate.finish(), await node.finish()] == [0, 0]


async def test_a_folder_an_older_pushchat_up_left_becomes_the_nodes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    old = tmp_path / "pushchat" / "up-127.0.0.1-48000"
    old.mkdir(parents=True)
    (old / "pushchat.db").write_bytes(b"rooms")
    folder = Path(datadir.data_dir("sqlite", None, "127.0.0.1:48000"))  # type: ignore[arg-type]
    assert folder == tmp_path / "pushchat" / "node-127.0.0.1-48000" and not old.exists()
    assert (folder / "pushchat.db").read_bytes() == b"rooms"


def _get(url: str) -> str:
    import urllib.request
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


async def test_a_bad_presence_flag_is_one_clear_line() -> None:
    for flag, value in (("--presence-grace", "-1"), ("--typing-expiry", "soon"), ("--typing-interval", "0")):
        result = await run("node", "--listen", "127.0.0.1:0", flag, value)
        assert result.code == 64 and result.stdout == []  # a usage error
        assert any(f"{flag}: " in line and "seconds" in line for line in result.stderr), result.stderr
