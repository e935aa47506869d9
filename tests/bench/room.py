"""What a room's membership costs as it grows: joins, their notifications, and the member list.

``python -m tests.bench.room --members 1000,5000,10000`` joins N members
into one room, one after another, in-process (the room's own logic on the
memory store, no sockets: what the node's CPU does per join), then polls
once. Each joining client holds no member list (``members_since`` set,
version 0), so its reply carries the first bounded page of the list; the
poll is measured from a client holding nothing and from one up to date.
Joins are pushed one by one up to the room size past which they are
batched (:mod:`system.announce`). This prints what that costs, for
``docs/benchmarks.md``; ``--whole-list`` measures the old way (every reply
the whole list, every join pushed to all), for comparison.
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
from system.push import PushError, PushMeta
from system.presence import PresenceConfig
from system.room import RoomConfig, install
from system.store import make_store

ROOM = "ChatRoom-General"


class _CountingPort:
    """Where the room's pushes go: counted (one delivery per recipient), never sent."""

    def __init__(self) -> None:
        self.deliveries = 0
        self.pushes = 0

    def push(self, client_ids: list[str], message: Message, meta: PushMeta) -> list[PushError]:
        self.deliveries += len(client_ids)
        self.pushes += 1
        return []


@dataclass(frozen=True)
class Growth:
    """One room grown to ``members``."""

    members: int
    seconds: float              # joining them all, one after another
    cpu_seconds: float          # the process's CPU time for it (what the node spends, whatever the machine's load)
    last_join_ms: float         # mean over the last tenth of the joins
    notifications: int          # join notifications pushed (one per recipient)
    pushes: int                 # push calls (one per notification, or per batch)
    reply_mb: float             # all the join replies, serialised
    last_reply_kb: float        # the last join's reply
    poll_reply_kb: float        # a poll of the full room (no messages in it) by a client holding no list
    uptodate_poll_kb: float     # ... by a client holding the list's latest version


async def _call(host: ObjectHost, method: str, request: Message, member: int) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(request)
    return await host.call("ChatRoom", ROOM, method, packed, CallInfo(f"127.0.0.1:1/m{member}", f"u{member}"))


async def grow(members: int, whole_list: bool = False) -> Growth:
    """Join ``members`` members into a fresh room and measure it (``whole_list``: as before versions)."""
    host, port = ObjectHost(), _CountingPort()
    presence = PresenceConfig(whole_list_max=members, batch_above=members) if whole_list else PresenceConfig()
    install(host, RoomConfig(max_members=0, presence=presence), port, make_store("memory"))
    since = {} if whole_list else {"members_since": chat_pb2.MemberCursor()}
    reply_bytes, last = 0, 0
    tail_from = members - max(1, members // 10)
    started, cpu_started = time.perf_counter(), time.process_time()
    tail_started = started
    for i in range(members):
        if i == tail_from:
            tail_started = time.perf_counter()
        reply = await _call(host, "Join", chat_pb2.ChatRoom_JoinRequest(user_name=f"u{i}",
                                                                        client_id=f"127.0.0.1:1/m{i}", **since), i)
        last = len(reply.value)
        reply_bytes += last
    ended, cpu = time.perf_counter(), time.process_time() - cpu_started
    await asyncio.sleep(PresenceConfig.batch_interval * 1.5)  # the last batch goes out
    poll = await _call(host, "GetRecentMessages", chat_pb2.ChatRoom_GetRecentMessagesRequest(**since), 0)
    uptodate = poll
    if not whole_list:  # follow the pages as a client does, then poll with the version it holds
        page = chat_pb2.ChatRoom_GetRecentMessagesResponse.FromString(poll.value).member_page
        while page.more:
            cursor = chat_pb2.MemberCursor(version=page.version, origin=page.origin, listing=True)
            reply = await _call(host, "Members", chat_pb2.ChatRoom_MembersRequest(members_since=cursor), 0)
            page = chat_pb2.ChatRoom_MembersResponse.FromString(reply.value).member_page
        cursor = chat_pb2.MemberCursor(version=page.version, origin=page.origin)
        uptodate = await _call(host, "GetRecentMessages",
                               chat_pb2.ChatRoom_GetRecentMessagesRequest(members_since=cursor), 0)
    return Growth(members=members, seconds=ended - started, cpu_seconds=cpu,
                  last_join_ms=(ended - tail_started) / (members - tail_from) * 1e3,
                  notifications=port.deliveries, pushes=port.pushes, reply_mb=reply_bytes / 1e6,
                  last_reply_kb=last / 1e3, poll_reply_kb=len(poll.value) / 1e3,
                  uptodate_poll_kb=len(uptodate.value) / 1e3)


def table(rows: list[Growth]) -> str:
    """The rows as a Markdown table."""
    lines = ["| members | joining all (s) | joining all, CPU (s) | one join at the end (ms) | join notifications pushed (pushes) | "
             "join replies (MB) | last join reply (KB) | poll reply (KB) | poll reply, up to date (KB) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r.members:,} | {r.seconds:.2f} | {r.cpu_seconds:.2f} | {r.last_join_ms:.2f} | {r.notifications:,} ({r.pushes:,}) | "
              f"{r.reply_mb:,.1f} | {r.last_reply_kb:,.1f} | {r.poll_reply_kb:,.1f} | {r.uptodate_poll_kb:,.2f} |"
              for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.room", description=__doc__.splitlines()[0])
    parser.add_argument("--members", default="1000,5000,10000", help="room sizes, comma-separated")
    parser.add_argument("--whole-list", action="store_true",
                        help="as before versions: every reply the whole list, every join pushed to every member")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.members.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--members: want numbers separated by commas, got {args.members!r}")
    if not sizes or min(sizes) < 1:
        parser.error("--members: want at least one size, each at least 1")
    rows = []
    for size in sizes:
        print(f"joining {size:,} members ...", file=sys.stderr, flush=True)
        rows.append(asyncio.run(grow(size, args.whole_list)))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
