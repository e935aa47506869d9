"""What a big room's recovery storm costs its node: every member back at once after its gates died.

``python -m tests.bench.storm --members 2000 --outage 10,30`` fills one room
(in-process: the room's own logic on the memory store, no sockets, as
``tests.bench.room``), brings every member up to date, lets ``--outage``
seconds pass with no call (the gates are down: nobody is heard from), then
has every member recover as ``ChatClient`` does after a reconnection: a
re-join with its new client id and the version of the list it holds, the
recovery poll unless the join's reply showed it everything after its
cursor, and the further pages of the list each reply says there are.
Then one round of heartbeats (``Members``) of every member. It prints the
calls, reply bytes and node CPU of the storm and of the round, and the
heartbeat interval the room advised: what ``docs/benchmarks.md`` ("A big
room under faults") quotes for the node's side of the storm.

Members recover ``--spread`` seconds apart in all (the room's clock moves on
while they come back), so a grace shorter than the outage turns the ones
still out away while the others return.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass

from google.protobuf import any_pb2
from google.protobuf.message import Message

from system.objects import CallInfo, ObjectHost
from system.pb import chat_pb2
from system.presence import PresenceConfig
from system.room import RoomConfig, install
from system.store import make_store
from tests.bench.room import ROOM, _CountingPort


@dataclass
class Cursor:
    """The version of the list a member holds, as ``RoomPresence.cursor`` tells it (names not kept)."""

    version: int = 0
    origin: int = 0
    listing: bool = False

    def message(self) -> chat_pb2.MemberCursor:
        return chat_pb2.MemberCursor(version=self.version, origin=self.origin, listing=self.listing)

    def take(self, page: chat_pb2.MemberPage) -> None:
        self.listing = page.more and (page.full or self.listing)
        self.version, self.origin = page.version, page.origin


@dataclass
class Phase:
    """One phase of the run: what the node did for it."""

    calls: int = 0
    reply_bytes: int = 0
    cpu_seconds: float = 0.0
    polls: int = 0     # recovery polls made (a join that showed everything makes none)


@dataclass(frozen=True)
class Storm:
    members: int
    outage: float
    advised_beat: float   # the heartbeat interval the room's replies advised (s; 0: none advised)
    recovery: Phase
    beats: Phase


class _Clock:
    """The room's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Room:
    def __init__(self, clock: _Clock, presence: PresenceConfig) -> None:
        self.host = ObjectHost()
        install(self.host, RoomConfig(max_members=0, presence=presence), _CountingPort(), make_store("memory"),
                monotonic=clock)
        self.phase = Phase()

    async def call(self, method: str, request: Message, member: int, cid: str, reply_type: type[Message]) -> Message:
        packed = any_pb2.Any()
        packed.Pack(request)
        reply = await self.host.call("ChatRoom", ROOM, method, packed, CallInfo(cid, f"u{member}"))
        self.phase.calls += 1
        self.phase.reply_bytes += len(reply.value)
        out = reply_type()
        reply.Unpack(out)
        return out

    async def pages(self, member: int, cid: str, cursor: Cursor, page: chat_pb2.MemberPage) -> None:
        """Take ``page``, then the ones after it, as ``PresenceTracker.rest`` does."""
        cursor.take(page)
        while page.more:
            reply = await self.call("Members", chat_pb2.ChatRoom_MembersRequest(
                user_name=f"u{member}", members_since=cursor.message()), member, cid, chat_pb2.ChatRoom_MembersResponse)
            page = reply.member_page
            cursor.take(page)


def _cid(member: int, generation: int) -> str:
    return f"127.0.0.1:{1000 + generation}/m{member}"


