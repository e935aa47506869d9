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
        told = re.fullmatch(rf"\* General moved from {keeper[1]} \(127\.0\.0\.1:\d+\) to (node\d) \(127\.0\.0\.1:\d+\), "
                            r"([\d.]+) s after the old node exited \(its lease ran out\); sends to General go on there",
                            moved)
        assert told is not None and told[1] != keeper[1], moved
        assert after.seq == before.seq + 1
        assert held[-2:] == [(before.seq, "before the kill"), (after.seq, "after the kill")]
        cluster.proc.send_signal(signal.SIGINT)
        await cluster.line(r"^pushchat cluster: stopped$", timeout=30)
        assert await asyncio.to_thread(cluster.proc.wait, 30) == 0
