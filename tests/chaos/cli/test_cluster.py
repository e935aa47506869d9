"""``pushchat cluster`` as a user runs it: it comes up, says how to connect and how to kill the node holding
General, and after that kill the room goes on, on another node, with its history."""

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
        assert gate is not None
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
        assert after.seq == before.seq + 1
        assert held[-2:] == [(before.seq, "before the kill"), (after.seq, "after the kill")]
        cluster.proc.send_signal(signal.SIGINT)
        await cluster.line(r"^pushchat cluster: stopped$", timeout=30)
        assert await asyncio.to_thread(cluster.proc.wait, 30) == 0
