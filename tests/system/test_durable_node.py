"""Acknowledged means durable: a node killed right after acknowledging, restarted on its data, has it all;
a store that cannot take a write fails the send and says whether it was stored; a store that cannot be used
stops the node from starting, in one line."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from pathlib import Path

import grpc
import pytest

from chaos.infra.process import ServerProcess
from tests.system.cli_process import run
from system.client import ChatClient, SendFailed
from system.gate import GateConfig, GateServer
from system.node import NodeConfig, NodeServer
from system.store.sqlite import DB_FILE, SCHEMA_VERSION
from tests.system.full_disk import SKIP_REASON, on_full_disk, private_tmpfs_works
from tests.system.system_harness import wait_until

REPO = Path(__file__).resolve().parents[2]


async def everything_in(addr: str, room: str = "General") -> list[tuple[int, str]]:
    """(seq, text) of every message the room holds, read by a fresh poll-only client."""
    reader = ChatClient(addr, "auditor")
    try:
        result = await reader.poll(room)
        return [(m.seq, m.message) for m in result.messages]
    finally:
        await reader.close()


async def test_sigkill_right_after_acknowledgements_loses_nothing(tmp_path: Path) -> None:
    node = ServerProcess("node0", "node", ["--data-dir", str(tmp_path / "data")], tmp_path)
    await node.start()
    gate = GateServer(GateConfig(nodes=(node.addr,)))
    await gate.start()
    alice = ChatClient(gate.addr, "alice", outage_wait=0.5)
    acked: dict[int, str] = {}
    try:
        await gate.wait_ready()

        async def sender(worker: int) -> None:
            for i in range(1000):
                text = f"w{worker}-{i}"
                try:
                    reply = await alice.send("General", text)
                except SendFailed:
                    return  # the node is gone: this worker is done
                acked[reply.seq] = text

        workers = [asyncio.ensure_future(sender(w)) for w in range(16)]
        await wait_until(lambda: len(acked) >= 300, 30.0, "300 acknowledged sends")
        await node.kill()  # SIGKILL with sends in flight, right after these acknowledgements
        await asyncio.gather(*workers)
        await node.restart()
        held = await everything_in(gate.addr)  # the poll retries while the gate re-registers
    finally:
        await alice.close()
        await gate.stop(0)
        await node.stop()
    seqs = [seq for seq, _ in held]
    assert seqs == list(range(1, len(seqs) + 1)), "in seq order, with no gap"
    missing = {seq: text for seq, text in acked.items() if (seq, text) not in set(held)}
    assert not missing, f"{len(missing)} acknowledged messages are gone: {sorted(missing)[:10]}"


@pytest.mark.skipif(not private_tmpfs_works(), reason=SKIP_REASON)
async def test_a_full_disk_fails_sends_definitely_and_the_node_keeps_serving_reads(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *on_full_disk([sys.executable, "-m", "chaos.cli", "node", "--listen", "127.0.0.1:0", "--data-dir", "/mnt/data"]),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout is not None
    addr = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))["addr"]
    gate = GateServer(GateConfig(nodes=(addr,)))
    await gate.start()
    alice = ChatClient(gate.addr, "alice")
    try:
        await gate.wait_ready()
        acked, failure = [], None
        while failure is None and len(acked) < 5000:
            try:
                acked.append((await alice.send("General", f"{len(acked)} " + "x" * 3000)).seq)
            except SendFailed as exc:
                failure = exc
        assert failure is not None and failure.definite, failure
        assert failure.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "full" in failure.details()
        held = await everything_in(gate.addr)  # reads still served
        assert [seq for seq, _ in held] == acked
        assert len(acked) > 10
    finally:
        await alice.close()
        await gate.stop(0)
        proc.kill()
        await proc.wait()


async def test_a_data_directory_in_use_is_refused(tmp_path: Path) -> None:
    first = NodeServer(NodeConfig(data_dir=str(tmp_path)))
    await first.start()
    try:
        result = await run("node", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path))
    finally:
        await first.stop(0)
    assert result.code == 1 and result.stdout == []
    assert result.stderr[-1] == (f"pushchat node: cannot start: data directory {tmp_path} is in use by another "
                                 f"pushchat node (pid {os.getpid()}); two writers must never share it")


@pytest.mark.parametrize("spoil, says", [
    (lambda db: db.write_bytes(os.urandom(16384)), "is not a readable pushchat store"),
    (lambda db: _set_version(db, SCHEMA_VERSION + 1), "newer than this pushchat understands"),
])
async def test_a_store_that_cannot_be_used_stops_the_node_in_one_line_and_is_kept(tmp_path: Path, spoil,  # type: ignore[no-untyped-def]
                                                                                 says: str) -> None:
    node = NodeServer(NodeConfig(data_dir=str(tmp_path)))
    await node.start()
    await node.stop(0)
    spoil(tmp_path / DB_FILE)
    before = (tmp_path / DB_FILE).read_bytes()
    result = await run("node", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path))
    assert result.code == 1 and result.stdout == []
    assert len(result.stderr) == 1 and says in result.stderr[0], result.stderr
    assert (tmp_path / DB_FILE).read_bytes() == before, "never a silent wipe"


def _set_version(db: Path, version: int) -> None:
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()
