"""The harness's workload client: how a member first joins before any fault is on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from chaos import history as history_file
from chaos.history import History
from chaos.workload.client import Counts, WorkloadClient
from system.gate import GateConfig, GateServer
from system.grpcopts import DEFAULT_KEEPALIVE
from system.node import NodeConfig, NodeServer
from system.wait import wait_until


async def test_a_member_whose_link_is_still_coming_up_registers_once_it_is(chaos_links: Any, tmp_path: Path) -> None:
    """A loaded machine can bring a proxy up after the members dial it: the run waits for it, not fail."""
    node = NodeServer(NodeConfig(store="memory"))
    await node.start()
    gate = GateServer(GateConfig(nodes=(node.addr,)))
    await gate.start()
    link = chaos_links.create(f"workload-{tmp_path.name}", gate.addr)
    try:
        link.disable()
        hist = History(tmp_path / "history.jsonl")
        member = WorkloadClient("alice", link.listen, hist, Counts(), DEFAULT_KEEPALIVE)
        start = asyncio.create_task(member.start(["General"]))
        path = tmp_path / "history.jsonl"
        await wait_until(lambda: any(op.f == "connect_retry" for op in history_file.read(path)), 10.0)
        assert not start.done()
        link.enable()
        await asyncio.wait_for(start, 20.0)
        ops = history_file.read(path)
        assert [op.type for op in ops if op.f == "connect"] == ["invoke", "ok"]
        assert any(op.f == "join" and op.type == "ok" for op in ops)
        await member.close()
        hist.close()
    finally:
        chaos_links.delete(link.name)
        await gate.stop()
        await node.stop()