async def storm(members: int, outage: float, spread: float = 20.0, presence: PresenceConfig = PresenceConfig(),
                messages: int = 20) -> Storm:
    """Fill a room with ``members``, cut them all off for ``outage`` s, and measure their recovery."""
    clock = _Clock()
    room = _Room(clock, presence)
    cursors = [Cursor() for _ in range(members)]
    seen = [0] * members   # each member's message cursor
    for i in range(members):
        reply = await room.call("Join", chat_pb2.ChatRoom_JoinRequest(
            user_name=f"u{i}", client_id=_cid(i, 0), members_since=cursors[i].message()), i, _cid(i, 0),
            chat_pb2.ChatRoom_JoinResponse)
        seen[i] = reply.last_seq
    for n in range(messages):  # the room talks; everyone got it by push before the outage
        await room.call("SendMessage", chat_pb2.ChatRoom_SendChatMessageRequest(
            user_name=f"u{n}", message=f"m{n}", client_msg_id=f"c{n}"), n, _cid(n, 0),
            chat_pb2.Client_SendChatMessageResponse)
    advised = 0.0
    for i in range(members):  # up to date: a heartbeat brought each the latest version
        reply = await room.call("Members", chat_pb2.ChatRoom_MembersRequest(
            user_name=f"u{i}", members_since=cursors[i].message()), i, _cid(i, 0), chat_pb2.ChatRoom_MembersResponse)
        await room.pages(i, _cid(i, 0), cursors[i], reply.member_page)
        seen[i] = reply.last_seq
        advised = reply.heartbeat_ms / 1000
    clock.now += outage
    room.phase = Phase()
    started = time.process_time()
    for i in range(members):
        clock.now += spread / members
        cid = _cid(i, 1)
        reply = await room.call("Join", chat_pb2.ChatRoom_JoinRequest(
            user_name=f"u{i}", client_id=cid, members_since=cursors[i].message()), i, cid,
            chat_pb2.ChatRoom_JoinResponse)
        await room.pages(i, cid, cursors[i], reply.member_page)
        recent = list(reply.recent_messages)
        if not (reply.last_seq <= seen[i] or (recent and recent[0].seq <= seen[i])):  # as CatchUp._rejoin
            room.phase.polls += 1
            poll = await room.call("GetRecentMessages", chat_pb2.ChatRoom_GetRecentMessagesRequest(
                after_seq=seen[i], members_since=cursors[i].message()), i, cid,
                chat_pb2.ChatRoom_GetRecentMessagesResponse)
            await room.pages(i, cid, cursors[i], poll.member_page)
        seen[i] = reply.last_seq
    recovery = room.phase
    recovery.cpu_seconds = time.process_time() - started
    room.phase = Phase()
    started = time.process_time()
    for i in range(members):
        reply = await room.call("Members", chat_pb2.ChatRoom_MembersRequest(
            user_name=f"u{i}", members_since=cursors[i].message()), i, _cid(i, 1), chat_pb2.ChatRoom_MembersResponse)
        await room.pages(i, _cid(i, 1), cursors[i], reply.member_page)
    beats = room.phase
    beats.cpu_seconds = time.process_time() - started
    await room.host.close()
    return Storm(members, outage, advised, recovery, beats)


def table(rows: list[Storm]) -> str:
    lines = ["| members | outage (s) | advised heartbeat (s) | recovery: calls | polls | replies (MB) | node CPU (s) "
             "| a heartbeat round: calls | replies (MB) | node CPU (s) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r.members:,} | {r.outage:g} | {r.advised_beat:g} | {r.recovery.calls:,} | {r.recovery.polls:,} | "
              f"{r.recovery.reply_bytes / 1e6:.2f} | {r.recovery.cpu_seconds:.2f} | {r.beats.calls:,} | "
              f"{r.beats.reply_bytes / 1e6:.2f} | {r.beats.cpu_seconds:.2f} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.storm", description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--outage", default="10,30", help="seconds nobody is heard from, comma-separated")
    parser.add_argument("--spread", type=float, default=20.0, help="seconds over which the members come back")
    parser.add_argument("--heartbeat-rate", type=float, default=PresenceConfig.heartbeat_rate,
                        help="heartbeats a second the room asks for at most (0: it never stretches the interval, "
                             "as before heartbeat_ms)")
    args = parser.parse_args(argv)
    try:
        outages = [float(s) for s in args.outage.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--outage: want numbers separated by commas, got {args.outage!r}")
    if args.members < 1 or not outages or min(outages) < 0:
        parser.error("want at least 1 member and outages of 0 s or more")
    presence = PresenceConfig(heartbeat_rate=args.heartbeat_rate)
    rows = [asyncio.run(storm(args.members, outage, args.spread, presence)) for outage in outages]
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
