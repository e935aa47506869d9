"""The harness's workload client: how a member first joins before any fault is on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc

from chaos import history as history_file
from chaos.history import History
from chaos.workload.client import Counts, WorkloadClient
from system.grpcopts import DEFAULT_KEEPALIVE
from system.wait import wait_until
from tests.system.system_harness import cluster

MEMORY = {"store": "memory"}  # one node keeping its rooms in memory, and one gate


async def test_a_member_whose_link_is_still_coming_up_registers_once_it_is(chaos_links: Any, tmp_path: Path) -> None:
    """A loaded machine can bring a proxy up after the members dial it: the run waits for it, not fail."""
    async with cluster(node=MEMORY) as servers:
        link = chaos_links.create(f"workload-{tmp_path.name}", servers.gates[0].addr)
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


async def test_a_member_whose_first_join_times_out_on_a_loaded_machine_joins_again(tmp_path: Path) -> None:
    """Two thousand members joining at once can outrun a join's deadline before any fault is on: the join is
    tried again (recorded as unknown, then ok), not a run that fails before it began."""
    async with cluster(node=MEMORY) as servers:
        hist = History(tmp_path / "history.jsonl")
        member = WorkloadClient("alice", servers.gates[0].addr, hist, Counts(), DEFAULT_KEEPALIVE)
        join, timeouts = member.client.join, []

        async def slow_at_first(room: str) -> Any:
            if not timeouts:
                timeouts.append(room)
                raise grpc.aio.AioRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, grpc.aio.Metadata(), grpc.aio.Metadata(),
                                           "Deadline Exceeded")
            return await join(room)

        member.client.join = slow_at_first  # type: ignore[method-assign]
        try:
            await asyncio.wait_for(member.start(["General"]), 20.0)
            hist.close()
            joins = [op.type for op in history_file.read(tmp_path / "history.jsonl") if op.f == "join"]
            assert joins == ["invoke", "info", "invoke", "ok"] and timeouts == ["General"]
        finally:
            await member.close()


async def test_a_member_whose_first_register_gets_no_answer_in_time_registers_again(tmp_path: Path) -> None:
    """A Register that times out before any fault is on (a machine too loaded to answer) is tried again."""
    async with cluster(node=MEMORY) as servers:
        hist = History(tmp_path / "history.jsonl")
        member = WorkloadClient("alice", servers.gates[0].addr, hist, Counts(), DEFAULT_KEEPALIVE)
        connect, late = member.client.connect, []

        async def late_at_first() -> str:
            if not late:
                late.append(1)
                raise TimeoutError()
            return await connect()

        member.client.connect = late_at_first  # type: ignore[method-assign]
        try:
            await asyncio.wait_for(member.start(["General"]), 20.0)
            hist.close()
            ops = history_file.read(tmp_path / "history.jsonl")
            assert [op.f for op in ops if op.f.startswith("connect")] == ["connect", "connect_retry", "connect"]
            assert any(op.f == "join" and op.type == "ok" for op in ops)
        finally:
            await member.close()


async def test_a_load_member_whose_first_join_fails_for_good_is_recorded_and_the_start_goes_on(tmp_path: Path) -> None:
    """One of 2,000 load members whose join is refused must not lose the run: its failure is in the history
    (for the checker to judge) and its start returns; a named member's start still raises."""
    async with cluster(node=MEMORY) as servers:
        await _first_join_refused_for_good(servers.gates[0].addr, tmp_path)


async def _first_join_refused_for_good(addr: str, tmp_path: Path) -> None:
    hist = History(tmp_path / "history.jsonl")
    members = [WorkloadClient(name, addr, hist, Counts(), DEFAULT_KEEPALIVE) for name in ("load1", "alice")]

    async def refused(room: str) -> Any:
        raise grpc.aio.AioRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.aio.Metadata(), grpc.aio.Metadata(),
                                   "the room is full")

    for member in members:
        member.client.join = refused  # type: ignore[method-assign]
    try:
        await asyncio.wait_for(members[0].start(["General"], must_join=False), 20.0)
        try:
            await asyncio.wait_for(members[1].start(["General"]), 20.0)
            raised = False
        except grpc.aio.AioRpcError:
            raised = True
        hist.close()
        joins = [(op.process, op.type) for op in history_file.read(tmp_path / "history.jsonl") if op.f == "join"]
        assert joins == [("load1", "invoke"), ("load1", "fail"), ("alice", "invoke"), ("alice", "fail")] and raised
        assert members[0].client.connected  # it goes on, unjoined
    finally:
        for member in members:
            await member.close()
