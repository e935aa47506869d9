"""``pushchat cluster`` as a user runs it: it comes up, says how to connect and how to kill the node holding
General; after that kill the window tells the room's move, and the room goes on, on another node, with its
history."""

from __future__ import annotations

import asyncio
import os
import re
import signal

from system.client import ChatClient
from tests.system.cli_process import running


async def test_the_cluster_comes_up_and_general_survives_the_kill_it_suggests() -> None:
    with running("cluster", "--lease-ttl", "2") as cluster:
        up = await cluster.line(r"^pushchat cluster is up", timeout=60)
        assert "etcd 127.0.0.1:" in up and "PostgreSQL postgresql://" in up
        gate = re.search(r"pushchat client --server (\S+) --user alice", "\n".join(cluster.lines))
        kill = await cluster.line(r"^  kill -9 \d+$")
        keeper = re.search(r"General lives on (node\d)\.", "\n".join(cluster.lines))
        assert gate is not None and keeper is not None
        alice = ChatClient(gate[1], "alice", outage_wait=20)
        try:
            await alice.join("General")
            before = await alice.send("General", "before the kill")
            os.kill(int(kill.split()[-1]), signal.SIGKILL)
            after = await alice.send("General", "after the kill")  # waits out the lease, then another node
        finally:
            await alice.close()
        reader = ChatClient(gate[1], "reader")
        try:
            held = [(m.seq, m.message) for m in (await reader.poll("General")).messages]
        finally:
            await reader.close()
        # the cluster window told the move as it happened: the process's end, then the room's new node
        pid = kill.split()[-1]
        await cluster.line(rf"^\* {keeper[1]} \(pid {pid}\) exited \(killed by SIGKILL\); its rooms move", 10)
        moved = await cluster.line(r"^\* General moved from ", 10)
        told = re.fullmatch(rf"\* General moved from {keeper[1]} to (node\d), [\d.]+ s after {keeper[1]} exited "
                            r"\(its lease ran out\)", moved)
        assert told is not None and told[1] != keeper[1], moved
        assert after.seq == before.seq + 1
        assert held[-2:] == [(before.seq, "before the kill"), (after.seq, "after the kill")]
        cluster.proc.send_signal(signal.SIGINT)
        await cluster.line(r"^pushchat cluster: stopped$", timeout=30)
        assert await asyncio.to_thread(cluster.proc.wait, 30) == 0


def test_a_node_that_joins_takes_only_rooms_it_now_owns_and_the_line_says_it_joined() -> None:
    from chaos.cli.cluster_moves import move_line, moves

    rooms = [f"room{i}" for i in range(40)]
    moved = moves(rooms, ["a:1", "b:1"], ["a:1", "b:1", "c:1"])
    assert moved and all(new == "c:1" for _, _, new in moved)  # rendezvous: nothing moves between a and b
    assert moves(rooms, ["a:1"], ["a:1"]) == [] and moves(rooms, ["a:1"], []) == []
    assert move_line("General", "node0", "node3", None, left=False) == "* General moved from node0 to node3, which joined"
