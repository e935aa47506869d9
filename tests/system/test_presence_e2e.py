"""Join/leave notifications, typing and read receipts on real processes: a node, two gates, alice on one
and bob on the other."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from chaos.infra.process import ServerProcess
from system.client import ChatClient, Observer
from system.pb import chat_pb2
from tests.system.system_harness import wait_until


class Heard(Observer):
    def __init__(self) -> None:
        self.members: list[tuple[str, str, bool, str]] = []
        self.typing: list[tuple[str, bool]] = []
        self.reads: list[tuple[str, int, str]] = []
        self.shown: list[str] = []

    def on_member(self, room: str, user: str, joined: bool, source: str) -> None:
        self.members.append((room, user, joined, source))

    def on_typing(self, room: str, user: str, typing: bool) -> None:
        self.typing.append((user, typing))

    def on_read(self, room: str, user: str, read_seq: int, source: str) -> None:
        self.reads.append((user, read_seq, source))

    def on_display(self, room: str, message: chat_pb2.ChatMessage, source: str) -> None:
        self.shown.append(message.message)


class Servers:
    def __init__(self, tmp: Path, node_args: list[str]) -> None:
        self.node = ServerProcess("node0", "node", ["--data-dir", str(tmp / "data"), "--rooms", "General",
                                                    *node_args], tmp)
        self.gates: list[ServerProcess] = []
        self.tmp = tmp
        self.clients: list[ChatClient] = []

    async def start(self) -> None:
        await self.node.start()
        for i in range(2):
            gate = ServerProcess(f"gate{i}", "gate", ["--nodes", str(self.node.addr)], self.tmp)
            await gate.start()
            self.gates.append(gate)

    def client(self, user: str, gate: int, **options: object) -> tuple[ChatClient, Heard]:
        heard = Heard()
        client = ChatClient(str(self.gates[gate].addr), user, observers=[heard], **options)  # type: ignore[arg-type]
        self.clients.append(client)
        return client, heard

    async def stop(self) -> None:
        for client in self.clients:
            await client.close()
        for proc in [*self.gates, self.node]:
            await proc.stop()


@contextlib.asynccontextmanager
async def servers(tmp: Path, *node_args: str) -> AsyncIterator[Servers]:
    s = Servers(tmp, list(node_args))
    try:
        await s.start()
        yield s
    finally:
        await s.stop()


async def test_joins_and_leaves_are_pushed_and_a_member_whose_stream_is_gone_shows_away(tmp_path: Path) -> None:
    async with servers(tmp_path, "--presence-grace", "1") as s:
        alice, alice_heard = s.client("alice", 0, presence_interval=0.2)
        bob, _ = s.client("bob", 1, presence_interval=0.2)
        await alice.connect()
        await bob.connect()
        await alice.join("General")
        await bob.join("General")
        await wait_until(lambda: ("General", "bob", True, "push") in alice_heard.members, 10.0, "bob joined, pushed")
        assert set(alice.presence("General").members) == {"alice", "bob"}
        await bob.leave("General")
        await wait_until(lambda: ("General", "bob", False, "push") in alice_heard.members, 10.0, "bob left, pushed")
        await bob.join("General")
        await wait_until(lambda: alice.presence("General").members.get("bob") is False, 10.0, "bob back, not away")
        await bob.close()  # bob's stream is gone and his heartbeat stopped: after the grace he is away
        await wait_until(lambda: alice.presence("General").members.get("bob") is True, 10.0, "bob shown away")
        assert alice.presence("General").members["alice"] is False


async def test_typing_reaches_the_other_gate_expires_there_and_is_never_a_message(tmp_path: Path) -> None:
    async with servers(tmp_path, "--typing-expiry", "1", "--typing-interval", "0.5") as s:
        alice, _ = s.client("alice", 0)
        bob, bob_heard = s.client("bob", 1)
        for c in (alice, bob):
            await c.connect()
            await c.join("General")
        told = await alice.typing("General")
        assert told is not None and told.pushed and told.expires_ms == 1000
        assert await alice.typing("General") is None  # too soon: the client does not even call
        await wait_until(lambda: ("alice", True) in bob_heard.typing, 10.0, "bob sees alice typing")
        assert "alice" in bob.presence("General").typing
        await wait_until(lambda: ("alice", False) in bob_heard.typing, 10.0, "the indicator to expire")
        assert bob.presence("General").typing == {}
        page = await bob.poll("General")
        assert page.messages == [] and page.last_seq == 0 and bob_heard.shown == []


async def test_read_receipts_are_pushed_polled_monotone_and_survive_a_node_kill(tmp_path: Path) -> None:
    async with servers(tmp_path) as s:
        alice, alice_heard = s.client("alice", 0)
        bob, bob_heard = s.client("bob", 1)
        for c in (alice, bob):
            await c.connect()
            await c.join("General")
        await alice.send("General", "one")
        await alice.send("General", "two")
        await wait_until(lambda: bob_heard.shown == ["one", "two"], 10.0, "bob shown both")
        assert await bob.mark_read("General") == 2
        await wait_until(lambda: ("bob", 2, "push") in alice_heard.reads, 10.0, "alice told bob read #2")
        assert await bob.mark_read("General", 1) == 2  # never back
        await s.node.kill()
        await s.node.restart()
        reader = ChatClient(str(s.gates[0].addr), "carol")
        s.clients.append(reader)
        await reader.poll("General")  # retried while the gate dials the restarted node
        assert reader.presence("General").reads == {"bob": 2}
        assert set(reader.presence("General").members) == {"alice", "bob"}
        assert [u for u, seq, _ in alice_heard.reads if u == "bob"] == ["bob"]  # told once: it never moved back
